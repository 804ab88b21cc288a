package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;

import static dev.tokenmill.tensor.quant.QuantMath.GROUP_MAX_EPS;
import static dev.tokenmill.tensor.quant.QuantMath.f16Round;
import static dev.tokenmill.tensor.quant.QuantMath.makeQkx2Quants;
import static dev.tokenmill.tensor.quant.QuantMath.makeQxQuants;
import static dev.tokenmill.tensor.quant.QuantMath.nearestInt;
import static dev.tokenmill.tensor.quant.QuantMath.putF16;

/**
 * The 256-element super-block types, ports of ggml's {@code quantize_row_q{4,5,6}_K_ref}: per sub-block scales
 * (and mins) found by {@code make_qkx2_quants} / {@code make_qx_quants}, quantized to 6 or 8 bits against one f16
 * super-block scale, then every value re-quantized against the scale it will really be decoded with.
 */
final class KQuantizers {
    static final int QK_K = 256;

    private KQuantizers() {}

    private abstract static class SuperBlocks implements Quantizer {
        private final GgmlType type;

        SuperBlocks(GgmlType type) { this.type = type; }

        @Override public GgmlType type() { return type; }

        @Override
        public void quantize(float[] src, int srcOff, int n, byte[] dst, int dstOff) {
            if (n % QK_K != 0) throw new IllegalArgumentException(type + " needs a multiple of " + QK_K + " values, got " + n);
            Scratch s = new Scratch();
            int bytes = type.blockBytes();
            for (int b = 0; b < n / QK_K; b++) block(src, srcOff + b * QK_K, dst, dstOff + b * bytes, s);
        }

        abstract void block(float[] x, int xo, byte[] y, int yo, Scratch s);
    }

    /** Per-call work arrays (the C code's stack arrays). */
    private static final class Scratch {
        final int[] L = new int[QK_K];
        final int[] laux = new int[32];
        final float[] weights = new float[32];
        final float[] scales = new float[QK_K / 16];
        final float[] mins = new float[QK_K / 32];
        final int[] sc = new int[QK_K / 32];
        final int[] m = new int[QK_K / 32];
    }

