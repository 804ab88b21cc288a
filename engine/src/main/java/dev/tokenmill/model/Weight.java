package dev.tokenmill.model;

import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.RowKernel;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix in the mapped file: {@code rows} rows of {@code cols} elements of {@code type}, row r at byte
 * {@code r * rowBytes} of {@code data}. A matrix-vector product is {@code out[r] = kernel.dot(row r, x)}.
 */
public record Weight(String name, GgmlType type, int rows, int cols, long rowBytes, MemorySegment data, RowKernel kernel) {

    /** Byte offset of row {@code r} in {@link #data()}. */
    public long rowOffset(int r) {
        return r * rowBytes;
    }

    /** Dequantizes row {@code r} into {@code out[outOff..outOff+cols)}. */
    public void dequantizeRow(int r, float[] out, int outOff) {
        kernel.dequantize(data, rowOffset(r), out, outOff, cols);
    }
}
