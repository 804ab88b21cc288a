package dev.tokenmill;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Many producers, one engine loop; close never hangs and every future completes. Timeouts only fail on slowness. */
class EngineConcurrencyTest {
    private static final long TIMEOUT_S = 120;
    @TempDir static Path dir;
    static Path modelPath;
    static int[][] prompts;
    static int[][] expected;

    @BeforeAll
    static void writeModel() throws Exception {
        modelPath = TinyEngineModel.write(dir, 31);
        Random r = new Random(1);
        prompts = new int[5][];
        expected = new int[5][];
        try (Engine solo = TinyEngineModel.soloEngine(modelPath)) {
            for (int i = 0; i < prompts.length; i++) {
                prompts[i] = TinyEngineModel.randomPrompt(r, 4 + 5 * i);
                expected[i] = TinyEngineModel.reference(solo, prompts[i], Request.tokens("x", 3).greedy(6 + i).build().sampling());
            }
        }
    }

    private static Request request(int thread, int k) {
        int p = (thread + k) % prompts.length;
        return Request.tokens(thread + "/" + k + "/" + p, prompts[p]).greedy(6 + p).ignoreEos(true).build();
    }

    @Test
    void manyThreadsSubmittingAtOnceGetTheirOwnResults() throws Exception {
        int threads = 8, perThread = 12;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(32, 16).build())) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<List<CompletableFuture<Result>>>> submitted = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                submitted.add(pool.submit(() -> {
                    start.await();
                    List<CompletableFuture<Result>> futures = new ArrayList<>();
                    for (int k = 0; k < perThread; k++) futures.add(engine.submit(request(thread, k)));
                    return futures;
                }));
            }
            start.countDown();
            for (int t = 0; t < threads; t++) {
                List<CompletableFuture<Result>> futures = submitted.get(t).get(TIMEOUT_S, TimeUnit.SECONDS);
                for (int k = 0; k < perThread; k++) {
                    Result res = futures.get(k).get(TIMEOUT_S, TimeUnit.SECONDS);
                    Request q = request(t, k);
                    int p = (t + k) % prompts.length;
                    assertThat(res.id()).isEqualTo(q.id());
                    assertThat(res.tokenIds()).as("result of %s", q.id()).containsExactly(expected[p]);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void streamingGenerateHandsOverEveryResultOnce() throws Exception {
        List<Request> requests = new ArrayList<>();
        for (int k = 0; k < 20; k++) requests.add(request(0, k));
        ConcurrentHashMap<String, Result> seen = new ConcurrentHashMap<>();
        List<String> order = new ArrayList<>();
        try (Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(32, 8).build())) {
            engine.generate(requests, res -> {
                assertThat(seen.put(res.id(), res)).as("result %s handed over twice", res.id()).isNull();
                order.add(res.id());
            });
        }
        assertThat(seen).hasSize(20);
        for (int k = 0; k < 20; k++) {
            assertThat(seen.get(requests.get(k).id()).tokenIds()).containsExactly(expected[k % prompts.length]);
        }
        // shorter requests finish first: the order is the finishing order, not the input order
        assertThat(order).isNotEqualTo(requests.stream().map(Request::id).toList());
    }

    @Test
    void closeWithWorkInFlightCompletesEveryFutureAndReturns() throws Exception {
        Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(16, 4).build());
        List<CompletableFuture<Result>> futures = new ArrayList<>();
        CountDownLatch started = new CountDownLatch(1);
        futures.add(engine.submit(Request.tokens("first", 5, 6, 7).greedy(1).build()));
        futures.getFirst().thenRun(started::countDown);
        Random r = new Random(2);
        for (int i = 0; i < 40; i++) {
            futures.add(engine.submit(Request.tokens("long" + i, TinyEngineModel.randomPrompt(r, 20)).greedy(200).ignoreEos(true).build()));
        }
        // once work is under way, close from another thread while a producer keeps submitting
        List<CompletableFuture<Result>> late = new ArrayList<>();
        ExecutorService producer = Executors.newSingleThreadExecutor();
        assertThat(started.await(TIMEOUT_S, TimeUnit.SECONDS)).isTrue();
        Future<String> refused = producer.submit(() -> {
            while (true) {
                try {
                    late.add(engine.submit(Request.tokens("late", 5).greedy(3).build()));
                } catch (IllegalStateException e) {
                    return e.getMessage();
                }
            }
        });
        Thread closer = Thread.ofPlatform().start(engine::close);
        closer.join(TimeUnit.SECONDS.toMillis(TIMEOUT_S));
        assertThat(closer.isAlive()).as("close() returned").isFalse();
        assertThat(refused.get(TIMEOUT_S, TimeUnit.SECONDS)).contains("closed");
        producer.shutdownNow();
        futures.addAll(late);

        int aborted = 0;
        for (CompletableFuture<Result> f : futures) {
            Result res = f.get(TIMEOUT_S, TimeUnit.SECONDS);
            if (res.finishReason() == FinishReason.ABORT) {
                aborted++;
                assertThat(res.error()).contains("closed");
            } else {
                assertThat(res.error()).isNull();
            }
        }
        assertThat(aborted).isPositive();
        assertThatThrownBy(() -> engine.submit(Request.tokens("after", 5).build()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        engine.close(); // idempotent
    }

    @Test
    void closeFromAFutureCallbackOnTheEngineThreadDoesNotDeadlock() throws Exception {
        Engine engine = Engine.open(modelPath, TinyEngineModel.exactConfig(16, 4).build());
        CompletableFuture<Result> other = engine.submit(Request.tokens("other", prompts[4]).greedy(200).ignoreEos(true).build());
        CompletableFuture<Result> first = engine.submit(Request.tokens("first", 5).greedy(1).build());
        first.thenRun(engine::close);
        assertThat(first.get(TIMEOUT_S, TimeUnit.SECONDS).finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(other.get(TIMEOUT_S, TimeUnit.SECONDS).finishReason()).isEqualTo(FinishReason.ABORT);
        engine.close();
    }
}
