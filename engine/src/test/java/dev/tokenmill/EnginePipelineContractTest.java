package dev.tokenmill;

import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.sample.LogitsProcessor;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.TokenHistory;
import dev.tokenmill.tokenizer.ChatMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The engine contract a data pipeline relies on: bad rows fail alone, cancellation and deadlines free what a request
 * holds, admission is bounded, logits processors run in the one sampling pipeline, and the counters add up.
 */
class EnginePipelineContractTest {
    /** Threads of the tests' own (the common pool may have a single thread on a 2-core machine). */
    private static final ExecutorService THREADS = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().factory());

    @TempDir
    static Path dir;
    static Path modelPath;
    static Engine engine;

    @BeforeAll
    static void open() throws Exception {
        modelPath = TinyEngineModel.write(dir, 31);
        engine = Engine.open(modelPath, TinyEngineModel.exactConfig(128, 16).maxModelLen(64).build());
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    private static Request good(String id, Random r) {
        return Request.tokens(id, TinyEngineModel.randomPrompt(r, 3 + r.nextInt(10))).greedy(1 + r.nextInt(8)).ignoreEos(true).build();
    }

    /** A bad request of kind {@code k}, and a fragment its error must contain. */
    private static Object[] bad(String id, int k) {
        return switch (k) {
            case 0 -> new Object[] {Request.text(id, null).build(), "null prompt"};
            case 1 -> new Object[] {Request.text(id, "").build(), "empty"};
            case 2 -> new Object[] {Request.tokens(id, new int[100]).greedy(2).build(), "100 tokens"};
            case 3 -> new Object[] {Request.tokens(id, 5, 64, 6).build(), "vocabulary"};
            case 4 -> new Object[] {Request.chat(id, List.of(ChatMessage.user("hi"))).build(), "chat_template"};
            case 5 -> new Object[] {Request.tokens(id, 5).sampling(SamplingParams.builder().temperature(Float.NaN).buildUnchecked()).build(), "temperature"};
            case 6 -> new Object[] {Request.tokens(id, 5).sampling(SamplingParams.builder().topP(-0.5f).buildUnchecked()).build(), "topP"};
            case 7 -> new Object[] {Request.tokens(id, 5).sampling(SamplingParams.builder().minP(7f).buildUnchecked()).build(), "minP"};
            case 8 -> new Object[] {Request.tokens(id, 5).logprobs(1000).build(), "logprobs"};
            case 9 -> new Object[] {Request.tokens(id, 5).greedy(0).build(), "maxTokens"};
            default -> throw new IllegalArgumentException();
        };
    }

    @Test
    void aThousandRequestsFromFourThreadsWithFivePercentBadGiveEveryGoodOneItsTokens() throws Exception {
        Random r = new Random(7);
        int n = 1000;
        Request[] requests = new Request[n];
        String[] expectedError = new String[n];
        List<Request> goodOnly = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (i % 20 == 7) { // 5%, every kind of bad in turn
                Object[] b = bad("bad-" + i, (i / 20) % 10);
                requests[i] = (Request) b[0];
                expectedError[i] = (String) b[1];
            } else {
                requests[i] = good("good-" + i, r);
                goodOnly.add(requests[i]);
            }
        }
        // the reference: the good requests alone
        List<Result> alone = engine.generate(goodOnly);
        java.util.Map<String, int[]> expected = new java.util.HashMap<>();
        for (Result res : alone) expected.put(res.id(), res.tokenIds());

        @SuppressWarnings("unchecked")
        CompletableFuture<Result>[] futures = new CompletableFuture[n];
        ExecutorService producers = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int first = t;
                done.add(producers.submit(() -> {
                    for (int i = first; i < n; i += 4) futures[i] = engine.submit(requests[i]);
                }));
            }
            for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        } finally {
            producers.shutdownNow();
        }
        int bad = 0;
        for (int i = 0; i < n; i++) {
            Result res = futures[i].get(60, TimeUnit.SECONDS);
            assertThat(res.id()).isEqualTo(requests[i].id());
            if (expectedError[i] != null) {
                bad++;
                assertThat(res.finishReason()).as(res.id()).isEqualTo(FinishReason.ERROR);
                assertThat(res.error()).as(res.id()).contains("request " + res.id()).contains(expectedError[i]);
            } else {
                assertThat(res.error()).as(res.id()).isNull();
                assertThat(res.tokenIds()).as(res.id()).containsExactly(expected.get(res.id()));
            }
        }
        assertThat(bad).isEqualTo(50);
    }

    @Test
    void textWithoutATokenizerFailsAloneNamingIt() throws Exception {
        GgufWriter w = TinyModel.llama(5).writer(null);
        Path p = dir.resolve("no-tokenizer.gguf");
        w.write(p);
        try (Engine e = Engine.open(p, TinyEngineModel.exactConfig(64, 4).build())) {
            List<Result> res = e.generate(List.of(Request.text("t", "hello").build(),
                    Request.tokens("ids", 5, 6).greedy(3).ignoreEos(true).build()));
            assertThat(res.get(0).finishReason()).isEqualTo(FinishReason.ERROR);
            assertThat(res.get(0).error()).contains("request t").contains("tokenizer");
            assertThat(res.get(1).tokenIds()).hasSize(3);
        }
    }

    @Test
    void nonFiniteLogitsAreAnErrorOfTheRequestNotOutput() throws Exception {
        TinyModel m = TinyModel.llama(9);
        float[] norm = m.tensors.get("output_norm.weight");
        Arrays.fill(norm, Float.NaN);
        Path p = dir.resolve("nan.gguf");
        m.writer(null).write(p);
        try (Engine e = Engine.open(p, TinyEngineModel.exactConfig(64, 4).build())) {
            for (Request q : List.of(Request.tokens("greedy", 5, 6).greedy(3).build(),
                    Request.tokens("sampled", 5, 6).sampling(SamplingParams.builder().seed(1).maxTokens(3).build()).build(),
                    Request.tokens("scored", 5, 6, 7).greedy(1).promptLogprobs(0).build())) {
                Result res = e.submit(q).join();
                assertThat(res.finishReason()).as(q.id()).isEqualTo(FinishReason.ERROR);
                assertThat(res.error()).as(q.id()).contains("request " + q.id()).contains("non-finite logits");
                assertThat(res.tokenIds()).as(q.id()).isEmpty();
            }
        }
    }

    /** Holds the engine thread inside a processor until released; counts its calls. */
    static final class Gate implements LogitsProcessor.Factory {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger calls = new AtomicInteger();
        final int holdAtCall;

        Gate(int holdAtCall) {
            this.holdAtCall = holdAtCall;
        }

        @Override
        public LogitsProcessor create() {
            return (generated, logits, off, vocab) -> {
                if (calls.incrementAndGet() == holdAtCall) {
                    entered.countDown();
                    try {
                        if (!release.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never released");
                    } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                    }
                }
            };
        }
    }

    @Test
    void cancelByIdAbortsWithWhatWasGeneratedAndFreesTheBlocks() throws Exception {
        try (Engine e = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 4).maxModelLen(64).prefixCaching(false).build())) {
            long free0 = e.stats().kvBlocksFree();
            Gate gate = new Gate(4);
            CompletableFuture<Result> f = e.submit(Request.tokens("long", 5, 6, 7).greedy(50).ignoreEos(true)
                    .logitsProcessor(gate).build());
            assertThat(gate.entered.await(60, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Integer> cancelled = e.cancel("long");
            gate.release.countDown();
            assertThat(cancelled.get(60, TimeUnit.SECONDS)).isEqualTo(1);
            Result res = f.get(60, TimeUnit.SECONDS);
            assertThat(res.finishReason()).isEqualTo(FinishReason.ABORT);
            assertThat(res.tokenIds().length).isBetween(4, 49);
            assertThat(res.error()).contains("cancelled");
            assertThat(e.stats().kvBlocksFree()).isEqualTo(free0);
            assertThat(e.stats().requestsAborted()).isEqualTo(1);
            assertThat(e.cancel("nobody").get(60, TimeUnit.SECONDS)).isZero();
        }
    }

    @Test
    void cancellingTheFutureAbortsTheRequestInTheEngine() throws Exception {
        try (Engine e = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 4).maxModelLen(64).prefixCaching(false).build())) {
            long free0 = e.stats().kvBlocksFree();
            Gate gate = new Gate(2);
            CompletableFuture<Result> f = e.submit(Request.tokens("c", 5, 6, 7).greedy(50).ignoreEos(true).logitsProcessor(gate).build());
            assertThat(gate.entered.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(f.cancel(true)).isTrue();
            gate.release.countDown();
            assertThatThrownBy(f::join).isInstanceOf(CancellationException.class);
            // the engine took it out: the next request runs, and the counters show the abort
            assertThat(e.submit(Request.tokens("next", 5).greedy(2).ignoreEos(true).build()).join().tokenIds()).hasSize(2);
            assertThat(e.stats().requestsAborted()).isEqualTo(1);
            assertThat(e.stats().kvBlocksFree()).isEqualTo(free0);
            assertThat(gate.calls.get()).isLessThan(50);
        }
    }

    @Test
    void aRequestPastItsDeadlineEndsWithTimeoutAndItsTokens() throws Exception {
        // the processor makes the first step outlast the 1 ms deadline, whatever the machine's speed
        LogitsProcessor.Factory slow = () -> (generated, logits, off, vocab) -> {
            if (generated.size() > 0) return;
            long until = System.nanoTime() + 300_000_000;
            while (System.nanoTime() < until) Thread.onSpinWait();
        };
        Result res = engine.submit(Request.tokens("late", 5, 6).greedy(50).ignoreEos(true).logitsProcessor(slow)
                .timeout(Duration.ofMillis(100)).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.TIMEOUT);
        assertThat(res.tokenIds().length).isLessThan(50);
        assertThat(res.error()).contains("timeout");
        assertThat(engine.submit(Request.tokens("neg", 5).timeout(Duration.ofMillis(-1)).build()).join().error()).contains("timeout");
    }

    @Test
    void aFullQueueBlocksSubmitAndTrySubmitGivesUp() throws Exception {
        try (Engine e = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 4).maxQueuedRequests(2).build())) {
            Gate gate = new Gate(1);
            CompletableFuture<Result> a = e.submit(Request.tokens("a", 5).greedy(2).ignoreEos(true).logitsProcessor(gate).build());
            CompletableFuture<Result> b = e.submit(Request.tokens("b", 6).greedy(2).ignoreEos(true).build());
            assertThat(gate.entered.await(60, TimeUnit.SECONDS)).isTrue();
            Optional<CompletableFuture<Result>> c = e.trySubmit(Request.tokens("c", 7).greedy(2).build(), Duration.ofMillis(20));
            assertThat(c).isEmpty();
            CompletableFuture<Result> blocked = CompletableFuture.supplyAsync(() -> e.submit(Request.tokens("d", 8).greedy(2).build()), THREADS)
                    .thenCompose(f -> f);
            assertThat(blocked).isNotDone();
            assertThat(e.stats().queuedRequests() + e.stats().runningRequests()).isLessThanOrEqualTo(2);
            gate.release.countDown();
            assertThat(a.get(60, TimeUnit.SECONDS).tokenIds()).hasSize(2);
            assertThat(b.get(60, TimeUnit.SECONDS).tokenIds()).hasSize(2);
            assertThat(blocked.get(60, TimeUnit.SECONDS).error()).isNull();
            // a bad request needs no room: it fails at once even when the queue is full
            assertThat(e.trySubmit(Request.tokens("bad", 99).build(), Duration.ZERO)).get()
                    .extracting(f -> f.join().finishReason()).isEqualTo(FinishReason.ERROR);
        }
    }

    @Test
    void closeAbortsWhatIsLeftWakesBlockedProducersAndIsIdempotent() throws Exception {
        Engine e = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 4).maxQueuedRequests(1).build());
        Gate gate = new Gate(1);
        CompletableFuture<Result> running = e.submit(Request.tokens("r", 5).greedy(40).ignoreEos(true).logitsProcessor(gate).build());
        assertThat(gate.entered.await(60, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Object> producer = CompletableFuture.supplyAsync(() -> {
            try {
                return e.submit(Request.tokens("p", 6).greedy(2).build());
            } catch (IllegalStateException closed) {
                return closed;
            }
        }, THREADS);
        CompletableFuture<Void> closing = CompletableFuture.runAsync(e::close, THREADS);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (e.isOpen() && System.nanoTime() < until) Thread.onSpinWait();
        assertThat(e.isOpen()).isFalse();
        gate.release.countDown();
        closing.get(60, TimeUnit.SECONDS);
        e.close(); // no-op
        assertThat(running.get(60, TimeUnit.SECONDS).finishReason()).isEqualTo(FinishReason.ABORT);
        Object p = producer.get(60, TimeUnit.SECONDS);
        if (p instanceof CompletableFuture<?> f) {
            assertThat(((Result) f.get(60, TimeUnit.SECONDS)).finishReason()).isEqualTo(FinishReason.ABORT);
        } else {
            assertThat((Throwable) p).hasMessageContaining("closed");
        }
        assertThatThrownBy(() -> e.submit(Request.tokens("after", 5).build())).hasMessageContaining("closed");
    }

    @Test
    void processorsRunAfterPenaltiesInOrderSeeTheHistoryAndAreToldEachToken() {
        int[] prompt = {5, 6, 7, 8};
        Result plain = engine.submit(Request.tokens("plain", prompt).greedy(6).ignoreEos(true).build()).join();
        int banned = plain.tokenIds()[0];
        List<String> order = new ArrayList<>();
        List<Integer> told = new ArrayList<>();
        List<Integer> seen = new ArrayList<>();
        LogitsProcessor.Factory ban = () -> new LogitsProcessor() {
            @Override
            public void process(TokenHistory generated, float[] logits, int off, int vocab) {
                order.add("ban");
                seen.add(generated.size());
                logits[off + banned] = Float.NEGATIVE_INFINITY;
            }

            @Override
            public void accept(int token) { told.add(token); }
        };
        List<Float> checkSaw = new ArrayList<>();
        LogitsProcessor.Factory check = () -> (generated, logits, off, vocab) -> {
            order.add("check");
            checkSaw.add(logits[off + banned]);
        };
        Result res = engine.submit(Request.tokens("banned", prompt).greedy(6).ignoreEos(true).logitsProcessor(ban)
                .logitsProcessor(check).build()).join();
        assertThat(res.error()).isNull();
        assertThat(res.tokenIds()).doesNotContain(banned).hasSize(6);
        assertThat(told).containsExactly(Arrays.stream(res.tokenIds()).boxed().toArray(Integer[]::new));
        assertThat(seen).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(order.subList(0, 4)).containsExactly("ban", "check", "ban", "check");
        assertThat(checkSaw).hasSize(6).containsOnly(Float.NEGATIVE_INFINITY); // "check" runs after "ban"

        // min tokens: the end-of-generation mask is the first processor, so the next one already sees EOS masked
        List<Float> eosSeen = new ArrayList<>();
        LogitsProcessor.Factory sawMask = () -> (generated, logits, off, vocab) -> eosSeen.add(logits[off + TinyEngineModel.EOS]);
        Result min = engine.submit(Request.tokens("min", prompt).greedy(5).minTokens(3).logitsProcessor(sawMask).build()).join();
        assertThat(min.error()).isNull();
        assertThat(eosSeen.subList(0, 3)).containsOnly(Float.NEGATIVE_INFINITY);
        if (eosSeen.size() > 3) assertThat(eosSeen.get(3)).isGreaterThan(Float.NEGATIVE_INFINITY);

        // penalties come first: with a strong repetition penalty the processor sees the prompt's tokens pushed down
        float[] seenLogit = new float[2];
        LogitsProcessor.Factory peek = () -> (generated, logits, off, vocab) -> {
            if (generated.size() == 0) seenLogit[0] = logits[off + 5];
        };
        SamplingParams penal = SamplingParams.builder().temperature(0).repetitionPenalty(100f).maxTokens(1).build();
        SamplingParams none = SamplingParams.builder().temperature(0).maxTokens(1).build();
        engine.submit(Request.tokens("pen", prompt).sampling(penal).logitsProcessor(peek).build()).join();
        seenLogit[1] = seenLogit[0];
        engine.submit(Request.tokens("nopen", prompt).sampling(none).logitsProcessor(peek).build()).join();
        assertThat(Math.abs(seenLogit[1])).isLessThan(Math.abs(seenLogit[0]) + 1e-9f);
        assertThat(seenLogit[1]).isNotEqualTo(seenLogit[0]);

        // a processor that throws or masks everything fails its request alone
        LogitsProcessor.Factory boom = () -> (generated, logits, off, vocab) -> { throw new IllegalStateException("boom"); };
        LogitsProcessor.Factory maskAll = () -> (generated, logits, off, vocab) -> Arrays.fill(logits, off, off + vocab, Float.NEGATIVE_INFINITY);
        List<Result> res2 = engine.generate(List.of(Request.tokens("boom", prompt).greedy(3).logitsProcessor(boom).build(),
                Request.tokens("mask", prompt).greedy(3).logitsProcessor(maskAll).build(),
                Request.tokens("ok", prompt).greedy(6).ignoreEos(true).build()));
        assertThat(res2.get(0).error()).contains("request boom").contains("boom");
        assertThat(res2.get(1).error()).contains("request mask").contains("masked every token");
        assertThat(res2.get(2).tokenIds()).containsExactly(plain.tokenIds());
    }

    @Test
    void statsCountRequestsTokensAndBlocks() throws Exception {
        try (Engine e = Engine.open(modelPath, TinyEngineModel.exactConfig(64, 4).build())) {
            int[] shared = TinyEngineModel.randomPrompt(new Random(3), 12);
            e.generate(List.of(Request.tokens("a", shared).greedy(3).ignoreEos(true).build()));
            e.generate(List.of(Request.tokens("b", shared).greedy(3).ignoreEos(true).build(), Request.tokens("bad", 99).build()));
            Engine.Stats s = e.stats();
            assertThat(s.requestsDone()).isEqualTo(2);
            assertThat(s.requestsFailed()).isEqualTo(1);
            assertThat(s.requestsAborted()).isZero();
            assertThat(s.generatedTokens()).isEqualTo(6);
            assertThat(s.promptTokens()).isEqualTo(24);
            assertThat(s.cachedPromptTokens()).isBetween(8L, 11L); // b reuses a's full 4-token blocks
            assertThat(s.prefixHitRate()).isEqualTo((double) s.cachedPromptTokens() / 24);
            assertThat(s.kvBlocksUsed() + s.kvBlocksFree()).isEqualTo(e.numKvBlocks());
            assertThat(s.queuedRequests()).isZero();
            assertThat(s.runningRequests()).isZero();
            assertThat(s.kernelPath()).startsWith("cpu: ");
        }
    }

    @Test
    @Tag("slow")
    void aMillionStreamedRequestsKeepTheHeapBounded() throws Exception {
        int max = 256;
        try (Engine e = Engine.open(modelPath, TinyEngineModel.exactConfig(256, 64).maxQueuedRequests(max).build())) {
            var memory = ManagementFactory.getMemoryMXBean();
            AtomicLong completed = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            long peakInFlight = 0;
            long heapAtStart = 0;
            long worstHeap = 0;
            int n = 1_000_000;
            for (int i = 0; i < n; i++) {
                e.submit(Request.tokens(Integer.toString(i), 3 + (i & 31), 4).greedy(1).ignoreEos(true).build())
                        .thenAccept(r -> { // runs on the engine thread, before the request's queue slot is freed
                            completed.incrementAndGet();
                            if (r.error() != null) errors.incrementAndGet();
                        });
                peakInFlight = Math.max(peakInFlight, i + 1 - completed.get());
                if (i == 50_000 || i == 500_000 || i == n - 1) {
                    System.gc();
                    long used = memory.getHeapMemoryUsage().getUsed();
                    if (i == 50_000) heapAtStart = used;
                    else worstHeap = Math.max(worstHeap, used);
                }
            }
            while (completed.get() < n) Thread.onSpinWait();
            assertThat(errors.get()).isZero();
            assertThat(peakInFlight).isLessThanOrEqualTo(max);
            // the producer holds nothing: the heap after a million requests is what it was after fifty thousand
            assertThat(worstHeap).isLessThan(heapAtStart + (32L << 20));
            assertThat(e.stats().requestsDone()).isEqualTo(n);
        }
    }
}
