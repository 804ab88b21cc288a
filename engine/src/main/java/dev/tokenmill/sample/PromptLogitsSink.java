package dev.tokenmill.sample;

/**
 * Receives the raw logits rows of a request's prompt positions, for scoring and evaluation jobs that need whole
 * distributions (KL divergence, perplexity, calibration) rather than one token's logprob. Row {@code position}
 * predicts prompt token {@code position + 1}; the last prompt position's row is the one the first generated token is
 * drawn from. Called on the engine's compute threads: rows of one request may arrive on several threads at once and
 * in any order, and {@code logits} is valid only during the call (copy what you keep).
 */
@FunctionalInterface
public interface PromptLogitsSink {
    void accept(int position, float[] logits, int offset, int vocabSize);
}
