package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufFormatException;
import dev.tokenmill.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelLoaderTest {
    @TempDir Path dir;

    @Test
    void readsHyperparametersFromArchitectureKeys() throws Exception {
        TinyModel tiny = TinyModel.qwen3(1);
        try (Model m = ModelLoader.load(tiny.write(dir))) {
            ModelConfig c = m.config();
            assertThat(c.architecture()).isEqualTo(Architecture.QWEN3);
            assertThat(c.nEmbd()).isEqualTo(32);
            assertThat(c.nLayers()).isEqualTo(2);
            assertThat(c.nHeads()).isEqualTo(4);
            assertThat(c.nKvHeads()).isEqualTo(2);
            assertThat(c.headDim()).as("from attention.key_length, not nEmbd / nHeads").isEqualTo(16);
            assertThat(c.ffnDim()).isEqualTo(40);
            assertThat(c.contextLength()).isEqualTo(256);
            assertThat(c.ropeFreqBase()).isEqualTo(1e6f);
            assertThat(c.ropeDim()).isEqualTo(16);
            assertThat(c.rmsEps()).isEqualTo(1e-6f);
            assertThat(c.vocabSize()).isEqualTo(72);
            assertThat(m.weights().tiedOutput()).isTrue();
            assertThat(m.weights().layers().getFirst().qNorm()).hasSize(16);
            assertThat(m.weights().layers().getFirst().bq()).isNull();
        }
    }

    @Test
    void separateOutputMatrixIsNotTied() throws Exception {
        try (Model m = ModelLoader.load(TinyModel.llama(2).write(dir))) {
            assertThat(m.weights().tiedOutput()).isFalse();
            assertThat(m.weights().output().name()).isEqualTo("output.weight");
        }
    }

    @Test
    void missingRopeBaseDefaultsToTenThousand() throws Exception {
        Path p = dir.resolve("m.gguf");
        TinyModel.llama(3).writer(null).remove("llama.rope.freq_base").write(p);
        try (Model m = ModelLoader.load(p)) {
            assertThat(m.config().ropeFreqBase()).isEqualTo(10000f);
        }
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        Path p = dir.resolve("m.gguf");
        TinyModel.qwen2(4).writer("blk.1.attn_k.bias").write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("blk.1.attn_k.bias").hasMessageContaining("missing");
    }

    @Test
    void misshapenTensorIsNamedWithExpectedShape() throws Exception {
        Path p = dir.resolve("m.gguf");
        TinyModel tiny = TinyModel.llama(5);
        GgufWriter w = tiny.writer("blk.0.ffn_up.weight");
        w.addF32("blk.0.ffn_up.weight", new long[] {32, 47}, new float[32 * 47]);
        w.write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("blk.0.ffn_up.weight").hasMessageContaining("[32, 47]").hasMessageContaining("expected [32, 48]");
    }

    @Test
    void unsupportedArchitectureListsSupportedOnes() throws Exception {
        Path p = dir.resolve("m.gguf");
        TinyModel.llama(6).writer(null).putString("general.architecture", "mamba").write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(UnsupportedModelException.class)
                .hasMessageContaining("m.gguf").hasMessageContaining("'mamba'").hasMessageContaining("llama, qwen2, qwen3");
    }

    @Test
    void missingRequiredKeyIsNamed() throws Exception {
        Path p = dir.resolve("m.gguf");
        TinyModel.llama(7).writer(null).remove("llama.block_count").write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("llama.block_count");
    }

    @Test
    void aVocabSizeThatDisagreesWithTheEmbeddingIsRefusedNamingKeyValueAndExpected() throws Exception {
        Path p = dir.resolve("vs.gguf");
        TinyModel.llama(8).writer(null).putUint32("llama.vocab_size", 65).write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("vs.gguf").hasMessageContaining("llama.vocab_size = 65")
                .hasMessageContaining("token_embd.weight").hasMessageContaining("expected llama.vocab_size = 64");
        Path ok = dir.resolve("vs-ok.gguf");
        TinyModel.llama(8).writer(null).putUint32("llama.vocab_size", 64).write(ok);
        ModelLoader.load(ok).close();
    }

    @Test
    void moreTokensThanEmbeddingRowsIsRefused() throws Exception {
        Path p = dir.resolve("tok.gguf");
        String[] tokens = new String[65];
        for (int i = 0; i < tokens.length; i++) tokens[i] = "t" + i;
        TinyModel.llama(9).writer(null).put("tokenizer.ggml.tokens", dev.tokenmill.gguf.GgufValue.ofStrings(tokens)).write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("tok.gguf").hasMessageContaining("tokenizer.ggml.tokens holds 65 tokens")
                .hasMessageContaining("64 rows");
    }

    @Test
    void anAbsurdBlockCountIsRefusedBeforeAllocatingLayers() throws Exception {
        Path p = dir.resolve("bc.gguf");
        TinyModel.llama(10).writer(null).putUint32("llama.block_count", Integer.MAX_VALUE).write(p);
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("bc.gguf").hasMessageContaining("llama.block_count = 2147483647");
    }
}
