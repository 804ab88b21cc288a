package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.Kernels;
import dev.tokenmill.tensor.RowKernel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The engine's dequantize kernels must decode what these quantizers write exactly as ggml's dequantize_row_* do
 * (the test-only {@link ReferenceDequantizer}). Skipped for a type the engine has no kernel for yet.
 */
class KernelCrossCheckTest {

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void engineKernelsDecodeQuantizedRowsLikeGgml(GgmlType type) {
        RowKernel kernel;
        try {
            kernel = Kernels.scalar(type);
        } catch (UnsupportedOperationException e) {
            kernel = null;
        }
        assumeTrue(kernel != null, "no engine kernel for " + type + " yet");
        SplittableRandom r = new SplittableRandom(9);
        int n = 512;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian() * 0.1f;
        byte[] bytes = new byte[Math.toIntExact(type.bytesFor(n))];
        Quantizer.forType(type).quantize(x, 0, n, bytes, 0);
        float[] expected = ReferenceDequantizer.dequantize(type, bytes, 0, n);
        float[] got = new float[n];
        kernel.dequantize(MemorySegment.ofArray(bytes), 0, got, 0, n);
        // ggml multiplies (d * scale) * q; a kernel that groups the product differently may differ in the last bit
        assertThat(got).containsExactly(expected, within(1e-6f));
        RowKernel fast = Kernels.forType(type);
        float[] fastGot = new float[n];
        fast.dequantize(MemorySegment.ofArray(bytes), 0, fastGot, 0, n);
        assertThat(fastGot).containsExactly(expected, within(1e-6f));
    }
}
