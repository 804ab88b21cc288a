package dev.tokenmill.tensor.nativ;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Activations quantized for {@link NativeKernels#gemm}: {@code batch} rows of {@code cols} floats as int8 blocks
 * of 32 with an f32 scale each (ggml's Q8_0 with the scale kept in f32), in one off-heap buffer sized once for
 * {@code maxBatch} rows of {@code maxCols}. Quantize once per input, then run every matmul that reads it (q, k
 * and v; gate and up) from any number of threads. Not thread-safe for quantizing.
 *
 * <p>Layout (block-major, so a tile of batch rows reads a block's activations at fixed offsets): for block k of
 * batch row b, the 32 quants at {@code qs[(k*batch + b)*32]}, the scale at {@code d[k*batch + b]}, and the sums
 * of its quants times -8 and -128 in {@code c4} and {@code c8}, which cancel the unsigned bias of Q4_0 nibbles
 * and of Q8_0 quants stored as {@code w + 128}, scale times sum in {@code m}, for Q4_K's min term, and -32 times
 * the sums of the first and last 16 quants in {@code h0} and {@code h1}, the bias of Q6_K's unsigned 6-bit quants.
 */
public final class Q8Activations {
    private final int maxBatch;
    private final int maxCols;
    final MemorySegment qs;
    final MemorySegment d;
    final MemorySegment c4;
    final MemorySegment c8;
    final MemorySegment m;
    final MemorySegment h0;
    final MemorySegment h1;
    private int batch;
    private int cols;

    /**
     * An empty buffer for up to {@code maxBatch} rows of up to {@code maxCols} (a multiple of 32) elements, in memory
     * of {@code arena} (shared or global when other threads run the gemm).
     */
    public Q8Activations(Arena arena, int maxBatch, int maxCols) {
        if (maxBatch < 1 || maxCols < 32 || maxCols % 32 != 0) {
            throw new IllegalArgumentException("Q8 activations need maxBatch >= 1 and maxCols a positive multiple of 32, got "
                    + maxBatch + " x " + maxCols);
        }
        this.maxBatch = maxBatch;
        this.maxCols = maxCols;
        long values = (long) maxBatch * maxCols, blocks = values / 32;
        qs = arena.allocate(values, 64);
        d = arena.allocate(4 * blocks, 64);
        c4 = arena.allocate(4 * blocks, 64);
        c8 = arena.allocate(4 * blocks, 64);
        m = arena.allocate(4 * blocks, 64);
        h0 = arena.allocate(4 * blocks, 64);
        h1 = arena.allocate(4 * blocks, 64);
    }

    /** Quantizes {@code x}, {@code batch} rows of {@code cols} floats, row-major from index 0. */
    public void quantize(float[] x, int batch, int cols) {
        quantize(x, batch, cols, 0, cols / 32);
    }

    /**
     * Quantizes the 32-element blocks {@code [blockFrom, blockTo)} of every row of {@code x}, {@code batch} rows of
     * {@code cols} floats: threads may quantize disjoint block ranges of one batch at once (each with the same batch
     * and cols; their outputs share no cache line but at the ends of a range); every block must be done before a
     * gemm reads the buffer, and the gemm's thread must see the writes (a pool's join does that).
     */
    public void quantize(float[] x, int batch, int cols, int blockFrom, int blockTo) {
        check(batch, cols, x.length);
        if (blockFrom < 0 || blockTo > cols / 32 || blockFrom > blockTo) {
            throw new IllegalArgumentException("block range [" + blockFrom + ", " + blockTo + ") outside the " + cols / 32
                    + " blocks of a row");
        }
        quantizeChecked(HeapSegments.of(x), batch, cols, blockFrom, blockTo);
    }

    /** Quantizes {@code batch} rows of {@code cols} floats, row-major from byte 0 of {@code x}. */
    public void quantize(MemorySegment x, int batch, int cols) {
        check(batch, cols, x.byteSize() / 4);
        quantizeChecked(x, batch, cols, 0, cols / 32);
    }

    private void quantizeChecked(MemorySegment x, int batch, int cols, int blockFrom, int blockTo) {
        NativeLibrary lib = NativeLibrary.LOADED;
        if (lib == null) {
            ScalarTwin.quantize(x, batch, cols, blockFrom, blockTo, this);
        } else {
            int rc;
            try {
                MethodHandle h = x.isNative() ? lib.quantize : lib.quantizeHeap;
                rc = (int) h.invokeExact(x, batch, cols, (long) cols, blockFrom, blockTo, qs, d, c4, c8, m, h0, h1);
            } catch (Throwable t) {
                throw new IllegalStateException("native quantize failed", t);
            }
            if (rc != 0) throw new IllegalStateException("tm_quantize_q8 returned " + rc + " for " + batch + " x " + cols);
        }
        this.batch = batch;
        this.cols = cols;
    }

    private void check(int batch, int cols, long floats) {
        if (batch < 1 || batch > maxBatch || cols < 32 || cols > maxCols || cols % 32 != 0) {
            throw new IllegalArgumentException("cannot quantize " + batch + " x " + cols + " activations into a buffer for "
                    + maxBatch + " x " + maxCols + " (cols a multiple of 32)");
        }
        if (floats < (long) batch * cols) {
            throw new IllegalArgumentException("activations hold " + floats + " floats, need " + batch + " x " + cols);
        }
    }

    /** Rows quantized by the last {@code quantize}. */
    public int batch() { return batch; }

    /** Elements per row quantized by the last {@code quantize}. */
    public int cols() { return cols; }

    public int maxBatch() { return maxBatch; }

    public int maxCols() { return maxCols; }

    byte quant(int b, int i) {
        return qs.get(ValueLayout.JAVA_BYTE, ((long) (i / 32) * batch + b) * 32 + i % 32);
    }

    float scale(int b, int k) {
        return d.getAtIndex(ValueLayout.JAVA_FLOAT, (long) k * batch + b);
    }

    int bias4(int b, int k) {
        return c4.getAtIndex(ValueLayout.JAVA_INT, (long) k * batch + b);
    }

    int bias8(int b, int k) {
        return c8.getAtIndex(ValueLayout.JAVA_INT, (long) k * batch + b);
    }

    int bias32(int b, int k, int half) {
        return (half == 0 ? h0 : h1).getAtIndex(ValueLayout.JAVA_INT, (long) k * batch + b);
    }

    float scaledSum(int b, int k) {
        return m.getAtIndex(ValueLayout.JAVA_FLOAT, (long) k * batch + b);
    }
}
