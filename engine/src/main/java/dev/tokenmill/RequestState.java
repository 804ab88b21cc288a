package dev.tokenmill;

import dev.tokenmill.sample.LogSoftmax;
import dev.tokenmill.sample.LogitsProcessor;
import dev.tokenmill.sample.MinTokensProcessor;
import dev.tokenmill.sample.Sampler;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.StopMatcher;
import dev.tokenmill.sample.TokenHistory;
import dev.tokenmill.sample.constrain.CompiledConstraint;
import dev.tokenmill.sample.constrain.ConstraintProcessor;
import dev.tokenmill.sched.Sequence;
import dev.tokenmill.sched.StopCondition;
import dev.tokenmill.tokenizer.StreamingDecoder;
import dev.tokenmill.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The engine's side of one request, attached to its {@link Sequence}: the future to complete, the sampling pipeline,
 * the stop rule, the logprobs gathered so far, the deadline and the timestamps. Created on the caller's thread, then
 * owned by the engine loop; its rows of a step are processed on compute threads, one thread per row, and a request
 * has at most one sampled row per step. The sampler (vocabulary-sized buffers) and the logits processors are created
 * on the first sample and dropped at the end, so queued requests cost only their tokens.
 */
final class RequestState implements StopCondition, TokenHistory {
    final Request request;
    final Sequence seq;
    final RequestFuture future;
    final long submitNanos;
    final long deadlineNanos;                // Long.MAX_VALUE: none
    long firstScheduledNanos;
    long firstTokenNanos;
    long lastTokenNanos;
    boolean holdsPermit;                     // counted against EngineConfig.maxQueuedRequests

    private final SamplingParams params;
    private final int[] stopIds;
    private final boolean argmaxOnly;        // greedy, no penalties, no processors: no Sampler needed
    private final CompiledConstraint constraint; // structured output, or null
    private ConstraintProcessor constrained;     // the constraint's processor of this sequence, made with the sampler
    private Sampler sampler;
    private final StreamingDecoder decoder;  // non-null only with stop strings
    private final StopMatcher stops;
    private final StringBuilder streamedText; // fallback text when decode() and the stream disagree on a stop
    private boolean stopMatched;
    private final ArrayList<Result.TokenLogprobs> logprobs;
    private Result.TokenLogprobs[] promptLogprobs;
    private volatile String failure;
    private FinishReason forcedReason;
    private boolean completed;

    /** The future a caller holds: cancelling it aborts the request in the engine at its next step. */
    static final class RequestFuture extends CompletableFuture<Result> {
        private final EngineLoop loop;
        private RequestState state;

