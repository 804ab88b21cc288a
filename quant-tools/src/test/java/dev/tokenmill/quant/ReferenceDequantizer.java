package dev.tokenmill.quant;

import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.Kernels;

import java.lang.foreign.MemorySegment;

/** Decodes ggml blocks with the engine's scalar reference kernels (themselves checked against ggml's layouts). */
final class ReferenceDequantizer {
    private ReferenceDequantizer() {}

    static float[] dequantize(GgmlType type, byte[] b, int off, int n) {
        float[] out = new float[n];
        Kernels.scalar(type).dequantize(MemorySegment.ofArray(b), off, out, 0, n);
        return out;
    }
}