    /** Q4_K: 8 sub-blocks of 32 with 6-bit scale and min, 4-bit values. */
    static final Quantizer Q4_K = new SuperBlocks(GgmlType.Q4_K) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo, Scratch s) {
            scaleMinBlock(x, xo, y, yo, s, 15, -1f, 0.1f, 20);
            int[] L = s.L;
            int q = yo + 16;
            for (int j = 0; j < QK_K; j += 64) {
                for (int l = 0; l < 32; ++l) y[q + l] = (byte) (L[j + l] | (L[j + l + 32] << 4));
                q += 32;
            }
        }
    };

    /** Q5_K: as Q4_K with 5-bit values, the fifth bit in 32 bytes of qh. */
    static final Quantizer Q5_K = new SuperBlocks(GgmlType.Q5_K) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo, Scratch s) {
            scaleMinBlock(x, xo, y, yo, s, 31, -0.5f, 0.1f, 15);
            int[] L = s.L;
            int qh = yo + 16;
            int ql = yo + 48;
            for (int j = 0; j < 32; j++) y[qh + j] = 0;
            int m1 = 1, m2 = 2;
            for (int n = 0; n < QK_K; n += 64) {
                for (int j = 0; j < 32; ++j) {
                    int l1 = L[n + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        y[qh + j] |= (byte) m1;
                    }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        y[qh + j] |= (byte) m2;
                    }
                    y[ql + j] = (byte) (l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
                ql += 32;
            }
        }
    };

    /**
     * The shared part of quantize_row_q4_K_ref and quantize_row_q5_K_ref: scales and mins of the 8 sub-blocks,
     * their 6-bit packing into the 12 scale bytes (at y[yo+4..]), d and dmin (at y[yo], y[yo+2]), and the final
     * levels (0..nmax) into s.L.
     */
    private static void scaleMinBlock(float[] x, int xo, byte[] y, int yo, Scratch s, int nmax,
                                      float rmin, float rdelta, int nstep) {
        float[] scales = s.scales;
        float[] mins = s.mins;
        float[] weights = s.weights;
        int[] L = s.L;
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            float sumX2 = 0;
            for (int l = 0; l < 32; ++l) sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; ++l) weights[l] = avX + Math.abs(x[xo + 32 * j + l]);
            scales[j] = makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, mins, j, s.laux,
                    rmin, rdelta, nstep, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        int sb = yo + 4; // 12 bytes of packed 6-bit scales and mins
        for (int j = 0; j < 12; j++) y[sb + j] = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xff);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xff);
            if (j < 4) {
                y[sb + j] = (byte) ls;
                y[sb + j + 4] = (byte) lm;
            } else {
                y[sb + j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                y[sb + j - 4] |= (byte) ((ls >> 4) << 6);
                y[sb + j] |= (byte) ((lm >> 4) << 6);
            }
        }
        putF16(y, yo, maxScale / 63.f);
        putF16(y, yo + 2, maxMin / 63.f);
        float d = f16Round(maxScale / 63.f);
        float dmin = f16Round(maxMin / 63.f);
        getScaleMinK4(y, sb, s.sc, s.m);
        for (int j = 0; j < QK_K / 32; ++j) {
            float dj = d * s.sc[j];
            if (dj == 0) continue;
            float dm = dmin * s.m[j];
            for (int ii = 0; ii < 32; ++ii) {
                int l = nearestInt((x[xo + 32 * j + ii] + dm) / dj);
                L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
            }
        }
    }

    /** get_scale_min_k4 for all 8 sub-blocks: unpacks the 6-bit scales and mins from 12 bytes at q[qo..]. */
    static void getScaleMinK4(byte[] q, int qo, int[] sc, int[] m) {
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                sc[j] = q[qo + j] & 63;
                m[j] = q[qo + j + 4] & 63;
            } else {
                sc[j] = (q[qo + j + 4] & 0xF) | (((q[qo + j - 4] & 0xff) >> 6) << 4);
                m[j] = ((q[qo + j + 4] & 0xff) >> 4) | (((q[qo + j] & 0xff) >> 6) << 4);
            }
        }
    }

    /** Q6_K: 16 sub-blocks of 16 with int8 scales, 6-bit values split into ql (4 bits) and qh (2 bits). */
    static final Quantizer Q6_K = new SuperBlocks(GgmlType.Q6_K) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo, Scratch s) {
            int[] L = s.L;
            float[] scales = s.scales;
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < QK_K / 16; ++ib) {
                float scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib, 1, null, 0);
                scales[ib] = scale;
                float absScale = Math.abs(scale);
                if (absScale > maxAbsScale) {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }
            int qlOff = yo, qhOff = yo + 128, scOff = yo + 192, dOff = yo + 208;
            if (maxAbsScale < GROUP_MAX_EPS) {
                for (int i = 0; i < GgmlType.Q6_K.blockBytes(); i++) y[yo + i] = 0;
                return;
            }
            float iscale = -128.f / maxScale;
            putF16(y, dOff, 1 / iscale);
            float d = f16Round(1 / iscale);
            for (int ib = 0; ib < QK_K / 16; ++ib) {
                y[scOff + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
            }
            for (int j = 0; j < QK_K / 16; ++j) {
                float dj = d * y[scOff + j];
                if (dj == 0) continue;
                for (int ii = 0; ii < 16; ++ii) {
                    int l = nearestInt(x[xo + 16 * j + ii] / dj);
                    L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
                }
            }
            int ql = qlOff, qh = qhOff;
            for (int j = 0; j < QK_K; j += 128) {
                for (int l = 0; l < 32; ++l) {
                    int q1 = L[j + l] & 0xF;
                    int q2 = L[j + l + 32] & 0xF;
                    int q3 = L[j + l + 64] & 0xF;
                    int q4 = L[j + l + 96] & 0xF;
                    y[ql + l] = (byte) (q1 | (q3 << 4));
                    y[ql + l + 32] = (byte) (q2 | (q4 << 4));
                    y[qh + l] = (byte) ((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2)
                            | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
                ql += 64;
                qh += 32;
            }
        }
    };
}
