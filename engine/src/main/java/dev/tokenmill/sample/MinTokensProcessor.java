package dev.tokenmill.sample;

/**
 * Masks the stop and end-of-generation tokens until {@code minTokens} tokens are generated: the first processor of a
 * request that asks for {@code minTokens}.
 */
public final class MinTokensProcessor implements LogitsProcessor {
    private final int[] stopIds;
    private final int minTokens;

    public MinTokensProcessor(int[] stopIds, int minTokens) {
        this.stopIds = stopIds;
        this.minTokens = minTokens;
    }

    @Override
    public void process(TokenHistory generated, float[] logits, int offset, int vocabSize) {
        if (generated.size() >= minTokens) return;
        for (int id : stopIds) if (id < vocabSize) logits[offset + id] = Float.NEGATIVE_INFINITY;
    }
}
