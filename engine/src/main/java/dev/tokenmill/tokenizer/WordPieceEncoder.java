package dev.tokenmill.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * llama.cpp's {@code llm_tokenizer_wpm_session} (BERT): lowercase and strip accents, split at whitespace and around
 * punctuation and CJK characters, then match each word greedily longest-first against tokens written with a leading
 * {@code ▁} for word starts; a word that does not match completely becomes the unknown token.
 */
final class WordPieceEncoder implements FragmentEncoder {
    private final Vocabulary vocab;

    WordPieceEncoder(Vocabulary vocab) {
        this.vocab = vocab;
    }

    @Override
    public void encode(String text, IntList out) {
        for (String word : preprocess(text)) {
            if (word.isEmpty()) continue;
            String w = "\u2581" + word;
            int[] bounds = charBoundaries(w);
            int before = out.size();
            IntList found = new IntList(4);
            boolean complete = true;
            for (int bi = 0; bi < bounds.length - 1; ) {
                int i = bounds[bi];
                int match = -1;
                for (int bj = bounds.length - 1; bj > bi; bj--) {
                    String piece = w.substring(i, bounds[bj]);
                    if (Vocabulary.utf8Length(piece) > vocab.maxTokenLength) continue;
                    int id = vocab.idOf(piece);
                    if (id >= 0) {
                        found.add(id);
                        match = bj;
                        break;
                    }
                }
                if (match < 0) {
                    complete = false;
                    break;
                }
                bi = match;
            }
            if (complete) {
                for (int k = 0; k < found.size(); k++) out.add(found.get(k));
            }
            if (out.size() == before) out.add(vocab.unk);
        }
    }

    private static int[] charBoundaries(String s) {
        IntList b = new IntList(s.length() + 1);
        for (int i = 0; i < s.length(); i += Character.charCount(s.codePointAt(i))) b.add(i);
        b.add(s.length());
        return b.toArray();
    }

    private List<String> preprocess(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < text.length(); ) {
            int cpt = text.codePointAt(i);
            i += Character.charCount(cpt);
            if (vocab.stripAccents) cpt = Unicode.nfdFirst(cpt);
            int flags = Unicode.flags(cpt);
            if ((flags & Unicode.WHITESPACE) != 0) {
                if (!cur.isEmpty()) { words.add(cur.toString()); cur.setLength(0); }
                continue;
            }
            if (cpt == 0 || cpt == 0xFFFD || (flags & Unicode.CONTROL) != 0) continue;
            if (vocab.stripAccents && (flags & Unicode.ACCENT_MARK) != 0) continue;
            int c = vocab.lowercase ? Unicode.toLower(cpt) : cpt;
            if ((flags & Unicode.PUNCTUATION) != 0 || (cpt < 0x7F && (flags & Unicode.SYMBOL) != 0) || isChineseChar(cpt)) {
                if (!cur.isEmpty()) { words.add(cur.toString()); cur.setLength(0); }
                words.add(Character.toString(c));
            } else {
                cur.appendCodePoint(c);
            }
        }
        if (!cur.isEmpty()) words.add(cur.toString());
        return words;
    }

    private static boolean isChineseChar(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F)
                || (c >= 0x2B920 && c <= 0x2CEAF) // 0x2B820 in Unicode, 0x2B920 in the Hugging Face code llama.cpp follows
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }
}
