package dev.tokenmill.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@link Tokenizer} for one {@link Vocabulary}: llama.cpp's {@code llama_vocab::impl::tokenize} (special-token
 * partition, BOS/EOS, the per-type encoder) and {@code detokenize} / {@code token_to_piece}.
 */
final class GgufTokenizer implements Tokenizer {
    private static final int RENDERED_SPECIAL = TokenAttr.UNKNOWN | TokenAttr.CONTROL;

    private final Vocabulary vocab;
    /** The encoder of the vocabulary's type, applied to each text fragment between special tokens. */
    private final FragmentEncoder encoder;
    private final SpecialTokenIndex specialIndex;
    /** {@code token_to_piece(id, lstrip = 0, special = true)} for every id. */
    private final byte[][] pieces;

    GgufTokenizer(Vocabulary vocab) {
        this.vocab = vocab;
        this.encoder = switch (vocab.type) {
            case SPM -> new SentencePieceEncoder(vocab);
            case BPE -> newBpe(vocab);
            case WPM -> new WordPieceEncoder(vocab);
        };
        this.specialIndex = new SpecialTokenIndex(vocab);
        this.pieces = new byte[vocab.size()][];
        for (int id = 0; id < pieces.length; id++) pieces[id] = computePiece(id);
    }

    private static BpeEncoder newBpe(Vocabulary vocab) {
        String[] merges = vocab.merges();
        Map<String, Integer> ranks = HashMap.newHashMap(merges.length);
        for (int i = 0; i < merges.length; i++) ranks.putIfAbsent(merges[i], i);
        PreTokenizer pre = new PreTokenizer(vocab.preSpec.regexes(), true);
        return new BpeEncoder(vocab, pre, ranks, vocab.ignoreMerges, true);
    }

    // ---- encoding ----

    /** A piece of the input: raw text {@code [start, end)} or, when {@code token >= 0}, a matched special token. */
    private record Fragment(int token, int start, int end) {
        boolean isText() { return token < 0; }
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        String raw = wellFormed(text);
        List<Fragment> fragments = partition(raw, parseSpecial);
        IntList out = new IntList(raw.length() / 3 + 4);
        switch (vocab.type) {
            case SPM -> {
                boolean prevSpecial = true; // the first fragment gets the space prefix
                if (addSpecial && vocab.addBos) out.add(vocab.bos);
                for (Fragment f : fragments) {
                    if (f.isText()) {
                        String t = raw.substring(f.start(), f.end());
                        if (vocab.addSpacePrefix && prevSpecial) t = " " + t;
                        encoder.encode(t.replace(' ', '\u2581'), out);
                        prevSpecial = false;
                    } else {
                        out.add(f.token());
                        prevSpecial = true;
                    }
                }
                if (addSpecial && vocab.addEos) out.add(vocab.eos);
            }
            case BPE -> {
                if (addSpecial && vocab.addBos) out.add(vocab.bos);
                for (Fragment f : fragments) {
                    if (f.isText()) encoder.encode(raw.substring(f.start(), f.end()), out);
                    else out.add(f.token());
                }
                if (addSpecial && vocab.addEos) out.add(vocab.eos);
            }
            case WPM -> {
                if (addSpecial) out.add(require(vocab.bos, "tokenizer.ggml.bos_token_id"));
                for (Fragment f : fragments) {
                    if (f.isText()) encoder.encode(raw.substring(f.start(), f.end()), out);
                    else out.add(f.token());
                }
                if (addSpecial) out.add(require(vocab.sep, "tokenizer.ggml.seperator_token_id"));
            }
        }
        return out.toArray();
    }

    private int require(int id, String key) {
        if (id < 0) throw new TokenizerException(vocab.source + ": adding special tokens needs " + key + ", which is not set");
        return id;
    }

