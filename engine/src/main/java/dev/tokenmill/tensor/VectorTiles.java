package dev.tokenmill.tensor;

import static dev.tokenmill.tensor.VectorKernels.F;
import static dev.tokenmill.tensor.VectorKernels.L;
import static jdk.incubator.vector.VectorOperators.ADD;

import jdk.incubator.vector.FloatVector;

/**
 * The float register tiles behind {@link MatMul#matmul}: up to 4 dequantized weight rows times the batch rows,
 * 4 by 4 where possible (16 accumulators; each loaded vector feeds 4 fused multiply-adds). Only loaded when the
 * Vector API is present.
 */
final class VectorTiles {
    private VectorTiles() {}

    /**
     * {@code y[b*yStride + r0 + i] = dot(w[i*cols ..], x[b*cols ..])} for i < nr, b < batch.
     * {@code w} holds nr dequantized rows of cols floats.
     */
    static void multiply(float[] w, int nr, int cols, float[] x, int batch, float[] y, int yStride, int r0) {
        int b = 0;
        if (nr == 4) {
            for (; b + 4 <= batch; b += 4) tile4x4(w, cols, x, b, y, yStride, r0);
            for (; b < batch; b++) tile4x1(w, cols, x, b, y, yStride, r0);
        } else {
            for (; b < batch; b++) {
                for (int i = 0; i < nr; i++) y[b * yStride + r0 + i] = dot(w, i * cols, x, b * cols, cols);
            }
        }
    }

    private static void tile4x4(float[] w, int cols, float[] x, int b, float[] y, int yStride, int r0) {
        int w0 = 0, w1 = cols, w2 = 2 * cols, w3 = 3 * cols;
        int x0 = b * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector z = FloatVector.zero(F);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        int k = 0;
        for (; k + L <= cols; k += L) {
            FloatVector a0 = FloatVector.fromArray(F, w, w0 + k), a1 = FloatVector.fromArray(F, w, w1 + k);
            FloatVector a2 = FloatVector.fromArray(F, w, w2 + k), a3 = FloatVector.fromArray(F, w, w3 + k);
            FloatVector v = FloatVector.fromArray(F, x, x0 + k);
            c00 = a0.fma(v, c00); c10 = a1.fma(v, c10); c20 = a2.fma(v, c20); c30 = a3.fma(v, c30);
            v = FloatVector.fromArray(F, x, x1 + k);
            c01 = a0.fma(v, c01); c11 = a1.fma(v, c11); c21 = a2.fma(v, c21); c31 = a3.fma(v, c31);
            v = FloatVector.fromArray(F, x, x2 + k);
            c02 = a0.fma(v, c02); c12 = a1.fma(v, c12); c22 = a2.fma(v, c22); c32 = a3.fma(v, c32);
            v = FloatVector.fromArray(F, x, x3 + k);
            c03 = a0.fma(v, c03); c13 = a1.fma(v, c13); c23 = a2.fma(v, c23); c33 = a3.fma(v, c33);
        }
        int y0 = b * yStride + r0, y1 = y0 + yStride, y2 = y1 + yStride, y3 = y2 + yStride;
        y[y0] = c00.reduceLanes(ADD) + tail(w, w0, x, x0, k, cols);
        y[y0 + 1] = c10.reduceLanes(ADD) + tail(w, w1, x, x0, k, cols);
        y[y0 + 2] = c20.reduceLanes(ADD) + tail(w, w2, x, x0, k, cols);
        y[y0 + 3] = c30.reduceLanes(ADD) + tail(w, w3, x, x0, k, cols);
        y[y1] = c01.reduceLanes(ADD) + tail(w, w0, x, x1, k, cols);
        y[y1 + 1] = c11.reduceLanes(ADD) + tail(w, w1, x, x1, k, cols);
        y[y1 + 2] = c21.reduceLanes(ADD) + tail(w, w2, x, x1, k, cols);
        y[y1 + 3] = c31.reduceLanes(ADD) + tail(w, w3, x, x1, k, cols);
        y[y2] = c02.reduceLanes(ADD) + tail(w, w0, x, x2, k, cols);
        y[y2 + 1] = c12.reduceLanes(ADD) + tail(w, w1, x, x2, k, cols);
        y[y2 + 2] = c22.reduceLanes(ADD) + tail(w, w2, x, x2, k, cols);
        y[y2 + 3] = c32.reduceLanes(ADD) + tail(w, w3, x, x2, k, cols);
        y[y3] = c03.reduceLanes(ADD) + tail(w, w0, x, x3, k, cols);
        y[y3 + 1] = c13.reduceLanes(ADD) + tail(w, w1, x, x3, k, cols);
        y[y3 + 2] = c23.reduceLanes(ADD) + tail(w, w2, x, x3, k, cols);
        y[y3 + 3] = c33.reduceLanes(ADD) + tail(w, w3, x, x3, k, cols);
    }

    private static void tile4x1(float[] w, int cols, float[] x, int b, float[] y, int yStride, int r0) {
        int w0 = 0, w1 = cols, w2 = 2 * cols, w3 = 3 * cols, x0 = b * cols;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int k = 0;
        for (; k + L <= cols; k += L) {
            FloatVector v = FloatVector.fromArray(F, x, x0 + k);
            c0 = FloatVector.fromArray(F, w, w0 + k).fma(v, c0);
            c1 = FloatVector.fromArray(F, w, w1 + k).fma(v, c1);
            c2 = FloatVector.fromArray(F, w, w2 + k).fma(v, c2);
            c3 = FloatVector.fromArray(F, w, w3 + k).fma(v, c3);
        }
        int y0 = b * yStride + r0;
        y[y0] = c0.reduceLanes(ADD) + tail(w, w0, x, x0, k, cols);
        y[y0 + 1] = c1.reduceLanes(ADD) + tail(w, w1, x, x0, k, cols);
        y[y0 + 2] = c2.reduceLanes(ADD) + tail(w, w2, x, x0, k, cols);
        y[y0 + 3] = c3.reduceLanes(ADD) + tail(w, w3, x, x0, k, cols);
    }

    private static float dot(float[] w, int wOff, float[] x, int xOff, int cols) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0;
        int k = 0;
        for (; k + 2 * L <= cols; k += 2 * L) {
            c0 = FloatVector.fromArray(F, w, wOff + k).fma(FloatVector.fromArray(F, x, xOff + k), c0);
            c1 = FloatVector.fromArray(F, w, wOff + k + L).fma(FloatVector.fromArray(F, x, xOff + k + L), c1);
        }
        for (; k + L <= cols; k += L) c0 = FloatVector.fromArray(F, w, wOff + k).fma(FloatVector.fromArray(F, x, xOff + k), c0);
        return c0.add(c1).reduceLanes(ADD) + tail(w, wOff, x, xOff, k, cols);
    }

    /** The elements past the last whole vector, for row lengths that are not a multiple of L. */
    private static float tail(float[] w, int wOff, float[] x, int xOff, int from, int cols) {
        float s = 0;
        for (int k = from; k < cols; k++) s += w[wOff + k] * x[xOff + k];
        return s;
    }
}
