package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;
import java.util.Arrays;

/**
 * What the scheduler needs to know about a request besides its tokens.
 *
 * @param maxNewTokens  generated tokens after which the sequence stops with {@link FinishReason#LENGTH}
 * @param minNewTokens  stop tokens are ignored until this many tokens were generated
 * @param stopTokenIds  token ids that end the sequence with {@link FinishReason#STOP} (e.g. EOS unless ignored);
 *                      the stop token itself is kept among the generated ids
 * @param truncateLeft  a prompt longer than the context limit keeps its last tokens instead of failing
 * @param promptLogits  logits are wanted for every prompt position (prompt logprobs); such a sequence is never
 *                      served from the prefix cache, since cached positions produce no logits
 */
public record SequenceParams(int maxNewTokens, int minNewTokens, int[] stopTokenIds, boolean truncateLeft,
                             boolean promptLogits) {

    public SequenceParams {
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be at least 1, got " + maxNewTokens);
        if (minNewTokens < 0) throw new IllegalArgumentException("minNewTokens must not be negative, got " + minNewTokens);
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
    }

    /** Generates exactly {@code maxNewTokens} tokens: no stop tokens, no truncation, no prompt logits. */
    public static SequenceParams of(int maxNewTokens) {
        return new SequenceParams(maxNewTokens, 0, new int[0], false, false);
    }

    public SequenceParams withStopTokens(int... ids) {
        return new SequenceParams(maxNewTokens, minNewTokens, ids, truncateLeft, promptLogits);
    }

    public SequenceParams withMinNewTokens(int n) {
        return new SequenceParams(maxNewTokens, n, stopTokenIds, truncateLeft, promptLogits);
    }

    public SequenceParams withTruncateLeft(boolean truncate) {
        return new SequenceParams(maxNewTokens, minNewTokens, stopTokenIds, truncate, promptLogits);
    }

    public SequenceParams withPromptLogits(boolean wanted) {
        return new SequenceParams(maxNewTokens, minNewTokens, stopTokenIds, truncateLeft, wanted);
    }

    @Override
    public int[] stopTokenIds() { return stopTokenIds.clone(); }

    boolean isStopToken(int token) {
        for (int id : stopTokenIds) if (id == token) return true;
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SequenceParams p && maxNewTokens == p.maxNewTokens && minNewTokens == p.minNewTokens
                && Arrays.equals(stopTokenIds, p.stopTokenIds) && truncateLeft == p.truncateLeft
                && promptLogits == p.promptLogits;
    }

    @Override
    public int hashCode() {
        return ((Integer.hashCode(maxNewTokens) * 31 + minNewTokens) * 31 + Arrays.hashCode(stopTokenIds)) * 4
                + (truncateLeft ? 2 : 0) + (promptLogits ? 1 : 0);
    }

    @Override
    public String toString() {
        return "SequenceParams[maxNewTokens=" + maxNewTokens + ", minNewTokens=" + minNewTokens + ", stopTokenIds="
                + Arrays.toString(stopTokenIds) + ", truncateLeft=" + truncateLeft + ", promptLogits=" + promptLogits + "]";
    }
}
