package dev.tokenmill.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Products of a weight matrix with activations: {@code W} is a tensor of {@code rows} rows of {@code cols}
 * elements in ggml layout (row {@code r} starts at byte {@code r * type.bytesFor(cols)} of {@code w}), the
 * activations are float rows. Callers split the row range over threads; every method works on
 * {@code [rowFrom, rowTo)} only and allocates nothing.
 */
public final class MatMul {
    private MatMul() {}

    /** {@code y[r] = dot(W[r], x)} for r in [rowFrom, rowTo), through the type's fused dot (no dequantized copy). */
    public static void matvec(RowKernel k, MemorySegment w, int rows, int cols, float[] x, float[] y, int rowFrom, int rowTo) {
        checkRange(rows, rowFrom, rowTo);
        long rowBytes = k.type().bytesFor(cols);
        for (int r = rowFrom; r < rowTo; r++) y[r] = k.dot(w, r * rowBytes, x, 0, cols);
    }

    /** Floats of scratch one thread needs for {@link #matmul} with rows of {@code cols} elements. */
    public static int scratchFloats(int cols) {
        return cols;
    }

    /**
     * {@code y[b*rows + r] = dot(W[r], x[b*cols ..])} for every batch row b in [0, batch) and weight row r in
     * [rowFrom, rowTo): X is [batch][cols] and Y is [batch][rows], both row-major. Each weight row is read from
     * memory and dequantized once, into {@code scratch} (at least {@link #scratchFloats} floats, one per thread), and
     * multiplied with every batch row by {@link F32Math#dot}. Every (row, batch row) pair takes the same arithmetic
     * whatever the batch size or row range, so a token's result does not depend on the batch it runs in.
     * Results equal {@link #matmulReference} within float rounding.
     */
    public static void matmul(RowKernel k, MemorySegment w, int rows, int cols, float[] x, int batch, float[] y,
                              int rowFrom, int rowTo, float[] scratch) {
        checkRange(rows, rowFrom, rowTo);
        if (scratch.length < scratchFloats(cols)) {
            throw new IllegalArgumentException("matmul scratch holds " + scratch.length + " floats, needs " + scratchFloats(cols));
        }
        long rowBytes = k.type().bytesFor(cols);
        for (int r = rowFrom; r < rowTo; r++) {
            k.dequantize(w, r * rowBytes, scratch, 0, cols);
            for (int b = 0; b < batch; b++) y[b * rows + r] = F32Math.dot(scratch, 0, x, b * cols, cols);
        }
    }

    /** The reference for {@link #matmul}: one {@link RowKernel#dot} per (batch row, weight row) pair. */
    public static void matmulReference(RowKernel k, MemorySegment w, int rows, int cols, float[] x, int batch, float[] y,
                                       int rowFrom, int rowTo) {
        checkRange(rows, rowFrom, rowTo);
        long rowBytes = k.type().bytesFor(cols);
        for (int r = rowFrom; r < rowTo; r++) {
            for (int b = 0; b < batch; b++) y[b * rows + r] = k.dot(w, r * rowBytes, x, b * cols, cols);
        }
    }

    private static void checkRange(int rows, int rowFrom, int rowTo) {
        if (rowFrom < 0 || rowTo > rows || rowFrom > rowTo) {
            throw new IllegalArgumentException("row range [" + rowFrom + ", " + rowTo + ") outside the " + rows + " rows of the matrix");
        }
    }
}
