package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;

import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The vocabulary of a GGUF file as llama.cpp's {@code llama_vocab::impl::load} builds it: token texts, scores and
 * attributes, the special token ids (with llama.cpp's per-model-type defaults and its detection of end-of-generation
 * tokens by text), and the flags that steer encoding and decoding.
 */
final class Vocabulary {
    static final String MODEL_KEY = "tokenizer.ggml.model";
    static final String PRE_KEY = "tokenizer.ggml.pre";
    static final int NONE = -1;

    enum Type { SPM, BPE, WPM }

    final String source;
    final Type type;
    final String pre;
    private final String[] texts;
    private final float[] scores;
    private final int[] attrs;
    private final Map<String, Integer> ids;
    final int maxTokenLength; // in UTF-8 bytes

    int bos = NONE, eos = NONE, eot = NONE, eom = NONE, unk = NONE, sep = NONE, pad = NONE, mask = NONE;
    int fimPre = NONE, fimSuf = NONE, fimMid = NONE, fimPad = NONE, fimRep = NONE, fimSep = NONE;
    boolean addBos, addEos, addSep, addSpacePrefix, cleanSpaces, ignoreMerges, escapeWhitespaces;
    boolean lowercase = true, stripAccents = true; // WordPiece normalizer
    PreTokenizer.Spec preSpec;
    private String[] merges = new String[0];
    final BitSet eog = new BitSet();
    /** CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first: the order llama.cpp matches them in. */
    final int[] specialTokens;

    private Vocabulary(GgufFile f) {
        this.source = String.valueOf(f.path());
        String model = requireString(f, MODEL_KEY);
        String preName = f.has(PRE_KEY) ? requireString(f, PRE_KEY) : "";
        switch (model) {
            case "llama" -> {
                type = Type.SPM;
                bos = 1; eos = 2; unk = 0;
            }
            case "bert" -> {
                type = Type.WPM;
                bos = 101; unk = 100; sep = 102; pad = 0; mask = 103;
                addSep = true;
            }
            case "gpt2" -> {
                type = Type.BPE;
                bos = 11; eos = 11;
            }
            default -> throw new TokenizerException(source + ": " + MODEL_KEY + " = '" + model + "' is not supported"
                    + " (supported: llama (SentencePiece), gpt2 (byte-level BPE), bert (WordPiece))");
        }
        switch (type) {
            case BPE -> {
                cleanSpaces = true;
                String name = preName.isEmpty() ? "default" : preName;
                preSpec = PreTokenizer.spec(name);
                if (preSpec == null) {
                    throw new TokenizerException(source + ": " + PRE_KEY + " = '" + preName + "' is not a supported"
                            + " pre-tokenizer (supported: " + String.join(", ", PreTokenizer.supportedNames()) + ")");
                }
                cleanSpaces = preSpec.cleanSpaces();
                ignoreMerges = preSpec.ignoreMerges();
                addBos = preSpec.addBos();
                addSep = preSpec.addSep();
                if (preSpec.noBos()) bos = NONE;
                merges = stringArray(f, "tokenizer.ggml.merges");
            }
            case SPM -> {
                addSpacePrefix = true;
                addBos = true;
            }
            case WPM -> {
                cleanSpaces = true;
                addBos = true;
                addSep = true;
            }
        }
        this.pre = preName;
        addSpacePrefix = bool(f, "tokenizer.ggml.add_space_prefix", addSpacePrefix);

        String[] tokens = stringArray(f, "tokenizer.ggml.tokens");
        int n = tokens.length;
        texts = new String[n];
        scores = new float[n];
        attrs = new int[n];
        ids = HashMap.newHashMap(n);
        float[] fs = null;
        int[] is = null;
        if (f.has("tokenizer.ggml.scores")) {
            GgufValue v = f.value("tokenizer.ggml.scores");
            if (v.value() instanceof float[] a) fs = a;
            else if (v.value() instanceof int[] a) is = a;
            else throw wrongType("tokenizer.ggml.scores", "array of FLOAT32 or INT32", v);
            int len = fs != null ? fs.length : is.length;
            if (len < n) throw new TokenizerException(source + ": tokenizer.ggml.scores has " + len + " entries, fewer than the " + n + " tokens");
        }
        int[] types = null;
        if (f.has("tokenizer.ggml.token_type")) {
            GgufValue v = f.value("tokenizer.ggml.token_type");
            if (!(v.value() instanceof int[] a)) throw wrongType("tokenizer.ggml.token_type", "array of INT32", v);
            types = a;
            if (types.length < n) throw new TokenizerException(source + ": tokenizer.ggml.token_type has " + types.length + " entries, fewer than the " + n + " tokens");
        }
        int maxLen = 0;
        for (int i = 0; i < n; i++) {
            String word = tokens[i].isEmpty() ? "[EMPTY_" + i + "]" : tokens[i];
            Integer dup = ids.putIfAbsent(word, i);
            if (dup != null) {
                // llama.cpp refuses duplicates, but texts that were invalid UTF-8 in the file all read as U+FFFD
                // here and may collide only because of that; keep the first id, as a lookup in llama.cpp would
                LoggerFactory.getLogger(Vocabulary.class).warn("{}: token text '{}' appears twice (ids {} and {}); text lookups use id {}", source, word, dup, i, dup);
            }
            texts[i] = word;
            maxLen = Math.max(maxLen, utf8Length(word));
            scores[i] = fs != null ? fs[i] : is != null ? is[i] : 0f;
            attrs[i] = types != null ? TokenAttr.fromGgufType(types[i]) : TokenAttr.NORMAL;
        }
        maxTokenLength = maxLen;

        readSpecialIds(f);
        addBos = bool(f, "tokenizer.ggml.add_bos_token", addBos);
        addEos = bool(f, "tokenizer.ggml.add_eos_token", addEos);
        addSep = bool(f, "tokenizer.ggml.add_sep_token", addSep);
        requireIdFor(addBos, bos, "tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id");
        requireIdFor(addEos, eos, "tokenizer.ggml.add_eos_token", "tokenizer.ggml.eos_token_id");
        requireIdFor(addSep, sep, "tokenizer.ggml.add_sep_token", "tokenizer.ggml.seperator_token_id");
        lowercase = bool(f, "tokenizer.ggml.normalizer.lowercase", lowercase);
        stripAccents = bool(f, "tokenizer.ggml.normalizer.strip_accents", lowercase);

        detectSpecialTokensByText();
        specialTokens = sortedSpecialTokens();
        applyPerModelAttributes(f.has("general.name") ? f.getString("general.name") : "");
    }

