package dev.tokenmill.tensor.nativ;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.Kernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The native kernels against {@link ScalarTwin} (bit-exact: same integer block sums, same float steps) on both
 * ISA paths the CPU has, and the twin against the float dot of the dequantized weights with the unquantized
 * activations within the activation-quantization error budget. Skipped where the library is not available.
 */
class NativeKernelsTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Arena arena;
    private int isaBefore;

    @BeforeEach
    void setUp() {
        assumeTrue(NativeKernels.available(), "native kernels not available here");
        arena = Arena.ofConfined();
        isaBefore = NativeKernels.isa();
    }

    @AfterEach
    void tearDown() {
        if (arena != null) {
            NativeKernels.setIsa(isaBefore);
            arena.close();
        }
    }

    static Stream<Arguments> cases() {
        return types().flatMap(t -> Stream.of(2, 1).flatMap(isa ->
                Stream.of(1, 3, 8, 17, 32).map(b -> Arguments.of(t, isa, b))));
    }

    @ParameterizedTest(name = "{0} isa {1} batch {2}")
    @MethodSource("cases")
    void gemmMatchesScalarTwinBitForBit(GgmlType type, int isa, int batch) {
        assumeTrue(NativeKernels.setIsa(isa) == isa, "CPU lacks ISA level " + isa);
        SplittableRandom rnd = new SplittableRandom(type.id() * 100 + batch);
        int rows = 53, cols = type.blockSize() == 256 ? 512 : 96;
        MemorySegment w = randomWeights(type, rows, cols, rnd);
        float[] x = randomActivations(batch, cols, rnd);
        Q8Activations acts = new Q8Activations(arena, 32, 512);
        acts.quantize(x, batch, cols);
        PackedWeights packed = NativeKernels.pack(type, w, rows, cols, arena);

        float[] expected = new float[batch * rows];
        ScalarTwin.gemm(type, w, cols, acts, expected, rows, 0, rows);
        float[] y = new float[batch * rows];
        NativeKernels.gemm(packed, acts, y, 0, rows);
        assertThat(y).containsExactly(expected);
    }

    @ParameterizedTest(name = "{0} isa {1} batch {2}")
    @MethodSource("cases")
    void rowRangesWriteOnlyTheirRowsAndAgreeWithTheWholeMatrix(GgmlType type, int isa, int batch) {
        assumeTrue(NativeKernels.setIsa(isa) == isa, "CPU lacks ISA level " + isa);
        SplittableRandom rnd = new SplittableRandom(7 + batch);
        int rows = 70, cols = 256;
        MemorySegment w = randomWeights(type, rows, cols, rnd);
        Q8Activations acts = new Q8Activations(arena, 32, 256);
        acts.quantize(randomActivations(batch, cols, rnd), batch, cols);
        PackedWeights packed = NativeKernels.pack(type, w, rows, cols, arena);
        float[] whole = new float[batch * rows];
        NativeKernels.gemm(packed, acts, whole, 0, rows);

        int[][] ranges = {{5, 29}, {16, 48}, {0, 1}, {69, 70}, {33, 33}, {17, 18}, {47, 70}};
        for (int[] range : ranges) {
            float[] y = new float[batch * rows];
            Arrays.fill(y, Float.NaN);
            NativeKernels.gemm(packed, acts, y, range[0], range[1]);
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) {
                    float v = y[b * rows + r];
                    if (r >= range[0] && r < range[1]) {
                        assertThat(v).as("row %d batch %d of range %s", r, b, Arrays.toString(range)).isEqualTo(whole[b * rows + r]);
                    } else {
                        assertThat(v).as("row %d batch %d outside range %s", r, b, Arrays.toString(range)).isNaN();
                    }
                }
            }
        }
    }

    /** A long prompt: batch rows run in chunks (here 32 rows of 8192 columns) besides tiles of at most 16. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void longBatchesOverWideRowsMatchTheTwin(GgmlType type) {
        SplittableRandom rnd = new SplittableRandom(21);
        int rows = 20, cols = 8192, batch = 77;
        MemorySegment w = randomWeights(type, rows, cols, rnd);
        Q8Activations acts = new Q8Activations(arena, batch, cols);
        acts.quantize(randomActivations(batch, cols, rnd), batch, cols);
        float[] expected = new float[batch * rows];
        ScalarTwin.gemm(type, w, cols, acts, expected, rows, 0, rows);
        float[] y = new float[batch * rows];
        NativeKernels.gemm(NativeKernels.pack(type, w, rows, cols, arena), acts, y, 3, rows);
        for (int b = 0; b < batch; b++) {
            for (int r = 3; r < rows; r++) {
                assertThat(y[b * rows + r]).as("row %d batch row %d", r, b).isEqualTo(expected[b * rows + r]);
            }
        }
    }

    @Test
    void aSequenceGetsTheSameBitsAloneAsInABatchOf32() {
        SplittableRandom rnd = new SplittableRandom(99);
        int rows = 40, cols = 512, batch = 32;
        for (GgmlType type : types().toList()) {
            MemorySegment w = randomWeights(type, rows, cols, rnd);
            PackedWeights packed = NativeKernels.pack(type, w, rows, cols, arena);
            float[] x = randomActivations(batch, cols, rnd);
            Q8Activations acts = new Q8Activations(arena, batch, cols);
            acts.quantize(x, batch, cols);
            float[] all = new float[batch * rows];
            NativeKernels.gemm(packed, acts, all, 0, rows);
            for (int b : new int[] {0, 13, 31}) {
                acts.quantize(Arrays.copyOfRange(x, b * cols, (b + 1) * cols), 1, cols);
                float[] alone = new float[rows];
                NativeKernels.gemm(packed, acts, alone, 0, rows);
                assertThat(alone).as("%s batch row %d", type, b).containsExactly(Arrays.copyOfRange(all, b * rows, (b + 1) * rows));
            }
        }
    }

    @Test
    void nativeQuantizationMatchesTheTwin() {
        SplittableRandom rnd = new SplittableRandom(5);
        int batch = 7, cols = 320;
        float[] x = randomActivations(batch, cols, rnd);
        Arrays.fill(x, 64, 96, 0f); // an all-zero block: scale 0, quants 0
        x[5] = 3.5f / 127f * 127f;  // values that land on .5 exercise the rounding
        Q8Activations nat = new Q8Activations(arena, batch, cols);
        nat.quantize(x, batch, cols);
        Q8Activations twin = new Q8Activations(arena, batch, cols);
        MemorySegment xs = arena.allocate(4L * x.length);
        MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
        ScalarTwin.quantize(xs, batch, cols, twin);
        assertThat(nat.qs.toArray(ValueLayout.JAVA_BYTE)).containsExactly(twin.qs.toArray(ValueLayout.JAVA_BYTE));
        assertThat(nat.d.toArray(ValueLayout.JAVA_FLOAT)).containsExactly(twin.d.toArray(ValueLayout.JAVA_FLOAT));
        assertThat(nat.c4.toArray(ValueLayout.JAVA_INT)).containsExactly(twin.c4.toArray(ValueLayout.JAVA_INT));
        assertThat(nat.c8.toArray(ValueLayout.JAVA_INT)).containsExactly(twin.c8.toArray(ValueLayout.JAVA_INT));
        assertThat(nat.scale(0, 2)).isZero();

        // disjoint block ranges (as compute threads quantize one batch) fill the same buffer as one call
        Q8Activations split = new Q8Activations(arena, batch, cols);
        split.quantize(x, batch, cols, 4, 10);
        split.quantize(x, batch, cols, 0, 1);
        split.quantize(x, batch, cols, 1, 4);
        for (MemorySegment[] pair : new MemorySegment[][] {{split.qs, nat.qs}, {split.d, nat.d}, {split.c4, nat.c4},
                {split.c8, nat.c8}, {split.m, nat.m}, {split.h0, nat.h0}, {split.h1, nat.h1}}) {
            assertThat(pair[0].toArray(ValueLayout.JAVA_BYTE)).containsExactly(pair[1].toArray(ValueLayout.JAVA_BYTE));
        }
        assertThatThrownBy(() -> split.quantize(x, batch, cols, 3, 11)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("block range [3, 11)");
    }

    /**
     * The twin's result is the float dot of the dequantized weights (the Java kernels' dequantize) with the
     * activations up to the activation rounding: each quant is off by at most half its block's scale, so
     * |y - exact| <= sum over blocks of d_x/2 * sum |w| (with 1% slack for the float rounding of x / d), plus
     * float accumulation error.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void twinStaysWithinTheActivationQuantizationBudget(GgmlType type) {
        SplittableRandom rnd = new SplittableRandom(11);
        int rows = 19, cols = 2048, batch = 3;
        MemorySegment w = randomWeights(type, rows, cols, rnd);
        float[] x = randomActivations(batch, cols, rnd);
        Q8Activations acts = new Q8Activations(arena, batch, cols);
        acts.quantize(x, batch, cols);
        float[] y = new float[batch * rows];
        NativeKernels.gemm(NativeKernels.pack(type, w, rows, cols, arena), acts, y, 0, rows);
        float[] wf = new float[cols];
        for (int r = 0; r < rows; r++) {
            Kernels.scalar(type).dequantize(w, r * type.bytesFor(cols), wf, 0, cols);
            for (int b = 0; b < batch; b++) {
                double exact = 0, budget = 0, magnitude = 0;
                for (int k = 0; k < cols / 32; k++) {
                    double absW = 0;
                    for (int i = k * 32; i < k * 32 + 32; i++) {
                        exact += (double) wf[i] * x[b * cols + i];
                        absW += Math.abs(wf[i]);
                        magnitude += Math.abs((double) wf[i] * x[b * cols + i]);
                    }
                    budget += 0.505 * acts.scale(b, k) * absW;
                }
                double err = Math.abs(y[b * rows + r] - exact);
                assertThat(err).as("%s row %d batch %d", type, r, b).isLessThanOrEqualTo(budget + 1e-5 * magnitude);
                assertThat(err).as("%s row %d batch %d: error should be far below the worst case", type, r, b)
                        .isLessThan(0.25 * budget + 1e-5 * magnitude);
            }
        }
    }

    static Stream<GgmlType> types() {
        return Stream.of(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K,
                GgmlType.Q6_K);
    }

    @Test
    void splitPointsCoverAllRowsInWholeGroups() {
        for (int rows : new int[] {1, 16, 53, 2048, 128256}) {
            for (int parts : new int[] {1, 2, 3, 7}) {
                assertThat(NativeKernels.splitPoint(rows, parts, 0)).isZero();
                assertThat(NativeKernels.splitPoint(rows, parts, parts)).isEqualTo(rows);
                for (int i = 1; i < parts; i++) {
                    int p = NativeKernels.splitPoint(rows, parts, i);
                    assertThat(p).isGreaterThanOrEqualTo(NativeKernels.splitPoint(rows, parts, i - 1));
                    assertThat(p % NativeKernels.ROW_GROUP == 0 || p == rows).isTrue();
                }
            }
        }
        assertThat(NativeKernels.splitPoint(2048, 2, 1)).isEqualTo(1024);
    }

    @Test
    void mismatchedShapesAreRejectedWithTheShapesInTheMessage() {
        MemorySegment w = randomWeights(GgmlType.Q8_0, 16, 64, new SplittableRandom(1));
        PackedWeights packed = NativeKernels.pack(GgmlType.Q8_0, w, 16, 64, arena);
        Q8Activations acts = new Q8Activations(arena, 4, 128);
        acts.quantize(new float[4 * 128], 4, 128);
        assertThatThrownBy(() -> NativeKernels.gemm(packed, acts, new float[4 * 16], 0, 16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("128 columns").hasMessageContaining("64");
        acts.quantize(new float[2 * 64], 2, 64);
        assertThatThrownBy(() -> NativeKernels.gemm(packed, acts, new float[2 * 16], 3, 17))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 17)");
        assertThatThrownBy(() -> acts.quantize(new float[5 * 64], 5, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("5 x 64");
        assertThatThrownBy(() -> NativeKernels.pack(GgmlType.F16, w, 16, 256, arena))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("F16");
        assertThatThrownBy(() -> NativeKernels.pack(GgmlType.Q4_K, w, 1, 96, arena))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 256");
    }

    /**
     * Random quants (every byte value, so Q8_0 sees -128 too; all 6-bit Q4_K scales and mins) with f16 scales like
     * real weights (|d| ~ 1e-3; Q4_K's dmin positive).
     */
    private MemorySegment randomWeights(GgmlType type, int rows, int cols, SplittableRandom rnd) {
        long bytes = type.bytesFor((long) rows * cols);
        MemorySegment w = arena.allocate(bytes);
        for (long i = 0; i < bytes; i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
        long scaleAt = type == GgmlType.Q6_K ? 208 : 0;
        for (long blk = 0; blk < bytes / type.blockBytes(); blk++) {
            w.set(I16, blk * type.blockBytes() + scaleAt, Fp16.fromFloat((float) rnd.nextDouble(-2e-3, 2e-3)));
            if (type == GgmlType.Q4_K || type == GgmlType.Q5_K) {
                w.set(I16, blk * type.blockBytes() + 2, Fp16.fromFloat((float) rnd.nextDouble(0, 1e-3)));
            }
            if (type == GgmlType.Q4_1 || type == GgmlType.Q5_1) { // the min, about -8 or -16 quant steps as real ones
                w.set(I16, blk * type.blockBytes() + 2, Fp16.fromFloat((float) rnd.nextDouble(-3e-2, 3e-2)));
            }
        }
        return w;
    }

    /** Gaussian activations with a per-row spread of magnitudes and an occasional outlier, as hidden states have. */
    private static float[] randomActivations(int batch, int cols, SplittableRandom rnd) {
        float[] x = new float[batch * cols];
        for (int b = 0; b < batch; b++) {
            double scale = Math.exp(rnd.nextDouble(-3, 3));
            for (int i = 0; i < cols; i++) {
                double v = gaussian(rnd) * scale;
                if (rnd.nextInt(97) == 0) v *= 20;
                x[b * cols + i] = (float) v;
            }
        }
        return x;
    }

    private static double gaussian(SplittableRandom rnd) {
        return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }
}
