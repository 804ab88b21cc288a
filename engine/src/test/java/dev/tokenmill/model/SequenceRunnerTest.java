package dev.tokenmill.model;

import dev.tokenmill.FinishReason;
import dev.tokenmill.sample.SamplingParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SequenceRunnerTest {
    @TempDir Path dir;

    @Test
    void scoreIsLogSoftmaxOfReferenceLogits() throws Exception {
        TinyModel tiny = TinyModel.qwen2(1);
        int[] ids = {3, 17, 42, 5, 9, 9, 60};
        double[][] ref = ReferenceForward.logits(tiny, ids);
        try (Model m = ModelLoader.load(tiny.write(dir)); SequenceRunner r = SequenceRunner.create(m, ids.length, 2)) {
            double[] lp = r.score(ids);
            assertThat(lp).hasSize(ids.length - 1);
            for (int i = 0; i + 1 < ids.length; i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (double v : ref[i]) max = Math.max(max, v);
                for (double v : ref[i]) sum += Math.exp(v - max);
                assertThat(lp[i]).isCloseTo(ref[i][ids[i + 1]] - max - Math.log(sum), org.assertj.core.data.Offset.offset(2e-4));
            }
        }
    }

    @Test
    void chunkedPrefillScoresLikeOneChunk() throws Exception {
        TinyModel tiny = TinyModel.qwen3(5);
        int[] ids = {3, 17, 42, 5, 9, 9, 60, 1, 2, 70, 33};
        try (Model m = ModelLoader.load(tiny.write(dir));
             SequenceRunner whole = SequenceRunner.create(m, ids.length, 1);
             SequenceRunner chunked = new SequenceRunner(m, dev.tokenmill.backend.cpu.CpuBackendConfig.singleSequence(ids.length, 3, 4, 1))) {
            // chunks of 3 use the fused-dot matmul path, 11 tokens the dequantized one: summation order only
            assertThat(chunked.score(ids)).containsExactly(whole.score(ids), org.assertj.core.data.Offset.offset(2e-5));
            float[] a = chunked.prefill(ids).copyRow(0), b = whole.prefill(ids).copyRow(0);
            for (int v = 0; v < a.length; v++) assertThat(a[v]).isCloseTo(b[v], org.assertj.core.data.Offset.offset(2e-5f));
        }
    }

    @Test
    void greedyGenerationFollowsReferenceArgmax() throws Exception {
        TinyModel tiny = TinyModel.llama(2);
        int[] prompt = {1, 30, 31, 7};
        try (Model m = ModelLoader.load(tiny.write(dir)); SequenceRunner r = SequenceRunner.create(m, 16, 1)) {
            SequenceRunner.Generation g = r.generate(prompt, SamplingParams.greedy(6), null);
            assertThat(g.tokenIds()).hasSize(6);
            assertThat(g.finishReason()).isEqualTo(SequenceRunner.FinishReason.LENGTH);
            int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + 6);
            for (int k = 0; k < 6; k++) {
                double[][] ref = ReferenceForward.logits(tiny, java.util.Arrays.copyOf(seq, prompt.length + k));
                double[] last = ref[prompt.length + k - 1];
                int best = 0;
                for (int v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
                assertThat(g.tokenIds()[k]).as("token %d", k).isEqualTo(best);
                seq[prompt.length + k] = best;
            }
        }
    }

    @Test
    void stopsAtStopTokenAndAtStopString() throws Exception {
        TinyModel tiny = TinyModel.llama(3);
        int[] prompt = {1, 2, 3};
        try (Model m = ModelLoader.load(tiny.write(dir)); SequenceRunner r = SequenceRunner.create(m, 32, 1)) {
            int[] free = r.generate(prompt, SamplingParams.greedy(8), null).tokenIds();
            SamplingParams stopAtThird = SamplingParams.greedy(8).toBuilder().stopTokenIds(List.of(free[2])).build();
            SequenceRunner.Generation g = r.generate(prompt, stopAtThird, null);
            int firstHit = 0;
            while (free[firstHit] != free[2]) firstHit++;
            assertThat(g.tokenIds()).containsExactly(java.util.Arrays.copyOf(free, firstHit + 1));
            assertThat(g.finishReason()).isEqualTo(SequenceRunner.FinishReason.STOP);

            // text of token t is "<t>"; stop at the text of the second token
            String stop = "<" + free[1] + ">";
            SequenceRunner.Generation s = r.generate(prompt, SamplingParams.greedy(8).toBuilder().stopStrings(List.of(stop)).build(),
                    new TextStream() {
                        @Override public String accept(int t) { return "<" + t + ">"; }
                        @Override public String flush() { return ""; }
                        @Override public boolean isEndOfGeneration(int t) { return false; }
                    });
            assertThat(s.finishReason()).isEqualTo(SequenceRunner.FinishReason.STOP);
            assertThat(s.text()).doesNotContain(stop).isEqualTo(free[0] == free[1] ? "" : "<" + free[0] + ">");
        }
    }

    @Test
    void endsAtContextLimitWithLength() throws Exception {
        TinyModel tiny = TinyModel.qwen3(4);
        try (Model m = ModelLoader.load(tiny.write(dir)); SequenceRunner r = SequenceRunner.create(m, 6, 1)) {
            SequenceRunner.Generation g = r.generate(new int[] {1, 2, 3, 4}, SamplingParams.greedy(10), null);
            // positions 4 and 5 are fed back; the token sampled after position 5 ends it
            assertThat(g.tokenIds()).hasSize(3);
            assertThat(g.finishReason()).isEqualTo(SequenceRunner.FinishReason.LENGTH);
        }
    }
}