    static Vocabulary fromGguf(GgufFile f) {
        return new Vocabulary(f);
    }

    // ---- accessors ----

    int size() { return texts.length; }

    String text(int id) { return texts[id]; }

    float score(int id) { return scores[id]; }

    int attr(int id) { return attrs[id]; }

    boolean hasAttr(int id, int mask) { return (attrs[id] & mask) != 0; }

    /** BPE merge lines ("left right"), rank = index. */
    String[] merges() { return merges; }

    /** The id of the token with exactly this text, or -1. */
    int idOf(String text) {
        Integer id = ids.get(text);
        return id == null ? -1 : id;
    }

    /** llama.cpp's {@code byte_to_token} for SentencePiece: {@code <0xNN>}, else the one-byte text, else unk. */
    int byteToken(int b) {
        int id = idOf(hexByteText(b));
        if (id >= 0) return id;
        if (b < 0x80) {
            id = idOf(String.valueOf((char) b));
            if (id >= 0) return id;
        }
        if (unk >= 0) return unk; // llama.cpp throws here; a vocabulary without byte tokens is broken
        throw new TokenizerException(source + ": vocabulary has no byte token " + hexByteText(b) + " and no unknown token");
    }

    static String hexByteText(int b) {
        return String.format("<0x%02X>", b);
    }

    /** The byte a BYTE token stands for: llama.cpp parses the two hex digits of {@code <0xNN>}. */
    int tokenToByte(int id) {
        String t = texts[id];
        try {
            return Integer.parseInt(t.substring(3, 5), 16);
        } catch (RuntimeException e) {
            throw new TokenizerException(source + ": byte token " + id + " has text '" + t + "', expected <0xNN>");
        }
    }

    // ---- loading details ----

