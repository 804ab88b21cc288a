package dev.tokenmill.synth;

import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Made-up vocabularies that llama.cpp loads, of any size.
 * <ul>
 * <li>SentencePiece ({@code tokenizer.ggml.model = llama}): {@code <unk>}, {@code <s>}, {@code </s>}, the 256
 * byte-fallback tokens {@code <0x00>..<0xFF>}, single characters, then words over a-z of growing length with and
 * without the {@code ▁} word-start mark. Every piece longer than one character is a known piece plus one character,
 * so the score-driven merges can reach all of them.</li>
 * <li>Byte-level BPE ({@code gpt2}, as Llama 3 and Qwen2 use): GPT-2's 256 byte symbols, then one token per merge
 * (words over a-z with and without the {@code Ġ} space mark, each a known token plus one letter), then the
 * special tokens at the end.</li>
 * </ul>
 */
final class SyntheticVocab {
    static final int UNK = 0, BOS = 1, EOS = 2;
    private static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;
    private static final String SPACE = "\u2581";

    private SyntheticVocab() {}

    /** Which kind of vocabulary to write. */
    enum Kind { SPM, BPE }

    /**
     * Writes the byte-level BPE keys of a vocabulary of {@code size} tokens, ending with {@code specials} (control
     * tokens); the first special is BOS, the second EOS (the first again when there is one).
     */
    static void putBpe(GgufWriter w, int size, String pre, List<String> specials, boolean addBos) {
        int nMerges = size - 256 - specials.size();
        if (nMerges < 1) throw new IllegalArgumentException("a synthetic BPE vocabulary needs more than " + (256 + specials.size()) + " tokens, got " + size);
        String[] tokens = new String[size];
        int[] types = new int[size];
        String[] symbols = byteSymbols();
        for (int b = 0; b < 256; b++) {
            tokens[b] = symbols[b];
            types[b] = NORMAL;
        }
        String[] merges = new String[nMerges];
        Set<String> known = new java.util.HashSet<>(List.of(symbols));
        int id = 256;
        List<String> words = List.of("");
        outer:
        while (true) {
            List<String> longer = new ArrayList<>(words.size() * 26);
            for (String word : words) {
                for (char c = 'a'; c <= 'z'; c++) longer.add(word + c);
            }
            words = longer;
            for (String prefix : new String[] {"\u0120", ""}) { // "Ġw..." (word after a space) first, as in GPT-2
                for (String word : words) {
                    String t = prefix + word;
                    if (t.length() < 2 || known.contains(t)) continue;
                    String left = t.substring(0, t.length() - 1);
                    merges[id - 256] = left + " " + t.charAt(t.length() - 1);
                    tokens[id] = t;
                    types[id] = NORMAL;
                    known.add(t);
                    if (++id == 256 + nMerges) break outer;
                }
            }
        }
        for (String sp : specials) {
            tokens[id] = sp;
            types[id++] = CONTROL;
        }
        int bos = 256 + nMerges, eos = specials.size() > 1 ? bos + 1 : bos;
        w.putString("tokenizer.ggml.model", "gpt2");
        w.putString("tokenizer.ggml.pre", pre);
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens));
        w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
        w.put("tokenizer.ggml.merges", GgufValue.ofStrings(merges));
        w.putUint32("tokenizer.ggml.bos_token_id", bos);
        w.putUint32("tokenizer.ggml.eos_token_id", eos);
        w.putBool("tokenizer.ggml.add_bos_token", addBos);
    }

    /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others map to U+0100 onwards. */
    static String[] byteSymbols() {
        String[] out = new String[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out[b] = String.valueOf((char) (printable ? b : 256 + n++));
        }
        return out;
    }

    /** Writes the SentencePiece keys of a vocabulary of {@code size} tokens (at least 300). */
    static void putSentencePiece(GgufWriter w, int size) {
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
