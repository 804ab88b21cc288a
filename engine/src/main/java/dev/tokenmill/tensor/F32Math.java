package dev.tokenmill.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float dot products (q.K in attention, a dequantized weight row times each token in {@link MatMul#matmul}) and
 * axpy (sum w*V), with a scalar reference twin and a Vector API version (used when the module is present). The
 * vector dot sums lanes in a fixed order, so it differs from the scalar one by float rounding only and gives the
 * same bits interpreted and compiled.
 */
public final class F32Math {
    private static final boolean VECTOR = VectorSupport.available();

    private F32Math() {}

    /** a[aOff..aOff+n) . b[bOff..bOff+n). */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return VECTOR ? Vec.dot(a, aOff, b, bOff, n) : dotScalar(a, aOff, b, bOff, n);
    }

    /** y[yOff..yOff+n) += w * x[xOff..xOff+n). */
    public static void axpy(float w, float[] x, int xOff, float[] y, int yOff, int n) {
        if (VECTOR) Vec.axpy(w, x, xOff, y, yOff, n);
        else axpyScalar(w, x, xOff, y, yOff, n);
    }

    static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    static void axpyScalar(float w, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] += w * x[xOff + i];
    }

    /** Loaded only when the Vector API is present. */
    static final class Vec {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

        private Vec() {}

        static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
            int i = 0;
            float s = 0f;
            int bound = S.loopBound(n);
            if (bound > 0) {
                FloatVector acc = FloatVector.zero(S);
                for (; i < bound; i += S.length()) {
                    acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
                }
                s = sumLanes(acc);
            }
            for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
            return s;
        }

        /**
         * The lanes' sum by a fixed halving tree (lane i + lane i + half). reduceLanes(ADD) leaves the order to the
         * implementation, and the interpreter and C2 differ: the same dot would give other bits once compiled.
         */
        static float sumLanes(FloatVector v) {
            for (int half = S.length() / 2; half >= 1; half /= 2) v = v.add(v.slice(half));
            return v.lane(0);
        }

        static void axpy(float w, float[] x, int xOff, float[] y, int yOff, int n) {
            int i = 0;
            int bound = S.loopBound(n);
            if (bound > 0) {
                FloatVector wv = FloatVector.broadcast(S, w);
                for (; i < bound; i += S.length()) {
                    FloatVector.fromArray(S, x, xOff + i).fma(wv, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
                }
            }
            for (; i < n; i++) y[yOff + i] += w * x[xOff + i];
        }
    }
}
