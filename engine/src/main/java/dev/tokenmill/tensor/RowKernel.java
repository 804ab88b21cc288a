package dev.tokenmill.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The per-type operations on rows of ggml blocks. A row of {@code n} elements starts at byte {@code rowOffset}
 * of {@code w} and takes {@code type.bytesFor(n)} bytes. Each type has a scalar implementation (the reference)
 * and, where the Vector API is present, a vector one; {@link Kernels} hands out the right one.
 */
public interface RowKernel {

    GgmlType type();

    /** Sum over i of w[row][i] * x[xOff + i], i in [0, n). Accumulates in float; the summation order is the kernel's. */
    float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n);

    /** Writes the n dequantized values of the row to out[outOff..outOff+n). */
    void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n);
}
