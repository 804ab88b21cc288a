package dev.tokenmill;

import dev.tokenmill.model.SequenceRunner;
import dev.tokenmill.sample.Sampler;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.StopMatcher;
import dev.tokenmill.sched.FinishReason;
import dev.tokenmill.sched.Sequence;
import dev.tokenmill.tokenizer.StreamingDecoder;
import dev.tokenmill.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The engine's side of one request, attached to its {@link Sequence}: the future to complete, the sampler, the stop
 * string matcher, the logprobs gathered so far and the timestamps. Created on the caller's thread, then owned by the
 * engine loop. The sampler (vocabulary-sized buffers) is created on the first sample and dropped at the end, so
 * queued requests cost only their tokens.
 */
final class RequestState {
    final Request request;
    final Sequence seq;
    final CompletableFuture<Result> future = new CompletableFuture<>();
    final long submitNanos;
    long firstScheduledNanos;
    long firstTokenNanos;
    long lastTokenNanos;

    private final SamplingParams params;
    private final int[] stopIds;             // masked out of sampling until minTokens are generated
    private final boolean argmaxOnly;        // greedy without penalties: no Sampler needed
    private Sampler sampler;
    private final StreamingDecoder decoder;  // non-null only with stop strings
    private final StopMatcher stops;
    private final StringBuilder streamedText; // fallback text when decode() and the stream disagree on a stop
    private boolean stopMatched;
    private final ArrayList<Result.TokenLogprobs> logprobs;
    private Result.TokenLogprobs[] promptLogprobs;
    private final int[] topIds;
    private final float[] topValues;
    private String failure;
    private Result.FinishReason forcedReason;
    private boolean completed;

    RequestState(Request request, Sequence seq, int[] stopIds, Tokenizer tokenizer, long submitNanos) {
        this.request = request;
        this.seq = seq;
        this.params = request.sampling();
        this.stopIds = stopIds;
        this.submitNanos = submitNanos;
        this.argmaxOnly = params.isGreedy() && !params.hasPenalties();
        boolean stopStrings = !params.stopStrings().isEmpty();
        this.decoder = stopStrings ? tokenizer.newStreamingDecoder() : null;
        this.stops = stopStrings ? new StopMatcher(params.stopStrings()) : null;
        this.streamedText = stopStrings ? new StringBuilder() : null;
        this.logprobs = request.wantsLogprobs() ? new ArrayList<>() : null;
        int top = Math.max(Math.max(request.logprobs(), request.promptLogprobs()), 0);
        this.topIds = new int[top];
        this.topValues = new float[top];
        seq.attach(this);
    }

    String failure() { return failure; }

    void fail(String message) {
        if (failure == null) failure = message;
    }

    /** Ends a request the scheduler cannot finish (never admitted, or the engine failed) with {@code reason}. */
    void abort(Result.FinishReason reason, String message) {
        fail(message);
        if (forcedReason == null) forcedReason = reason;
    }

    boolean isCompleted() { return completed; }

    void markCompleted() {
        completed = true;
        sampler = null;
    }

    /**
     * True when the next token is exactly the argmax of its logits row (greedy, no penalties, no logprobs, no stop
     * ids masked by minTokens): the backend may then return only the argmax ({@code ForwardBatch.argmaxOnly}).
     */
    boolean wantsArgmaxOnly() {
        return argmaxOnly && logprobs == null && (stopIds.length == 0 || seq.numGeneratedTokens() >= request.minTokens());
    }

    /**
     * Chooses the next token from the row {@code logits[off..off+vocab)}, recording its logprobs when asked. While
     * fewer than {@code minTokens} are generated, the stop tokens are masked out in place (the row is not read
     * again).
     */
    int sample(float[] logits, int off, int vocab) {
        double logZ = logprobs == null ? 0 : logSumExp(logits, off, vocab);
        List<Result.Logprob> top = logprobs == null ? null : top(logits, off, vocab, request.logprobs(), logZ);
        if (seq.numGeneratedTokens() < request.minTokens()) {
            for (int id : stopIds) logits[off + id] = Float.NEGATIVE_INFINITY;
        }
        int token;
        if (argmaxOnly) {
            token = Sampler.argmax(logits, off, vocab);
        } else {
            if (sampler == null) {
                sampler = new Sampler(params, vocab);
                if (params.hasPenalties()) for (int i = 0; i < seq.numTokens(); i++) sampler.accept(seq.tokenAt(i));
            }
            token = sampler.sample(logits, off);
            sampler.accept(token);
        }
        if (logprobs != null) logprobs.add(new Result.TokenLogprobs(token, logits[off + token] - logZ, top));
        return token;
    }

