package dev.tokenmill;

import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.TinyModel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A tiny random llama with a SentencePiece vocabulary that can write JSON: {@code <unk> <s> </s>}, the 256 byte-fallback
 * tokens, then punctuation, digits, letters and a few multi-character pieces ({@code {"}, {@code ":}, {@code true},
 * {@code ▁"}, ...), so that constrained decoding has tokens that span several grammar elements.
 */
final class JsonVocabModel {
    static final int EOS = 2;

    private JsonVocabModel() {}

    static List<String> pieces() {
        Set<String> p = new LinkedHashSet<>(List.of("<unk>", "<s>", "</s>"));
        for (int b = 0; b < 256; b++) p.add(String.format("<0x%02X>", b));
        String singles = "\u2581{}[]\":,.-+eE0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@_TZ\\/";
        for (char c : singles.toCharArray()) p.add(String.valueOf(c));
        p.addAll(List.of("{\"", "\":", "\",", "\":\"", "\"}", "}]", "],", "\u2581\"", "\u2581{", "\u2581[", ",\u2581", ":\u2581",
                "true", "false", "null", "name", "age", "tags", "id", "ok", "yes", "no", "\u2581yes", "\u2581no", "\u2581maybe",
                "12", "00", "-0", "0.", ".5", "e+", "com", "org", "\u2581the", "the", "\u2581a", "ab", "cd", "\\n", "\\u", "é", "ü", "日本",
                "2024", "-01", "-12", "T1", ":00", "Z\""));
        return new ArrayList<>(p);
    }

    static Path write(Path dir, long seed) throws IOException {
        List<String> tokens = pieces();
        int n = tokens.size();
        GgufWriter w = TinyModel.llamaWithVocab(seed, n).writer(null);
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            String t = tokens.get(i);
            types[i] = i == 0 ? 2 : i < 3 ? 3 : t.matches("<0x[0-9A-F]{2}>") ? 6 : 1; // unknown, control, byte, normal
            scores[i] = -i;
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)));
        w.put("tokenizer.ggml.scores", GgufValue.ofFloats(scores));
        w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
        w.putUint32("tokenizer.ggml.bos_token_id", 1);
        w.putUint32("tokenizer.ggml.eos_token_id", EOS);
        w.putUint32("tokenizer.ggml.unknown_token_id", 0);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        Path p = dir.resolve("json-vocab-" + seed + ".gguf");
        w.write(p);
        return p;
    }

    static EngineConfig config() {
        return EngineConfig.builder().threads(2).maxSeqs(64).maxBatchTokens(512).blockSize(4).kvCacheBytes(16L << 20).build();
    }
}
