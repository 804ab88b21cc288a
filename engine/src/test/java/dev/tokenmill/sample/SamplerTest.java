package dev.tokenmill.sample;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SamplerTest {

    private static float[] randomLogits(int n, long seed) {
        Random r = new Random(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) l[i] = (float) (r.nextGaussian() * 2);
        return l;
    }

    private static SamplingParams.Builder plain() {
        // everything off: pure temperature-1 sampling
        return SamplingParams.builder().temperature(1).topK(0).topP(1).minP(0).seed(42);
    }

    private static Set<Integer> draws(SamplingParams p, float[] logits, int n) {
        Sampler s = new Sampler(p, logits.length);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < n; i++) seen.add(s.sample(logits, 0));
        return seen;
    }

    @Test
    void greedyBreaksTiesTowardLowestId() {
        float[] l = {0.5f, 3f, -1f, 3f, 3f};
        assertThat(new Sampler(SamplingParams.greedy(1), l.length).sample(l, 0)).isEqualTo(1);
    }

    @Test
    void greedyReadsAtOffset() {
        float[] l = {9f, 9f, 0f, 1f, 2f};
        assertThat(new Sampler(SamplingParams.greedy(1), 3).sample(l, 2)).isEqualTo(2);
    }

    @Test
    void sameSeedGivesSameTokens() {
        float[] l = randomLogits(100, 1);
        SamplingParams p = plain().seed(1234).build();
        Sampler a = new Sampler(p, 100), b = new Sampler(p, 100), c = new Sampler(plain().seed(99).build(), 100);
        int[] ra = new int[50], rb = new int[50], rc = new int[50];
        for (int i = 0; i < 50; i++) {
            ra[i] = a.sample(l, 0);
            rb[i] = b.sample(l, 0);
            rc[i] = c.sample(l, 0);
        }
        assertThat(ra).containsExactly(rb);
        assertThat(ra).isNotEqualTo(rc);
    }

    @Test
    void samplingFollowsSoftmaxProbabilities() {
        float[] l = {0f, (float) Math.log(3)}; // P = 1/4, 3/4
        Sampler s = new Sampler(plain().build(), 2);
        int ones = 0;
        for (int i = 0; i < 20000; i++) ones += s.sample(l, 0);
        assertThat(ones / 20000.0).isBetween(0.73, 0.77);
    }

    @Test
    void topKKeepsOnlyTheKBest() {
        float[] l = randomLogits(50, 2);
        Set<Integer> best3 = new HashSet<>();
        float[] sorted = l.clone();
        java.util.Arrays.sort(sorted);
        for (int i = 0; i < l.length; i++) if (l[i] >= sorted[sorted.length - 3]) best3.add(i);
        assertThat(draws(plain().topK(3).temperature(5).build(), l, 2000)).isEqualTo(best3);
        assertThat(draws(plain().topK(1).build(), l, 50)).containsExactly(Sampler.argmax(l));
    }

    @Test
    void topKSelectionMatchesFullSortOnLargeVocabularies() {
        // ties included: many equal logits must still keep the lowest ids
        float[] l = randomLogits(5000, 3);
        for (int i = 0; i < l.length; i += 7) l[i] = 6.0f; // about 6 random logits lie above, so ties fill the rest
        Integer[] ids = new Integer[l.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        java.util.Arrays.sort(ids, (a, b) -> l[a] != l[b] ? Float.compare(l[b], l[a]) : Integer.compare(a, b));
        Set<Integer> want = new HashSet<>(java.util.Arrays.asList(ids).subList(0, 25));
        // a very high temperature makes all 25 kept tokens likely enough to show up
        assertThat(draws(plain().topK(25).temperature(1000).build(), l, 4000)).isEqualTo(want);
    }

    @Test
    void topPKeepsSmallestSetReachingP() {
        // probabilities 0.5, 0.3, 0.15, 0.05
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        assertThat(draws(plain().topP(0.75f).build(), l, 2000)).containsExactlyInAnyOrder(0, 1);
        assertThat(draws(plain().topP(0.85f).build(), l, 3000)).containsExactlyInAnyOrder(0, 1, 2);
        assertThat(draws(plain().topP(0.4f).build(), l, 200)).containsExactly(0);
    }

    @Test
    void minPDropsTokensBelowFractionOfBest() {
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        // 0.2 * 0.5 = 0.1: keeps 0.5, 0.3, 0.15
        assertThat(draws(plain().minP(0.2f).build(), l, 3000)).containsExactlyInAnyOrder(0, 1, 2);
        assertThat(draws(plain().minP(0.7f).build(), l, 200)).containsExactly(0);
    }

    @Test
    void repetitionPenaltyFollowsLlamaCpp() {
        // token 0 positive logit divided, token 1 negative logit multiplied
        float[] l = {2.0f, -0.5f, 1.7f};
        Sampler s = new Sampler(SamplingParams.builder().temperature(0).repetitionPenalty(2f).build(), 3);
        assertThat(s.sample(l, 0)).isEqualTo(0);
        s.accept(0); // 2.0 -> 1.0 < 1.7
        assertThat(s.sample(l, 0)).isEqualTo(2);
        s.accept(2); // 1.7 -> 0.85 < 1.0
        assertThat(s.sample(l, 0)).isEqualTo(0);
        assertThat(l).containsExactly(2.0f, -0.5f, 1.7f); // input untouched
    }

    @Test
    void frequencyAndPresencePenaltiesSubtractPerCount() {
        float[] l = {3.0f, 2.0f};
        Sampler s = new Sampler(SamplingParams.builder().temperature(0).frequencyPenalty(0.4f).presencePenalty(0.1f).build(), 2);
        s.accept(0);
        s.accept(0); // 3.0 - (2 * 0.4 + 0.1) = 2.1 > 2.0
        assertThat(s.sample(l, 0)).isEqualTo(0);
        s.accept(0); // 3.0 - (3 * 0.4 + 0.1) = 1.7 < 2.0
        assertThat(s.sample(l, 0)).isEqualTo(1);
    }

    @Test
    void penaltiesOnlySeeTheLastNTokens() {
        float[] l = {2.0f, 1.5f};
        Sampler s = new Sampler(SamplingParams.builder().temperature(0).repetitionPenalty(2f).penaltyLastN(2).build(), 2);
        s.accept(0);
        assertThat(s.sample(l, 0)).isEqualTo(1);
        s.accept(1);
        s.accept(1); // token 0 has left the window of 2
        assertThat(s.sample(l, 0)).isEqualTo(0);
    }

    @Test
    void invalidParametersAreRejectedWithTheirName() {
        assertThatThrownBy(() -> SamplingParams.builder().temperature(-1).build()).hasMessageContaining("temperature");
        assertThatThrownBy(() -> SamplingParams.builder().topP(0).build()).hasMessageContaining("topP");
        assertThatThrownBy(() -> SamplingParams.builder().minP(1.5f).build()).hasMessageContaining("minP");
        assertThatThrownBy(() -> SamplingParams.builder().topK(-2).build()).hasMessageContaining("topK");
        assertThatThrownBy(() -> SamplingParams.builder().maxTokens(0).build()).hasMessageContaining("maxTokens");
        assertThatThrownBy(() -> SamplingParams.builder().repetitionPenalty(0).build()).hasMessageContaining("repetitionPenalty");
        assertThatThrownBy(() -> SamplingParams.builder().stopStrings(List.of("")).build()).hasMessageContaining("stop strings");
    }

    @Test
    void defaultsAreLlamaCpps() {
        SamplingParams d = SamplingParams.defaults();
        assertThat(d.temperature()).isEqualTo(0.8f);
        assertThat(d.topK()).isEqualTo(40);
        assertThat(d.topP()).isEqualTo(0.95f);
        assertThat(d.minP()).isEqualTo(0.05f);
        assertThat(d.hasPenalties()).isFalse();
    }
}
