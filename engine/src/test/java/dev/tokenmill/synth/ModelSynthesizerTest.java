package dev.tokenmill.synth;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelSynthesizerTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private Path synth(String preset, FileType type, long seed, int threads) throws Exception {
        Path out = dir.resolve(preset + "-" + type + "-" + seed + "-" + threads + ".gguf");
        ModelSynthesizer.write(new ModelSynthesizer.Options(SynthPreset.byName(preset), type, seed, threads), out, null);
        return out;
    }

    @Test
    void tinyF32LoadsBackWithLlamaShapesAndHyperparameters() throws Exception {
        Path out = synth("tiny", FileType.F32, 1, 2);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("general.architecture")).isEqualTo("llama");
            assertThat(f.getInt("llama.embedding_length")).isEqualTo(256);
            assertThat(f.getInt("llama.block_count")).isEqualTo(4);
            assertThat(f.getInt("llama.feed_forward_length")).isEqualTo(768);
            assertThat(f.getInt("llama.attention.head_count")).isEqualTo(4);
            assertThat(f.getInt("llama.attention.head_count_kv")).isEqualTo(2);
            assertThat(f.getInt("llama.rope.dimension_count")).isEqualTo(64);
            assertThat(f.getDouble("llama.rope.freq_base")).isEqualTo(10000.0);
            assertThat(f.getDouble("llama.attention.layer_norm_rms_epsilon")).isEqualTo(1e-5f);
            assertThat(f.getInt("llama.context_length")).isEqualTo(2048);
            assertThat(f.getInt("general.file_type")).isZero();
            assertThat(f.tensors()).hasSize(1 + 4 * 9 + 1); // tied: no output.weight
            assertThat(f.hasTensor("output.weight")).isFalse();
            assertThat(f.tensor("token_embd.weight").shape()).containsExactly(256, 4096);
            assertThat(f.tensor("blk.0.attn_q.weight").shape()).containsExactly(256, 256);
            assertThat(f.tensor("blk.0.attn_k.weight").shape()).containsExactly(256, 128);
            assertThat(f.tensor("blk.3.attn_v.weight").shape()).containsExactly(256, 128);
            assertThat(f.tensor("blk.1.attn_output.weight").shape()).containsExactly(256, 256);
            assertThat(f.tensor("blk.2.ffn_gate.weight").shape()).containsExactly(256, 768);
            assertThat(f.tensor("blk.2.ffn_up.weight").shape()).containsExactly(256, 768);
            assertThat(f.tensor("blk.2.ffn_down.weight").shape()).containsExactly(768, 256);
            assertThat(f.tensor("output_norm.weight").shape()).containsExactly(256);
            assertThat(f.tensorList()).allMatch(t -> t.type() == GgmlType.F32);
            long params = f.tensorList().stream().mapToLong(TensorInfo::elementCount).sum();
            assertThat(params).isEqualTo(SynthPreset.byName("tiny").parameterCount()).isEqualTo(4_196_608L);

            float[] norm = f.tensorData("blk.0.ffn_norm.weight").toArray(F32);
            assertThat(norm).containsOnly(1f);
            float[] w = f.tensorData("blk.1.ffn_up.weight").toArray(F32);
            double mean = 0, sq = 0;
            for (float v : w) { mean += v; sq += v * (double) v; }
            mean /= w.length;
            double std = Math.sqrt(sq / w.length - mean * mean);
            assertThat(std).isBetween(0.0198, 0.0202);
            assertThat(mean).isBetween(-2e-4, 2e-4);
        }
    }

    @Test
    void tinyTokenizerIsAValidSentencePieceVocabulary() throws Exception {
        Path out = synth("tiny", FileType.Q8_0, 1, 1);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("tokenizer.ggml.model")).isEqualTo("llama");
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            float[] scores = f.getFloatArray("tokenizer.ggml.scores");
            assertThat(tokens).hasSize(4096);
            assertThat(types).hasSize(4096);
            assertThat(scores).hasSize(4096);
            assertThat(Arrays.asList(tokens).subList(0, 3)).containsExactly("<unk>", "<s>", "</s>");
            assertThat(tokens[3]).isEqualTo("<0x00>");
            assertThat(tokens[3 + 0x0A]).isEqualTo("<0x0A>");
            assertThat(tokens[258]).isEqualTo("<0xFF>");
            assertThat(types[0]).isEqualTo(2);
            assertThat(types[1]).isEqualTo(3);
            assertThat(types[100]).isEqualTo(6);
            assertThat(types[4095]).isEqualTo(1);
            assertThat(f.getInt("tokenizer.ggml.bos_token_id")).isEqualTo(1);
            assertThat(f.getInt("tokenizer.ggml.eos_token_id")).isEqualTo(2);
            Set<String> all = new HashSet<>(Arrays.asList(tokens));
            assertThat(all).hasSize(tokens.length);
            for (int i = 259; i < tokens.length; i++) {
                String t = tokens[i];
                int last = t.offsetByCodePoints(t.length(), -1);
                if (last > 0) assertThat(all).as("prefix of %s", t).contains(t.substring(0, last));
            }
        }
    }

    @Test
    void quantizedTinyGetsLlamaQuantizesTypes() throws Exception {
        Path out = synth("tiny", FileType.Q4_K_M, 1, 2);
        try (GgufFile f = GgufFile.open(out)) {
            Map<String, GgmlType> types = f.tensorList().stream().collect(Collectors.toMap(TensorInfo::name, TensorInfo::type));
            assertThat(f.getInt("general.file_type")).isEqualTo(15);
            assertThat(types.get("token_embd.weight")).isEqualTo(GgmlType.Q6_K); // tied: it is the output matrix
            assertThat(types.get("blk.0.attn_norm.weight")).isEqualTo(GgmlType.F32);
            assertThat(types.get("blk.0.attn_q.weight")).isEqualTo(GgmlType.Q4_K);
            // use_more_bits over 4 layers: i >= 7*4/8 (layer 3) or (i - 4/8) % 3 == 2 (layer 2)
            assertThat(types.get("blk.0.attn_v.weight")).isEqualTo(GgmlType.Q4_K);
            assertThat(types.get("blk.1.attn_v.weight")).isEqualTo(GgmlType.Q4_K);
            assertThat(types.get("blk.2.attn_v.weight")).isEqualTo(GgmlType.Q6_K);
            assertThat(types.get("blk.3.ffn_down.weight")).isEqualTo(GgmlType.Q6_K);
            assertThat(types.get("blk.1.ffn_down.weight")).isEqualTo(GgmlType.Q4_K);
        }
    }

    @Test
    void bytesDependOnTheSeedButNotOnTheThreadCount() throws Exception {
        byte[] one = Files.readAllBytes(synth("tiny", FileType.Q4_0, 7, 1));
        byte[] three = Files.readAllBytes(synth("tiny", FileType.Q4_0, 7, 3));
        byte[] otherSeed = Files.readAllBytes(synth("tiny", FileType.Q4_0, 8, 3));
        assertThat(three).isEqualTo(one);
        assertThat(otherSeed).hasSameSizeAs(one).isNotEqualTo(one);
    }

    @Test
    void qwenPresetHasBiasesAndFallsBackWhereRowsAreNotWholeSuperBlocks() {
        SynthPreset p = SynthPreset.byName("qwen-0.5b");
        List<ModelSynthesizer.Planned> plan = ModelSynthesizer.plan(p, FileType.Q4_K_M);
        Map<String, ModelSynthesizer.Planned> byName = plan.stream()
                .collect(Collectors.toMap(ModelSynthesizer.Planned::name, t -> t));
        assertThat(byName.get("blk.0.attn_q.bias").shape()).containsExactly(896);
        assertThat(byName.get("blk.0.attn_k.bias").shape()).containsExactly(128);
        assertThat(byName.get("blk.0.attn_v.bias").type()).isEqualTo(GgmlType.F32);
        assertThat(byName.get("blk.0.attn_k.weight").shape()).containsExactly(896, 128);
        // 896 is not a multiple of 256: Q4_K falls back to Q5_0, the tied output matrix to Q8_0
        assertThat(byName.get("blk.5.attn_q.weight").type()).isEqualTo(GgmlType.Q5_0);
        assertThat(byName.get("token_embd.weight").type()).isEqualTo(GgmlType.Q8_0);
        assertThat(byName.get("blk.5.ffn_down.weight").shape()).containsExactly(4864, 896);
        assertThat(byName.get("blk.4.ffn_down.weight").type()).isEqualTo(GgmlType.Q4_K); // 4864 = 19 * 256
        assertThat(byName.get("blk.5.ffn_down.weight").type()).isEqualTo(GgmlType.Q6_K); // (5 - 24/8) % 3 == 2
        long params = plan.stream().mapToLong(ModelSynthesizer.Planned::elements).sum();
        assertThat(params).isEqualTo(p.parameterCount());
        assertThat(params).isBetween(490_000_000L, 500_000_000L);
    }

    @Test
    void presetsHaveThePerformanceTableSizes() {
        assertThat(SynthPreset.byName("llama-1b").parameterCount()).isBetween(1_235_000_000L, 1_245_000_000L);
        assertThat(SynthPreset.byName("qwen-1.5b").parameterCount()).isBetween(1_535_000_000L, 1_545_000_000L);
        assertThat(SynthPreset.byName("llama-8b").parameterCount()).isBetween(8_000_000_000L, 8_050_000_000L);
        assertThat(ModelSynthesizer.plan(SynthPreset.byName("llama-8b"), FileType.F16).stream()
                .anyMatch(t -> t.name().equals("output.weight"))).isTrue();
    }

    @Test
    void unknownPresetNamesTheKnownOnes() {
        assertThatThrownBy(() -> SynthPreset.byName("llama-70b"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("llama-70b").hasMessageContaining("qwen-0.5b");
    }

    @Test
    void byteLevelBpeVocabularyHasValidMergesAndSpecialsAtTheEnd() throws Exception {
        Path out = dir.resolve("tiny-bpe.gguf");
        ModelSynthesizer.write(new ModelSynthesizer.Options(SynthPreset.byName("tiny"), FileType.Q8_0, 1, 2, true), out, null);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("tokenizer.ggml.model")).isEqualTo("gpt2");
            assertThat(f.getString("tokenizer.ggml.pre")).isEqualTo("llama-bpe");
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            String[] merges = f.getStringArray("tokenizer.ggml.merges");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            assertThat(tokens).hasSize(4096);
            assertThat(merges).hasSize(4096 - 256 - 3);
            assertThat(tokens['A']).isEqualTo("A");
            assertThat(tokens['\n']).isEqualTo("\u010a"); // GPT-2's symbol for a newline byte
            Set<String> seen = new HashSet<>(Arrays.asList(tokens).subList(0, 256));
            for (int i = 0; i < merges.length; i++) {
                String[] parts = merges[i].split(" ");
                assertThat(parts).hasSize(2);
                assertThat(seen).contains(parts[0], parts[1]);
                assertThat(tokens[256 + i]).isEqualTo(parts[0] + parts[1]);
                assertThat(seen.add(tokens[256 + i])).as("unique %s", tokens[256 + i]).isTrue();
            }
            assertThat(tokens[4093]).isEqualTo("<|begin_of_text|>");
            assertThat(types[4093]).isEqualTo(3);
            assertThat(f.getInt("tokenizer.ggml.bos_token_id")).isEqualTo(4093);
            assertThat(f.getInt("tokenizer.ggml.eos_token_id")).isEqualTo(4094);
            assertThat(f.getBool("tokenizer.ggml.add_bos_token", false)).isTrue();
        }
    }
}
