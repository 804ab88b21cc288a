package dev.tokenmill.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Products of a weight matrix with activations: {@code W} is a tensor of {@code rows} rows of {@code cols}
 * elements in ggml layout (row {@code r} starts at byte {@code r * type.bytesFor(cols)} of {@code w}), the
 * activations are float rows. Callers split the row range over threads; every method works on
 * {@code [rowFrom, rowTo)} only and allocates nothing.
 */
public final class MatMul {
    /** Weight rows dequantized together by {@link #matmul}; the register tile is this many rows by 4 batch rows. */
    static final int ROW_TILE = 4;

    private MatMul() {}

    /** {@code y[r] = dot(W[r], x)} for r in [rowFrom, rowTo). */
    public static void matvec(RowKernel k, MemorySegment w, int rows, int cols, float[] x, float[] y, int rowFrom, int rowTo) {
        checkRange(rows, rowFrom, rowTo);
        long rowBytes = k.type().bytesFor(cols);
        for (int r = rowFrom; r < rowTo; r++) y[r] = k.dot(w, r * rowBytes, x, 0, cols);
    }

    /** Floats of scratch one thread needs for {@link #matmul} with rows of {@code cols} elements. */
    public static int scratchFloats(int cols) {
        return ROW_TILE * cols;
    }

    /**
     * {@code y[b*rows + r] = dot(W[r], x[b*cols ..])} for every batch row b in [0, batch) and weight row r in
     * [rowFrom, rowTo): X is [batch][cols] and Y is [batch][rows], both row-major. Each weight row is read from
     * memory and dequantized once, into {@code scratch} (at least {@link #scratchFloats} floats, one per thread),
     * and then multiplied with all batch rows in register tiles of {@value #ROW_TILE} weight rows by 4 batch rows.
     * A batch of one is {@link #matvec}. Results equal {@link #matmulReference} within float rounding.
     */
    public static void matmul(RowKernel k, MemorySegment w, int rows, int cols, float[] x, int batch, float[] y,
                              int rowFrom, int rowTo, float[] scratch) {
        checkRange(rows, rowFrom, rowTo);
        if (batch == 1) {
            matvec(k, w, rows, cols, x, y, rowFrom, rowTo);
            return;
        }
        if (!VectorSupport.available() || !VectorKernels.SUPPORTED) {
            matmulReference(k, w, rows, cols, x, batch, y, rowFrom, rowTo);
            return;
        }
        if (scratch.length < scratchFloats(cols)) {
            throw new IllegalArgumentException("matmul scratch holds " + scratch.length + " floats, needs " + scratchFloats(cols));
        }
        long rowBytes = k.type().bytesFor(cols);
        for (int r0 = rowFrom; r0 < rowTo; r0 += ROW_TILE) {
            int nr = Math.min(ROW_TILE, rowTo - r0);
            for (int i = 0; i < nr; i++) k.dequantize(w, (r0 + i) * rowBytes, scratch, i * cols, cols);
            VectorTiles.multiply(scratch, nr, cols, x, batch, y, rows, r0);
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