    /**
     * llama.cpp's {@code tokenizer_st_partition}: every special token, longest first, is cut out of the text
     * fragments that are left. Control and unknown tokens only when {@code parseSpecial}; user-defined ones always.
     */
    private List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) return fragments;
        fragments.add(new Fragment(-1, 0, text.length()));
        BitSet occurring = specialIndex.occurring(text);
        for (int k = occurring.nextSetBit(0); k >= 0; k = occurring.nextSetBit(k + 1)) {
            int id = vocab.specialTokens[k];
            int attr = vocab.attr(id);
            if (!parseSpecial && (attr & RENDERED_SPECIAL) != 0) continue;
            String tok = vocab.text(id);
            List<Fragment> next = new ArrayList<>(fragments.size() + 2);
            for (Fragment f : fragments) {
                if (!f.isText()) {
                    next.add(f);
                    continue;
                }
                int pos = f.start();
                int end = f.end();
                while (true) {
                    int match = text.indexOf(tok, pos);
                    if (match < 0 || match + tok.length() > end) {
                        if (pos < end) next.add(new Fragment(-1, pos, end));
                        break;
                    }
                    int leftEnd = match;
                    if ((attr & TokenAttr.LSTRIP) != 0) {
                        while (leftEnd > pos && isSpace(text.charAt(leftEnd - 1))) leftEnd--;
                    }
                    if (leftEnd > pos) next.add(new Fragment(-1, pos, leftEnd));
                    next.add(new Fragment(id, match, match + tok.length()));
                    pos = match + tok.length();
                    if ((attr & TokenAttr.RSTRIP) != 0) {
                        while (pos < end && isSpace(text.charAt(pos))) pos++;
                    }
                }
            }
            fragments = next;
        }
        return fragments;
    }

    /** C's {@code isspace} in the "C" locale, which llama.cpp uses for LSTRIP/RSTRIP. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    /** Lone surrogates cannot be UTF-8 encoded; llama.cpp would see U+FFFD for invalid input. */
    private static String wellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
                if (!pair) return fixSurrogates(s);
                i++;
            }
        }
        return s;
    }

    private static String fixSurrogates(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else {
                sb.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return sb.toString();
    }

    // ---- decoding ----

    @Override
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    @Override
    public String decode(int[] ids, int from, int to) {
        if (from < 0 || to > ids.length || from > to) {
            throw new IndexOutOfBoundsException("range [" + from + ", " + to + ") of " + ids.length + " ids");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(16, (to - from) * 4));
        boolean removeSpace = vocab.addSpacePrefix;
        for (int i = from; i < to; i++) {
            byte[] piece = pieces[checkId(ids[i])];
            int skip = 0;
            if (removeSpace && piece.length > 0 && piece[0] == ' ') skip = 1;
            out.write(piece, skip, piece.length - skip);
            removeSpace = false;
        }
        byte[] bytes = out.toByteArray();
        int n = vocab.cleanSpaces ? cleanSpaces(bytes) : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    /** llama.cpp's three clean-up passes of {@code detokenize}, in place; returns the new length. */
    static int cleanSpaces(byte[] text) {
        int total = text.length;
        // first pass: " ?", " !", " .", " ," lose the space
        int total1 = total;
        total = total > 0 ? 1 : 0;
        for (int i = 1; i < total1; i++) {
            byte x = text[i];
            if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
            text[total++] = x;
        }
        // second pass: a single apostrophe between spaces loses both spaces
        int total2 = total;
        total = total > 0 ? 1 : 0;
        for (int i = 1; i < total2; i++) {
            byte x = text[i];
            if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
                total--;
                text[++i] = 0;
            }
            text[total++] = x;
        }
        // third pass: " 's", " 'm", " 're", " 've" lose the space
        int total3 = total;
        total = total > 0 ? 1 : 0;
        for (int i = 1; i < total3; i++) {
            byte x = text[i];
            if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
                byte x1 = text[i + 1];
                if (x1 == 's' || x1 == 'm') {
                    total--;
                } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                    byte x2 = text[i + 2];
                    if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
                }
            }
            text[total++] = x;
        }
        return total;
    }

    @Override
    public byte[] tokenBytes(int id) {
        return pieces[checkId(id)].clone();
    }

    /** The cached piece without copying, for the streaming decoder's hot path. */
    byte[] piece(int id) {
        return pieces[checkId(id)];
    }

    private int checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new TokenizerException("token id " + id + " is outside the vocabulary (0.." + (pieces.length - 1) + ") of " + vocab.source);
        }
        return id;
    }

    /** llama.cpp's {@code token_to_piece} with {@code special = true} and no lstrip. */
    private byte[] computePiece(int id) {
        int attr = vocab.attr(id);
        String text = vocab.text(id);
        if ((attr & (RENDERED_SPECIAL | TokenAttr.USER_DEFINED)) != 0) return Vocabulary.utf8(text);
        if ((attr & TokenAttr.NORMAL) != 0) {
            if (vocab.type == Vocabulary.Type.BPE && !vocab.escapeWhitespaces) return Unicode.byteDecode(text);
            return Vocabulary.utf8(text.replace('\u2581', ' '));
        }
        if ((attr & TokenAttr.BYTE) != 0) return new byte[] {(byte) vocab.tokenToByte(id)};
        return new byte[0]; // unused and undefined tokens render as nothing
    }

    @Override
    public String tokenText(int id) {
        return vocab.text(checkId(id));
    }

    @Override
    public boolean isControl(int id) {
        return (vocab.attr(checkId(id)) & RENDERED_SPECIAL) != 0;
    }

    @Override
    public boolean decodeDropsLeadingSpace() {
        return vocab.addSpacePrefix;
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public int bos() {
        return vocab.bos;
    }

    @Override
    public int eos() {
        return vocab.eos;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return id >= 0 && vocab.eog.get(id);
    }

    @Override
    public StreamingDecoder newStreamingDecoder() {
        return new StreamingDecoder(this::piece);
    }

    @Override
    public String toString() {
        return "Tokenizer[" + vocab.type + (vocab.pre.isEmpty() ? "" : " pre=" + vocab.pre) + ", " + vocab.size()
                + " tokens, " + vocab.source + "]";
    }
}
