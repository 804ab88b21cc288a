package dev.tokenmill.quant;

import dev.tokenmill.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * A text tokenized once and cut into chunks of {@code nCtx} tokens, as llama.cpp's {@code perplexity()} does: the
 * whole text with the vocabulary's special tokens ({@code common_tokenize(text, add_special = true,
 * parse_special = false)}), chunk {@code i} is tokens {@code [i * nCtx, (i + 1) * nCtx)} with its first token
 * replaced by BOS when the vocabulary adds one, and the last {@code nCtx - 1 - nCtx / 2} predictions of each chunk
 * are scored, so every scored token sees at least half a context.
 */
record TextChunks(int[] tokens, int nCtx, int chunks, int bos) {

    /** Tokenizes {@code text} and plans at most {@code maxChunks} (null: all whole chunks). */
    static TextChunks of(Tokenizer tokenizer, String text, int nCtx, Integer maxChunks) {
        int[] tokens = tokenizer.encode(text, true, false);
        // the vocabulary adds BOS iff encoding nothing with special tokens yields it
        int[] specials = tokenizer.encode("", true, false);
        int bos = specials.length > 0 && specials[0] == tokenizer.bos() ? tokenizer.bos() : -1;
        int available = tokens.length / nCtx;
        int chunks = maxChunks == null ? available : Math.min(maxChunks, available);
        return new TextChunks(tokens, nCtx, chunks, bos);
    }

    /** First scored position of a chunk (its logits predict position first + 1). */
    int first() { return nCtx / 2; }

    /** Scored tokens per chunk. */
    int scoredPerChunk() { return nCtx - 1 - first(); }

    /** The tokens of chunk {@code i}, BOS first where the vocabulary adds it. */
    int[] chunk(int i) {
        int[] c = Arrays.copyOfRange(tokens, i * nCtx, (i + 1) * nCtx);
        if (bos >= 0) c[0] = bos;
        return c;
    }
}
