package dev.tokenmill.tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into words before byte-level BPE, exactly as llama.cpp's {@code unicode_regex_split} does for the
 * regex list that {@code llm_tokenizer_bpe} picks per {@code tokenizer.ggml.pre}.
 *
 * <p>Each regex of the list splits every piece left by the previous one; both matches and the gaps between them
 * become pieces. Two regexes have hand-written fast paths in llama.cpp (GPT-2's and Llama 3's); those are ported
 * here, because they are what defines the behaviour (they differ from the regexes in corner cases). Every other
 * regex runs the way llama.cpp runs it through {@code std::regex}: if it names a Unicode category, on a "collapsed"
 * text where each non-ASCII code point is replaced by one byte standing for its category, with {@code \p{..}}
 * rewritten to match that byte; otherwise on the code points with non-ASCII whitespace turned into {@code \v}.
 *
 * <p>Not ported (an unknown {@code tokenizer.ggml.pre} is an error): kimi-k2 and afmoe (hand-written code in
 * llama.cpp), superbpe and tiny_aya (lookaheads that match empty strings), exaone-moe (its nested repetition
 * overflows the stack of both regex engines on long words), gemma4, sarvam-moe and whitespace (not byte-level),
 * and the rarer jais-2, spark2_5, youtu, viking, chameleon, granite-embed-multi, laguna.
 */
final class PreTokenizer {

    /** What one {@code tokenizer.ggml.pre} value selects: the regexes and the vocabulary flags llama.cpp sets. */
    record Spec(List<String> regexes, boolean cleanSpaces, boolean ignoreMerges, boolean addBos, boolean addSep,
                boolean noBos) {}

    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    static final String LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String LLAMA3_ORIGINAL = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    private static final String QWEN2 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
            + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";

    private static final Map<String, Spec> SPECS = new LinkedHashMap<>();

    private static void define(List<String> regexes, boolean cleanSpaces, boolean ignoreMerges, boolean addBos,
                               String... names) {
        for (String n : names) SPECS.put(n, new Spec(regexes, cleanSpaces, ignoreMerges, addBos, false, false));
    }