        RequestFuture(EngineLoop loop) {
            this.loop = loop;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled && state != null) loop.abort(state);
            return cancelled;
        }
    }

    RequestState(Request request, Sequence seq, int[] stopIds, Tokenizer tokenizer, long submitNanos, EngineLoop loop) {
        this(request, seq, stopIds, tokenizer, submitNanos, loop, null);
    }

    RequestState(Request request, Sequence seq, int[] stopIds, Tokenizer tokenizer, long submitNanos, EngineLoop loop,
                 CompiledConstraint constraint) {
        this.request = request;
        this.constraint = constraint;
        this.seq = seq;
        this.params = request.sampling();
        this.stopIds = stopIds;
        this.submitNanos = submitNanos;
        this.deadlineNanos = request.timeout() == null ? Long.MAX_VALUE
                : submitNanos + Math.min(request.timeout().toNanos(), Long.MAX_VALUE / 4);
        this.argmaxOnly = params.isGreedy() && !params.hasPenalties() && request.processors().isEmpty()
                && request.minTokens() == 0 && constraint == null;
        boolean stopStrings = !params.stopStrings().isEmpty();
        this.decoder = stopStrings ? tokenizer.newStreamingDecoder() : null;
        this.stops = stopStrings ? new StopMatcher(params.stopStrings()) : null;
        this.streamedText = stopStrings ? new StringBuilder() : null;
        this.logprobs = request.wantsLogprobs() ? new ArrayList<>() : null;
        this.future = new RequestFuture(loop);
        seq.attach(this);
        seq.setStopCondition(this);
        future.state = this;
    }

    String failure() { return failure; }

    void fail(String message) {
        if (failure == null) failure = message;
    }

    /** Ends a request outside the stop rule (aborted, timed out, never admitted, engine failure) with {@code reason}. */
    void abort(FinishReason reason, String message) {
        fail(message);
        if (forcedReason == null) forcedReason = reason;
    }

    boolean isCompleted() { return completed; }

    void markCompleted() {
        completed = true;
        sampler = null;
    }

    /** Whether the engine needs only the argmax of this request's next-token row (a backend may skip copying it). */
    boolean wantsOnlyArgmax() {
        return argmaxOnly && logprobs == null && request.promptLogits() == null;
    }

    // ---- TokenHistory: what the logits processors see ----

    @Override
    public int size() { return seq.numGeneratedTokens(); }

    @Override
    public int get(int i) {
        if (i < 0 || i >= seq.numGeneratedTokens()) throw new IndexOutOfBoundsException(i);
        return seq.tokenAt(seq.numPromptTokens() + i);
    }

    /**
     * Chooses the next token from the row {@code logits[off..off+vocab)} (not modified), recording its logprobs when
     * asked; {@code scratch} is the calling worker's. Non-finite logits fail the request.
     */
    int sample(float[] logits, int off, int vocab, Scratch scratch) {
        if (request.promptLogits() != null && seq.numGeneratedTokens() == 0) {
            request.promptLogits().accept(seq.numPromptTokens() - 1, logits, off, vocab);
        }
        double logZ = 0;
        List<Result.Logprob> top = null;
        if (logprobs != null) {
            logZ = LogSoftmax.logZ(logits, off, vocab, scratch.row);
            top = scratch.top(logits, off, vocab, request.logprobs(), logZ);
        }
        int token;
        if (argmaxOnly) {
            token = LogSoftmax.argmaxChecked(logits, off, vocab);
        } else {
            if (sampler == null) {
                List<LogitsProcessor> processors = new ArrayList<>(request.processors().size() + 1);
                if (request.minTokens() > 0) processors.add(new MinTokensProcessor(stopIds, request.minTokens()));
                for (LogitsProcessor.Factory f : request.processors()) {
                    LogitsProcessor p = f.create();
                    if (p == null) throw new IllegalStateException("a logits processor factory returned null");
                    processors.add(p);
                }
                if (constraint != null) {
                    // last, so that no processor can give back a token the constraint masked
                    constrained = constraint.newProcessor(stopIds);
                    processors.add(constrained);
                }
                sampler = new Sampler(params, vocab, processors);
                if (params.hasPenalties()) for (int i = 0; i < seq.numTokens(); i++) sampler.accept(seq.tokenAt(i));
                for (int i = 0; i < seq.numGeneratedTokens(); i++) sampler.acceptGenerated(get(i)); // resumed after preemption
            }
            if (logprobs == null) LogSoftmax.argmaxChecked(logits, off, vocab); // the non-finite check alone
            token = sampler.sample(logits, off, this);
            sampler.accept(token);
            sampler.acceptGenerated(token);
        }
        if (logprobs != null) logprobs.add(new Result.TokenLogprobs(token, logits[off + token] - logZ, top));
        return token;
    }

    /** Records the logprob of prompt token {@code pos + 1} from the logits row of position {@code pos}. */
    void promptLogprob(int pos, float[] logits, int off, int vocab, Scratch scratch) {
        if (request.promptLogits() != null && pos >= request.promptLogitsFrom()) request.promptLogits().accept(pos, logits, off, vocab);
        if (!request.wantsPromptLogprobs()) return;
        Result.TokenLogprobs[] all = promptLogprobs; // allocated before the step's rows run (ensurePromptLogprobs)
        int target = seq.tokenAt(pos + 1);
        double logZ = LogSoftmax.logZ(logits, off, vocab, scratch.row);
        List<Result.Logprob> top = request.promptLogprobs() == 0 ? List.of()
                : scratch.top(logits, off, vocab, request.promptLogprobs(), logZ);
        all[pos] = new Result.TokenLogprobs(target, logits[off + target] - logZ, top);
    }

    /** Called on the loop thread before a step's rows of this request are processed in parallel. */
    void ensurePromptLogprobs() {
        if (promptLogprobs == null && request.wantsPromptLogprobs()) {
            promptLogprobs = new Result.TokenLogprobs[Math.max(0, seq.numPromptTokens() - 1)];
        }
    }

    // ---- StopCondition: the one place a generated token ends the sequence ----

    /**
     * After a generated token (already appended): a stop or end-of-generation token once {@code minTokens} are
     * generated, a stop string completed in the text, or {@code maxTokens} reached. Text generated before
     * {@code minTokens} is not searched for stop strings.
     */
    @Override
    public FinishReason afterToken(Sequence s, int token) {
        long now = System.nanoTime();
        if (firstTokenNanos == 0) firstTokenNanos = now;
        lastTokenNanos = now;
        int generated = s.numGeneratedTokens();
        if (generated >= request.minTokens() && isStopToken(token)) return FinishReason.STOP;
        if (constrained != null && constrained.isComplete()) return FinishReason.STOP; // nothing can follow
        if (decoder != null && !stopMatched) {
            try {
                String piece = decoder.accept(token);
                if (generated <= request.minTokens()) {
                    streamedText.append(piece);
                } else {
                    streamedText.append(stops.push(piece));
                    stopMatched = stops.stopped();
                    if (stopMatched) return FinishReason.STOP;
                }
            } catch (RuntimeException e) {
                fail("request " + request.id() + ": decoding generated token " + token + " failed: " + e.getMessage());
                return FinishReason.ERROR;
            }
        }
        if (generated >= params.maxTokens()) return FinishReason.LENGTH;
        return null;
    }

    /** The result of the finished sequence (or of a failure). */
    Result toResult(Tokenizer tokenizer, long now) {
        int[] generated = seq.generatedTokens();
        FinishReason reason = forcedReason != null ? forcedReason : seq.finishReason() == null ? FinishReason.ERROR : seq.finishReason();
        String error = failure != null ? failure : seq.errorMessage();
        if (error == null && reason == FinishReason.ERROR) error = "request " + request.id() + " failed";
        String text;
        boolean incomplete = false;
        if (constraint != null) {
            // the bytes the constraint judged (decode() would also clean up spaces, which could break the constraint)
            text = constrained == null ? "" : constrained.text();
            incomplete = constrained == null || !constrained.isAccepting();
        } else {
            text = tokenizer == null ? "" : text(tokenizer, generated);
        }
        long scheduled = firstScheduledNanos == 0 ? now : firstScheduledNanos;
        long firstToken = firstTokenNanos == 0 ? scheduled : firstTokenNanos;
        long lastToken = lastTokenNanos == 0 ? firstToken : lastTokenNanos;
        Result.Timings timings = new Result.Timings(ms(scheduled - submitNanos), ms(firstToken - scheduled), ms(lastToken - firstToken));
        List<Result.TokenLogprobs> prompt = null;
        if (request.wantsPromptLogprobs()) {
            prompt = promptLogprobs == null ? List.of() : Arrays.stream(promptLogprobs).takeWhile(t -> t != null).toList();
        }
        return new Result(request.id(), text, generated, reason, seq.numPromptTokens(), generated.length,
                seq.numCachedPromptTokens(), logprobs, prompt, timings, error, incomplete, null);
    }

    /** Decoded text without a final stop token, cut before a matched stop string. */
    private String text(Tokenizer tokenizer, int[] generated) {
        int n = generated.length;
        if (!stopMatched && seq.finishReason() == FinishReason.STOP && n > 0 && isStopToken(generated[n - 1])) n--;
        String text = tokenizer.decode(generated, 0, n);
        if (!stopMatched) return text;
        int from = request.minTokens() == 0 ? 0 : tokenizer.decode(generated, 0, Math.min(request.minTokens(), n)).length();
        int cut = -1;
        for (String s : params.stopStrings()) {
            int i = text.indexOf(s, from);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        // decode() and the token-by-token stream can differ in spacing; the stream's text is then the answer
        return cut >= 0 ? text.substring(0, cut) : streamedText.toString();
    }

    private boolean isStopToken(int token) {
        for (int id : stopIds) if (id == token) return true;
        return false;
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    /** A compute worker's buffers for the rows it processes: one logits row, and the top-n selection. */
    static final class Scratch {
        final float[] row;
        private final int[] topIds = new int[Request.MAX_LOGPROBS];
        private final float[] topValues = new float[Request.MAX_LOGPROBS];

        Scratch(int vocab) {
            this.row = new float[vocab];
        }

        /** The {@code n} largest logits as logprobs, best first, ties to the lower id. */
        List<Result.Logprob> top(float[] logits, int off, int vocab, int n, double logZ) {
            if (n == 0) return List.of();
            int size = 0;
            for (int id = 0; id < vocab; id++) {
                float v = logits[off + id];
                if (size == n && !(v > topValues[n - 1])) continue;
                int i = size < n ? size++ : n - 1;
                while (i > 0 && v > topValues[i - 1]) {
                    topValues[i] = topValues[i - 1];
                    topIds[i] = topIds[i - 1];
                    i--;
                }
                topValues[i] = v;
                topIds[i] = id;
            }
            List<Result.Logprob> out = new ArrayList<>(size);
            for (int i = 0; i < size; i++) out.add(new Result.Logprob(topIds[i], topValues[i] - logZ));
            return out;
        }
    }
}
