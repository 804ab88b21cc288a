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
 * their futures complete with {@link Result.FinishReason#ABORTED}; every future completes.
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

    /**
     * Where the time of all steps so far went. A step that mixes prefill chunks and decodes has its time split
     * between the two in proportion to their tokens.
     *
     * @param prefillTokens      tokens computed in prefill (prompt chunks, and recomputation after preemption)
     * @param decodeTokens       tokens computed as single-token decodes
     * @param generatedTokens    tokens sampled
     * @param cachedPromptTokens prompt tokens served from the prefix cache
     */
    public record Stats(long steps, long preemptions, long prefillTokens, long decodeTokens, long generatedTokens,
                        long cachedPromptTokens, double prefillSeconds, double decodeSeconds) {}

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
        this.loop = new EngineLoop(new Scheduler(schedulerConfig), backend, tokenizer, model.config().vocabSize(),
                backend.maxLogitRows());
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
     * Queues a request; the future completes when it finishes (also when it fails: see {@link Result#error()}).
     * Tokenization happens here, on the caller's thread.
     *
     * @throws RequestException if the request cannot be served as given (prompt text without a tokenizer, token ids
     *                          outside the vocabulary, ...)
     * @throws IllegalStateException after {@link #close()}
     */
    public CompletableFuture<Result> submit(Request request) {
        RequestState st = prepare(request);
        loop.offer(List.of(st));
        return st.future;
    }

    /**
     * Runs all requests and returns their results in input order. Every request is checked before any is queued, so
     * a {@link RequestException} leaves nothing running.
     */
    public List<Result> generate(List<Request> requests) {
        refuseOnEngineThread("generate");
        List<RequestState> states = prepareAll(requests);
        loop.offer(states);
        List<Result> results = new ArrayList<>(states.size());
        for (RequestState st : states) results.add(st.future.join());
        return results;
    }

    /**
     * Runs all requests and hands each result to {@code onEachFinished} as soon as it finishes, in finishing order,
     * on the calling thread; returns when all are handed over. Checked like {@link #generate(List)}. If
     * {@code onEachFinished} throws, the exception propagates and the remaining requests still run to completion.
     */
    public void generate(List<Request> requests, Consumer<Result> onEachFinished) {
        refuseOnEngineThread("generate");
        if (onEachFinished == null) throw new IllegalArgumentException("onEachFinished must not be null");
        List<RequestState> states = prepareAll(requests);
        BlockingQueue<Result> finished = new LinkedBlockingQueue<>();
        for (RequestState st : states) st.future.thenAccept(finished::add);
        loop.offer(states);
        for (int i = 0; i < states.size(); i++) {
            Result r;
            try {
                r = finished.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for results (" + i + " of " + states.size() + " handed over)", e);
            }
            onEachFinished.accept(r);
        }
    }

    /** Waiting for results on the thread that produces them would never return. */
    private void refuseOnEngineThread(String method) {
        if (Thread.currentThread() == loopThread) {
            throw new IllegalStateException(method + "() waits for results and cannot be called from the engine thread "
                    + "(a future's callback); use submit() there");
        }
    }

    private List<RequestState> prepareAll(List<Request> requests) {
        if (requests == null) throw new RequestException("the list of requests must not be null");
        List<RequestState> states = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            Request r = requests.get(i);
            if (r == null) throw new RequestException("request " + i + " of the list is null");
            states.add(prepare(r));
        }
        return states;
    }

    /** Tokenizes and checks a request against the model; nothing is queued. */
    private RequestState prepare(Request request) {
        if (request == null) throw new RequestException("request must not be null");
        long now = System.nanoTime();
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
        var sampling = request.sampling();
        if (!sampling.stopStrings().isEmpty()) requireTokenizer(request, "stop strings");
        for (int id : sampling.stopTokenIds()) {
            if (id >= vocab) {
                throw new RequestException("request " + request.id() + ": stop token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        int[] stopIds = stopTokenIds(request);
        SequenceParams params = new SequenceParams(sampling.maxTokens(), request.minTokens(), stopIds,
                request.truncateLeft(), request.wantsPromptLogprobs());
        return new RequestState(request, new Sequence(request.id(), ids, params), stopIds, tokenizer, now);
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

    /** Counters of the work done so far; cheap, callable from any thread. */
    public Stats stats() { return loop.stats(); }

    /**
     * Stops accepting requests, aborts unfinished ones (their futures complete with
     * {@link Result.FinishReason#ABORTED}), waits for the engine thread to finish its current step, and releases the
     * KV cache, the compute threads and the model mapping. Idempotent. When called from the engine thread itself
     * (inside a future's callback) it does not wait; the release follows when the callback returns.
     */
    @Override
    public void close() {
        loop.close();
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
