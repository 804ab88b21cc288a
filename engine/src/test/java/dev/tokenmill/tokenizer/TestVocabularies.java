package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small vocabularies written as GGUF files holding only tokenizer metadata. */
final class TestVocabularies {
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

    private TestVocabularies() {}

    /** Token texts with types and scores, in id order. */
    static final class Tokens {
        final List<String> texts = new ArrayList<>();
        final List<Integer> types = new ArrayList<>();
        final List<Float> scores = new ArrayList<>();

        int add(String text, int type, float score) {
            texts.add(text);
            types.add(type);
            scores.add(score);
            return texts.size() - 1;
        }

        int id(String text) {
            int i = texts.indexOf(text);
            if (i < 0) throw new IllegalArgumentException("no token " + text);
            return i;
        }

        void putInto(GgufWriter w) {
            w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(texts.toArray(String[]::new)));
            w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types.stream().mapToInt(Integer::intValue).toArray()));
            float[] s = new float[scores.size()];
            for (int i = 0; i < s.length; i++) s[i] = scores.get(i);
            w.put("tokenizer.ggml.scores", GgufValue.ofFloats(s));
        }
    }

    /**
     * SentencePiece: &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, the 256 byte tokens, then pieces whose scores make
     * "▁hello" and "▁world" form by merges.
     */
    static Tokens spmTokens() {
        Tokens t = new Tokens();
        t.add("<unk>", UNKNOWN, 0);
        t.add("<s>", CONTROL, 0);
        t.add("</s>", CONTROL, 0);
        for (int b = 0; b < 256; b++) t.add(String.format("<0x%02X>", b), BYTE, 0);
        for (String c : List.of("\u2581", "h", "e", "l", "o", "w", "r", "d")) t.add(c, NORMAL, -10);
        t.add("ll", NORMAL, -1);
        t.add("he", NORMAL, -2);
        t.add("\u2581he", NORMAL, -3);
        t.add("llo", NORMAL, -4);
        t.add("\u2581hello", NORMAL, -5);
        t.add("or", NORMAL, -1.5f);
        t.add("\u2581w", NORMAL, -2.5f);
        t.add("\u2581wor", NORMAL, -3.5f);
        t.add("ld", NORMAL, -4.5f);
        t.add("\u2581world", NORMAL, -5.5f);
        t.add("<|im_end|>", CONTROL, 0);
        return t;
    }

    /** A byte-level BPE vocabulary: the 256 byte symbols, merges building "hello", "Ġworld", digits, and specials. */
    static Map<String, Object> bpeParts() {
        Tokens t = new Tokens();
        for (int b = 0; b < 256; b++) t.add(Character.toString(Unicode.byteToCpt(b)), NORMAL, 0);
        List<String> merges = new ArrayList<>();
        String[][] m = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"},
                {"l", "d"}, {"Ġwor", "ld"}, {"1", "2"}, {"12", "3"}, {"4", "5"}, {"Ġ", "?"}};
        for (String[] pair : m) {
            merges.add(pair[0] + " " + pair[1]);
            t.add(pair[0] + pair[1], NORMAL, 0);
        }
        t.add("<|endoftext|>", CONTROL, 0);
        t.add("<|im_start|>", CONTROL, 0);
        t.add("<|im_end|>", CONTROL, 0);
        Map<String, Object> parts = new LinkedHashMap<>();
        parts.put("tokens", t);
        parts.put("merges", merges);
        return parts;
    }

    static Tokens bpeTokens() {
        return (Tokens) bpeParts().get("tokens");
    }

    static GgufWriter spmWriter() {
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama");
        w.putString("tokenizer.ggml.model", "llama");
        spmTokens().putInto(w);
        w.putUint32("tokenizer.ggml.bos_token_id", 1);
        w.putUint32("tokenizer.ggml.eos_token_id", 2);
        w.putUint32("tokenizer.ggml.unknown_token_id", 0);
        return w;
    }

    @SuppressWarnings("unchecked")
    static GgufWriter bpeWriter(String pre) {
        Map<String, Object> parts = bpeParts();
        Tokens t = (Tokens) parts.get("tokens");
        GgufWriter w = new GgufWriter().putString("general.architecture", "qwen2");
        w.putString("tokenizer.ggml.model", "gpt2");
        if (pre != null) w.putString("tokenizer.ggml.pre", pre);
        t.putInto(w);
        w.remove("tokenizer.ggml.scores");
        w.put("tokenizer.ggml.merges", GgufValue.ofStrings(((List<String>) parts.get("merges")).toArray(String[]::new)));
        int eot = t.id("<|endoftext|>");
        w.putUint32("tokenizer.ggml.bos_token_id", eot);
        w.putUint32("tokenizer.ggml.eos_token_id", eot);
        return w;
    }

    static Tokenizer open(GgufWriter w, Path dir, String name) {
        Path p = dir.resolve(name + ".gguf");
        try {
            w.write(p);
            try (GgufFile f = GgufFile.open(p)) {
                return Tokenizer.fromGguf(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
