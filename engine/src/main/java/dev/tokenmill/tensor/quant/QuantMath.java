package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.Fp16;

/**
 * The helpers of ggml's reference quantizers (ggml/src/ggml-quants.c), ported so that our blocks round the way
 * llama.cpp's do: {@code nearest_int}, {@code roundf}, {@code make_qx_quants}, {@code make_qkx2_quants}, and
 * little-endian stores into a byte array. All arithmetic stays in float, as in the C code.
 */
final class QuantMath {
    /** ggml's GROUP_MAX_EPS: below this a group is treated as all zeros. */
    static final float GROUP_MAX_EPS = 1e-15f;

    private QuantMath() {}

    /** ggml's nearest_int (adds 1.5 * 2^23 and reads the mantissa): round half to even. */
    static int nearestInt(float f) {
        return (int) Math.rint(f);
    }

    /**
     * C's roundf: halves away from zero. Math.rint rounds halves to even, so only an exact half needs fixing; that
     * branch is almost never taken, unlike a floor-and-compare one, which random data mispredicts half the time.
     */
    static float roundf(float x) {
        float r = (float) Math.rint(x);
        if (Math.abs(x - r) == 0.5f) r = x + Math.copySign(0.5f, x); // exact: x is a half-integer
        return r;
    }

    /** GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(x)): the value a stored f16 scale really has. */
    static float f16Round(float x) {
        return Fp16.toFloat(Fp16.fromFloat(x));
    }

    static void putF16(byte[] dst, int off, float v) {
        putShort(dst, off, Fp16.fromFloat(v));
    }

    static void putShort(byte[] dst, int off, short v) {
        dst[off] = (byte) v;
        dst[off + 1] = (byte) (v >>> 8);
    }

    static void putInt(byte[] dst, int off, int v) {
        dst[off] = (byte) v;
        dst[off + 1] = (byte) (v >>> 8);
        dst[off + 2] = (byte) (v >>> 16);
        dst[off + 3] = (byte) (v >>> 24);
    }

    /**
     * make_qx_quants: symmetric quantization of {@code n} values to levels in [-nmax, nmax) stored as
     * {@code L[i] + nmax}, searching 18 scales around {@code nmax / max} for the least weighted squared error.
     * With {@code qw == null} the weights follow {@code rmseType} (1: x², 2: 1, 3: |x|, else sqrt|x|).
     * Returns the scale.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xOff, int[] L, int lOff, int rmseType, float[] qw, int qwOff) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xOff + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xOff + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) L[lOff + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        if (rmseType == 0) {
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * x[xOff + i]);
                L[lOff + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
            }
            return 1 / iscale;
        }
        boolean returnEarly = false;
        if (rmseType < 0) {
            rmseType = -rmseType;
            returnEarly = true;
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xOff + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lOff + i] = l + nmax;
            float w = weight(xi, rmseType, qw, qwOff + i);
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xOff + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = weight(xi, rmseType, qw, qwOff + i);
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = nearestInt(iscale * x[xOff + i]);
                    L[lOff + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    private static float weight(float x, int rmseType, float[] qw, int i) {
        if (qw != null) return qw[i];
        return switch (rmseType) {
            case 1 -> x * x;
            case 2 -> 1;
            case 3 -> Math.abs(x);
            default -> (float) Math.sqrt(Math.abs(x));
        };
    }

    /**
     * make_qkx2_quants: asymmetric quantization {@code x ≈ scale * L - min} with L in [0, nmax], trying
     * {@code nstep + 1} scales from {@code (rmin + nmax)} upwards by {@code rdelta} and solving the weighted
     * least-squares scale and min for each. Writes the levels to {@code L[lOff..]}, {@code -min} to
     * {@code theMin[minIdx]}, and returns the scale. {@code laux} is scratch of at least {@code n}.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xOff, float[] weights, int[] L, int lOff,
                                float[] theMin, int minIdx, int[] laux, float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xOff];
        float max = x[xOff];
        float sumW = weights[0];
        float sumX = sumW * x[xOff];
        for (int i = 1; i < n; ++i) {
            float xi = x[xOff + i];
            if (xi < min) min = xi;
            if (xi > max) max = xi;
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; ++i) L[lOff + i] = 0;
            theMin[minIdx] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * (x[xOff + i] - min));
            L[lOff + i] = Math.max(0, Math.min(nmax, l));
            float diff = scale * L[lOff + i] + min - x[xOff + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            theMin[minIdx] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * (x[xOff + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                laux[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[xOff + i];
            }
            float d = sumW * sumL2 - sumL * sumL;
            if (d > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / d;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / d;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * laux[i] + thisMin - x[xOff + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lOff, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[minIdx] = -min;
        return scale;
    }
}
