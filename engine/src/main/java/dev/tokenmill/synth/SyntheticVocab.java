package dev.tokenmill.synth;

import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A made-up SentencePiece vocabulary that llama.cpp loads ({@code tokenizer.ggml.model = llama}): {@code <unk>},
 * {@code <s>}, {@code </s>}, the 256 byte-fallback tokens {@code <0x00>..<0xFF>}, single characters, then words over
 * a-z of growing length with and without the {@code ▁} word-start mark. Every piece longer than one character is
 * a known piece plus one character, so the score-driven merges can reach all of them.
 */
final class SyntheticVocab {
    static final int UNK = 0, BOS = 1, EOS = 2;
    private static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;
    private static final String SPACE = "\u2581";

    private SyntheticVocab() {}

    /** Writes the tokenizer keys of a vocabulary of {@code size} tokens (at least 300). */
    static void put(GgufWriter w, int size) {
        if (size < 300) throw new IllegalArgumentException("a synthetic vocabulary needs at least 300 tokens, got " + size);
        List<String> tokens = new ArrayList<>(size);
        List<Integer> types = new ArrayList<>(size);
        tokens.add("<unk>");
        types.add(UNKNOWN);
        tokens.add("<s>");
        types.add(CONTROL);
        tokens.add("</s>");
        types.add(CONTROL);
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(BYTE);
        }
        for (String p : pieces(size - tokens.size())) {
            tokens.add(p);
            types.add(NORMAL);
        }
        float[] scores = new float[size];
        int[] tokenTypes = new int[size];
        for (int i = 0; i < size; i++) {
            tokenTypes[i] = types.get(i);
            scores[i] = tokenTypes[i] == NORMAL ? -i : 0f; // earlier (shorter) pieces merge first
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)));
        w.put("tokenizer.ggml.scores", GgufValue.ofFloats(scores));
        w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(tokenTypes));
        w.putUint32("tokenizer.ggml.bos_token_id", BOS);
        w.putUint32("tokenizer.ggml.eos_token_id", EOS);
        w.putUint32("tokenizer.ggml.unknown_token_id", UNK);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
    }

    private static List<String> pieces(int count) {
        Set<String> out = new LinkedHashSet<>();
        String singles = SPACE + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()";
        for (int i = 0; i < singles.length() && out.size() < count; ) {
            int cp = singles.codePointAt(i);
            out.add(new String(Character.toChars(cp)));
            i += Character.charCount(cp);
        }
        List<String> words = List.of("");
        while (out.size() < count) {
            List<String> longer = new ArrayList<>(words.size() * 26);
            for (String w : words) {
                for (char c = 'a'; c <= 'z'; c++) longer.add(w + c);
            }
            words = longer;
            for (String w : words) {
                if (out.size() >= count) break;
                if (w.length() > 1) out.add(w);
            }
            for (String w : words) {
                if (out.size() >= count) break;
                out.add(SPACE + w);
            }
        }
        return new ArrayList<>(out);
    }
}
