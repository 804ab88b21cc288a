package dev.tokenmill.backend.cpu;

import dev.tokenmill.tensor.F32Math;
import dev.tokenmill.tensor.Fp16;

/**
 * The element-wise and row-wise steps of the forward pass, each written to round like its ggml CPU counterpart
 * (named per method), so that F32 models land within float noise of llama.cpp.
 */
final class CpuOps {
    private CpuOps() {}

    /**
     * out = x / sqrt(mean(x^2) + eps) * w over {@code n} values; as ggml_compute_forward_rms_norm_f32 (squares in
     * float, summed in double, scale in float) followed by ggml_mul.
     */
    static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            sum += v * v;
        }
        float mean = (float) (sum / n);
        float scale = (float) (1.0 / Math.sqrt(mean + eps));
        for (int i = 0; i < n; i++) out[outOff + i] = (x[xOff + i] * scale) * w[i];
    }

    /**
     * Softmax of {@code s[off..off+n)} in place after multiplying by {@code scale}; as ggml_compute_forward_soft_max_f32
     * (ggml's vector expf, sum in double, one float reciprocal).
     */
    static void scaledSoftmax(float[] s, int off, int n, float scale) {
        float max = F32Math.scaleMax(s, off, n, scale);
        double sum = F32Math.expMinusSum(s, off, n, max);
        float inv = (float) (1.0 / sum);
        for (int i = off; i < off + n; i++) s[i] *= inv;
    }

    /** out = silu(gate) * up, silu(x) = x / (1 + exp(-x)); as ggml's swiglu (see {@link F32Math#swiglu}). */
    static void swiglu(float[] gate, float[] up, int off, int n) {
        F32Math.swiglu(gate, up, off, n);
    }

    /** x[i] += y[i]. */
    static void add(float[] x, float[] y, int off, int n) {
        for (int i = off; i < off + n; i++) x[i] += y[i];
    }

    /** x[xOff + i] += b[i]. */
    static void addBias(float[] x, int xOff, float[] b) {
        for (int i = 0; i < b.length; i++) x[xOff + i] += b[i];
    }

    /** Rounds to the nearest F16 value and back, as ggml converts activations before an F16-weight product. */
    static void roundToF16(float[] src, float[] dst, int n) {
        for (int i = 0; i < n; i++) dst[i] = Fp16.toFloat(Fp16.fromFloat(src[i]));
    }
}
