package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmill.cli.Cli;
import dev.tokenmill.cli.Main;
import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.tokenmill.quant.HfCheckpoints.FFN;
import static dev.tokenmill.quant.HfCheckpoints.HEADS;
import static dev.tokenmill.quant.HfCheckpoints.HIDDEN;
import static dev.tokenmill.quant.HfCheckpoints.KV_HEADS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConvertCommandTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int HEAD_DIM = HIDDEN / HEADS;

    @TempDir
    Path tmp;

    private float[] f32(GgufFile f, String name) {
        return f.tensorData(name).toArray(F32);
    }

    /** llama.cpp's un-permute: within each head, ggml row 2i+k is HF row k*(headDim/2)+i. */
    private static int hfRow(int r) {
        int h = r / HEAD_DIM, within = r % HEAD_DIM;
        return h * HEAD_DIM + (within % 2) * (HEAD_DIM / 2) + within / 2;
    }

    @Test
    void llamaConvertsWithHyperparametersUnpermutedQkAndByteLevelTokenizer() throws Exception {
        Path hf = tmp.resolve("tiny-llama");
        Map<String, float[]> src = HfCheckpoints.llama(hf, "F32", false);
        Path out = tmp.resolve("llama-f32.gguf");
        CommandLine cli = Main.commandLine();
        StringWriter so = new StringWriter(), se = new StringWriter();
        cli.setOut(new PrintWriter(so));
        cli.setErr(new PrintWriter(se));
        assertThat(cli.execute("convert", hf.toString(), out.toString(), "--type", "F32")).as(se.toString()).isZero();
        assertThat(Cli.JSON.readTree(so.toString()).get("architecture").asText()).isEqualTo("llama");
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("general.architecture")).isEqualTo("llama");
            assertThat(f.getInt("llama.embedding_length")).isEqualTo(HIDDEN);
            assertThat(f.getInt("llama.block_count")).isEqualTo(2);
            assertThat(f.getInt("llama.feed_forward_length")).isEqualTo(FFN);
            assertThat(f.getInt("llama.attention.head_count_kv")).isEqualTo(KV_HEADS);
            assertThat(f.getInt("llama.rope.dimension_count")).isEqualTo(HEAD_DIM);
            assertThat(f.getDouble("llama.rope.freq_base")).isEqualTo(500000.0);
            assertThat(f.getInt("llama.context_length")).isEqualTo(256);
            assertThat(f.getInt("general.file_type")).isZero();
            assertThat(f.tensor("token_embd.weight").shape()).containsExactly(HIDDEN, HfCheckpoints.ByteBpe.VOCAB);
            assertThat(f.tensor("blk.1.ffn_down.weight").shape()).containsExactly(FFN, HIDDEN);
            assertThat(f.tensor("blk.0.attn_k.weight").shape()).containsExactly(HIDDEN, KV_HEADS * HEAD_DIM);
            assertThat(f.hasTensor("output.weight")).isTrue();
            assertThat(f.tensors().keySet()).noneMatch(n -> n.contains("rotary") || n.contains("inv_freq"));
            // v is copied as is; q and k rows are un-permuted per head
            assertThat(f32(f, "blk.0.attn_v.weight")).containsExactly(src.get("model.layers.0.self_attn.v_proj.weight"));
            float[] q = f32(f, "blk.1.attn_q.weight"), hq = src.get("model.layers.1.self_attn.q_proj.weight");
            float[] k = f32(f, "blk.0.attn_k.weight"), hk = src.get("model.layers.0.self_attn.k_proj.weight");
            for (int r = 0; r < HEADS * HEAD_DIM; r++) {
                for (int c = 0; c < HIDDEN; c++) assertThat(q[r * HIDDEN + c]).isEqualTo(hq[hfRow(r) * HIDDEN + c]);
            }
            for (int r = 0; r < KV_HEADS * HEAD_DIM; r++) {
                for (int c = 0; c < HIDDEN; c++) assertThat(k[r * HIDDEN + c]).isEqualTo(hk[hfRow(r) * HIDDEN + c]);
            }
            // llama3 rope scaling becomes rope_freqs: factor 1 for high frequencies, 32 for the lowest
            float[] freqs = f32(f, "rope_freqs.weight");
            assertThat(freqs).hasSize(HEAD_DIM / 2);
            assertThat(freqs[0]).isEqualTo(1f);
            assertThat(freqs[HEAD_DIM / 2 - 1]).isEqualTo(32f);

            assertThat(f.getString("tokenizer.ggml.model")).isEqualTo("gpt2");
            assertThat(f.getString("tokenizer.ggml.pre")).isEqualTo("llama-bpe");
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            assertThat(tokens).hasSize(HfCheckpoints.ByteBpe.VOCAB);
            assertThat(tokens['!']).isEqualTo("!");
            assertThat(tokens[' ']).isEqualTo("Ġ"); // GPT-2's byte-to-unicode symbols
            assertThat(tokens[256 + 3]).isEqualTo("hello");
            assertThat(tokens[HfCheckpoints.ByteBpe.BOS]).isEqualTo("<|begin_of_text|>");
            assertThat(types[HfCheckpoints.ByteBpe.BOS]).isEqualTo(3);
            assertThat(types[5]).isEqualTo(1);
            assertThat(tokens[HfCheckpoints.ByteBpe.VOCAB - 1]).startsWith("[PAD");
            assertThat(types[HfCheckpoints.ByteBpe.VOCAB - 1]).isEqualTo(5);
            assertThat(f.getStringArray("tokenizer.ggml.merges")).containsExactly("h e", "l l", "he ll", "hell o", "Ġ w", "o r");
            assertThat(f.getInt("tokenizer.ggml.bos_token_id")).isEqualTo(HfCheckpoints.ByteBpe.BOS);
            assertThat(f.getInt("tokenizer.ggml.eos_token_id")).isEqualTo(HfCheckpoints.ByteBpe.EOS);
            assertThat(f.getBool("tokenizer.ggml.add_bos_token", false)).isTrue();
            assertThat(f.getString("tokenizer.chat_template")).contains("messages");
        }
    }

    @Test
    void qwen2FromShardedBf16KeepsBiasesUnpermutedAndTiesEmbeddings() throws Exception {
        Path hf = tmp.resolve("tiny-qwen2");
        Map<String, float[]> src = HfCheckpoints.qwen2(hf, "BF16");
        Path out = tmp.resolve("qwen2-f16.gguf");
        HfConverter.convert(hf, out, FileType.F16, 2, null, null);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("general.architecture")).isEqualTo("qwen2");
            assertThat(f.getString("tokenizer.ggml.pre")).isEqualTo("qwen2");
            assertThat(f.getDouble("qwen2.attention.layer_norm_rms_epsilon")).isEqualTo(1e-6f);
            assertThat(f.hasTensor("output.weight")).isFalse();
            assertThat(f.tensor("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.F16);
            assertThat(f.tensor("blk.0.attn_q.bias").type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensor("blk.0.attn_k.bias").shape()).containsExactly(KV_HEADS * HEAD_DIM);
            assertThat(f.tensor("output_norm.weight").type()).isEqualTo(GgmlType.F32);
            float[] bias = f32(f, "blk.1.attn_k.bias"), hb = src.get("model.layers.1.self_attn.k_proj.bias");
            for (int i = 0; i < hb.length; i++) assertThat(bias[i]).isEqualTo(HfCheckpoints.stored(hb[i], "BF16"));
            // BF16 -> F16: the k projection is not permuted for qwen2 (NEOX rope)
            short[] q = f.tensorData("blk.0.attn_q.weight").toArray(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            float[] hq = src.get("model.layers.0.self_attn.q_proj.weight");
            for (int i = 0; i < hq.length; i++) {
                float expected = dev.tokenmill.tensor.Fp16.toFloat(dev.tokenmill.tensor.Fp16.fromFloat(HfCheckpoints.stored(hq[i], "BF16")));
                assertThat(dev.tokenmill.tensor.Fp16.toFloat(q[i])).isEqualTo(expected);
            }
            assertThat(f.getInt("tokenizer.ggml.bos_token_id")).isEqualTo(HfCheckpoints.ByteBpe.BOS);
            assertThat(f.has("tokenizer.ggml.add_bos_token")).isFalse();
        }
    }

    @Test
    void q8_0OutputQuantizesMatricesAndQuantizeAcceptsTheResult() throws Exception {
        Path hf = tmp.resolve("tiny-llama");
        HfCheckpoints.llama(hf, "F16", true);
        Path out = tmp.resolve("llama-q8.gguf");
        HfConverter.convert(hf, out, FileType.Q8_0, 2, null, null);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getInt("general.file_type")).isEqualTo(7);
            assertThat(f.tensor("blk.0.ffn_up.weight").type()).isEqualTo(GgmlType.Q8_0);
            assertThat(f.tensor("blk.0.ffn_norm.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensor("rope_freqs.weight").type()).isEqualTo(GgmlType.F32);
        }
        Path f16 = tmp.resolve("llama-f16.gguf");
        HfConverter.convert(hf, f16, FileType.F16, 1, null, null);
        ModelQuantizer.Report r = ModelQuantizer.quantize(f16, tmp.resolve("llama-q4_0.gguf"), FileType.Q4_0, 2, false, null);
        assertThat(r.tensors()).anyMatch(t -> t.to() == GgmlType.Q4_0);
    }

    @Test
    void byteFallbackBpeBecomesASentencePieceVocabularyScoredByMergeRank() throws Exception {
        Path hf = tmp.resolve("spm-json");
        HfCheckpoints.llama(hf, "F32", false);
        ObjectNode tok = Cli.JSON.createObjectNode();
        ObjectNode model = tok.putObject("model");
        model.put("type", "BPE").put("byte_fallback", true).put("unk_token", "<unk>");
        ObjectNode vocab = model.putObject("vocab");
        String[] pieces = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < 3; i++) vocab.put(pieces[i], i);
        for (int b = 0; b < 256; b++) vocab.put(String.format("<0x%02X>", b), 3 + b);
        String[] rest = {"▁", "h", "e", "l", "o", "he", "ll", "▁he", "hell", "▁hell"};
        for (int i = 0; i < rest.length; i++) vocab.put(rest[i], 259 + i);
        model.putArray("merges").add("h e").add("l l").add("▁ he").add("he ll").add("▁he ll");
        ArrayNode added = tok.putArray("added_tokens");
        added.addObject().put("id", 0).put("content", "<unk>").put("special", true);
        added.addObject().put("id", 1).put("content", "<s>").put("special", true);
        added.addObject().put("id", 2).put("content", "</s>").put("special", true);
        tok.putObject("decoder").put("type", "Sequence");
        Files.writeString(hf.resolve("tokenizer.json"), tok.toString());
        Files.writeString(hf.resolve("tokenizer_config.json"),
                "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"unk_token\":\"<unk>\",\"add_bos_token\":true,\"add_eos_token\":false}");
        writeConfigVocab(hf, 3 + 256 + rest.length);
        Path out = tmp.resolve("spm.gguf");
        HfConverter.convert(hf, out, FileType.F32, 1, null, null);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("tokenizer.ggml.model")).isEqualTo("llama");
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            float[] scores = f.getFloatArray("tokenizer.ggml.scores");
            assertThat(tokens[3 + 0x41]).isEqualTo("<0x41>");
            assertThat(types[3 + 0x41]).isEqualTo(6);
            assertThat(types[0]).isEqualTo(2);
            assertThat(types[1]).isEqualTo(3);
            int he = 259 + 5, ll = 259 + 6, hell = 259 + 8;
            assertThat(scores[he]).isEqualTo(0f);     // merge 0
            assertThat(scores[ll]).isEqualTo(-1f);    // merge 1
            assertThat(scores[hell]).isEqualTo(-3f);  // merge 3
            assertThat(scores[259 + 1]).isLessThan(scores[hell]); // "h" is no merge result: below them all
            assertThat(f.getInt("tokenizer.ggml.bos_token_id")).isEqualTo(1);
            assertThat(f.getInt("tokenizer.ggml.unknown_token_id")).isEqualTo(0);
            assertThat(f.getBool("tokenizer.ggml.add_bos_token", false)).isTrue();
            assertThat(f.getBool("tokenizer.ggml.add_eos_token", true)).isFalse();
        }
    }

    @Test
    void sentencePieceModelFileGivesPiecesScoresAndTypes() throws Exception {
        Path hf = tmp.resolve("spm-proto");
        HfCheckpoints.llama(hf, "F32", false);
        Files.delete(hf.resolve("tokenizer.json"));
        Files.writeString(hf.resolve("tokenizer_config.json"), "{\"added_tokens_decoder\":{\"3\":{\"content\":\"<|im_end|>\",\"special\":true}}}");
        ByteArrayOutputStream proto = new ByteArrayOutputStream();
        Object[][] pieces = {{"<unk>", 0f, 2}, {"<s>", 0f, 3}, {"</s>", 0f, 3}, {"<0x00>", 0f, 6}, {"▁the", -1.5f, 1}, {"e", -7.25f, 1}};
        for (Object[] p : pieces) {
            ByteArrayOutputStream m = new ByteArrayOutputStream();
            byte[] text = ((String) p[0]).getBytes(StandardCharsets.UTF_8);
            m.write(0x0A);
            m.write(text.length);
            m.write(text);
            m.write(0x15);
            m.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat((Float) p[1]).array());
            if ((Integer) p[2] != 1) {
                m.write(0x18);
                m.write((Integer) p[2]);
            }
            proto.write(0x0A);
            proto.write(m.size());
            proto.write(m.toByteArray());
        }
        proto.write(new byte[] {0x12, 0x02, 0x08, 0x01}); // a trainer_spec to skip
        Files.write(hf.resolve("tokenizer.model"), proto.toByteArray());
        writeConfigVocab(hf, 8);
        ObjectNode c = (ObjectNode) Cli.JSON.readTree(hf.resolve("config.json").toFile());
        Files.writeString(hf.resolve("config.json"), c.put("bos_token_id", 1).put("eos_token_id", 2).toString());
        Path out = tmp.resolve("proto.gguf");
        HfConverter.convert(hf, out, FileType.F32, 1, null, null);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("tokenizer.ggml.model")).isEqualTo("llama");
            assertThat(f.getStringArray("tokenizer.ggml.tokens"))
                    .containsExactly("<unk>", "<s>", "</s>", "<|im_end|>", "▁the", "e", "[PAD6]", "[PAD7]");
            assertThat(f.getIntArray("tokenizer.ggml.token_type")).containsExactly(2, 3, 3, 3, 1, 1, 5, 5);
            assertThat(f.getFloatArray("tokenizer.ggml.scores")).containsExactly(0f, 0f, 0f, -1000f, -1.5f, -7.25f, -1000f, -1000f);
            assertThat(f.getInt("tokenizer.ggml.bos_token_id")).isEqualTo(1); // from config.json
            assertThat(f.getInt("tokenizer.ggml.eos_token_id")).isEqualTo(2);
        }
    }

    /** Shrinks the model's vocab to the tokenizer's (embedding rows stay; only the key matters here). */
    private static void writeConfigVocab(Path hf, int vocab) throws Exception {
        ObjectNode c = (ObjectNode) Cli.JSON.readTree(hf.resolve("config.json").toFile());
        c.put("vocab_size", vocab);
        Files.writeString(hf.resolve("config.json"), c.toString());
    }

    @Test
    void unsupportedArchitectureAndMissingTensorsAreNamed() throws Exception {
        Path hf = tmp.resolve("other");
        HfCheckpoints.llama(hf, "F32", false);
        ObjectNode c = (ObjectNode) Cli.JSON.readTree(hf.resolve("config.json").toFile());
        c.putArray("architectures").add("GPTNeoXForCausalLM");
        Files.writeString(hf.resolve("config.json"), c.toString());
        assertThatThrownBy(() -> HfConverter.convert(hf, tmp.resolve("x.gguf"), FileType.F16, 1, null, null))
                .isInstanceOf(ConvertException.class).hasMessageContaining("GPTNeoXForCausalLM").hasMessageContaining("Qwen2ForCausalLM");

        Path hf2 = tmp.resolve("missing");
        Map<String, float[]> ts = HfCheckpoints.llama(hf2, "F32", false);
        ts.remove("model.layers.1.mlp.up_proj.weight");
        Files.delete(hf2.resolve("model.safetensors"));
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        for (var e : ts.entrySet()) shapes.put(e.getKey(), new long[] {e.getValue().length});
        HfCheckpoints.writeSafetensors(hf2, ts, shapes, "F32", false);
        assertThatThrownBy(() -> HfConverter.convert(hf2, tmp.resolve("y.gguf"), FileType.F32, 1, null, null))
                .isInstanceOf(ConvertException.class).hasMessageContaining("blk.1.ffn_up.weight");
        assertThat(tmp.resolve("y.gguf")).doesNotExist();
    }
}
