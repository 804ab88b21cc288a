package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class WordPieceTokenizerTest {
    @TempDir
    Path dir;

    @Test
    void lowercasesStripsAccentsSplitsPunctuationAndMarksUnknownWords() {
        TestVocabularies.Tokens t = new TestVocabularies.Tokens();
        for (String s : new String[] {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) t.add(s, TestVocabularies.CONTROL, 0);
        for (String s : new String[] {"\u2581hello", "\u2581cafe", "\u2581,", "\u2581!", "\u2581play", "ing"}) {
            t.add(s, TestVocabularies.NORMAL, 0);
        }
        GgufWriter w = new GgufWriter().putString("general.architecture", "bert").putString("tokenizer.ggml.model", "bert");
        t.putInto(w);
        w.putUint32("tokenizer.ggml.unknown_token_id", 1);
        w.putUint32("tokenizer.ggml.seperator_token_id", 3);
        w.putUint32("tokenizer.ggml.bos_token_id", 2);
        Tokenizer tok = TestVocabularies.open(w, dir, "wpm");
        assertThat(tok.encode("Hello, CAFÉ playing xyz!", false, false)).containsExactly(
                t.id("\u2581hello"), t.id("\u2581,"), t.id("\u2581cafe"), t.id("\u2581play"), t.id("ing"), 1, t.id("\u2581!"));
        assertThat(tok.encode("hello", true, true)).containsExactly(2, t.id("\u2581hello"), 3);
    }
}
