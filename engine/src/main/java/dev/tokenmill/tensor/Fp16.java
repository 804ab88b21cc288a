package dev.tokenmill.tensor;

/** IEEE half and bfloat16 conversions, bit-exact with ggml's. */
public final class Fp16 {
    private Fp16() {}

    public static float toFloat(short h) {
        return Float.float16ToFloat(h);
    }

    /** Round-to-nearest-even, as ggml's F32 to F16 conversion. */
    public static short fromFloat(float f) {
        return Float.floatToFloat16(f);
    }

    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** Round-to-nearest-even with NaN kept quiet, as ggml's GGML_FP32_TO_BF16. */
    public static short floatToBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 64); // NaN: force quiet
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }
}
