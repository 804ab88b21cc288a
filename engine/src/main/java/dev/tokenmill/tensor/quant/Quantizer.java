package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Turns rows of floats into ggml blocks of one {@link GgmlType}, as llama.cpp's reference quantizers
 * ({@code quantize_row_*_ref} in ggml-quants.c, the ones {@code llama-quantize} uses without an importance matrix)
 * do, so that a file we write reconstructs the weights as well as llama.cpp's would. Implementations are
 * stateless and safe to share between threads.
 */
public interface Quantizer {

    GgmlType type();

    /**
     * Quantizes {@code n} values from {@code src[srcOff..srcOff+n)} into {@code type().bytesFor(n)} bytes at
     * {@code dst[dstOff..]}. {@code n} must be a multiple of the type's block size.
     */
    void quantize(float[] src, int srcOff, int n, byte[] dst, int dstOff);

    /** As {@link #quantize(float[], int, int, byte[], int)}, into a memory segment (through a heap buffer). */
    default void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        int bytes = Math.toIntExact(type().bytesFor(n));
        byte[] tmp = new byte[bytes];
        quantize(src, srcOff, n, tmp, 0);
        MemorySegment.copy(tmp, 0, dst, ValueLayout.JAVA_BYTE, dstOff, bytes);
    }

    /** The quantizer for a type; every {@link GgmlType} has one (F32, F16 and BF16 are plain conversions). */
    static Quantizer forType(GgmlType type) {
        return switch (type) {
            case F32 -> FloatQuantizers.F32;
            case F16 -> FloatQuantizers.F16;
            case BF16 -> FloatQuantizers.BF16;
            case Q8_0 -> LegacyQuantizers.Q8_0;
            case Q4_0 -> LegacyQuantizers.Q4_0;
            case Q4_1 -> LegacyQuantizers.Q4_1;
            case Q5_0 -> LegacyQuantizers.Q5_0;
            case Q5_1 -> LegacyQuantizers.Q5_1;
            case Q4_K -> KQuantizers.Q4_K;
            case Q5_K -> KQuantizers.Q5_K;
            case Q6_K -> KQuantizers.Q6_K;
        };
    }
}
