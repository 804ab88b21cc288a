package dev.tokenmill.backend.cpu;

import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.ReferenceForward;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CpuBackendTest {
    /**
     * Float32 against float64 on logits of a few units: each value passes through ~10 float ops chains of length
     * <= 64, so relative error ~1e-6; 2e-4 absolute leaves two orders of magnitude of room while a wrong rope pair,
     * bias or norm moves logits by 1e-1 or more.
     */
    private static final double F32_BUDGET = 2e-4;

    @TempDir Path dir;

    private static int[] randomIds(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    private static CpuBackendConfig config(int blockSize, int numBlocks, int maxTokens, int maxSeqs, int threads) {
        return new CpuBackendConfig(blockSize, numBlocks, maxTokens, maxSeqs, 64, maxTokens, GgmlType.F32, threads, true, true);
    }

    /** Prefills one sequence in consecutive blocks 0.. and returns the logits of every position. */
    private static float[][] prefill(CpuBackend backend, int[] ids, int[] blockTable) {
        ForwardBatch b = new ForwardBatch(ids.length, 1, blockTable.length);
        System.arraycopy(blockTable, 0, b.blockTables[0], 0, blockTable.length);
        b.nSeqs = 1;
        b.contextLens[0] = ids.length;
        for (int i = 0; i < ids.length; i++) b.addToken(0, ids[i], i, true);
        Logits l = backend.forward(b);
        float[][] out = new float[ids.length][];
        for (int i = 0; i < ids.length; i++) out[i] = l.copyRow(i);
        return out;
    }

    private static int[] consecutive(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i;
        return t;
    }

    private void assertMatchesReference(TinyModel tiny, double budget) throws Exception {
        int[] ids = randomIds(21, tiny.vocab, 7);
        double[][] want = ReferenceForward.logits(tiny, ids);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend backend = new CpuBackend(m.config(), m.weights(), config(4, 8, 32, 1, 2))) {
            float[][] got = prefill(backend, ids, consecutive(8));
            double maxDiff = 0, spread = 0;
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < tiny.vocab; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(got[t][v] - want[t][v]));
                    spread = Math.max(spread, Math.abs(want[t][v]));
                }
            }
            assertThat(spread).as("logits must be non-trivial for the test to mean anything").isGreaterThan(1.0);
            assertThat(maxDiff).isLessThan(budget);
        }
    }

    @Test
    void llamaLogitsMatchFloat64Reference() throws Exception {
        assertMatchesReference(TinyModel.llama(1), F32_BUDGET);
    }

    @Test
    void qwen2WithBiasesAndTiedOutputMatchesFloat64Reference() throws Exception {
        assertMatchesReference(TinyModel.qwen2(2), F32_BUDGET);
    }

    @Test
    void qwen3WithQkNormsMatchesFloat64Reference() throws Exception {
        assertMatchesReference(TinyModel.qwen3(3), F32_BUDGET);
    }

    @Test
    void f16WeightsWithRoundedActivationsStayNearFloat64Reference() throws Exception {
        // the reference sees the same F16 weights but exact activations; F16 rounding of activations (rel 2^-11)
        // through 2 layers moves logits of a few units by ~1e-2 at most
        assertMatchesReference(TinyModel.llamaF16(4), 3e-2);
    }

    @Test
    void prefillAllAtOnceEqualsTokenByTokenDecode() throws Exception {
        TinyModel tiny = TinyModel.qwen3(5);
        int[] ids = randomIds(13, tiny.vocab, 11);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend a = new CpuBackend(m.config(), m.weights(), config(4, 8, 32, 1, 1));
             CpuBackend b = new CpuBackend(m.config(), m.weights(), config(4, 8, 32, 1, 1))) {
            float[][] all = prefill(a, ids, consecutive(8));
            ForwardBatch fb = new ForwardBatch(1, 1, 8);
            System.arraycopy(consecutive(8), 0, fb.blockTables[0], 0, 8);
            for (int i = 0; i < ids.length; i++) {
                fb.clear();
                fb.nSeqs = 1;
                fb.contextLens[0] = i + 1;
                fb.addToken(0, ids[i], i, true);
                // one token and a whole prompt take the same arithmetic per (row, token): identical bits
                assertThat(b.forward(fb).copyRow(0)).as("position %d", i).containsExactly(all[i]);
            }
        }
    }

    @Test
    void logitPagesEqualTheRowsOfOneWholeCall() throws Exception {
        TinyModel tiny = TinyModel.llama(11);
        int[] ids = randomIds(27, tiny.vocab, 5);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend whole = new CpuBackend(m.config(), m.weights(), config(4, 8, 32, 1, 2));
             CpuBackend paged = new CpuBackend(m.config(), m.weights(),
                     new CpuBackendConfig(4, 8, 32, 1, 64, 8, GgmlType.F32, 2, true, true))) {
            float[][] want = prefill(whole, ids, consecutive(7));
            assertThat(paged.pagesLogits()).isTrue();
            ForwardBatch b = new ForwardBatch(ids.length, 1, 7);
            System.arraycopy(consecutive(7), 0, b.blockTables[0], 0, 7);
            b.nSeqs = 1;
            b.contextLens[0] = ids.length;
            for (int i = 0; i < ids.length; i++) b.addToken(0, ids[i], i, true);
            Logits first = paged.forward(b);
            assertThat(first.count()).isEqualTo(8);
            for (int r = 0; r < 8; r++) assertThat(first.copyRow(r)).as("row %d", r).containsExactly(want[r]);
            for (int from = 8; from < ids.length; from += 8) {
                Logits page = paged.logitsPage(b, from);
                assertThat(page.count()).isEqualTo(Math.min(8, ids.length - from));
                for (int r = 0; r < page.count(); r++) assertThat(page.copyRow(r)).as("row %d", from + r).containsExactly(want[from + r]);
            }
        }
    }

    @Test
    void nonContiguousBlockTableGivesSameLogits() throws Exception {
        TinyModel tiny = TinyModel.llama(6);
        int[] ids = randomIds(15, tiny.vocab, 12);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend backend = new CpuBackend(m.config(), m.weights(), config(4, 10, 32, 1, 2))) {
            float[][] contiguous = prefill(backend, ids, consecutive(4));
            float[][] scattered = prefill(backend, ids, new int[] {9, 2, 7, 0});
            for (int t = 0; t < ids.length; t++) assertThat(scattered[t]).containsExactly(contiguous[t]);
        }
    }

    @Test
    void twoSequencesInOneBatchEqualSeparateRuns() throws Exception {
        TinyModel tiny = TinyModel.qwen2(7);
        int[] s0 = randomIds(9, tiny.vocab, 13), s1 = randomIds(6, tiny.vocab, 14);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend backend = new CpuBackend(m.config(), m.weights(), config(4, 12, 32, 2, 2))) {
            float[][] alone0 = prefill(backend, s0, new int[] {0, 1, 2});
            float[][] alone1 = prefill(backend, s1, new int[] {3, 4});
            // both prompts in one call, each in other blocks, logits for the last token of each
            ForwardBatch b = new ForwardBatch(32, 2, 4);
            b.nSeqs = 2;
            b.blockTables[0][0] = 5; b.blockTables[0][1] = 11; b.blockTables[0][2] = 6;
            b.blockTables[1][0] = 10; b.blockTables[1][1] = 7;
            b.contextLens[0] = s0.length;
            b.contextLens[1] = s1.length;
            for (int i = 0; i < s0.length; i++) b.addToken(0, s0[i], i, i == s0.length - 1);
            for (int i = 0; i < s1.length; i++) b.addToken(1, s1[i], i, i == s1.length - 1);
            Logits l = backend.forward(b);
            assertThat(l.count()).isEqualTo(2);
            // two logit rows take the fused-dot path, nine the dequantized one: summation order only
            for (int v = 0; v < tiny.vocab; v++) {
                assertThat(l.get(0, v)).isCloseTo(alone0[s0.length - 1][v], org.assertj.core.data.Offset.offset(2e-5f));
                assertThat(l.get(1, v)).isCloseTo(alone1[s1.length - 1][v], org.assertj.core.data.Offset.offset(2e-5f));
            }

            // then one decode step for each sequence in one call
            b.clear();
            b.nSeqs = 2;
            b.contextLens[0] = s0.length + 1;
            b.contextLens[1] = s1.length + 1;
            b.addToken(1, 3, s1.length, true);
            b.addToken(0, 5, s0.length, true);
            l = backend.forward(b);
            int[] s0next = java.util.Arrays.copyOf(s0, s0.length + 1);
            s0next[s0.length] = 5;
            int[] s1next = java.util.Arrays.copyOf(s1, s1.length + 1);
            s1next[s1.length] = 3;
            double[][] ref0 = ReferenceForward.logits(tiny, s0next), ref1 = ReferenceForward.logits(tiny, s1next);
            for (int v = 0; v < tiny.vocab; v++) {
                assertThat((double) l.get(0, v)).isCloseTo(ref1[s1.length][v], org.assertj.core.data.Offset.offset(F32_BUDGET));
                assertThat((double) l.get(1, v)).isCloseTo(ref0[s0.length][v], org.assertj.core.data.Offset.offset(F32_BUDGET));
            }
        }
    }

    @Test
    void anyBlockSizeGivesTheSameLogits() throws Exception {
        // attention scores a whole block of positions at once (vector lanes, then a scalar tail for sizes that are
        // not a multiple of the vector length) and groups query heads in fours: no block size may change a bit
        TinyModel tiny = TinyModel.qwen2(11);
        int[] ids = randomIds(23, tiny.vocab, 17);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend four = new CpuBackend(m.config(), m.weights(), config(4, 6, 32, 1, 2))) {
            float[][] want = prefill(four, ids, consecutive(6));
            for (int bs : new int[] {1, 3, 16, 24}) {
                int blocks = (ids.length + bs - 1) / bs;
                try (CpuBackend other = new CpuBackend(m.config(), m.weights(), config(bs, blocks, 32, 1, 2))) {
                    float[][] got = prefill(other, ids, consecutive(blocks));
                    for (int t = 0; t < ids.length; t++) assertThat(got[t]).as("block size %d, position %d", bs, t).containsExactly(want[t]);
                }
            }
        }
    }

    @Test
    void threadCountDoesNotChangeLogits() throws Exception {
        TinyModel tiny = TinyModel.qwen3(8);
        int[] ids = randomIds(17, tiny.vocab, 15);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend one = new CpuBackend(m.config(), m.weights(), config(4, 8, 32, 1, 1));
             CpuBackend three = new CpuBackend(m.config(), m.weights(), config(4, 8, 32, 1, 3))) {
            float[][] a = prefill(one, ids, consecutive(5));
            float[][] b = prefill(three, ids, consecutive(5));
            for (int t = 0; t < ids.length; t++) assertThat(b[t]).containsExactly(a[t]);
        }
    }

    @Test
    void f16KvCacheStaysCloseToF32() throws Exception {
        TinyModel tiny = TinyModel.llama(9);
        int[] ids = randomIds(12, tiny.vocab, 16);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend f32 = new CpuBackend(m.config(), m.weights(), config(4, 4, 16, 1, 1));
             CpuBackend f16 = new CpuBackend(m.config(), m.weights(), config(4, 4, 16, 1, 1).withKvType(GgmlType.F16))) {
            assertThat(f16.kvBytesPerBlock() * 2).isEqualTo(f32.kvBytesPerBlock());
            float[][] a = prefill(f32, ids, consecutive(3));
            float[][] b = prefill(f16, ids, consecutive(3));
            double max = 0;
            for (int t = 0; t < ids.length; t++) for (int v = 0; v < tiny.vocab; v++) max = Math.max(max, Math.abs(a[t][v] - b[t][v]));
            // K/V rounded to F16 (rel 2^-11) over 2 layers
            assertThat(max).isGreaterThan(0).isLessThan(2e-2);
        }
    }

    @Test
    void rejectsTokenOutsideVocabularyAndUnknownBlocks() throws Exception {
        TinyModel tiny = TinyModel.llama(10);
        try (Model m = ModelLoader.load(tiny.write(dir));
             CpuBackend backend = new CpuBackend(m.config(), m.weights(), config(4, 4, 16, 1, 1))) {
            ForwardBatch b = new ForwardBatch(4, 1, 2);
            b.nSeqs = 1;
            b.contextLens[0] = 1;
            b.addToken(0, tiny.vocab, 0, true);
            assertThatThrownBy(() -> backend.forward(b)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("outside the vocabulary");
            b.clear();
            b.nSeqs = 1;
            b.contextLens[0] = 1;
            b.blockTables[0][0] = 4;
            b.addToken(0, 1, 0, true);
            assertThatThrownBy(() -> backend.forward(b)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("block table entry 0 = 4");
        }
    }
}
