package dev.tokenmill.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Word splits of llama.cpp's pre-tokenizers (shown without byte encoding). */
class PreTokenizerTest {

    private static List<String> split(String pre, String text) {
        return new PreTokenizer(PreTokenizer.spec(pre).regexes(), false).split(text);
    }

    @Test
    void gpt2KeepsOneSpaceForTheNextWordAndCaseSensitiveContractions() {
        assertThat(split("gpt-2", "Hello world's  end")).containsExactly("Hello", " world", "'s", " ", " end");
        assertThat(split("gpt-2", "DON'T")).containsExactly("DON", "'", "T");
        assertThat(split("gpt-2", "a   ")).containsExactly("a", "   ");
        assertThat(split("gpt-2", "x 12345!?")).containsExactly("x", " 12345", "!?");
    }

    @Test
    void llama3GroupsDigitsByThreeAndMatchesContractionsCaseInsensitively() {
        assertThat(split("llama-bpe", "12345678")).containsExactly("123", "456", "78");
        assertThat(split("llama-bpe", "DON'T")).containsExactly("DON", "'T");
        assertThat(split("llama-bpe", "line\n\n  next")).containsExactly("line", "\n\n", " ", " next");
        assertThat(split("llama-bpe", "naïve Привет")).containsExactly("naïve", " Привет");
    }

    @Test
    void qwen2SplitsEveryDigitThroughTheRegexPath() {
        assertThat(split("qwen2", "ab 2024!")).containsExactly("ab", " ", "2", "0", "2", "4", "!");
        assertThat(split("qwen2", "Hi  there")).containsExactly("Hi", " ", " there");
    }

    @Test
    void starcoderAndDeepseekCoderSplitDigitsThenApplyTheirRules() {
        assertThat(split("starcoder", "x=123")).containsExactly("x", "=", "1", "2", "3");
        assertThat(split("deepseek-coder", "你好 world\n1")).containsExactly("你好", " world", "\n", "1");
    }

    @Test
    void collapsedRegexRewritesCategoriesIntoByteClasses() {
        assertThat(PreTokenizer.collapseRegex("\\p{N}+")).isEqualTo("[\u00d10-9]+");
        assertThat(PreTokenizer.collapseRegex("[^\\s\\p{L}]")).isEqualTo("[^\\s\u00d2A-Za-z]");
    }

    @Test
    void everyListedPreTokenizerCompiles() {
        for (String name : PreTokenizer.supportedNames()) {
            assertThat(new PreTokenizer(PreTokenizer.spec(name).regexes(), true).split("Hi 123 ünï 你好!\n")).isNotEmpty();
        }
    }
}
