package dev.tokenmill.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar reference kernels, one per type: plain loops that follow ggml's block layouts
 * ({@code ggml-common.h}) and its {@code dequantize_row_*} functions ({@code ggml-quants.c}) value for value.
 * Each dequantized value is computed with the same float operations in the same order as ggml (no fused
 * multiply-add), and {@link RowKernel#dot} is the exact dequantize-then-multiply sum in element order.
 * These are the definition the Vector API twins are tested against; they are not meant to be fast.
 */
final class ScalarKernels {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /** Elements per K-quant super-block (ggml's QK_K). */
    static final int QK_K = 256;

    private ScalarKernels() {}

    static RowKernel forType(GgmlType t) {
        return switch (t) {
            case F32 -> new F32Scalar();
            case F16 -> new F16Scalar();
            case BF16 -> new Bf16Scalar();
            case Q8_0 -> new Q8_0Scalar();
            case Q4_0 -> new Q4_0Scalar();
            case Q4_1 -> new Q4_1Scalar();
            case Q5_0 -> new Q5_0Scalar();
            case Q5_1 -> new Q5_1Scalar();
            case Q4_K -> new Q4_KScalar();
            case Q5_K -> new Q5_KScalar();
            case Q6_K -> new Q6_KScalar();
        };
    }

    static float f16(MemorySegment w, long offset) {
        return Fp16.toFloat(w.get(I16, offset));
    }

    static int u8(MemorySegment w, long offset) {
        return w.get(I8, offset) & 0xff;
    }

    /**
     * Dot product through dequantization: the reference definition for every type. Dequantizes {@link #CHUNK}
     * elements at a time into a per-thread buffer, so a row of any length allocates nothing; the sum runs in
     * element order.
     */
    abstract static class DequantDot implements RowKernel {
        static final int CHUNK = QK_K; // a multiple of every block size
        private static final ThreadLocal<float[]> BUFFER = ThreadLocal.withInitial(() -> new float[CHUNK]);

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            GgmlType t = type();
            float[] buf = BUFFER.get();
            float s = 0;
            for (int i = 0; i < n; i += CHUNK) {
                int len = Math.min(CHUNK, n - i);
                dequantize(w, rowOffset + t.bytesFor(i), buf, 0, len);
                for (int j = 0; j < len; j++) s += buf[j] * x[xOff + i + j];
            }
            return s;
        }
    }

    static final class F32Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.F32; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            MemorySegment.copy(w, F32, rowOffset, out, outOff, n);
        }
    }

    static final class F16Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.F16; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int i = 0; i < n; i++) out[outOff + i] = Fp16.toFloat(w.get(I16, rowOffset + 2L * i));
        }
    }

    static final class Bf16Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.BF16; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int i = 0; i < n; i++) out[outOff + i] = Fp16.bf16ToFloat(w.get(I16, rowOffset + 2L * i));
        }
    }

    /** block_q8_0: f16 d, int8 qs[32]; y = qs[j] * d (dequantize_row_q8_0). */
    static final class Q8_0Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q8_0; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 34L * b;
                float d = f16(w, o);
                for (int j = 0; j < 32; j++) out[outOff + 32 * b + j] = w.get(I8, o + 2 + j) * d;
            }
        }
    }

    /** block_q4_0: f16 d, qs[16]; element j is the low nibble of qs[j], element j+16 the high one, minus 8. */
    static final class Q4_0Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q4_0; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 18L * b;
                float d = f16(w, o);
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j++) {
                    int q = u8(w, o + 2 + j);
                    out[y + j] = ((q & 0x0f) - 8) * d;
                    out[y + j + 16] = ((q >>> 4) - 8) * d;
                }
            }
        }
    }

    /** block_q4_1: f16 d, f16 m, qs[16]; y = q * d + m. */
    static final class Q4_1Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q4_1; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 20L * b;
                float d = f16(w, o);
                float m = f16(w, o + 2);
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j++) {
                    int q = u8(w, o + 4 + j);
                    out[y + j] = (q & 0x0f) * d + m;
                    out[y + j + 16] = (q >>> 4) * d + m;
                }
            }
        }
    }

    /** block_q5_0: f16 d, u32 qh (bit j is the fifth bit of element j), qs[16]; y = (q - 16) * d. */
    static final class Q5_0Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q5_0; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 22L * b;
                float d = f16(w, o);
                int qh = w.get(I32, o + 2);
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j++) {
                    int q = u8(w, o + 6 + j);
                    int h0 = ((qh >>> j) << 4) & 0x10;
                    int h1 = (qh >>> (j + 12)) & 0x10;
                    out[y + j] = (((q & 0x0f) | h0) - 16) * d;
                    out[y + j + 16] = (((q >>> 4) | h1) - 16) * d;
                }
            }
        }
    }

    /** block_q5_1: f16 d, f16 m, u32 qh, qs[16]; y = q * d + m. */
    static final class Q5_1Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q5_1; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 24L * b;
                float d = f16(w, o);
                float m = f16(w, o + 2);
                int qh = w.get(I32, o + 4);
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j++) {
                    int q = u8(w, o + 8 + j);
                    int h0 = ((qh >>> j) << 4) & 0x10;
                    int h1 = (qh >>> (j + 12)) & 0x10;
                    out[y + j] = ((q & 0x0f) | h0) * d + m;
                    out[y + j + 16] = ((q >>> 4) | h1) * d + m;
                }
            }
        }
    }

    /** The 6-bit scale of sub-block j of a Q4_K/Q5_K super-block (ggml's get_scale_min_k4). */
    static int kScale(MemorySegment w, long scales, int j) {
        return j < 4
                ? u8(w, scales + j) & 63
                : (u8(w, scales + j + 4) & 0x0f) | ((u8(w, scales + j - 4) >>> 6) << 4);
    }

    /** The 6-bit min of sub-block j of a Q4_K/Q5_K super-block (ggml's get_scale_min_k4). */
    static int kMin(MemorySegment w, long scales, int j) {
        return j < 4
                ? u8(w, scales + j + 4) & 63
                : (u8(w, scales + j + 4) >>> 4) | ((u8(w, scales + j) >>> 6) << 4);
    }

    /**
     * block_q4_K: f16 d, f16 dmin, scales[12] (8 packed 6-bit scale/min pairs), qs[128]. Each 32 bytes of qs
     * hold two sub-blocks of 32: low nibbles first, then high nibbles; y = d*sc * q - dmin*m.
     */
    static final class Q4_KScalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q4_K; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 144L * b;
                float d = f16(w, o);
                float min = f16(w, o + 2);
                long scales = o + 4;
                long qs = o + 16;
                int y = outOff + QK_K * b;
                for (int g = 0; g < 4; g++) {
                    float d1 = d * kScale(w, scales, 2 * g), m1 = min * kMin(w, scales, 2 * g);
                    float d2 = d * kScale(w, scales, 2 * g + 1), m2 = min * kMin(w, scales, 2 * g + 1);
                    for (int l = 0; l < 32; l++) {
                        int q = u8(w, qs + 32 * g + l);
                        out[y + 64 * g + l] = d1 * (q & 0x0f) - m1;
                        out[y + 64 * g + 32 + l] = d2 * (q >>> 4) - m2;
                    }
                }
            }
        }
    }

    /**
     * block_q5_K: f16 d, f16 dmin, scales[12], qh[32], qs[128]. As Q4_K, plus a fifth bit for element l of
     * sub-block s in bit s of qh[l].
     */
    static final class Q5_KScalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q5_K; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 176L * b;
                float d = f16(w, o);
                float min = f16(w, o + 2);
                long scales = o + 4;
                long qh = o + 16;
                long qs = o + 48;
                int y = outOff + QK_K * b;
                for (int g = 0; g < 4; g++) {
                    float d1 = d * kScale(w, scales, 2 * g), m1 = min * kMin(w, scales, 2 * g);
                    float d2 = d * kScale(w, scales, 2 * g + 1), m2 = min * kMin(w, scales, 2 * g + 1);
                    int u1 = 1 << (2 * g), u2 = 2 << (2 * g);
                    for (int l = 0; l < 32; l++) {
                        int q = u8(w, qs + 32 * g + l);
                        int h = u8(w, qh + l);
                        out[y + 64 * g + l] = d1 * ((q & 0x0f) + ((h & u1) != 0 ? 16 : 0)) - m1;
                        out[y + 64 * g + 32 + l] = d2 * ((q >>> 4) + ((h & u2) != 0 ? 16 : 0)) - m2;
                    }
                }
            }
        }
    }

    /**
     * block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d. Each half of 128
     * elements uses 64 bytes of ql and 32 of qh; y = d*sc * (q - 32) (dequantize_row_q6_K).
     */
    static final class Q6_KScalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.Q6_K; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 210L * b;
                float d = f16(w, o + 208);
                for (int half = 0; half < 2; half++) {
                    long ql = o + 64L * half;
                    long qh = o + 128 + 32L * half;
                    long sc = o + 192 + 8L * half;
                    int y = outOff + QK_K * b + 128 * half;
                    for (int l = 0; l < 32; l++) {
                        int is = l / 16;
                        int lo0 = u8(w, ql + l), lo1 = u8(w, ql + 32 + l), h = u8(w, qh + l);
                        int q1 = ((lo0 & 0x0f) | ((h & 3) << 4)) - 32;
                        int q2 = ((lo1 & 0x0f) | (((h >>> 2) & 3) << 4)) - 32;
                        int q3 = ((lo0 >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                        int q4 = ((lo1 >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                        out[y + l] = d * w.get(I8, sc + is) * q1;
                        out[y + 32 + l] = d * w.get(I8, sc + is + 2) * q2;
                        out[y + 64 + l] = d * w.get(I8, sc + is + 4) * q3;
                        out[y + 96 + l] = d * w.get(I8, sc + is + 6) * q4;
                    }
                }
            }
        }
    }
}
