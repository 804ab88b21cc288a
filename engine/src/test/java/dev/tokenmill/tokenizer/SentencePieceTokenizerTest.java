package dev.tokenmill.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class SentencePieceTokenizerTest {
    @TempDir
    static Path dir;
    static Tokenizer tok;
    static TestVocabularies.Tokens t;

    @BeforeAll
    static void load() {
        t = TestVocabularies.spmTokens();
        tok = TestVocabularies.open(TestVocabularies.spmWriter(), dir, "spm");
    }

    @Test
    void mergesFollowScoresIntoWholeWords() {
        assertThat(tok.encode("hello world", false, false))
                .containsExactly(t.id("\u2581hello"), t.id("\u2581world"));
    }

    @Test
    void addsBosByDefaultForSentencePieceAndNoEos() {
        assertThat(tok.encode("hello", true, true)).containsExactly(1, t.id("\u2581hello"));
        assertThat(tok.bos()).isEqualTo(1);
        assertThat(tok.eos()).isEqualTo(2);
    }

    @Test
    void emptyTextGivesOnlyBos() {
        assertThat(tok.encode("", true, true)).containsExactly(1);
        assertThat(tok.encode("", false, false)).isEmpty();
    }

    @Test
    void leadingSpaceIsKeptAsItsOwnPieceBeforeThePrefixedWord() {
        // " hello" -> "▁▁hello": the added prefix space plus the text's own space
        assertThat(tok.encode(" hello", false, false)).containsExactly(t.id("\u2581"), t.id("\u2581hello"));
    }

    @Test
    void unknownCharactersFallBackToUtf8ByteTokens() {
        // é = C3 A9; byte token <0xNN> has id 3 + NN
        assertThat(tok.encode("hé", false, false))
                .containsExactly(t.id("\u2581"), t.id("h"), 3 + 0xC3, 3 + 0xA9);
    }

    @Test
    void controlTokenTextIsParsedOnlyWhenAskedAndTextAfterItGetsTheSpacePrefix() {
        assertThat(tok.encode("<s>hello", false, true)).containsExactly(1, t.id("\u2581hello"));
        int[] plain = tok.encode("<s>hello", false, false);
        assertThat(plain).doesNotContain(1).startsWith(t.id("\u2581"), 3 + '<');
    }

    @Test
    void decodeTurnsPiecesBackIntoTextDroppingTheLeadingSpace() {
        int[] ids = tok.encode("hello world", false, false);
        assertThat(tok.decode(ids)).isEqualTo("hello world");
        assertThat(tok.decode(tok.encode("hé", false, false))).isEqualTo("hé");
        assertThat(tok.decode(tok.encode(" hello", false, false))).isEqualTo(" hello");
        assertThat(tok.decode(new int[] {1, t.id("\u2581hello")})).isEqualTo("<s> hello");
    }

    @Test
    void tokenBytesResolveByteTokensAndTheSpaceSymbol() {
        assertThat(tok.tokenBytes(3 + 0x0A)).containsExactly(0x0A);
        assertThat(new String(tok.tokenBytes(t.id("\u2581world")), StandardCharsets.UTF_8)).isEqualTo(" world");
        assertThat(tok.tokenText(t.id("\u2581world"))).isEqualTo("\u2581world");
        assertThat(tok.vocabSize()).isEqualTo(t.texts.size());
    }

    @Test
    void endOfGenerationCoversEosAndImEnd() {
        assertThat(tok.isEndOfGeneration(2)).isTrue();
        assertThat(tok.isEndOfGeneration(t.id("<|im_end|>"))).isTrue();
        assertThat(tok.isEndOfGeneration(t.id("\u2581hello"))).isFalse();
        assertThat(tok.isEndOfGeneration(-1)).isFalse();
    }
}
