package dev.tokenmill;

import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.BackendFactory;
import dev.tokenmill.backend.BackendOptions;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelConfig;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.sched.Scheduler;
import dev.tokenmill.sched.SchedulerConfig;
import dev.tokenmill.sched.Sequence;
import dev.tokenmill.sched.SequenceParams;
import dev.tokenmill.sample.constrain.CompiledConstraint;
import dev.tokenmill.sample.constrain.Constraint;
import dev.tokenmill.sample.constrain.ConstraintCache;
import dev.tokenmill.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A continuous-batching inference engine over one GGUF model: requests from any number of threads are batched
 * together, step by step, over a paged KV cache with prefix caching.
 *
 * <pre>{@code
 * try (Engine engine = Engine.open(Path.of("model.gguf"), EngineConfig.defaults())) {
 *     List<Result> results = engine.generate(List.of(
 *             Request.text("a", "The capital of France is").greedy(16).build(),
 *             Request.text("b", "Once upon a time").build()));
 * }
 * }</pre>
 *
 * <p>Threads: {@link #submit} is thread-safe and tokenizes on the caller's thread; one engine thread owns the
 * scheduler and the backend and completes the futures, so work chained with {@code thenApply} and friends runs
 * on it and should be short (use the {@code *Async} forms otherwise). {@link #close()} aborts unfinished work:
 * their futures complete with {@link FinishReason#ABORT}; every future completes.
 *
 * <p>Memory: weights stay memory-mapped; the KV cache ({@link EngineConfig#kvCacheBytes()}), activations and
 * logits are allocated once at {@link #open}.
 */
public final class Engine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);

    private final Path path;
    private final EngineConfig config;
    private final Model model;
    private final Backend backend;
    private final Tokenizer tokenizer;
    private final ChatPrompt chatPrompt;
    private final int[] endOfGenerationIds;
    private final SchedulerConfig schedulerConfig;
    private final long kvBytes;
    private final EngineLoop loop;
    private final Thread loopThread;
    private final Semaphore permits;
    private final ConstraintCache constraints;               // null without a tokenizer
    private final java.util.concurrent.atomic.AtomicBoolean closedOnce = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Counters of the work so far, for progress lines and metrics (the Spark connector sums them into accumulators).
     * A step that mixes prefill chunks and decodes has its time split between the two in proportion to their tokens.
     *
     * @param prefillTokens      tokens computed in prefill (prompt chunks, and recomputation after preemption)
     * @param decodeTokens       tokens computed as single-token decodes
     * @param generatedTokens    tokens sampled
     * @param cachedPromptTokens prompt tokens served from the prefix cache
     * @param requestsDone       requests finished with {@code stop} or {@code length}
     * @param requestsFailed     requests finished with {@code error} (bad requests included)
     * @param requestsAborted    requests cancelled, or aborted by {@link #close()}
     * @param requestsTimedOut   requests whose deadline passed
     * @param queuedRequests     requests submitted and not yet running (waiting for a batch slot or KV blocks)
     * @param runningRequests    requests holding KV blocks
     * @param kvBlocksUsed       KV blocks held by running requests or kept for the prefix cache
     * @param kvBlocksFree       KV blocks free (evictable prefix-cache blocks included)
     * @param promptTokens       prompt tokens of requests that started running (cached ones included)
     * @param prefixHitRate      {@code cachedPromptTokens / promptTokens}
     * @param kernelPath         the device and kernel path in use, e.g. {@code cpu: native AVX-512 VNNI}
     */
    public record Stats(long steps, long preemptions, long prefillTokens, long decodeTokens, long generatedTokens,
                        long cachedPromptTokens, double prefillSeconds, double decodeSeconds, long requestsDone,
                        long requestsFailed, long requestsAborted, long requestsTimedOut, long queuedRequests,
                        long runningRequests, long kvBlocksUsed, long kvBlocksFree, long promptTokens,
                        double prefixHitRate, String kernelPath) {}

    private Engine(Path path, EngineConfig config, Model model, Backend backend, Tokenizer tokenizer,
                   SchedulerConfig schedulerConfig, long kvBytes) {
        this.path = path;
        this.config = config;
        this.model = model;
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.chatPrompt = tokenizer == null ? null : new ChatPrompt(model.gguf(), tokenizer);
        this.schedulerConfig = schedulerConfig;
        this.kvBytes = kvBytes;
        this.endOfGenerationIds = endOfGenerationIds(tokenizer, model.config().vocabSize());
        this.permits = new Semaphore(config.maxQueuedRequests());
        this.constraints = tokenizer == null ? null : new ConstraintCache(tokenizer, model.config().vocabSize());
        this.loop = new EngineLoop(new Scheduler(schedulerConfig), backend, tokenizer, model.config().vocabSize(),
                backend.maxLogitRows(), config.threads(), permits);
        this.loopThread = Thread.ofPlatform().name("tokenmill-engine").daemon().unstarted(() -> {
            try {
                loop.run();
            } finally {
                backend.close();
                model.close();
            }
        });
        loopThread.start();
    }

    /**
     * Maps the model and allocates everything the configuration sizes. Fails with {@link IOException} or a
     * {@code GgufFormatException} for a bad file, {@code UnsupportedModelException} for an unknown architecture, and
     * {@link IllegalArgumentException} naming the option when the configuration does not fit the model.
     */
    public static Engine open(Path gguf, EngineConfig config) throws IOException {
        BackendFactory factory = BackendFactory.select(config.device(), line -> log.info("{}: {}", gguf, line));
        Model model = ModelLoader.load(gguf);
        Backend backend = null;
        try {
            ModelConfig mc = model.config();
            int maxModelLen = config.maxModelLen() == EngineConfig.AUTO ? mc.contextLength() : config.maxModelLen();
            if (maxModelLen > mc.contextLength()) {
                throw new IllegalArgumentException("EngineConfig.maxModelLen = " + maxModelLen + " exceeds the context length of "
                        + gguf + " (" + mc.contextLength() + " tokens)");
            }
            if (maxModelLen < 1) throw new IllegalArgumentException(gguf + ": the model's context length is " + maxModelLen);
            int blockSize = config.blockSize();
            // the backend decides how many blocks fit (host memory, or what a GPU has free) and how many logit rows a
            // forward call returns; the scheduler is sized from what it reports
            backend = factory.open(model, new BackendOptions(blockSize, config.maxBatchTokens(), config.maxSeqs(),
                    maxModelLen, config.kvCacheBytes(),
                    config.kvType(), config.threads(), config.nativeKernels(), config.deviceOrdinal(),
                    config.gpuMemoryFraction()));
            int numBlocks = backend.numBlocks();
            long perBlock = backend.kvBytesPerBlock();
            SchedulerConfig sc = new SchedulerConfig(config.maxBatchTokens(), config.maxSeqs(), maxModelLen, blockSize,
                    numBlocks, config.prefixCaching());
            Tokenizer tokenizer = model.gguf().has("tokenizer.ggml.model") ? Tokenizer.fromGguf(model.gguf()) : null;
            log.info("engine on {}: {}; {} KV blocks of {} tokens ({} MiB {}), {} tokens / {} sequences per step, {} threads",
                    gguf, backend.kernelPath(), numBlocks, blockSize, (numBlocks * perBlock) >> 20, config.kvType(),
                    config.maxBatchTokens(), config.maxSeqs(), config.threads());
            return new Engine(gguf, config, model, backend, tokenizer, sc, numBlocks * perBlock);
        } catch (RuntimeException | Error e) {
            if (backend != null) backend.close();
            model.close();
            throw e;
        }
    }

    /**
     * Queues a request; the future completes when it finishes. Never throws for a request that cannot be served: a
     * bad request (null or empty prompt, a prompt longer than the context, ids outside the vocabulary, a chat
     * template that fails, sampling values out of range, ...) gets a future already completed with a {@link Result}
     * whose finish reason is {@code error} and whose {@link Result#error()} names the request and the cause.
     * Tokenization happens here, on the caller's thread. Blocks while {@link EngineConfig#maxQueuedRequests()}
     * requests are unfinished (not on the engine thread, where it never blocks).
     *
     * <p>Cancelling the future ({@code cancel}) aborts the request at the engine's next step and frees its KV blocks;
     * the future is then cancelled as the {@link java.util.concurrent.Future} contract says. {@link #cancel(String)}
     * instead completes it with finish reason {@code abort} and what was generated so far.
     *
     * @throws IllegalArgumentException for a null request (a misuse, not a bad row)
     * @throws IllegalStateException    after {@link #close()}
     */
    public CompletableFuture<Result> submit(Request request) {
        if (request == null) throw new IllegalArgumentException("request must not be null");
        if (isChoice(request)) return submitChoice(request);
        Prepared p = prepare(request);
        if (p.failed != null) return p.failed;
        acquire(1);
        p.state.holdsPermit = true;
        offer(List.of(p.state));
        return p.state.future;
    }

    /**
     * Like {@link #submit}, but waits at most {@code timeout} for room in the queue
     * ({@link EngineConfig#maxQueuedRequests()}); empty when there was none.
     */
    public Optional<CompletableFuture<Result>> trySubmit(Request request, Duration timeout) {
        if (request == null) throw new IllegalArgumentException("request must not be null");
        if (timeout == null) throw new IllegalArgumentException("timeout must not be null");
        if (isChoice(request)) return Optional.of(submitChoice(request));
        Prepared p = prepare(request);
        if (p.failed != null) return Optional.of(p.failed);
        try {
            if (!permits.tryAcquire(Math.max(0, timeout.toNanos()), TimeUnit.NANOSECONDS)) return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
        p.state.holdsPermit = true;
        offer(List.of(p.state));
        return Optional.of(p.state.future);
    }

    /**
     * Aborts every unfinished request with this id at the engine's next step: their KV blocks return to the pool
     * (full prefix blocks stay cached) and their futures complete with finish reason {@code abort} and what they
     * generated so far. Does not wait: the returned future completes, once the engine has acted, with how many
     * requests it aborted (0 when none with this id was unfinished).
     */
    public CompletableFuture<Integer> cancel(String requestId) {
        if (requestId == null) throw new IllegalArgumentException("requestId must not be null");
        return loop.cancel(requestId);
    }

    /**
     * Runs all requests and returns their results in input order. A bad request (or a null element) gets its error
     * result and the others run as if it were not there.
     *
     * @throws IllegalArgumentException for a null list
     * @throws IllegalStateException    on the engine thread (a future's callback), or after {@link #close()}
     */
    public List<Result> generate(List<Request> requests) {
        refuseOnEngineThread("generate");
        List<CompletableFuture<Result>> futures = submitAll(requests);
        List<Result> results = new ArrayList<>(futures.size());
        for (CompletableFuture<Result> f : futures) results.add(f.join());
        return results;
    }

    /**
     * Runs all requests and hands each result to {@code onEachFinished} as soon as it finishes, in finishing order,
     * on the calling thread; returns when all are handed over. Bad requests are handed over as error results. If
     * {@code onEachFinished} throws, the exception propagates and the remaining requests still run to completion.
     */
    public void generate(List<Request> requests, Consumer<Result> onEachFinished) {
        refuseOnEngineThread("generate");
        if (onEachFinished == null) throw new IllegalArgumentException("onEachFinished must not be null");
        BlockingQueue<Result> finished = new LinkedBlockingQueue<>();
        List<CompletableFuture<Result>> futures = submitAll(requests, f -> f.thenAccept(finished::add));
        for (int i = 0; i < futures.size(); i++) {
            Result r;
            try {
                r = finished.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for results (" + i + " of " + futures.size() + " handed over)", e);
            }
            onEachFinished.accept(r);
        }
    }

    private List<CompletableFuture<Result>> submitAll(List<Request> requests) {
        return submitAll(requests, f -> { });
    }

    /**
     * Prepares every request, then queues the good ones as one list (so they are admitted together) when the queue
     * bound allows, else in chunks that wait for room.
     */
    private List<CompletableFuture<Result>> submitAll(List<Request> requests, Consumer<CompletableFuture<Result>> hook) {
        if (requests == null) throw new IllegalArgumentException("the list of requests must not be null");
        List<CompletableFuture<Result>> futures = new ArrayList<>(requests.size());
        List<RequestState> good = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            Request r = requests.get(i);
            if (r != null && isChoice(r)) {
                CompletableFuture<Result> f = submitChoice(r);
                hook.accept(f);
                futures.add(f);
                continue;
            }
            Prepared p = r == null ? new Prepared(null, failedFuture("#" + i, "request " + i + " of the list is null"))
                    : prepare(r);
            CompletableFuture<Result> f = p.failed != null ? p.failed : p.state.future;
            hook.accept(f);
            futures.add(f);
            if (p.state != null) good.add(p.state);
        }
        int chunk = config.maxQueuedRequests();
        for (int from = 0; from < good.size(); from += chunk) {
            List<RequestState> part = good.subList(from, Math.min(good.size(), from + chunk));
            acquire(part.size());
            for (RequestState st : part) st.holdsPermit = true;
            offer(part);
        }
        return futures;
    }

    /** Takes {@code n} queue permits, blocking; on the engine thread it takes what is free and never waits. */
    private void acquire(int n) {
        if (Thread.currentThread() == loopThread) {
            permits.tryAcquire(n); // a callback must not wait for the thread it runs on; over-commit instead
            return;
        }
        boolean interrupted = false;
        while (true) {
            try {
                permits.acquire(n);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (!loop.isAccepting()) {
            permits.release(n);
            loop.offer(List.of()); // throws the closed-engine error
        }
    }

    private void offer(List<RequestState> states) {
        try {
            loop.offer(states);
        } catch (RuntimeException e) {
            for (RequestState st : states) {
                if (st.holdsPermit) {
                    st.holdsPermit = false;
                    permits.release();
                }
            }
            throw e;
        }
    }

    /** Waiting for results on the thread that produces them would never return. */
    private void refuseOnEngineThread(String method) {
        if (Thread.currentThread() == loopThread) {
            throw new IllegalStateException(method + "() waits for results and cannot be called from the engine thread "
                    + "(a future's callback); use submit() there");
        }
    }

    /** A prepared request, or the future of one that failed its checks. */
    private record Prepared(RequestState state, CompletableFuture<Result> failed) {}

    private CompletableFuture<Result> failedFuture(String id, String message) {
        loop.failed.increment();
        return CompletableFuture.completedFuture(new Result(id, "", new int[0], FinishReason.ERROR, 0, 0, 0, null, null,
                new Result.Timings(0, 0, 0), message));
    }

    /** Checks and tokenizes a request against the model; nothing is queued. A bad request gets a failed future. */
    private Prepared prepare(Request request) {
        try {
            return new Prepared(prepareOrThrow(request), null);
        } catch (RuntimeException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!msg.contains(request.id())) msg = "request " + request.id() + ": " + msg;
            if (!(e instanceof RequestException) && !(e instanceof IllegalArgumentException)) {
                log.debug("request {} failed while being prepared", request.id(), e);
            }
            return new Prepared(null, failedFuture(request.id(), msg));
        }
    }

    private RequestState prepareOrThrow(Request request) {
        long now = System.nanoTime();
        request.validate();
        int vocab = model.config().vocabSize();
        int[] ids = promptIds(request);
        var sampling = request.sampling();
        if (!sampling.stopStrings().isEmpty()) requireTokenizer(request, "stop strings");
        for (int id : sampling.stopTokenIds()) {
            if (id >= vocab) {
                throw new RequestException("request " + request.id() + ": stop token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (ids.length > schedulerConfig.maxContextLen() && !request.truncateLeft()) {
            throw new RequestException("request " + request.id() + ": the prompt has " + ids.length + " tokens, more than the "
                    + schedulerConfig.maxContextLen() + " the engine can hold (maxModelLen / KV cache); shorten it or ask for truncateLeft");
        }
        CompiledConstraint compiled = null;
        if (sampling.constraint() != null) {
            requireTokenizer(request, "a " + sampling.constraint().kind() + " constraint");
            compiled = constraints.compile(sampling.constraint());
        }
        int[] stopIds = stopTokenIds(request);
        boolean sinkRows = request.promptLogits() != null && request.promptLogitsFrom() < ids.length - 1;
        SequenceParams params = new SequenceParams(sampling.maxTokens(), request.minTokens(), stopIds,
                request.truncateLeft(), request.wantsPromptLogprobs() || sinkRows);
        Sequence seq = new Sequence(request.id(), ids, params);
        if (!request.wantsPromptLogprobs() && sinkRows) seq.skipPromptLogitsBefore(request.promptLogitsFrom());
        return new RequestState(request, seq, stopIds, tokenizer, now, loop, compiled);
    }

    /** The prompt as token ids: text tokenized, chat messages rendered, ids checked against the vocabulary. */
    private int[] promptIds(Request request) {
        int vocab = model.config().vocabSize();
        int[] ids;
        if (request.prompt() != null) {
            ids = requireTokenizer(request, "prompt text").encode(request.prompt(), true, true);
            if (ids.length == 0) throw new RequestException("request " + request.id() + ": the prompt text encodes to no tokens");
        } else if (request.messages() != null) {
            requireTokenizer(request, "chat messages");
            ids = chatPrompt.encode(request);
        } else {
            ids = request.promptTokenIdsUnsafe();
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] >= vocab) {
                    throw new RequestException("request " + request.id() + ": promptTokenIds[" + i + "] = " + ids[i]
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
        }
        return ids;
    }

    private static boolean isChoice(Request request) {
        return request.sampling() != null && request.sampling().constraint() instanceof Constraint.Choice;
    }

    /**
     * A choice request: one scoring request per choice (the prompt followed by the choice's tokens, sharing the
     * prompt's KV through the prefix cache), combined into one result by {@link ChoiceScorer}.
     */
    private CompletableFuture<Result> submitChoice(Request request) {
        ChoiceScorer scorer;
        try {
            request.validate();
            scorer = new ChoiceScorer(request, promptIds(request), requireTokenizer(request, "a choice constraint"));
        } catch (RuntimeException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!msg.contains(request.id())) msg = "request " + request.id() + ": " + msg;
            return failedFuture(request.id(), msg);
        }
        List<CompletableFuture<Result>> parts = new ArrayList<>();
        for (Request r : scorer.requests()) parts.add(submit(r));
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
                .thenApply(v -> scorer.combine(parts.stream().map(CompletableFuture::join).toList()));
    }

    private int[] stopTokenIds(Request request) {
        List<Integer> explicit = request.sampling().stopTokenIds();
        int[] eog = request.ignoreEos() ? new int[0] : endOfGenerationIds;
        int[] ids = new int[explicit.size() + eog.length];
        int n = 0;
        for (int id : explicit) ids[n++] = id;
        for (int id : eog) if (!explicit.contains(id)) ids[n++] = id;
        return java.util.Arrays.copyOf(ids, n);
    }

    private Tokenizer requireTokenizer(Request request, String what) {
        if (tokenizer == null) {
            throw new RequestException("request " + request.id() + ": " + what + " need the model's tokenizer, but " + path
                    + " has no tokenizer.ggml.model; send the prompt as token ids");
        }
        return tokenizer;
    }

    private static int[] endOfGenerationIds(Tokenizer tokenizer, int vocab) {
        if (tokenizer == null) return new int[0];
        int n = Math.min(vocab, tokenizer.vocabSize());
        return java.util.stream.IntStream.range(0, n).filter(tokenizer::isEndOfGeneration).toArray();
    }

    /** The model's tokenizer. @throws IllegalStateException when the model file has none ({@link #hasTokenizer()}) */
    public Tokenizer tokenizer() {
        if (tokenizer == null) throw new IllegalStateException(path + " has no tokenizer (no tokenizer.ggml.model)");
        return tokenizer;
    }

    public boolean hasTokenizer() { return tokenizer != null; }

    /** The model's hyperparameters. */
    public ModelConfig modelConfig() { return model.config(); }

    public Path modelPath() { return path; }

    public EngineConfig config() { return config; }

    /** Longest sequence (prompt plus generated tokens) the engine can hold: the context length or the whole KV cache. */
    public int maxContextLen() { return schedulerConfig.maxContextLen(); }

    public int numKvBlocks() { return schedulerConfig.numBlocks(); }

    /** KV bytes allocated: {@link #numKvBlocks()} blocks, never more than {@link EngineConfig#kvCacheBytes()}. */
    public long kvCacheBytes() { return kvBytes; }

    /** False once {@link #close()} was called (or the engine failed): no request can be submitted. */
    public boolean isOpen() { return loop.isAccepting(); }

    /** Counters of the work done so far; cheap, callable from any thread. */
    public Stats stats() { return loop.stats(backend.kernelPath(), schedulerConfig.numBlocks()); }

    /**
     * Stops accepting requests, aborts unfinished ones (their futures complete with finish reason
     * {@link FinishReason#ABORT}), wakes producers blocked in {@link #submit}, waits for the engine thread to finish
     * its current step (one step: it returns promptly), and releases the
     * KV cache, the compute threads and the model mapping. Idempotent. When called from the engine thread itself
     * (inside a future's callback) it does not wait; the release follows when the callback returns.
     */
    @Override
    public void close() {
        loop.close();
        // wake blocked producers once: they see the engine closed
        if (closedOnce.compareAndSet(false, true)) permits.release(Integer.MAX_VALUE / 4);
        if (Thread.currentThread() == loopThread) return;
        boolean interrupted = false;
        while (true) {
            try {
                loopThread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
