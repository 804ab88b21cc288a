package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.cli.Cli;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns a Hugging Face tokenizer into GGUF's {@code tokenizer.*} keys, following llama.cpp's convert_hf_to_gguf.py:
 * a SentencePiece {@code tokenizer.model} or a byte-fallback BPE {@code tokenizer.json} becomes
 * {@code tokenizer.ggml.model = llama} (pieces, scores, types); a byte-level BPE {@code tokenizer.json} becomes
 * {@code gpt2} (tokens, types, merges, and a pre-tokenizer name). Added tokens, special token ids
 * ({@code tokenizer_config.json}, then {@code config.json}), add_bos/add_eos and the chat template come along.
 *
 * <p>Where llama.cpp hashes a tokenization to name the pre-tokenizer, we name it from the architecture
 * (qwen2/qwen3: {@code qwen2}, llama: {@code llama-bpe}) unless told otherwise. Where llama.cpp gives every piece
 * of a byte-fallback BPE the score -1000, we score each piece by the rank of the merge that makes it, so the
 * score-driven merges of a SentencePiece tokenizer follow the BPE merge order.
 */
final class HfTokenizer {
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    /** SpecialVocab's token kinds and their GGUF key names ("seperator" is GGUF's spelling). */
    private static final Map<String, String> SPECIAL_KEYS = new LinkedHashMap<>();

    static {
        SPECIAL_KEYS.put("bos", "bos_token_id");
        SPECIAL_KEYS.put("eos", "eos_token_id");
        SPECIAL_KEYS.put("unk", "unknown_token_id");
        SPECIAL_KEYS.put("sep", "seperator_token_id");
        SPECIAL_KEYS.put("pad", "padding_token_id");
        SPECIAL_KEYS.put("cls", "cls_token_id");
        SPECIAL_KEYS.put("mask", "mask_token_id");
    }

    private HfTokenizer() {}

