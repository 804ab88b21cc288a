package dev.tokenmill.sample;

/**
 * A step of the sampling pipeline that may mask or bias the logits of one sequence before its next token is chosen:
 * the hook structured output (JSON schema, regex, choices, grammars) plugs into. Order per token: penalties, then the
 * request's processors in order (the min-tokens end-of-generation mask is the first), then temperature, top-k, top-p
 * and min-p, then the draw (or the argmax when greedy).
 *
 * <p>A processor holds per-sequence state: a request carries {@link Factory factories}, and each sequence gets fresh
 * processors from them. The engine calls a sequence's processors on a compute thread, never two of one sequence at
 * the same time; they must not keep {@code logits} beyond the call. A processor that throws fails its request alone
 * (finish reason {@code error}, the exception's message in the result).
 */
public interface LogitsProcessor {

    /**
     * Masks (set to {@code Float.NEGATIVE_INFINITY}) or biases the logits {@code logits[offset .. offset + vocabSize)}
     * of the next token in place. {@code generated} lists the tokens this sequence generated so far.
     */
    void process(TokenHistory generated, float[] logits, int offset, int vocabSize);

    /** Told each token chosen for the sequence, in order, after the choice. */
    default void accept(int token) {}

    /** Makes the processor of one sequence. */
    @FunctionalInterface
    interface Factory {
        LogitsProcessor create();
    }
}
