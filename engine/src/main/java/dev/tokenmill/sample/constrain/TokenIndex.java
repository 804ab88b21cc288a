package dev.tokenmill.sample.constrain;

import dev.tokenmill.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The exact bytes every token adds to the generated text, built once per tokenizer: byte-level BPE unmapped,
 * SentencePiece's {@code ▁} as a space, byte-fallback tokens such as {@code <0x41>} as their byte. Control and unknown
 * tokens (BOS, EOS, {@code <|im_start|>}, ...) and tokens that render as nothing are never text: they have no bytes
 * here. Where decoding drops the leading space of the first generated piece (SentencePiece with a space prefix),
 * {@link #firstBytes} holds the pieces as they read in first position. Tokens are also kept sorted by their bytes with
 * the common-prefix length of neighbours, so a mask walks the vocabulary as a trie, sharing prefixes.
 */
final class TokenIndex {
    final int vocabSize;
    /** Bytes of each token, or null for a token that is never text. */
    final byte[][] bytes;
    /** Bytes of each token in first position, or null when they equal {@link #bytes} for every token. */
    final byte[][] firstBytes;
    /** Text tokens in lexicographic (unsigned) order of their bytes. */
    final int[] sorted;
    /** {@code lcp[k]}: bytes {@code sorted[k]} shares with {@code sorted[k - 1]} (0 for k = 0). */
    final int[] lcp;
    final int maxLen;

    TokenIndex(Tokenizer tokenizer, int vocabSize) {
        this.vocabSize = vocabSize;
        this.bytes = new byte[vocabSize][];
        int n = Math.min(vocabSize, tokenizer.vocabSize());
        boolean stripFirst = tokenizer.decodeDropsLeadingSpace();
        byte[][] first = stripFirst ? new byte[vocabSize][] : null;
        int count = 0, max = 0;
        for (int id = 0; id < n; id++) {
            if (tokenizer.isControl(id)) continue;
            byte[] b = tokenizer.tokenBytes(id);
            if (b.length == 0) continue;
            bytes[id] = b;
            count++;
            max = Math.max(max, b.length);
            if (stripFirst) first[id] = b[0] == ' ' ? Arrays.copyOfRange(b, 1, b.length) : b;
        }
        this.firstBytes = first;
        this.maxLen = max;
        Integer[] order = new Integer[count];
        int k = 0;
        for (int id = 0; id < vocabSize; id++) if (bytes[id] != null) order[k++] = id;
        Arrays.sort(order, Comparator.comparing((Integer id) -> bytes[id], Arrays::compareUnsigned));
        this.sorted = new int[count];
        this.lcp = new int[count];
        for (int i = 0; i < count; i++) {
            sorted[i] = order[i];
            if (i > 0) lcp[i] = Arrays.mismatch(bytes[order[i - 1]], bytes[order[i]]);
            if (lcp[i] < 0) lcp[i] = bytes[order[i]].length; // equal bytes (two ids, one piece)
        }
    }

    /** Bytes of {@code token} at {@code position} of the generated text (0 = first), or null when never text. */
    byte[] bytesAt(int token, int position) {
        if (token < 0 || token >= vocabSize) return null;
        return position == 0 && firstBytes != null ? firstBytes[token] : bytes[token];
    }
}
