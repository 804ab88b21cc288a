package dev.tokenmill.model;

import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.backend.cpu.CpuBackend;
import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.sample.Sampler;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.StopMatcher;

import java.util.Arrays;

/**
 * Runs one sequence through a {@link CpuBackend}: the prompt in one forward call, then one call per generated
 * token. It owns a backend with a KV cache for one sequence of up to {@code maxSeqLen} tokens laid out in
 * consecutive blocks. This is the CLI's path; the batched engine drives the backend through the scheduler.
 */
public final class SequenceRunner implements AutoCloseable {
    /** Tokens per KV block. */
    static final int BLOCK_SIZE = 16;
    /** Most prompt tokens per forward call: bounds the scratch and logits memory for long prompts. */
    static final int PREFILL_CHUNK = 512;

    private final ModelConfig cfg;
    private final String source;
    private final CpuBackend backend;
    private final ForwardBatch batch;
    private final int maxSeqLen;

    /** Why a generation ended. */
    public enum FinishReason { LENGTH, STOP }

    /**
     * The generated tokens (an end-of-generation or stop token that ended generation included), their text with a
     * matched stop string cut off, and the logits at the last prompt position.
     */
    public record Generation(int[] promptIds, int[] tokenIds, String text, FinishReason finishReason, float[] promptLastLogits) {}

    public SequenceRunner(Model model, CpuBackendConfig backendConfig) {
        this.cfg = model.config();
        this.source = String.valueOf(model.gguf().path());
        this.maxSeqLen = backendConfig.maxSeqLen();
        if (backendConfig.numBlocks() * backendConfig.blockSize() < maxSeqLen) {
            throw new IllegalArgumentException("backend has " + backendConfig.numBlocks() + " blocks of " + backendConfig.blockSize()
                    + " tokens, too few for one sequence of " + maxSeqLen);
        }
        this.backend = new CpuBackend(model.config(), model.weights(), backendConfig);
        int blocks = (maxSeqLen + backendConfig.blockSize() - 1) / backendConfig.blockSize();
        this.batch = new ForwardBatch(backendConfig.maxBatchTokens(), 1, blocks);
        for (int i = 0; i < blocks; i++) batch.blockTables[0][i] = i;
    }

    /** A runner for sequences of up to {@code maxSeqLen} tokens with an F32 KV cache. */
    public static SequenceRunner create(Model model, int maxSeqLen, int threads) {
        int len = Math.max(1, maxSeqLen);
        return new SequenceRunner(model, CpuBackendConfig.singleSequence(len, Math.min(len, PREFILL_CHUNK), BLOCK_SIZE, threads));
    }

    public ModelConfig config() { return cfg; }

    public int maxSeqLen() { return maxSeqLen; }

    /**
     * Natural-log probabilities of each next prompt token: {@code result[i] = ln P(ids[i+1] | ids[0..i])}, from a
     * log-softmax in double precision over the float logits.
     */
    public double[] score(int[] ids) {
        checkPrompt(ids);
        double[] out = new double[ids.length - 1];
        for (int from = 0; from < ids.length; from += batch.maxTokens) {
            int to = Math.min(ids.length, from + batch.maxTokens);
            Logits logits = forwardChunk(ids, from, to, true);
            for (int i = from; i < to && i + 1 < ids.length; i++) {
                out[i] = logSoftmaxAt(logits.data(), logits.offset(i - from), cfg.vocabSize(), ids[i + 1]);
            }
        }
        return out;
    }

