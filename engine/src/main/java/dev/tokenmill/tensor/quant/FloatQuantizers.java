package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;

/** The unquantized storage types: F32 copies, F16 and BF16 round to nearest even as ggml does. */
final class FloatQuantizers {
    private FloatQuantizers() {}

    static final Quantizer F32 = new Quantizer() {
        @Override public GgmlType type() { return GgmlType.F32; }

        @Override
        public void quantize(float[] src, int srcOff, int n, byte[] dst, int dstOff) {
            for (int i = 0; i < n; i++) QuantMath.putInt(dst, dstOff + 4 * i, Float.floatToRawIntBits(src[srcOff + i]));
        }
    };

    static final Quantizer F16 = new Quantizer() {
        @Override public GgmlType type() { return GgmlType.F16; }

        @Override
        public void quantize(float[] src, int srcOff, int n, byte[] dst, int dstOff) {
            for (int i = 0; i < n; i++) QuantMath.putShort(dst, dstOff + 2 * i, Fp16.fromFloat(src[srcOff + i]));
        }
    };

    static final Quantizer BF16 = new Quantizer() {
        @Override public GgmlType type() { return GgmlType.BF16; }

        @Override
        public void quantize(float[] src, int srcOff, int n, byte[] dst, int dstOff) {
            for (int i = 0; i < n; i++) QuantMath.putShort(dst, dstOff + 2 * i, Fp16.floatToBf16(src[srcOff + i]));
        }
    };
}