    private void readSpecialIds(GgufFile f) {
        int n = texts.length;
        bos = specialId(f, "tokenizer.ggml.bos_token_id", bos, n);
        eos = specialId(f, "tokenizer.ggml.eos_token_id", eos, n);
        eot = specialId(f, "tokenizer.ggml.eot_token_id", eot, n);
        eom = specialId(f, "tokenizer.ggml.eom_token_id", eom, n);
        unk = specialId(f, "tokenizer.ggml.unknown_token_id", unk, n);
        sep = specialId(f, "tokenizer.ggml.seperator_token_id", sep, n);
        pad = specialId(f, "tokenizer.ggml.padding_token_id", pad, n);
        mask = specialId(f, "tokenizer.ggml.mask_token_id", mask, n);
        fimPre = specialId(f, "tokenizer.ggml.fim_pre_token_id", fimPre, n);
        fimSuf = specialId(f, "tokenizer.ggml.fim_suf_token_id", fimSuf, n);
        fimMid = specialId(f, "tokenizer.ggml.fim_mid_token_id", fimMid, n);
        fimPad = specialId(f, "tokenizer.ggml.fim_pad_token_id", fimPad, n);
        fimRep = specialId(f, "tokenizer.ggml.fim_rep_token_id", fimRep, n);
        fimSep = specialId(f, "tokenizer.ggml.fim_sep_token_id", fimSep, n);
        fimPre = specialId(f, "tokenizer.ggml.prefix_token_id", fimPre, n);
        fimSuf = specialId(f, "tokenizer.ggml.suffix_token_id", fimSuf, n);
        fimMid = specialId(f, "tokenizer.ggml.middle_token_id", fimMid, n);
    }

    /**
     * A default outside the vocabulary is dropped; an id in the file replaces it. -1 (0xFFFFFFFF as uint32) is what
     * converters write for "none" and keeps the default, as in llama.cpp; any other id outside the vocabulary is an
     * error (llama.cpp warns and falls back to the default, which silently turns a broken file's BOS into id 1).
     */
    private int specialId(GgufFile f, String key, int dflt, int n) {
        int id = dflt >= n ? NONE : dflt;
        if (!f.has(key)) return id;
        long v;
        try {
            v = f.getLong(key);
        } catch (RuntimeException e) {
            throw new TokenizerException(source + ": " + e.getMessage(), e);
        }
        if (v == -1 || v == 0xFFFFFFFFL) return id;
        if (v < 0 || v >= n) {
            throw new TokenizerException(source + ": " + key + " = " + v + " is outside the vocabulary of " + n
                    + " tokens (tokenizer.ggml.tokens); expected an id in 0.." + (n - 1) + ", or -1 for none");
        }
        return (int) v;
    }

    private void requireIdFor(boolean add, int id, String addKey, String idKey) {
        if (add && id == NONE) throw new TokenizerException(source + ": " + addKey + " is true, but " + idKey + " is not set");
    }

