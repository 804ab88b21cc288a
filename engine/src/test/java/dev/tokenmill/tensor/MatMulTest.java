package dev.tokenmill.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The batched product against its reference (one scalar dot per pair), with the same budget as the kernel twins:
 * {@code 1e-5 * sum|w*x| + 1e-6} per output.
 */
class MatMulTest {

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(GgmlType.Q8_0, 11, 96, 5),
                Arguments.of(GgmlType.Q8_0, 8, 64, 4),
                Arguments.of(GgmlType.Q4_0, 9, 128, 2),
                Arguments.of(GgmlType.Q4_0, 13, 64, 9),
                Arguments.of(GgmlType.Q4_K, 6, 512, 7),
                Arguments.of(GgmlType.Q6_K, 5, 256, 3),
                Arguments.of(GgmlType.Q5_K, 4, 256, 8),
                Arguments.of(GgmlType.Q5_0, 7, 96, 4),
                Arguments.of(GgmlType.Q4_1, 7, 96, 6),
                Arguments.of(GgmlType.Q5_1, 7, 96, 1),
                Arguments.of(GgmlType.F16, 10, 77, 5),
                Arguments.of(GgmlType.BF16, 4, 40, 4),
                Arguments.of(GgmlType.F32, 9, 19, 6));
    }

    @ParameterizedTest(name = "{0} {1}x{2} batch {3}")
    @MethodSource("shapes")
    void matmulMatchesOneScalarDotPerPair(GgmlType t, int rows, int cols, int batch) {
        Random rnd = new Random(rows * 1000L + cols * 10L + batch);
        MemorySegment w = RandomBlocks.rows(t, rows, cols, 0, rnd);
        float[] x = RandomBlocks.activations(batch * cols, rnd);
        float[] want = new float[batch * rows], got = new float[batch * rows];
        Arrays.fill(got, Float.NaN);
        RowKernel ref = Kernels.scalar(t);
        MatMul.matmulReference(ref, w, rows, cols, x, batch, want, 0, rows);
        float[] scratch = new float[MatMul.scratchFloats(cols)];
        MatMul.matmul(Kernels.forType(t), w, rows, cols, x, batch, got, 0, rows, scratch);

        long rowBytes = t.bytesFor(cols);
        float[] wf = new float[cols];
        for (int r = 0; r < rows; r++) {
            ref.dequantize(w, r * rowBytes, wf, 0, cols);
            for (int b = 0; b < batch; b++) {
                double mag = 0;
                for (int i = 0; i < cols; i++) mag += Math.abs((double) wf[i] * x[b * cols + i]);
                assertThat(got[b * rows + r]).as("%s y[%d][%d]", t, b, r)
                        .isCloseTo(want[b * rows + r], Offset.offset((float) (1e-5 * mag + 1e-6)));
            }
        }
    }

    @Test
    void aBatchRowGetsTheSameBitsAloneAsInABatch() {
        GgmlType t = GgmlType.Q4_K;
        int rows = 9, cols = 512, batch = 6;
        Random r = new Random(77);
        MemorySegment w = RandomBlocks.rows(t, rows, cols, 0, r);
        float[] x = RandomBlocks.activations(batch * cols, r);
        float[] all = new float[batch * rows];
        float[] scratch = new float[MatMul.scratchFloats(cols)];
        MatMul.matmul(Kernels.forType(t), w, rows, cols, x, batch, all, 0, rows, scratch);
        for (int b = 0; b < batch; b++) {
            float[] one = new float[rows];
            MatMul.matmul(Kernels.forType(t), w, rows, cols, Arrays.copyOfRange(x, b * cols, (b + 1) * cols), 1, one, 0, rows, scratch);
            assertThat(one).as("batch row %d", b).containsExactly(Arrays.copyOfRange(all, b * rows, (b + 1) * rows));
        }
    }

    @Test
    void matmulWritesOnlyItsRowRange() {
        GgmlType t = GgmlType.Q8_0;
        int rows = 12, cols = 64, batch = 5;
        Random rnd = new Random(7);
        MemorySegment w = RandomBlocks.rows(t, rows, cols, 0, rnd);
        float[] x = RandomBlocks.activations(batch * cols, rnd);
        float[] y = new float[batch * rows];
        Arrays.fill(y, -7f);
        MatMul.matmul(Kernels.forType(t), w, rows, cols, x, batch, y, 3, 10, new float[MatMul.scratchFloats(cols)]);
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                float v = y[b * rows + r];
                if (r < 3 || r >= 10) assertThat(v).as("y[%d][%d]", b, r).isEqualTo(-7f);
                else assertThat(v).as("y[%d][%d]", b, r).isNotEqualTo(-7f);
            }
        }
    }

    @Test
    void matvecIsOneDotPerRow() {
        GgmlType t = GgmlType.Q4_K;
        int rows = 5, cols = 512;
        Random rnd = new Random(3);
        MemorySegment w = RandomBlocks.rows(t, rows, cols, 0, rnd);
        float[] x = RandomBlocks.activations(cols, rnd);
        float[] y = new float[rows];
        RowKernel k = Kernels.forType(t);
        MatMul.matvec(k, w, rows, cols, x, y, 1, rows);
        assertThat(y[0]).isZero();
        for (int r = 1; r < rows; r++) assertThat(y[r]).isEqualTo(k.dot(w, r * t.bytesFor(cols), x, 0, cols));
    }

    @Test
    void rejectsRowRangeOutsideTheMatrixAndShortScratch() {
        MemorySegment w = RandomBlocks.rows(GgmlType.F32, 4, 8, 0, new Random(1));
        RowKernel k = Kernels.forType(GgmlType.F32);
        assertThatThrownBy(() -> MatMul.matvec(k, w, 4, 8, new float[8], new float[4], 2, 5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 5)").hasMessageContaining("4 rows");
        assertThatThrownBy(() -> MatMul.matmul(k, w, 4, 8, new float[16], 2, new float[8], 0, 4, new float[7]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 8");
    }
}