    static {
        // the same table as llama_vocab::impl::load and llm_tokenizer_bpe (llama-vocab.cpp)
        var dflt = List.of("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
        define(dflt, true, false, false, "default");
        var llama3 = List.of(LLAMA3);
        define(llama3, true, true, true, "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                "midm-2.0", "lfm2", "jina-v5-nano");
        define(llama3, true, false, false, "dbrx", "smaug-bpe");
        SPECS.put("glm4", new Spec(llama3, true, false, false, false, true));
        SPECS.put("chatglm-bpe", new Spec(llama3, true, false, false, false, true));
        define(List.of("[\r\n]",
                "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
                        + "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1"
                        + "\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5"
                        + "\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a"
                        + "\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d"
                        + "\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3"
                        + "\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115"
                        + "\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f"
                        + "\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
                        + "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
                        + "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\\x{10400}-\\x{1044f}"
                        + "\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}"
                        + "\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+",
                "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                "\\s+$",
                CJK,
                "\\p{N}+"), false, false, false, "deepseek-llm");
        define(List.of("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK, "\\p{N}"), false, false, false, "deepseek-coder");
        define(List.of("\\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                        + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
                false, false, false, "deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm");
        define(List.of("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"), true, false, false, "falcon");
        var starcoder = List.of("\\p{N}", GPT2);
        define(starcoder, true, false, false, "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2");
        define(starcoder, false, false, false, "command-r", "smollm");
        var gpt2 = List.of(GPT2);
        define(gpt2, true, false, false, "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "exaone4");
        define(gpt2, false, false, false, "trillion", "granite-docling");
        for (String n : List.of("jina-v1-en", "jina-v2-code", "roberta-bpe")) {
            SPECS.put(n, new Spec(gpt2, true, false, false, true, false));
        }
        var qwen2 = List.of(QWEN2);
        define(qwen2, false, false, false, "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open",
                "grok-2");
        define(qwen2, true, false, false, "megrez", "stablelm2");
        define(List.of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*"
                + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), false, false, false, "qwen35");
        var poro = List.of(" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+");
        define(poro, false, false, false, "poro-chat");
        define(poro, true, false, false, "bloom", "gpt3-finnish");
        define(List.of("[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
                + "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
                + "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), false, true, true, "tekken");
        define(List.of("[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" + CONTRACTIONS + "?"
                + "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" + CONTRACTIONS + "?"
                + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
                false, false, false, "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2");
        define(List.of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+"
                + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), false, false, false, "seed-coder");
        define(List.of("'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"),
                false, false, false, "bailingmoe", "bailingmoe2", "llada-moe");
        define(List.of("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
                false, false, false, "ufakzeka");
        define(List.of("\\p{N}{1,3}", CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), true, true, false, "minicpm5");
    }

    /** The spec for a {@code tokenizer.ggml.pre} value, or null if llama.cpp's table (as ported) lacks it. */
    static Spec spec(String name) {
        return SPECS.get(name);
    }

    /** Every supported {@code tokenizer.ggml.pre} value, for error messages. */
    static List<String> supportedNames() {
        return List.copyOf(SPECS.keySet());
    }

    /** One regex of the list, compiled into the form llama.cpp runs it in. */
    private sealed interface Step permits Gpt2Step, Llama3Step, CollapsedStep, CodepointStep {}

    private record Gpt2Step() implements Step {}

    private record Llama3Step() implements Step {}

    private record CollapsedStep(Pattern pattern) implements Step {}

    private record CodepointStep(Pattern pattern) implements Step {}

    private final List<Step> steps;
    private final boolean byteEncode;

    PreTokenizer(List<String> regexes, boolean byteEncode) {
        this.byteEncode = byteEncode;
        List<Step> s = new ArrayList<>();
        for (String r : regexes) s.add(compile(r));
        this.steps = List.copyOf(s);
    }

    private static Step compile(String regex) {
        if (regex.equals(GPT2)) return new Gpt2Step();
        if (regex.equals(LLAMA3) || regex.equals(LLAMA3_ORIGINAL)) return new Llama3Step();
        if (usesCategories(regex)) return new CollapsedStep(Pattern.compile(ecmaToJava(collapseRegex(regex))));
        return new CodepointStep(Pattern.compile(ecmaToJava(regex)));
    }

    /**
     * Splits {@code text} into words; for byte-level vocabularies each word comes back byte-encoded (every UTF-8
     * byte as its GPT-2 code point), ready for the merges.
     */
    List<String> split(String text) {
        int[] cpts = text.codePoints().toArray();
        IntList offsets = new IntList(8);
        offsets.add(cpts.length);
        String collapsed = null;
        for (Step step : steps) {
            IntList next = switch (step) {
                case Gpt2Step g -> splitGpt2(cpts, offsets);
                case Llama3Step l -> splitLlama3(cpts, offsets);
                case CollapsedStep c -> {
                    if (collapsed == null) collapsed = collapse(cpts);
                    yield splitRegex(c.pattern(), collapsed, null, offsets);
                }
                case CodepointStep c -> splitRegex(c.pattern(), whitespaceToVt(cpts), cpts, offsets);
            };
            // llama.cpp falls back to std::regex when a fast path yields nothing; that only happens for empty text
            offsets = next;
        }
        List<String> words = new ArrayList<>(offsets.size());
        int start = 0;
        for (int i = 0; i < offsets.size(); i++) {
            int len = offsets.get(i);
            String word = new String(cpts, start, len);
            words.add(byteEncode ? Unicode.byteEncode(word) : word);
            start += len;
        }
        return words;
    }

    // ---- the regex engine path ----

    private static boolean usesCategories(String regex) {
        for (String cat : List.of("\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}", "\\p{Lu}", "\\p{Ll}", "\\p{Lt}",
                "\\p{Lm}", "\\p{Lo}")) {
            if (regex.contains(cat)) return true;
        }
        return false;
    }

    /** The byte llama.cpp substitutes for a non-ASCII code point of each category in the collapsed text. */
    private static char collapsedChar(int flags) {
        if ((flags & Unicode.WHITESPACE) != 0) return 0x0B;
        return switch (flags & Unicode.CATEGORY_MASK) {
            case Unicode.NUMBER -> 0xD1;
            case Unicode.LETTER -> 0xD2;
            case Unicode.PUNCTUATION -> 0xD3;
            case Unicode.ACCENT_MARK -> 0xD4;
            case Unicode.SYMBOL -> 0xD5;
            default -> 0xD0;
        };
    }

    private static String collapse(int[] cpts) {
        char[] c = new char[cpts.length];
        for (int i = 0; i < cpts.length; i++) {
            c[i] = cpts[i] < 128 ? (char) cpts[i] : collapsedChar(Unicode.flags(cpts[i]));
        }
        return new String(c);
    }

    /** llama.cpp's rewrite of {@code \p{X}} into {@code [<category byte><ASCII members>]} for the collapsed text. */
    static String collapseRegex(String regex) {
        for (int i = 0; i < regex.length(); i++) {
            if (regex.charAt(i) >= 128) {
                throw new TokenizerException("pre-tokenizer regex mixes Unicode categories and non-ASCII characters,"
                        + " which llama.cpp does not support: " + regex);
            }
        }
        StringBuilder out = new StringBuilder();
        boolean inside = false;
        for (int i = 0; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '[' && (i == 0 || regex.charAt(i - 1) != '\\')) {
                out.append('[');
                inside = true;
                continue;
            }
            if (inside && c == ']' && regex.charAt(i - 1) != '\\') {
                out.append(']');
                inside = false;
                continue;
            }
            if (c == '\\' && i + 3 < regex.length() && regex.charAt(i + 1) == 'p' && regex.charAt(i + 2) == '{') {
                int close = regex.indexOf('}', i + 3);
                if (close >= 0 && close <= i + 10) {
                    String members = categoryMembers(regex.substring(i, close + 1));
                    if (members != null) {
                        if (!inside) out.append('[');
                        out.append(members);
                        if (!inside) out.append(']');
                        i = close;
                        continue;
                    }
                }
            }
            out.append(c);
        }
        return out.toString();
    }

    private static String categoryMembers(String category) {
        return switch (category) {
            case "\\p{N}" -> "\u00d1" + "0-9";
            case "\\p{L}", "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}" -> "\u00d2" + "A-Za-z";
            case "\\p{P}" -> "\u00d3" + "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}";
            case "\\p{M}" -> "\u00d4";
            case "\\p{S}" -> "\u00d5" + "\\$\\+<->\\^`\\|";
            default -> null;
        };
    }

    /**
     * Adapts ECMAScript syntax (what {@code std::regex} reads) to {@link Pattern}: an unescaped {@code $} outside a
     * class means end of input there, not "before a final line terminator"; a {@code [} inside a class is literal.
     */
    private static String ecmaToJava(String regex) {
        StringBuilder out = new StringBuilder(regex.length() + 8);
        boolean inside = false;
        for (int i = 0; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '\\' && i + 1 < regex.length()) {
                out.append(c).append(regex.charAt(++i));
                continue;
            }
            if (!inside && c == '[') {
                inside = true;
                out.append(c);
                if (i + 1 < regex.length() && regex.charAt(i + 1) == '^') out.append(regex.charAt(++i));
                continue;
            }
            if (inside && c == ']') inside = false;
            else if (inside && c == '[') { out.append("\\["); continue; }
            else if (inside && c == '&') { out.append("\\&"); continue; }
            else if (!inside && c == '$') { out.append("\\z"); continue; }
            out.append(c);
        }
        return out.toString();
    }

    /** The code points as a Java string, with non-ASCII whitespace replaced by {@code \v} as llama.cpp does. */
    private static String whitespaceToVt(int[] cpts) {
        StringBuilder sb = new StringBuilder(cpts.length);
        for (int c : cpts) sb.appendCodePoint(c > 0x7F && Unicode.isWhitespace(c) ? 0x0B : c);
        return sb.toString();
    }

    /**
     * llama.cpp's {@code unicode_regex_split_stl}: within each piece, every match and every gap becomes a piece.
     * {@code cpts} is non-null when {@code text} is in UTF-16 (one char per code point otherwise).
     */
    private static IntList splitRegex(Pattern pattern, String text, int[] cpts, IntList offsets) {
        IntList out = new IntList(offsets.size() * 2);
        int startChar = 0;
        for (int k = 0; k < offsets.size(); k++) {
            int len = offsets.get(k);
            int endChar = cpts == null ? startChar + len : text.offsetByCodePoints(startChar, len);
            Matcher m = pattern.matcher(text.subSequence(startChar, endChar));
            int prev = 0; // in chars, relative to the piece
            while (m.find()) {
                if (m.start() > prev) out.add(cptCount(text, startChar, prev, m.start(), cpts));
                if (m.end() > m.start()) out.add(cptCount(text, startChar, m.start(), m.end(), cpts));
                prev = m.end();
            }
            if (prev < endChar - startChar) out.add(cptCount(text, startChar, prev, endChar - startChar, cpts));
            startChar = endChar;
        }
        return out;
    }

    private static int cptCount(String text, int base, int from, int to, int[] cpts) {
        return cpts == null ? to - from : Character.codePointCount(text, base + from, base + to);
    }

    // ---- llama.cpp's hand-written fast paths ----

    private static final int OUT_OF_RANGE = -1;

    /** Port of {@code unicode_regex_split_custom_gpt2}. */
    private static IntList splitGpt2(int[] cpts, IntList offsets) {
        IntList out = new IntList(offsets.size() * 4);
        int start = 0;
        for (int k = 0; k < offsets.size(); k++) {
            final int ini = start;
            final int end = start + offsets.get(k);
            start = end;
            Piece p = new Piece(cpts, ini, end, out);
            for (int pos = ini; pos < end; ) {
                int cpt = p.cpt(pos);
                int flags = p.flags(pos);
                if (cpt == '\'' && pos + 1 < end) {
                    int next = p.cpt(pos + 1);
                    if (next == 's' || next == 't' || next == 'm' || next == 'd') {
                        pos += p.add(pos + 2);
                        continue;
                    }
                    if (pos + 2 < end) {
                        int next2 = p.cpt(pos + 2);
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) {
                            pos += p.add(pos + 3);
                            continue;
                        }
                    }
                }
                int flags2 = cpt == ' ' ? p.flags(pos + 1) : flags;
                if ((flags2 & Unicode.LETTER) != 0) { // <space>?\p{L}+
                    if (cpt == ' ') pos++;
                    while ((flags2 & Unicode.LETTER) != 0) flags2 = p.flags(++pos);
                    p.add(pos);
                    continue;
                }
                if ((flags2 & Unicode.NUMBER) != 0) { // <space>?\p{N}+
                    if (cpt == ' ') pos++;
                    while ((flags2 & Unicode.NUMBER) != 0) flags2 = p.flags(++pos);
                    p.add(pos);
                    continue;
                }
                if (isOther(flags2)) { // <space>?[^\s\p{L}\p{N}]+
                    if (cpt == ' ') pos++;
                    while (isOther(flags2)) flags2 = p.flags(++pos);
                    p.add(pos);
                    continue;
                }
                int spaces = 0;
                while ((p.flags(pos + spaces) & Unicode.WHITESPACE) != 0) spaces++;
                if (spaces > 1 && p.cpt(pos + spaces) != OUT_OF_RANGE) { // \s+(?!\S)
                    pos += spaces - 1;
                    p.add(pos);
                    continue;
                }
                if (spaces > 0) { // \s+
                    pos += spaces;
                    p.add(pos);
                    continue;
                }
                p.add(++pos); // no match
            }
        }
        return out;
    }

    /** Port of {@code unicode_regex_split_custom_llama3}. */
    private static IntList splitLlama3(int[] cpts, IntList offsets) {
        IntList out = new IntList(offsets.size() * 4);
        int start = 0;
        for (int k = 0; k < offsets.size(); k++) {
            final int ini = start;
            final int end = start + offsets.get(k);
            start = end;
            Piece p = new Piece(cpts, ini, end, out);
            for (int pos = ini; pos < end; ) {
                int cpt = p.cpt(pos);
                int flags = p.flags(pos);
                if (cpt == '\'' && pos + 1 < end) { // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                    int next = Unicode.toLower(p.cpt(pos + 1));
                    if (next == 's' || next == 't' || next == 'm' || next == 'd') {
                        pos += p.add(pos + 2);
                        continue;
                    }
                    if (pos + 2 < end) {
                        int next2 = Unicode.toLower(p.cpt(pos + 2));
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) {
                            pos += p.add(pos + 3);
                            continue;
                        }
                    }
                }
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if (!(cpt == '\r' || cpt == '\n' || (flags & Unicode.NUMBER) != 0)) {
                    if ((flags & Unicode.LETTER) != 0 || (p.flags(pos + 1) & Unicode.LETTER) != 0) {
                        pos++;
                        while ((p.flags(pos) & Unicode.LETTER) != 0) pos++;
                        p.add(pos);
                        continue;
                    }
                }
                if ((flags & Unicode.NUMBER) != 0) { // \p{N}{1,3}
                    int first = pos;
                    while ((p.flags(pos) & Unicode.NUMBER) != 0) {
                        if (++pos - first >= 3) {
                            p.add(pos);
                            first = pos;
                        }
                    }
                    p.add(pos);
                    continue;
                }
                // <space>?[^\s\p{L}\p{N}]+[\r\n]*  (llama.cpp tests the unshifted flags for "any code point")
                int flags2 = cpt == ' ' ? p.flags(pos + 1) : flags;
                if ((flags2 & (Unicode.WHITESPACE | Unicode.LETTER | Unicode.NUMBER)) == 0 && flags != 0) {
                    if (cpt == ' ') pos++;
                    while (isOther(flags2)) flags2 = p.flags(++pos);
                    int c2 = p.cpt(pos);
                    while (c2 == '\r' || c2 == '\n') c2 = p.cpt(++pos);
                    p.add(pos);
                    continue;
                }
                int spaces = 0;
                int lastEndRn = 0;
                while ((p.flags(pos + spaces) & Unicode.WHITESPACE) != 0) {
                    int c2 = p.cpt(pos + spaces);
                    if (c2 == '\r' || c2 == '\n') lastEndRn = pos + spaces + 1;
                    spaces++;
                }
                if (lastEndRn > 0) { // \s*[\r\n]+
                    pos = lastEndRn;
                    p.add(pos);
                    continue;
                }
                if (spaces > 1 && p.cpt(pos + spaces) != OUT_OF_RANGE) { // \s+(?!\S)
                    pos += spaces - 1;
                    p.add(pos);
                    continue;
                }
                if (spaces > 0) { // \s+
                    pos += spaces;
                    p.add(pos);
                    continue;
                }
                p.add(++pos);
            }
        }
        return out;
    }

    /** {@code [^\s\p{L}\p{N}]} for a code point inside the piece (flags 0 mean "past the end"). */
    private static boolean isOther(int flags) {
        return (flags & (Unicode.WHITESPACE | Unicode.LETTER | Unicode.NUMBER)) == 0 && flags != 0;
    }

    /** One piece being split by a fast path: bounds-checked access and llama.cpp's {@code _add_token}. */
    private static final class Piece {
        private final int[] cpts;
        private final int ini;
        private final int end;
        private final IntList out;
        private int prevEnd;

        Piece(int[] cpts, int ini, int end, IntList out) {
            this.cpts = cpts;
            this.ini = ini;
            this.end = end;
            this.out = out;
            this.prevEnd = ini;
        }

        int cpt(int pos) { return pos >= ini && pos < end ? cpts[pos] : OUT_OF_RANGE; }

        int flags(int pos) { return pos >= ini && pos < end ? Unicode.flags(cpts[pos]) : 0; }

        int add(int tokenEnd) {
            int len = tokenEnd - prevEnd;
            if (len > 0) out.add(len);
            prevEnd = tokenEnd;
            return len;
        }
    }
}
