package dev.tokenmill.gguf;

import dev.tokenmill.tensor.GgmlType;

import java.util.Arrays;

/**
 * A tensor's entry in the GGUF header. {@code shape} is in ggml order: {@code shape[0]} is the row length
 * (contiguous), {@code shape[1]} the number of rows. {@code offset} is relative to the start of the data section.
 */
public record TensorInfo(String name, GgmlType type, long[] shape, long offset) {

    public long elementCount() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public long byteSize() {
        return type.bytesFor(elementCount());
    }

    /** Row length (ne0). */
    public long cols() { return shape[0]; }

    /** Number of rows (product of ne1..). */
    public long rows() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) n *= shape[i];
        return n;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
