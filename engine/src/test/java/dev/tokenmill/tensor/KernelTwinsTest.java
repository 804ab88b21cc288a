package dev.tokenmill.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Vector API kernels against their scalar twins on random rows.
 *
 * <p>Error budget for dot: {@code |fast - scalar| <= 1e-5 * sum|w_i * x_i| + 1e-6}. Both sum n float products;
 * the scalar one in element order, the fast one in several accumulators with fused multiply-add, so each is
 * within a few n*ulp of the exact sum in the worst case and about sqrt(n)*ulp on random data (~3e-6 relative
 * for n = 2048); 1e-5 leaves room for that and still catches a single wrong element, which moves the sum by
 * about 1/n of its magnitude. Dequantize must agree exactly: the vector twins use the same float operations.
 */
class KernelTwinsTest {
    static final double REL_BUDGET = 1e-5;
    static final double ABS_BUDGET = 1e-6;

    static Stream<Arguments> typesAndLengths() {
        return Stream.of(GgmlType.values()).flatMap(t -> {
            int bs = t.blockSize();
            IntStream lengths = t.isQuantized()
                    ? IntStream.of(1, 2, 3, 4, 5, 7, 9, 64).map(nb -> nb * bs).filter(n -> n <= 16384)
                    : IntStream.of(1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 1027, 2048);
            return lengths.mapToObj(n -> Arguments.of(t, n));
        });
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("typesAndLengths")
    void vectorDotMatchesScalarWithinBudget(GgmlType t, int n) {
        assumeVector(t);
        Random rnd = new Random(31L * t.id() + n);
        int rows = 3, lead = 5;
        MemorySegment w = RandomBlocks.rows(t, rows, n, lead, rnd);
        float[] x = RandomBlocks.activations(n + 3, rnd);
        RowKernel fast = Kernels.forType(t), ref = Kernels.scalar(t);
        long rowBytes = t.bytesFor(n);
        float[] wf = new float[n];
        for (int r = 0; r < rows; r++) {
            long off = lead + r * rowBytes;
            ref.dequantize(w, off, wf, 0, n);
            double mag = 0;
            for (int i = 0; i < n; i++) mag += Math.abs((double) wf[i] * x[3 + i]);
            float want = ref.dot(w, off, x, 3, n);
            float got = fast.dot(w, off, x, 3, n);
            assertThat((double) got).as("%s row %d of %d elements", t, r, n)
                    .isCloseTo(want, org.assertj.core.data.Offset.offset(REL_BUDGET * mag + ABS_BUDGET));
        }
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("typesAndLengths")
    void vectorDequantizeEqualsScalarExactly(GgmlType t, int n) {
        assumeVector(t);
        Random rnd = new Random(17L * t.id() + n);
        int lead = 7;
        MemorySegment w = RandomBlocks.rows(t, 2, n, lead, rnd);
        long off = lead + t.bytesFor(n); // the second row
        float[] want = new float[n + 4], got = new float[n + 4];
        Kernels.scalar(t).dequantize(w, off, want, 2, n);
        Kernels.forType(t).dequantize(w, off, got, 2, n);
        assertThat(got).containsExactly(want);
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void scalarDotIsDequantizeThenMultiplyInElementOrder(GgmlType t) {
        Random rnd = new Random(t.id());
        int n = 2 * Math.max(256, t.blockSize());
        MemorySegment w = RandomBlocks.rows(t, 1, n, 0, rnd);
        float[] x = RandomBlocks.activations(n, rnd);
        float[] wf = new float[n];
        RowKernel ref = Kernels.scalar(t);
        ref.dequantize(w, 0, wf, 0, n);
        float s = 0;
        for (int i = 0; i < n; i++) s += wf[i] * x[i];
        assertThat(ref.dot(w, 0, x, 0, n)).isEqualTo(s);
    }

    @Test
    void everyHalfFloatConvertsLikeFloatFloat16ToFloat() {
        assumeVector(GgmlType.F16);
        int n = 1 << 16;
        MemorySegment w = Arena.ofAuto().allocate(2L * n);
        ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < n; h++) w.set(i16, 2L * h, (short) h);
        float[] got = new float[n];
        Kernels.forType(GgmlType.F16).dequantize(w, 0, got, 0, n);
        for (int h = 0; h < n; h++) {
            float want = Float.float16ToFloat((short) h);
            if (Float.isNaN(want)) {
                assertThat(got[h]).as("half 0x%04x", h).isNaN();
            } else {
                assertThat(Float.floatToRawIntBits(got[h])).as("half 0x%04x", h).isEqualTo(Float.floatToRawIntBits(want));
            }
        }
    }

    @Test
    void forTypeHandsOutVectorKernelsWhenTheModuleIsPresent() {
        assumeThat(VectorSupport.available()).isTrue();
        assumeThat(VectorKernels.SUPPORTED).isTrue();
        for (GgmlType t : GgmlType.values()) {
            assertThat(Kernels.forType(t).getClass().getEnclosingClass()).as("%s", t).isEqualTo(VectorKernels.class);
            assertThat(Kernels.scalar(t).getClass().getEnclosingClass()).as("%s", t).isEqualTo(ScalarKernels.class);
            assertThat(Kernels.forType(t).type()).isEqualTo(t);
            assertThat(Kernels.scalar(t).type()).isEqualTo(t);
        }
    }

    private static void assumeVector(GgmlType t) {
        assumeThat(VectorSupport.available()).as("Vector API present").isTrue();
        assumeThat(VectorKernels.SUPPORTED).as("a 256- or 512-bit float species").isTrue();
    }
}
