package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;

/**
 * Test-only ports of ggml's {@code dequantize_row_*} (ggml-quants.c), written independently of the engine's kernels
 * so the quantizers can be checked by round trip without depending on them.
 */
final class ReferenceDequantizer {
    private ReferenceDequantizer() {}

    static float[] dequantize(GgmlType type, byte[] b, int off, int n) {
        float[] y = new float[n];
        int nb = n / type.blockSize();
        int bs = type.blockBytes();
        for (int i = 0; i < nb; i++) {
            int o = off + i * bs;
            int yo = i * type.blockSize();
            switch (type) {
                case F32 -> y[yo] = Float.intBitsToFloat(i32(b, o));
                case F16 -> y[yo] = Fp16.toFloat((short) i16(b, o));
                case BF16 -> y[yo] = Fp16.bf16ToFloat((short) i16(b, o));
                case Q8_0 -> {
                    float d = f16(b, o);
                    for (int j = 0; j < 32; j++) y[yo + j] = b[o + 2 + j] * d;
                }
                case Q4_0 -> {
                    float d = f16(b, o);
                    for (int j = 0; j < 16; j++) {
                        int q = b[o + 2 + j] & 0xff;
                        y[yo + j] = ((q & 0xF) - 8) * d;
                        y[yo + j + 16] = ((q >> 4) - 8) * d;
                    }
                }
                case Q4_1 -> {
                    float d = f16(b, o), m = f16(b, o + 2);
                    for (int j = 0; j < 16; j++) {
                        int q = b[o + 4 + j] & 0xff;
                        y[yo + j] = (q & 0xF) * d + m;
                        y[yo + j + 16] = (q >> 4) * d + m;
                    }
                }
                case Q5_0 -> {
                    float d = f16(b, o);
                    int qh = i32(b, o + 2);
                    for (int j = 0; j < 16; j++) {
                        int q = b[o + 6 + j] & 0xff;
                        int h0 = ((qh >>> j) << 4) & 0x10;
                        int h1 = (qh >>> (j + 12)) & 0x10;
                        y[yo + j] = (((q & 0xF) | h0) - 16) * d;
                        y[yo + j + 16] = (((q >> 4) | h1) - 16) * d;
                    }
                }
                case Q5_1 -> {
                    float d = f16(b, o), m = f16(b, o + 2);
                    int qh = i32(b, o + 4);
                    for (int j = 0; j < 16; j++) {
                        int q = b[o + 8 + j] & 0xff;
                        int h0 = ((qh >>> j) << 4) & 0x10;
                        int h1 = (qh >>> (j + 12)) & 0x10;
                        y[yo + j] = ((q & 0xF) | h0) * d + m;
                        y[yo + j + 16] = ((q >> 4) | h1) * d + m;
                    }
                }
                case Q4_K, Q5_K -> {
                    float d = f16(b, o), min = f16(b, o + 2);
                    int[] sc = new int[8], m = new int[8];
                    KQuantizers.getScaleMinK4(b, o + 4, sc, m);
                    boolean five = type == GgmlType.Q5_K;
                    int qh = o + 16;
                    int ql = five ? o + 48 : o + 16;
                    int u1 = 1, u2 = 2, is = 0, yy = yo;
                    for (int j = 0; j < 256; j += 64) {
                        float d1 = d * sc[is], m1 = min * m[is];
                        float d2 = d * sc[is + 1], m2 = min * m[is + 1];
                        for (int l = 0; l < 32; l++) {
                            int hi = five && (b[qh + l] & u1) != 0 ? 16 : 0;
                            y[yy++] = d1 * ((b[ql + l] & 0xF) + hi) - m1;
                        }
                        for (int l = 0; l < 32; l++) {
                            int hi = five && (b[qh + l] & u2) != 0 ? 16 : 0;
                            y[yy++] = d2 * (((b[ql + l] & 0xff) >> 4) + hi) - m2;
                        }
                        ql += 32;
                        is += 2;
                        u1 <<= 2;
                        u2 <<= 2;
                    }
                }
                case Q6_K -> {
                    float d = f16(b, o + 208);
                    int ql = o, qh = o + 128, sc = o + 192, yy = yo;
                    for (int n0 = 0; n0 < 256; n0 += 128) {
                        for (int l = 0; l < 32; l++) {
                            int is = l / 16;
                            int h = b[qh + l] & 0xff;
                            int q1 = ((b[ql + l] & 0xF) | ((h & 3) << 4)) - 32;
                            int q2 = ((b[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                            int q3 = (((b[ql + l] & 0xff) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                            int q4 = (((b[ql + l + 32] & 0xff) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                            y[yy + l] = d * b[sc + is] * q1;
                            y[yy + l + 32] = d * b[sc + is + 2] * q2;
                            y[yy + l + 64] = d * b[sc + is + 4] * q3;
                            y[yy + l + 96] = d * b[sc + is + 6] * q4;
                        }
                        yy += 128;
                        ql += 64;
                        qh += 32;
                        sc += 8;
                    }
                }
            }
        }
        return y;
    }

    private static int i16(byte[] b, int o) { return (b[o] & 0xff) | ((b[o + 1] & 0xff) << 8); }

    private static int i32(byte[] b, int o) { return i16(b, o) | (i16(b, o + 2) << 16); }

    private static float f16(byte[] b, int o) { return Fp16.toFloat((short) i16(b, o)); }
}
