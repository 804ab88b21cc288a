package dev.tokenmill.tokenizer;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * Finds which special tokens occur in a text with one pass over it, so that a vocabulary with thousands of
 * user-defined tokens (deepseek has 2,400) does not cost one full text search per token on every encode.
 */
final class SpecialTokenIndex {
    /** First char of a special token's text to the positions (in {@link Vocabulary#specialTokens}) starting with it. */
    private final Map<Character, int[]> byFirstChar = new HashMap<>();
    private final String[] texts;

    SpecialTokenIndex(Vocabulary vocab) {
        int[] special = vocab.specialTokens;
        texts = new String[special.length];
        Map<Character, IntList> lists = new HashMap<>();
        for (int k = 0; k < special.length; k++) {
            texts[k] = vocab.text(special[k]);
            lists.computeIfAbsent(texts[k].charAt(0), c -> new IntList(2)).add(k);
        }
        lists.forEach((c, l) -> byFirstChar.put(c, l.toArray()));
    }

    /** Positions in {@link Vocabulary#specialTokens} of the tokens whose text occurs somewhere in {@code text}. */
    BitSet occurring(String text) {
        BitSet found = new BitSet(texts.length);
        if (texts.length == 0) return found;
        for (int i = 0; i < text.length(); i++) {
            int[] candidates = byFirstChar.get(text.charAt(i));
            if (candidates == null) continue;
            for (int k : candidates) {
                if (!found.get(k) && text.startsWith(texts[k], i)) found.set(k);
            }
        }
        return found;
    }
}