    private static final Set<String> EOT_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>");
    private static final Set<String> FIM_PRE_TEXTS = Set.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
            "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>");
    private static final Set<String> FIM_SUF_TEXTS = Set.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
            "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>");
    private static final Set<String> FIM_MID_TEXTS = Set.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>",
            "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>");
    private static final Set<String> FIM_PAD_TEXTS = Set.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]");
    private static final Set<String> FIM_REP_TEXTS = Set.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>");
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
            "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
            "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
            "<｜end▁of▁sentence｜>", "[e~[");

    /**
     * llama.cpp finds EOT, EOM, FIM and end-of-generation tokens by their text and forces them to CONTROL. It walks
     * an unordered map, so where several texts qualify for one role the pick is unspecified; here the lowest id wins.
     * (Looking the few known texts up is much cheaper than testing every token of a 150k vocabulary.)
     */
    private void detectSpecialTokensByText() {
        if (eot == NONE) eot = lowestIdForcedControl(EOT_TEXTS);
        if (eom == NONE) eom = lowestIdForcedControl(Set.of("<|eom_id|>"));
        if (fimPre == NONE) fimPre = lowestIdForcedControl(FIM_PRE_TEXTS);
        if (fimSuf == NONE) fimSuf = lowestIdForcedControl(FIM_SUF_TEXTS);
        if (fimMid == NONE) fimMid = lowestIdForcedControl(FIM_MID_TEXTS);
        if (fimPad == NONE) fimPad = lowestIdForcedControl(FIM_PAD_TEXTS);
        if (fimRep == NONE) fimRep = lowestIdForcedControl(FIM_REP_TEXTS);
        if (fimSep == NONE) fimSep = lowestIdForcedControl(Set.of("<|file_sep|>"));
        for (int id = 0; id < texts.length; id++) {
            if (hasAttr(id, TokenAttr.CONTROL) && texts[id].contains("unused")) attrs[id] |= TokenAttr.UNUSED;
        }
        for (int id : new int[] {fimPad, fimRep, fimSep}) if (id != NONE) eog.set(id);
        for (String t : EOG_TEXTS) {
            int id = idOf(t);
            if (id >= 0) {
                eog.set(id);
                attrs[id] |= TokenAttr.CONTROL;
            }
        }
        // gpt-oss: these structural tokens are always rendered
        for (String t : List.of("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>")) {
            int id = idOf(t);
            if (id >= 0) attrs[id] = TokenAttr.USER_DEFINED;
        }
        for (int id : new int[] {eos, eot, eom}) if (id != NONE) eog.set(id);
        // o200k_harmony and solar-open: <|end|> is not an end of generation there
        int end = idOf("<|end|>");
        boolean hasReturn = eogHas("<|return|>"), hasCall = eogHas("<|call|>") || eogHas("<|calls|>");
        boolean hasFlush = eogHas("<|flush|>");
        if (end >= 0 && eog.get(end) && ((hasReturn && hasCall) || (hasCall && hasFlush))) {
            eog.clear(end);
            attrs[end] = TokenAttr.USER_DEFINED;
        }
        // gemma4 and paddleocr: </s> is not an end of generation when <|tool_response> is
        int s = idOf("</s>");
        if (s >= 0 && eog.get(s) && eogHas("<|tool_response>")) {
            eog.clear(s);
            attrs[s] = TokenAttr.NORMAL;
        }
    }

    private int lowestIdForcedControl(Set<String> candidates) {
        int best = NONE;
        for (String t : candidates) {
            int id = idOf(t);
            if (id >= 0 && (best == NONE || id < best)) best = id;
        }
        if (best != NONE) attrs[best] |= TokenAttr.CONTROL;
        return best;
    }

    private boolean eogHas(String text) {
        int id = idOf(text);
        return id >= 0 && eog.get(id);
    }

    private int[] sortedSpecialTokens() {
        List<Integer> list = new ArrayList<>();
        for (int id = 0; id < texts.length; id++) {
            if (hasAttr(id, TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) list.add(id);
        }
        int[] byteLen = new int[texts.length];
        for (int id : list) byteLen[id] = utf8Length(texts[id]);
        list.sort((a, b) -> byteLen[a] != byteLen[b] ? Integer.compare(byteLen[b], byteLen[a]) : Integer.compare(a, b));
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    /** llama.cpp sets LSTRIP/RSTRIP by model name, since GGUF does not carry them. */
    private void applyPerModelAttributes(String generalName) {
        String name = generalName.toLowerCase(Locale.ROOT);
        boolean jina = pre.contains("jina-v2-de") || pre.contains("jina-v2-es") || pre.contains("jina-v2-code");
        if (jina) {
            int m = idOf("<mask>");
            if (m >= 0) attrs[m] |= TokenAttr.LSTRIP;
        } else if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id : specialTokens) attrs[id] |= TokenAttr.RSTRIP;
            setAttr("</s>", TokenAttr.RSTRIP, true);
            for (String t : List.of("<unk>", "<s>", "<|endoftext|>")) setAttr(t, TokenAttr.RSTRIP, false);
        } else if (name.contains("modern-bert")) {
            setAttr("[MASK]", TokenAttr.LSTRIP, true);
        }
    }

    private void setAttr(String text, int bit, boolean on) {
        int id = idOf(text);
        if (id < 0) return; // llama.cpp would throw (std::map::at); a vocabulary without it just keeps its attributes
        attrs[id] = on ? attrs[id] | bit : attrs[id] & ~bit;
    }

    // ---- GGUF helpers with tokenizer-specific messages ----

    private String requireString(GgufFile f, String key) {
        if (!f.has(key)) throw new TokenizerException(source + ": required metadata key '" + key + "' is missing");
        GgufValue v = f.value(key);
        if (v.value() instanceof String s) return s;
        throw wrongType(key, "STRING", v);
    }

    private String[] stringArray(GgufFile f, String key) {
        if (!f.has(key)) throw new TokenizerException(source + ": required metadata key '" + key + "' is missing");
        GgufValue v = f.value(key);
        if (v.value() instanceof String[] a) return a;
        throw wrongType(key, "array of STRING", v);
    }

    private boolean bool(GgufFile f, String key, boolean fallback) {
        if (!f.has(key)) return fallback;
        GgufValue v = f.value(key);
        if (v.value() instanceof Boolean b) return b;
        throw wrongType(key, "BOOL", v);
    }

    private TokenizerException wrongType(String key, String expected, GgufValue v) {
        return new TokenizerException(source + ": metadata key '" + key + "' should be " + expected + ", found "
                + v.type() + (v.isArray() ? " of " + v.elementType() : ""));
    }

    static int utf8Length(String s) {
        int len = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) len += 1;
            else if (c < 0x800) len += 2;
            else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                len += 4;
                i++;
            } else len += 3;
        }
        return len;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
