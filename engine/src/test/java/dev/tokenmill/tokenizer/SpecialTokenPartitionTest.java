package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** llama.cpp's tokenizer_st_partition: which special-token texts are cut out of the input, and how. */
class SpecialTokenPartitionTest {
    @TempDir
    Path dir;

    private static TestVocabularies.Tokens spmWith(String text, int type) {
        TestVocabularies.Tokens t = TestVocabularies.spmTokens();
        t.add(text, type, 0);
        return t;
    }

    private Tokenizer open(TestVocabularies.Tokens t, String generalName) {
        GgufWriter w = TestVocabularies.spmWriter();
        t.putInto(w);
        if (generalName != null) w.putString("general.name", generalName);
        return TestVocabularies.open(w, dir, "v" + t.texts.size() + (generalName == null ? "" : "n"));
    }

    @Test
    void userDefinedTokensAreMatchedEvenWithoutParseSpecial() {
        TestVocabularies.Tokens t = spmWith("<tool>", TestVocabularies.USER_DEFINED);
        Tokenizer tok = open(t, null);
        int tool = t.id("<tool>");
        assertThat(tok.encode("hello<tool>", false, false)).containsExactly(t.id("\u2581hello"), tool);
        assertThat(tok.encode("<tool>hello", false, false)).containsExactly(tool, t.id("\u2581hello"));
    }

    @Test
    void longerSpecialTokensWinOverTheirPrefixes() {
        TestVocabularies.Tokens t = spmWith("<s>x", TestVocabularies.CONTROL);
        Tokenizer tok = open(t, null);
        assertThat(tok.encode("<s>x<s>", false, true)).containsExactly(t.id("<s>x"), 1);
    }

    @Test
    void phi3SpecialTokensSwallowTheWhitespaceAfterThem() {
        TestVocabularies.Tokens t = spmWith("<|user|>", TestVocabularies.CONTROL);
        int user = t.id("<|user|>");
        Tokenizer phi3 = open(t, "Phi3");
        Tokenizer other = open(t, null);
        assertThat(phi3.encode("<|user|>\n hello", false, true)).containsExactly(user, t.id("\u2581hello"));
        assertThat(other.encode("<|user|>\n hello", false, true)).startsWith(user, t.id("\u2581"), 3 + '\n');
        // <s> keeps its right-hand whitespace even for Phi-3
        assertThat(phi3.encode("<s> hello", false, true)).containsExactly(1, t.id("\u2581"), t.id("\u2581hello"));
    }
}
