package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;

import static dev.tokenmill.tensor.quant.QuantMath.putF16;
import static dev.tokenmill.tensor.quant.QuantMath.putInt;
import static dev.tokenmill.tensor.quant.QuantMath.roundf;

/**
 * The 32-element block types, ports of ggml's {@code quantize_row_q{8_0,4_0,4_1,5_0,5_1}_ref}. The float to
 * int conversions keep C's truncation ({@code (int8_t)(x + 8.5f)}) and {@code roundf} where the C code has them.
 */
final class LegacyQuantizers {
    private static final int QK = 32;

    private LegacyQuantizers() {}

    /** Loops over whole 32-element blocks; a subclass fills one block. */
    private abstract static class Blocks implements Quantizer {
        private final GgmlType type;

        Blocks(GgmlType type) { this.type = type; }

        @Override public GgmlType type() { return type; }

        @Override
        public void quantize(float[] src, int srcOff, int n, byte[] dst, int dstOff) {
            if (n % QK != 0) throw new IllegalArgumentException(type + " needs a multiple of " + QK + " values, got " + n);
            int bytes = type.blockBytes();
            for (int b = 0; b < n / QK; b++) block(src, srcOff + b * QK, dst, dstOff + b * bytes);
        }

        abstract void block(float[] x, int xo, byte[] y, int yo);
    }

    /** quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d). Layout: f16 d, 32 × int8. */
    static final Quantizer Q8_0 = new Blocks(GgmlType.Q8_0) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo) {
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                float a = Math.abs(x[xo + j]);
                amax = amax > a ? amax : a; // C's MAX(); Math.max's NaN and -0 handling costs 4x here
            }
            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putF16(y, yo, d);
            for (int j = 0; j < QK; j++) y[yo + 2 + j] = (byte) (int) roundf(x[xo + j] * id);
        }
    };

    /** quantize_row_q4_0_ref: d = max / -8 with max the value of largest magnitude. Layout: f16 d, 16 bytes. */
    static final Quantizer Q4_0 = new Blocks(GgmlType.Q4_0) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo) {
            float max = signedMax(x, xo);
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            putF16(y, yo, d);
            for (int j = 0; j < QK / 2; j++) {
                int xi0 = Math.min(15, (byte) (int) (x[xo + j] * id + 8.5f));
                int xi1 = Math.min(15, (byte) (int) (x[xo + QK / 2 + j] * id + 8.5f));
                y[yo + 2 + j] = (byte) (xi0 | (xi1 << 4));
            }
        }
    };

    /** quantize_row_q4_1_ref: d = (max - min) / 15, m = min. Layout: f16 d, f16 m, 16 bytes. */
    static final Quantizer Q4_1 = new Blocks(GgmlType.Q4_1) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                float v = x[xo + j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putF16(y, yo, d);
            putF16(y, yo + 2, min);
            for (int j = 0; j < QK / 2; j++) {
                int xi0 = Math.min(15, (byte) (int) ((x[xo + j] - min) * id + 0.5f));
                int xi1 = Math.min(15, (byte) (int) ((x[xo + QK / 2 + j] - min) * id + 0.5f));
                y[yo + 4 + j] = (byte) (xi0 | (xi1 << 4));
            }
        }
    };

    /** quantize_row_q5_0_ref: d = max / -16. Layout: f16 d, u32 high bits, 16 bytes of low nibbles. */
    static final Quantizer Q5_0 = new Blocks(GgmlType.Q5_0) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo) {
            float max = signedMax(x, xo);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            putF16(y, yo, d);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int xi0 = Math.min(31, (byte) (int) (x[xo + j] * id + 16.5f));
                int xi1 = Math.min(31, (byte) (int) (x[xo + QK / 2 + j] * id + 16.5f));
                y[yo + 6 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10) >>> 4) << j;
                qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
            }
            putInt(y, yo + 2, qh);
        }
    };

    /** quantize_row_q5_1_ref: d = (max - min) / 31, m = min. Layout: f16 d, f16 m, u32 high bits, 16 bytes. */
    static final Quantizer Q5_1 = new Blocks(GgmlType.Q5_1) {
        @Override
        void block(float[] x, int xo, byte[] y, int yo) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                float v = x[xo + j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / ((1 << 5) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putF16(y, yo, d);
            putF16(y, yo + 2, min);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                // C: (uint8_t)(x0 + 0.5f), no clamp; the values stay within 0..31
                int xi0 = ((int) ((x[xo + j] - min) * id + 0.5f)) & 0xff;
                int xi1 = ((int) ((x[xo + QK / 2 + j] - min) * id + 0.5f)) & 0xff;
                y[yo + 8 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10) >>> 4) << j;
                qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
            }
            putInt(y, yo + 4, qh);
        }
    };

    /** The block's value of largest magnitude, with its sign (the first one on ties, as ggml). */
    private static float signedMax(float[] x, int xo) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }
}