    /**
     * @param vocabSize the model's vocab_size (config.json), or 0 to take the tokenizer's
     * @param pre       the BPE pre-tokenizer name, or null to choose it from the architecture
     */
    static void put(GgufWriter w, Path dir, String arch, int vocabSize, String pre) throws IOException {
        JsonNode tokJson = readJson(dir.resolve("tokenizer.json"));
        JsonNode tokConfig = readJson(dir.resolve("tokenizer_config.json"));
        JsonNode config = readJson(dir.resolve("config.json"));
        Path spModel = dir.resolve("tokenizer.model");
        List<String> tokens;
        int[] types;
        if (Files.isRegularFile(spModel)) {
            var sp = sentencePiece(spModel, vocabSize);
            tokens = sp.tokens;
            types = sp.types;
            applyAddedTokensDecoder(tokConfig, tokens, types, sp.scores);
            w.putString("tokenizer.ggml.model", "llama");
            w.putString("tokenizer.ggml.pre", "default");
            w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)));
            w.put("tokenizer.ggml.scores", GgufValue.ofFloats(sp.scores));
            w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
        } else if (tokJson != null) {
            JsonNode model = tokJson.path("model");
            if (!model.path("type").asText().equals("BPE")) {
                throw new ConvertException(dir.resolve("tokenizer.json") + ": model type '" + model.path("type").asText()
                        + "' is not supported (expected BPE, or a tokenizer.model for SentencePiece)");
            }
            boolean byteFallback = model.path("byte_fallback").asBoolean(false);
            List<String> merges = merges(model.path("merges"));
            int size = Math.max(vocabSize, maxId(model.path("vocab"), tokJson.path("added_tokens")) + 1);
            String[] arr = new String[size];
            types = new int[size];
            for (var e : model.path("vocab").properties()) {
                arr[e.getValue().asInt()] = e.getKey();
                types[e.getValue().asInt()] = NORMAL;
            }
            for (JsonNode a : tokJson.path("added_tokens")) {
                int id = a.path("id").asInt();
                String content = a.path("content").asText();
                arr[id] = content;
                types[id] = a.path("special").asBoolean(false) || looksSpecial(content) ? CONTROL : USER_DEFINED;
            }
            for (int i = 0; i < size; i++) {
                if (arr[i] == null) {
                    arr[i] = "[PAD" + i + "]";
                    types[i] = UNUSED;
                }
            }
            tokens = new ArrayList<>(Arrays.asList(arr));
            if (byteFallback) {
                float[] scores = new float[size];
                Map<String, Integer> rank = new HashMap<>();
                for (int r = 0; r < merges.size(); r++) rank.putIfAbsent(merges.get(r).replace(" ", ""), r);
                String unk = model.path("unk_token").asText("<unk>");
                for (int i = 0; i < size; i++) {
                    if (types[i] == NORMAL && BYTE_PIECE.matcher(arr[i]).matches()) types[i] = BYTE;
                    if (arr[i].equals(unk)) types[i] = UNKNOWN;
                    Integer r = rank.get(arr[i]);
                    scores[i] = types[i] != NORMAL ? 0f : r != null ? -r : -(merges.size() + i);
                }
                w.putString("tokenizer.ggml.model", "llama");
                w.putString("tokenizer.ggml.pre", "default");
                w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(arr));
                w.put("tokenizer.ggml.scores", GgufValue.ofFloats(scores));
                w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
            } else {
                w.putString("tokenizer.ggml.model", "gpt2");
                w.putString("tokenizer.ggml.pre", pre != null ? pre : arch.startsWith("qwen") ? "qwen2" : "llama-bpe");
                w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(arr));
                w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
                w.put("tokenizer.ggml.merges", GgufValue.ofStrings(merges.toArray(String[]::new)));
            }
        } else {
            throw new ConvertException(dir + ": no tokenizer.json or tokenizer.model");
        }
        putSpecials(w, tokJson, tokConfig, config, tokens.size());
        String template = chatTemplate(dir, tokConfig);
        if (template != null) w.putString("tokenizer.chat_template", template);
    }

    private record SentencePiece(List<String> tokens, float[] scores, int[] types) {}

    /** Reads the pieces of a SentencePiece ModelProto: field 1 (repeated) = {piece: 1, score: 2, type: 3}. */
    private static SentencePiece sentencePiece(Path file, int vocabSize) throws IOException {
        byte[] b = Files.readAllBytes(file);
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        Proto p = new Proto(b, 0, b.length, file);
        while (p.more()) {
            int key = (int) p.varint();
            if (key >>> 3 == 1 && (key & 7) == 2) {
                int len = (int) p.varint();
                Proto m = new Proto(b, p.pos, p.pos + len, file);
                p.pos += len;
                String piece = "";
                float score = 0;
                int type = NORMAL;
                while (m.more()) {
                    int k = (int) m.varint();
                    switch (k) {
                        case (1 << 3) | 2 -> {
                            int l = (int) m.varint();
                            piece = new String(b, m.pos, l, StandardCharsets.UTF_8);
                            m.pos += l;
                        }
                        case (2 << 3) | 5 -> {
                            score = Float.intBitsToFloat((b[m.pos] & 0xff) | (b[m.pos + 1] & 0xff) << 8
                                    | (b[m.pos + 2] & 0xff) << 16 | (b[m.pos + 3] & 0xff) << 24);
                            m.pos += 4;
                        }
                        case (3 << 3) -> type = (int) m.varint();
                        default -> m.skip(k & 7);
                    }
                }
                pieces.add(piece);
                scores.add(score);
                types.add(type);
            } else {
                p.skip(key & 7);
            }
        }
        if (pieces.isEmpty()) throw new ConvertException(file + ": no SentencePiece pieces found");
        int size = Math.max(vocabSize, pieces.size());
        float[] s = new float[size];
        int[] t = new int[size];
        List<String> tokens = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            if (i < pieces.size()) {
                tokens.add(pieces.get(i));
                s[i] = scores.get(i);
                t[i] = types.get(i);
            } else {
                tokens.add("[PAD" + i + "]");
                s[i] = -1000f;
                t[i] = UNUSED;
            }
        }
        return new SentencePiece(tokens, s, t);
    }

    /** A protobuf reader over b[pos..end), just enough for SentencePiece's model file. */
    private static final class Proto {
        final byte[] b;
        int pos;
        final int end;
        final Path file;

        Proto(byte[] b, int pos, int end, Path file) {
            this.b = b;
            this.pos = pos;
            this.end = end;
            this.file = file;
            if (end > b.length) throw new ConvertException(file + ": truncated protobuf message");
        }

        boolean more() { return pos < end; }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) throw new ConvertException(file + ": truncated varint at byte " + pos);
                int x = b[pos++] & 0xff;
                v |= (long) (x & 0x7f) << shift;
                if (x < 0x80) return v;
            }
            throw new ConvertException(file + ": malformed varint at byte " + pos);
        }

        void skip(int wireType) {
            switch (wireType) {
                case 0 -> varint();
                case 1 -> pos += 8;
                case 2 -> pos += (int) varint();
                case 5 -> pos += 4;
                default -> throw new ConvertException(file + ": unsupported protobuf wire type " + wireType + " at byte " + pos);
            }
        }
    }

    private static void applyAddedTokensDecoder(JsonNode tokConfig, List<String> tokens, int[] types, float[] scores) {
        if (tokConfig == null) return;
        for (var e : tokConfig.path("added_tokens_decoder").properties()) {
            int id = Integer.parseInt(e.getKey());
            if (id >= tokens.size()) continue;
            String content = e.getValue().path("content").asText();
            boolean special = e.getValue().path("special").asBoolean(false) || looksSpecial(content);
            types[id] = special ? CONTROL : USER_DEFINED;
            tokens.set(id, special ? content : content.replace("\u2581", " "));
            scores[id] = -1000f;
        }
    }

    private static void putSpecials(GgufWriter w, JsonNode tokJson, JsonNode tokConfig, JsonNode config, int nVocab) {
        Map<String, Integer> ids = new LinkedHashMap<>();
        Map<String, Boolean> add = new LinkedHashMap<>();
        if (tokJson != null && tokConfig != null) {
            // TemplateProcessing: a leading BOS or trailing EOS in the single-sequence template means "add it"
            JsonNode post = tokJson.path("post_processor");
            List<JsonNode> procs = new ArrayList<>();
            if (post.has("processors")) post.path("processors").forEach(procs::add);
            else if (!post.isMissingNode() && !post.isNull()) procs.add(post);
            for (JsonNode proc : procs) {
                if (!proc.path("type").asText().equals("TemplateProcessing")) continue;
                JsonNode single = proc.path("single");
                if (single.size() > 1) {
                    String first = single.get(0).path("SpecialToken").path("id").asText(null);
                    String last = single.get(single.size() - 1).path("SpecialToken").path("id").asText(null);
                    if (first != null) add.put("bos", first.equals(content(tokConfig.path("bos_token"))));
                    if (last != null) add.put("eos", last.equals(content(tokConfig.path("eos_token"))));
                }
            }
        }
        if (tokConfig != null) {
            for (String typ : SPECIAL_KEYS.keySet()) {
                JsonNode a = tokConfig.path("add_" + typ + "_token");
                if (a.isBoolean()) add.put(typ, a.asBoolean());
                String c = content(tokConfig.path(typ + "_token"));
                if (c == null || tokJson == null) continue;
                for (JsonNode t : tokJson.path("added_tokens")) {
                    if (c.equals(t.path("content").asText())) {
                        setSpecial(ids, typ, t.path("id").asInt(), nVocab);
                        break;
                    }
                }
            }
        }
        if (config != null) {
            for (String typ : SPECIAL_KEYS.keySet()) {
                JsonNode id = config.path(typ + "_token_id");
                if (id.isInt()) setSpecial(ids, typ, id.asInt(), nVocab);
            }
        }
        for (var e : ids.entrySet()) w.putUint32("tokenizer.ggml." + SPECIAL_KEYS.get(e.getKey()), e.getValue());
        for (var e : add.entrySet()) {
            if (e.getKey().equals("bos") || e.getKey().equals("eos") || e.getKey().equals("sep")) {
                w.putBool("tokenizer.ggml.add_" + e.getKey() + "_token", e.getValue());
            }
        }
    }

    /** The first id found for a kind wins (tokenizer_config before config.json), as in gguf-py's SpecialVocab. */
    private static void setSpecial(Map<String, Integer> ids, String typ, int id, int nVocab) {
        if (id >= 0 && id < nVocab) ids.putIfAbsent(typ, id);
    }

    private static String content(JsonNode entry) {
        if (entry.isTextual()) return entry.asText();
        if (entry.isObject() && entry.path("content").isTextual()) return entry.path("content").asText();
        return null;
    }

    private static String chatTemplate(Path dir, JsonNode tokConfig) throws IOException {
        if (tokConfig != null && tokConfig.path("chat_template").isTextual()) return tokConfig.path("chat_template").asText();
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) return Files.readString(jinja);
        JsonNode json = readJson(dir.resolve("chat_template.json"));
        if (json != null && json.path("chat_template").isTextual()) return json.path("chat_template").asText();
        return null;
    }

    /** Merges as "a b" strings; the newer [a, b] pair form has its spaces encoded as U+0120, as gguf-py does. */
    private static List<String> merges(JsonNode merges) {
        List<String> out = new ArrayList<>(merges.size());
        for (JsonNode m : merges) {
            if (m.isTextual()) {
                out.add(m.asText());
            } else if (m.isArray() && m.size() == 2) {
                out.add(m.get(0).asText().replace(" ", "\u0120") + " " + m.get(1).asText().replace(" ", "\u0120"));
            } else {
                throw new ConvertException("tokenizer.json: unknown merge format " + m);
            }
        }
        return out;
    }

    private static int maxId(JsonNode vocab, JsonNode added) {
        int max = -1;
        for (var e : vocab.properties()) max = Math.max(max, e.getValue().asInt());
        for (JsonNode a : added) max = Math.max(max, a.path("id").asInt());
        return max;
    }

    /** convert_hf_to_gguf.py's does_token_look_special. */
    static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<\uff5c") && t.endsWith("\uff5c>"))
                || (t.startsWith("<unused") && t.endsWith(">"));
    }

    static JsonNode readJson(Path p) throws IOException {
        if (!Files.isRegularFile(p)) return null;
        try {
            return Cli.JSON.readTree(p.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConvertException(p + ": not valid JSON: " + e.getOriginalMessage());
        }
    }
}
