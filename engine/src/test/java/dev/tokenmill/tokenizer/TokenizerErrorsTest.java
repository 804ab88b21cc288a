package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenizerErrorsTest {
    @TempDir
    Path dir;

    @Test
    void unknownPreTokenizerNamesTheSupportedOnes() {
        assertThatThrownBy(() -> TestVocabularies.open(TestVocabularies.bpeWriter("no-such-pre"), dir, "x"))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.ggml.pre = 'no-such-pre'")
                .hasMessageContaining("llama-bpe")
                .hasMessageContaining("qwen2")
                .hasMessageContaining("x.gguf");
    }

    @Test
    void missingPreTokenizerFallsBackToDefault() {
        Tokenizer tok = TestVocabularies.open(TestVocabularies.bpeWriter(null), dir, "nopre");
        assertThat(tok.encode("hello", false, false)).hasSize(1);
    }

    @Test
    void unknownModelIsRejectedNamingTheKey() {
        GgufWriter w = TestVocabularies.spmWriter().putString("tokenizer.ggml.model", "t5");
        assertThatThrownBy(() -> TestVocabularies.open(w, dir, "t5"))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.ggml.model = 't5'");
    }

    @Test
    void missingTokenListIsRejected() {
        GgufWriter w = TestVocabularies.spmWriter().remove("tokenizer.ggml.tokens");
        assertThatThrownBy(() -> TestVocabularies.open(w, dir, "notokens"))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("'tokenizer.ggml.tokens' is missing");
    }

    @Test
    void missingMergesAreRejectedForBpe() {
        GgufWriter w = TestVocabularies.bpeWriter("gpt-2").remove("tokenizer.ggml.merges");
        assertThatThrownBy(() -> TestVocabularies.open(w, dir, "nomerges"))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.ggml.merges");
    }

    @Test
    void addingATokenWithoutItsIdIsRejected() {
        // BPE has no default separator; an id of -1 (uint32 max) counts as not set, as in llama.cpp
        GgufWriter w = TestVocabularies.bpeWriter("gpt-2").putBool("tokenizer.ggml.add_sep_token", true)
                .put("tokenizer.ggml.seperator_token_id", GgufValue.ofUint32(0xFFFFFFFFL));
        assertThatThrownBy(() -> TestVocabularies.open(w, dir, "nosep"))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.ggml.add_sep_token is true, but tokenizer.ggml.seperator_token_id is not set");
    }

    @Test
    void tokenIdOutsideTheVocabularyIsRejectedOnDecode() {
        Tokenizer tok = TestVocabularies.open(TestVocabularies.spmWriter(), dir, "spm");
        assertThatThrownBy(() -> tok.decode(new int[] {tok.vocabSize()}))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("outside the vocabulary");
    }

    @Test
    void aSpecialTokenIdOutsideTheVocabularyIsRefusedNamingKeyValueAndRange() {
        for (String key : new String[] {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"}) {
            GgufWriter w = TestVocabularies.spmWriter().put(key, GgufValue.ofUint32(5000));
            assertThatThrownBy(() -> TestVocabularies.open(w, dir, "badid"))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining("badid.gguf").hasMessageContaining(key + " = 5000")
                    .hasMessageMatching(".*expected an id in 0\\.\\.\\d+, or -1 for none.*");
        }
    }

    @Test
    void minusOneAsASpecialTokenIdMeansNoneAndKeepsTheDefault() {
        Tokenizer tok = TestVocabularies.open(TestVocabularies.spmWriter()
                .put("tokenizer.ggml.padding_token_id", GgufValue.ofUint32(0xFFFFFFFFL)), dir, "nopad");
        assertThat(tok.bos()).isEqualTo(TestVocabularies.open(TestVocabularies.spmWriter(), dir, "plain").bos());
    }
}
