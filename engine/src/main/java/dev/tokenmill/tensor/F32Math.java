package dev.tokenmill.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float dot products (a dequantized weight row times each token in {@link MatMul#matmul}) and the exp behind
 * softmax and SiLU, with a scalar reference twin and a Vector API version (used when
 * the module is present). The vector dot sums lanes in a fixed order, so it differs from the scalar one by float
 * rounding only and gives the same bits interpreted and compiled.
 *
 * <p>{@link #exp} is ggml's {@code ggml_v_expf} (the AVX2 form, from Arm's optimized routines: at most 1.5 ulp
 * from expf), which llama.cpp uses for softmax and SwiGLU. It is written with exactly rounded steps only (fma, mul,
 * add, integer bit moves), so the vector lanes and the scalar twin give the same bits, interpreted or compiled, and
 * an element's value never depends on where in an array it sits.
 */
public final class F32Math {
    private static final boolean VECTOR = VectorSupport.available();

    private F32Math() {}

    /** a[aOff..aOff+n) . b[bOff..bOff+n). */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return VECTOR ? Vec.dot(a, aOff, b, bOff, n) : dotScalar(a, aOff, b, bOff, n);
    }

    /** e^x as ggml_v_expf: within 1.5 ulp of expf; overflows to infinity above about 88.38, to 0 below -103.97. */
    public static float exp(float x) {
        float z = Math.fma(x, LOG2E, SHIFT);
        float n = z - SHIFT;
        float b = Math.fma(-n, LN2_LO, Math.fma(-n, LN2_HI, x));
        int e = Float.floatToRawIntBits(z) << 23;
        float k = Float.intBitsToFloat(e + ONE_BITS);
        float u = b * b;
        float j = Math.fma(Math.fma(Math.fma(P4, b, P3), u, Math.fma(P2, b, P1)), u, P0 * b);
        if (!(Math.abs(n) > 126)) return Math.fma(j, k, k);
        // 2^n outside the normal range: scale in two steps, or saturate past |n| = 192
        int g = n <= 0 ? 0x82000000 : 0;
        float s1 = Float.intBitsToFloat(g + 0x7f000000);
        if (Math.abs(n) > 192) return s1 * s1;
        float s2 = Float.intBitsToFloat(e - g);
        return Math.fma(s2, j, s2) * s1;
    }

    /** gate[i] = silu(gate[i]) * up[i] over [off, off+n), silu(x) = x / (1 + exp(-x)); as ggml_vec_swiglu_f32. */
    public static void swiglu(float[] gate, float[] up, int off, int n) {
        if (VECTOR) Vec.swiglu(gate, up, off, n);
        else swigluScalar(gate, up, off, 0, n);
    }

    static void swigluScalar(float[] gate, float[] up, int off, int from, int n) {
        for (int i = off + from; i < off + n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + exp(-g)) * up[i];
        }
    }

    /** s[off..off+n) *= scale in place; returns the largest scaled value (NaN if any is NaN). */
    public static float scaleMax(float[] s, int off, int n, float scale) {
        return VECTOR ? Vec.scaleMax(s, off, n, scale) : scaleMaxScalar(s, off, 0, n, scale, Float.NEGATIVE_INFINITY);
    }

    static float scaleMaxScalar(float[] s, int off, int from, int n, float scale, float max) {
        for (int i = from; i < n; i++) {
            s[off + i] *= scale;
            max = Math.max(max, s[off + i]);
        }
        return max;
    }

    /**
     * s[off..off+n) = exp(s - max) in place, returning the sum of the new values in double: element i goes to
     * accumulator i % 4, then (a0 + a1) + (a2 + a3), the same on every path.
     */
    public static double expMinusSum(float[] s, int off, int n, float max) {
        int i = VECTOR ? Vec.expMinus(s, off, n, max) : 0;
        for (; i < n; i++) s[off + i] = exp(s[off + i] - max);
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (i = 0; i + 4 <= n; i += 4) {
            a0 += s[off + i];
            a1 += s[off + i + 1];
            a2 += s[off + i + 2];
            a3 += s[off + i + 3];
        }
        if (i < n) a0 += s[off + i];
        if (i + 1 < n) a1 += s[off + i + 1];
        if (i + 2 < n) a2 += s[off + i + 2];
        return (a0 + a1) + (a2 + a3);
    }

    private static final float SHIFT = 0x1.8p23f, LOG2E = 0x1.715476p+0f, LN2_HI = 0x1.62e4p-1f, LN2_LO = 0x1.7f7d1cp-20f;
    private static final float P0 = 0x1.ffffecp-1f, P1 = 0x1.fffdb6p-2f, P2 = 0x1.555e66p-3f, P3 = 0x1.573e2ep-5f,
            P4 = 0x1.0e4020p-7f;
    private static final int ONE_BITS = 0x3f800000;

    static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /** Loaded only when the Vector API is present. */
    static final class Vec {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        private static final VectorSpecies<Integer> I = S.withLanes(int.class);

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

        /** {@link F32Math#exp} on every lane: the same steps, so the same bits. */
        static FloatVector exp(FloatVector x) {
            FloatVector z = x.fma(LOG2E, SHIFT);
            FloatVector n = z.sub(SHIFT);
            FloatVector nn = n.neg();
            FloatVector b = nn.fma(FloatVector.broadcast(S, LN2_LO), nn.fma(FloatVector.broadcast(S, LN2_HI), x));
            IntVector e = z.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
            FloatVector k = e.add(ONE_BITS).reinterpretAsFloats();
            FloatVector u = b.mul(b);
            FloatVector j = b.fma(P4, P3).fma(u, b.fma(P2, P1)).fma(u, b.mul(P0));
            FloatVector abs = n.abs();
            VectorMask<Float> big = abs.compare(VectorOperators.GT, 126f);
            FloatVector res = j.fma(k, k);
            if (!big.anyTrue()) return res;
            // rare (|x| > 87): 2^n outside the normal range, the scalar form's two-step scale and saturation lane-wise
            VectorMask<Integer> neg = n.compare(VectorOperators.LE, 0f).cast(I);
            IntVector g = IntVector.zero(I).blend(0x82000000, neg);
            FloatVector s1 = g.add(0x7f000000).reinterpretAsFloats();
            FloatVector s2 = e.sub(g).reinterpretAsFloats();
            FloatVector scaled = s2.fma(j, s2).mul(s1);
            FloatVector saturated = s1.mul(s1);
            return res.blend(scaled, big).blend(saturated, abs.compare(VectorOperators.GT, 192f));
        }

        static void swiglu(float[] gate, float[] up, int off, int n) {
            int i = 0;
            int bound = S.loopBound(n);
            for (; i < bound; i += S.length()) {
                FloatVector g = FloatVector.fromArray(S, gate, off + i);
                FloatVector silu = g.div(exp(g.neg()).add(1f));
                silu.mul(FloatVector.fromArray(S, up, off + i)).intoArray(gate, off + i);
            }
            swigluScalar(gate, up, off, i, n);
        }

        /** s = exp(s - max) over whole vectors of [off, off+n); returns where the scalar tail starts. */
        static int expMinus(float[] s, int off, int n, float max) {
            int bound = S.loopBound(n);
            for (int i = 0; i < bound; i += S.length()) exp(FloatVector.fromArray(S, s, off + i).sub(max)).intoArray(s, off + i);
            return bound;
        }

        static float scaleMax(float[] s, int off, int n, float scale) {
            int bound = S.loopBound(n);
            float max = Float.NEGATIVE_INFINITY;
            if (bound > 0) {
                FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                for (int i = 0; i < bound; i += S.length()) {
                    FloatVector v = FloatVector.fromArray(S, s, off + i).mul(scale);
                    v.intoArray(s, off + i);
                    m = m.max(v);
                }
                max = m.reduceLanes(VectorOperators.MAX); // max is exact: any order gives the same value
            }
            return scaleMaxScalar(s, off, bound, n, scale, max);
        }
    }
}
