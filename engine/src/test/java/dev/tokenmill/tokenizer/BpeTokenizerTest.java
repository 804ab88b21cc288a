package dev.tokenmill.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class BpeTokenizerTest {
    @TempDir
    static Path dir;
    static Tokenizer gpt2;
    static Tokenizer llama3;
    static Tokenizer qwen2;
    static TestVocabularies.Tokens t;

    @BeforeAll
    static void load() {
        t = TestVocabularies.bpeTokens();
        gpt2 = TestVocabularies.open(TestVocabularies.bpeWriter("gpt-2"), dir, "gpt2");
        llama3 = TestVocabularies.open(TestVocabularies.bpeWriter("llama-bpe"), dir, "llama3");
        qwen2 = TestVocabularies.open(TestVocabularies.bpeWriter("qwen2"), dir, "qwen2");
    }

    @Test
    void mergesApplyByRankWithinEachWord() {
        assertThat(gpt2.encode("hello world", false, false)).containsExactly(t.id("hello"), t.id("\u0120world"));
    }

    @Test
    void unmergedBytesStayByteSymbols() {
        // é is C3 A9 -> byte-level symbols Ã (U+00C3) and © (U+00A9)
        assertThat(gpt2.encode("é", false, false)).containsExactly(0xC3, 0xA9);
    }

    @Test
    void digitGroupingDependsOnThePreTokenizer() {
        assertThat(llama3.encode("12345", false, false)).containsExactly(t.id("123"), t.id("45"));
        assertThat(qwen2.encode("12345", false, false)).containsExactly((int) '1', '2', '3', '4', '5');
    }

    @Test
    void bosIsAddedOnlyWhereLlamaCppAddsIt() {
        int eot = t.id("<|endoftext|>");
        assertThat(gpt2.encode("hello", true, true)).containsExactly(t.id("hello")); // BPE default: no BOS
        assertThat(llama3.encode("hello", true, true)).containsExactly(eot, t.id("hello")); // llama-bpe turns it on
    }

    @Test
    void specialTokenTextIsMatchedWhenParsingSpecial() {
        int start = t.id("<|im_start|>");
        assertThat(qwen2.encode("<|im_start|>hello<|im_end|>", false, true))
                .containsExactly(start, t.id("hello"), t.id("<|im_end|>"));
        assertThat(qwen2.encode("<|im_start|>hello", false, false)).doesNotContain(start).contains(t.id("hello"));
    }

    @Test
    void decodeUnmapsBytesAndCleansSpacesBeforePunctuationLikeLlamaCpp() {
        assertThat(gpt2.decode(gpt2.encode("hello world é", false, false))).isEqualTo("hello world é");
        // gpt-2 cleans " ?" -> "?"; qwen2 does not
        int[] ids = {t.id("hello"), t.id("\u0120?")};
        assertThat(gpt2.decode(ids)).isEqualTo("hello?");
        assertThat(qwen2.decode(ids)).isEqualTo("hello ?");
        assertThat(qwen2.decode(new int[] {t.id("<|im_end|>")})).isEqualTo("<|im_end|>");
        assertThat(qwen2.decode(new int[] {1, t.id("hello"), 2}, 1, 2)).isEqualTo("hello");
    }

    @Test
    void imEndAndEndOfTextEndGeneration() {
        assertThat(qwen2.isEndOfGeneration(t.id("<|im_end|>"))).isTrue();
        assertThat(qwen2.isEndOfGeneration(t.id("<|endoftext|>"))).isTrue();
        assertThat(qwen2.isEndOfGeneration(t.id("<|im_start|>"))).isFalse();
    }
}