    /**
     * Generates after {@code promptIds}. {@code textStream} gives the text of the generated tokens and says which
     * tokens end generation; it may be null (no text, stop strings never match, only stop token ids end early).
     */
    public Generation generate(int[] promptIds, SamplingParams params, TextStream textStream) {
        checkPrompt(promptIds);
        Sampler sampler = new Sampler(params, cfg.vocabSize());
        for (int id : promptIds) sampler.accept(id);
        StopMatcher stops = new StopMatcher(params.stopStrings());
        StringBuilder text = new StringBuilder();

        Logits logits = prefill(promptIds);
        float[] promptLast = logits.copyRow(0);
        // at most one token per free position, plus the one sampled at the last: maxTokens may be far larger
        int[] out = new int[Math.min(params.maxTokens(), maxSeqLen - promptIds.length + 1)];
        int n = 0;
        int pos = promptIds.length;
        FinishReason reason = FinishReason.LENGTH;
        while (true) {
            int next = sampler.sample(logits.data(), logits.offset(0));
            out[n++] = next;
            sampler.accept(next);
            if ((textStream != null && textStream.isEndOfGeneration(next)) || params.stopTokenIds().contains(next)) {
                reason = FinishReason.STOP;
                break;
            }
            if (textStream != null) {
                text.append(stops.push(textStream.accept(next)));
                if (stops.stopped()) {
                    reason = FinishReason.STOP;
                    break;
                }
            }
            if (n == params.maxTokens() || pos >= maxSeqLen) break;
            logits = decode(next, pos++);
        }
        if (textStream != null && !stops.stopped()) {
            text.append(stops.push(textStream.flush()));
            if (stops.stopped()) reason = FinishReason.STOP;
        }
        text.append(stops.flush());
        return new Generation(promptIds.clone(), Arrays.copyOf(out, n), text.toString(), reason, promptLast);
    }

    /**
     * Runs the prompt from position 0, in forward calls of at most {@link #PREFILL_CHUNK} tokens; returns the
     * logits of the last position (row 0). Chunking does not change the numbers: every token is computed alone.
     */
    public Logits prefill(int[] ids) {
        checkPrompt(ids);
        Logits logits = null;
        for (int from = 0; from < ids.length; from += batch.maxTokens) {
            logits = forwardChunk(ids, from, Math.min(ids.length, from + batch.maxTokens), false);
        }
        return logits;
    }

    /** Positions [from, to) of the prompt in one call; logits for all of them or only for the prompt's last one. */
    private Logits forwardChunk(int[] ids, int from, int to, boolean allLogits) {
        batch.clear();
        batch.nSeqs = 1;
        batch.contextLens[0] = to;
        for (int i = from; i < to; i++) batch.addToken(0, ids[i], i, allLogits || i == ids.length - 1);
        return requireFinite(backend.forward(batch), allLogits ? from : ids.length - 1);
    }

    /** Feeds one token at {@code pos} (after the positions already in the cache); returns its logits. */
    public Logits decode(int token, int pos) {
        if (pos >= maxSeqLen) throw new IllegalArgumentException("position " + pos + " is past the runner's maxSeqLen " + maxSeqLen);
        batch.clear();
        batch.nSeqs = 1;
        batch.contextLens[0] = pos + 1;
        batch.addToken(0, token, pos, true);
        return requireFinite(backend.forward(batch), pos);
    }

    /**
     * NaN or infinite logits come only from broken weights; they would be sampled as token 0 or scored as NaN
     * and printed as if they were an answer. {@code firstPos} is the position of row 0, rows are consecutive.
     */
    private Logits requireFinite(Logits logits, int firstPos) {
        float[] data = logits.data();
        int n = cfg.vocabSize();
        for (int r = 0; r < logits.count(); r++) {
            int off = logits.offset(r);
            for (int t = 0; t < n; t++) {
                float v = data[off + t];
                if (!Float.isFinite(v)) {
                    throw new NonFiniteLogitsException(source + ": the forward pass gave logit " + v + " for token " + t
                            + " at position " + (firstPos + r) + "; the model's weights are corrupt or overflow, so there is no result");
                }
            }
        }
        return logits;
    }

    /** ln softmax(logits[off..off+n))[target], max-subtracted log-sum-exp in double. */
    public static double logSoftmaxAt(float[] logits, int off, int n, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(logits[off + i] - max);
        return logits[off + target] - max - Math.log(sum);
    }

    private void checkPrompt(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (ids.length > maxSeqLen) {
            throw new IllegalArgumentException("the prompt has " + ids.length + " tokens, more than this runner's limit of " + maxSeqLen);
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= cfg.vocabSize()) {
                throw new IllegalArgumentException("prompt token " + i + " = " + ids[i] + " is outside the vocabulary [0, " + cfg.vocabSize() + ")");
            }
        }
    }

    @Override
    public void close() {
        backend.close();
    }
}
