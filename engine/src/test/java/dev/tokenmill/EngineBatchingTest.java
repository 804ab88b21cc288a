package dev.tokenmill;

import dev.tokenmill.sample.SamplingParams;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Batched greedy generation produces exactly what each request produces alone. */
class EngineBatchingTest {
    @TempDir static Path dir;
    static Path modelPath;

    @BeforeAll
    static void writeModel() throws Exception {
        modelPath = TinyEngineModel.write(dir, 11);
    }

    /** Requests with prompts of 3..40 tokens and 4..24 generated tokens, EOS ignored. */
    private static List<Request> workload(long seed, int count) {
        Random r = new Random(seed);
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] prompt = TinyEngineModel.randomPrompt(r, 3 + r.nextInt(38));
            requests.add(Request.tokens("r" + i, prompt).greedy(4 + r.nextInt(21)).ignoreEos(true).build());
        }
        return requests;
    }

    private static void assertMatchesReference(List<Request> requests, List<Result> results) throws Exception {
        assertThat(results).hasSize(requests.size());
        try (Engine solo = TinyEngineModel.soloEngine(modelPath)) {
            for (int i = 0; i < requests.size(); i++) {
                Request q = requests.get(i);
                Result res = results.get(i);
                int[] expected = TinyEngineModel.reference(solo, q.promptTokenIds(), q.sampling());
                assertThat(res.id()).isEqualTo(q.id());
                assertThat(res.error()).isNull();
                assertThat(res.finishReason()).isEqualTo(FinishReason.LENGTH);
                assertThat(res.tokenIds()).as("tokens of %s", q.id()).containsExactly(expected);
                assertThat(res.promptTokens()).isEqualTo(q.promptTokenIds().length);
                assertThat(res.completionTokens()).isEqualTo(expected.length);
            }
        }
    }

    @Test
    void batchedGreedyOutputEqualsOneAtATime() throws Exception {
        List<Request> requests = workload(1, 16);
        List<Result> batched;
        // 24 tokens per step: prompts are prefilled in chunks beside running decodes
        try (Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(24, 8).build())) {
            batched = engine.generate(requests);
            assertThat(engine.stats().steps()).isLessThan(requests.stream().mapToLong(q -> q.sampling().maxTokens()).sum());
        }
        List<Result> alone = new ArrayList<>();
        try (Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 1).prefixCaching(false).build())) {
            for (Request q : requests) alone.add(engine.submit(q).join());
        }
        for (int i = 0; i < requests.size(); i++) {
            assertThat(batched.get(i).tokenIds()).as("request %d", i).containsExactly(alone.get(i).tokenIds());
        }
        assertMatchesReference(requests, batched);
    }

    @Test
    void preemptionUnderATinyKvBudgetKeepsGreedyOutputExact() throws Exception {
        List<Request> requests = workload(2, 10);
        // 24 blocks of 4 tokens: two or three sequences at a time, so running ones are preempted and recomputed
        long perBlock = 2L * 2 * 4 * 16 * 4;
        EngineConfig config = TinyEngineModel.exactConfig(32, 8).kvCacheBytes(24 * perBlock).build();
        List<Result> results;
        try (Engine engine = Engine.open(modelPath, config)) {
            assertThat(engine.numKvBlocks()).isEqualTo(24);
            assertThat(engine.kvCacheBytes()).isEqualTo(24 * perBlock);
            results = engine.generate(requests);
            assertThat(engine.stats().preemptions()).as("preemptions").isPositive();
        }
        assertMatchesReference(requests, results);
    }

    @Test
    void sharedPrefixIsServedFromTheCacheWithExactOutput() throws Exception {
        Random r = new Random(3);
        int[] prefix = TinyEngineModel.randomPrompt(r, 33);
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int[] suffix = TinyEngineModel.randomPrompt(r, 1 + r.nextInt(9));
            int[] prompt = Arrays.copyOf(prefix, prefix.length + suffix.length);
            System.arraycopy(suffix, 0, prompt, prefix.length, suffix.length);
            requests.add(Request.tokens("p" + i, prompt).greedy(8).ignoreEos(true).build());
        }
        List<Result> results = new ArrayList<>();
        try (Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 8).build())) {
            results.add(engine.submit(requests.get(0)).join()); // computes the prefix once
            results.addAll(engine.generate(requests.subList(1, requests.size())));
            assertThat(results.get(0).cachedPromptTokens()).isZero();
            for (Result res : results.subList(1, results.size())) {
                assertThat(res.cachedPromptTokens()).as("cached tokens of %s", res.id()).isEqualTo(32); // 8 full blocks of 4
            }
            assertThat(engine.stats().cachedPromptTokens()).isEqualTo(7 * 32);
        }
        assertMatchesReference(requests, results);
    }

    @Test
    void seededSamplingIsReproducibleAndIndependentOfBatching() throws Exception {
        Random r = new Random(4);
        SamplingParams params = SamplingParams.builder().temperature(1.2f).topK(20).topP(0.95f).minP(0.01f)
                .repetitionPenalty(1.1f).maxTokens(20).seed(42).build();
        int[] prompt = TinyEngineModel.randomPrompt(r, 12);
        Request seeded = Request.tokens("s", prompt).sampling(params).ignoreEos(true).build();
        List<Request> batch = new ArrayList<>(workload(5, 6));
        batch.add(3, seeded);
        int[] alone;
        int[] batched;
        int[] otherSeed;
        try (Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(24, 8).build())) {
            alone = engine.submit(seeded).join().tokenIds();
            batched = engine.generate(batch).get(3).tokenIds();
            otherSeed = engine.submit(seeded.toBuilder().sampling(params.toBuilder().seed(7).build()).build()).join().tokenIds();
        }
        assertThat(batched).containsExactly(alone);
        assertThat(otherSeed).isNotEqualTo(alone);
        try (Engine solo = TinyEngineModel.soloEngine(modelPath)) {
            assertThat(alone).containsExactly(TinyEngineModel.reference(solo, prompt, params));
        }
    }
}