    /** Records the logprob of prompt token {@code pos + 1} from the logits row of position {@code pos}. */
    void promptLogprob(int pos, float[] logits, int off, int vocab) {
        if (promptLogprobs == null) promptLogprobs = new Result.TokenLogprobs[seq.numPromptTokens() - 1];
        int target = seq.tokenAt(pos + 1);
        // the same double-precision log-softmax as SequenceRunner.score, so the two agree exactly
        double lp = SequenceRunner.logSoftmaxAt(logits, off, vocab, target);
        List<Result.Logprob> top = request.promptLogprobs() == 0 ? List.of()
                : top(logits, off, vocab, request.promptLogprobs(), logSumExp(logits, off, vocab));
        promptLogprobs[pos] = new Result.TokenLogprobs(target, lp, top);
    }

    /**
     * Feeds a newly generated token (already appended to the sequence) to the stop-string matcher; true when a stop
     * string just completed. Text generated before {@code minTokens} is not searched.
     */
    boolean acceptGenerated(int token, long now) {
        if (firstTokenNanos == 0) firstTokenNanos = now;
        lastTokenNanos = now;
        if (decoder == null || stopMatched) return false;
        String piece = decoder.accept(token);
        if (seq.numGeneratedTokens() <= request.minTokens()) {
            streamedText.append(piece);
            return false;
        }
        streamedText.append(stops.push(piece));
        stopMatched = stops.stopped();
        return stopMatched;
    }

    /** The result of the finished sequence (or of a failure). */
    Result toResult(Tokenizer tokenizer, long now) {
        int[] generated = seq.generatedTokens();
        Result.FinishReason reason = forcedReason != null ? forcedReason : stopMatched ? Result.FinishReason.STOP : switch (seq.finishReason()) {
            case STOP -> Result.FinishReason.STOP;
            case LENGTH -> Result.FinishReason.LENGTH;
            case ERROR -> Result.FinishReason.ERROR;
            case ABORTED -> Result.FinishReason.ABORTED;
            case null -> Result.FinishReason.ERROR;
        };
        String error = failure != null ? failure : seq.errorMessage();
        if (error == null && reason == Result.FinishReason.ERROR) error = "request " + request.id() + " failed";
        String text = tokenizer == null ? "" : text(tokenizer, generated);
        long scheduled = firstScheduledNanos == 0 ? now : firstScheduledNanos;
        long firstToken = firstTokenNanos == 0 ? scheduled : firstTokenNanos;
        long lastToken = lastTokenNanos == 0 ? firstToken : lastTokenNanos;
        Result.Timings timings = new Result.Timings(ms(scheduled - submitNanos), ms(firstToken - scheduled), ms(lastToken - firstToken));
        List<Result.TokenLogprobs> prompt = null;
        if (request.wantsPromptLogprobs()) {
            prompt = promptLogprobs == null ? List.of() : Arrays.stream(promptLogprobs).takeWhile(t -> t != null).toList();
        }
        return new Result(request.id(), text, generated, reason, seq.numPromptTokens(), generated.length,
                seq.numCachedPromptTokens(), logprobs, prompt, timings, error);
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

    /** The {@code n} largest logits as logprobs, best first, ties to the lower id. */
    private List<Result.Logprob> top(float[] logits, int off, int vocab, int n, double logZ) {
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

    /** ln sum exp over the row, max-subtracted in double as {@link SequenceRunner#logSoftmaxAt}. */
    private static double logSumExp(float[] logits, int off, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - max);
        return max + Math.log(sum);
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
