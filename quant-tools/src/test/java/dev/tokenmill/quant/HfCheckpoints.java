package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmill.cli.Cli;
import dev.tokenmill.tensor.Fp16;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes small Hugging Face checkpoints for the convert tests: config.json, safetensors (optionally sharded, in
 * F32, F16 or BF16), and a byte-level BPE, a byte-fallback BPE or a SentencePiece tokenizer.
 * {@code main(dir)} writes a Llama and a Qwen2 one for checking with llama.cpp by hand.
 */
final class HfCheckpoints {
    static final int HIDDEN = 64, LAYERS = 2, HEADS = 4, KV_HEADS = 2, FFN = 96;

    private HfCheckpoints() {}

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args[0]);
        llama(root.resolve("tiny-llama"), "F32", false);
        qwen2(root.resolve("tiny-qwen2"), "BF16");
    }

    /** A Llama with a byte-level BPE tokenizer (Llama 3 style) and a chat template; returns the tensors written. */
    static Map<String, float[]> llama(Path dir, String dtype, boolean sharded) throws IOException {
        Files.createDirectories(dir);
        ObjectNode c = Cli.JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("hidden_size", HIDDEN).put("num_hidden_layers", LAYERS).put("num_attention_heads", HEADS)
                .put("num_key_value_heads", KV_HEADS).put("intermediate_size", FFN).put("max_position_embeddings", 256)
                .put("rms_norm_eps", 1e-5).put("rope_theta", 500000.0).put("vocab_size", ByteBpe.VOCAB)
                .put("tie_word_embeddings", false).put("bos_token_id", ByteBpe.BOS).put("eos_token_id", ByteBpe.EOS);
        ObjectNode rope = c.putObject("rope_scaling");
        rope.put("rope_type", "llama3").put("factor", 32.0).put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
                .put("original_max_position_embeddings", 64);
        Files.writeString(dir.resolve("config.json"), c.toString());
        Map<String, float[]> ts = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        SplittableRandom r = new SplittableRandom(3);
        tensor(ts, shapes, r, "model.embed_tokens.weight", ByteBpe.VOCAB, HIDDEN);
        for (int l = 0; l < LAYERS; l++) layer(ts, shapes, r, l, false);
        tensor(ts, shapes, r, "model.norm.weight", HIDDEN);
        tensor(ts, shapes, r, "lm_head.weight", ByteBpe.VOCAB, HIDDEN);
        writeSafetensors(dir, ts, shapes, dtype, sharded);
        ByteBpe.write(dir, true);
        return ts;
    }

    /** A Qwen2 with q/k/v biases, tied embeddings and a byte-level BPE; returns the tensors written. */
    static Map<String, float[]> qwen2(Path dir, String dtype) throws IOException {
        Files.createDirectories(dir);
        ObjectNode c = Cli.JSON.createObjectNode();
        c.putArray("architectures").add("Qwen2ForCausalLM");
        c.put("hidden_size", HIDDEN).put("num_hidden_layers", LAYERS).put("num_attention_heads", HEADS)
                .put("num_key_value_heads", KV_HEADS).put("intermediate_size", FFN).put("max_position_embeddings", 512)
                .put("rms_norm_eps", 1e-6).put("rope_theta", 1000000.0).put("vocab_size", ByteBpe.VOCAB)
                .put("tie_word_embeddings", true);
        Files.writeString(dir.resolve("config.json"), c.toString());
        Map<String, float[]> ts = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        SplittableRandom r = new SplittableRandom(4);
        tensor(ts, shapes, r, "model.embed_tokens.weight", ByteBpe.VOCAB, HIDDEN);
        for (int l = 0; l < LAYERS; l++) layer(ts, shapes, r, l, true);
        tensor(ts, shapes, r, "model.norm.weight", HIDDEN);
        writeSafetensors(dir, ts, shapes, dtype, true);
        ByteBpe.write(dir, false);
        return ts;
    }

    private static void layer(Map<String, float[]> ts, Map<String, long[]> shapes, SplittableRandom r, int l, boolean bias) {
        String p = "model.layers." + l + ".";
        int hd = HIDDEN / HEADS;
        tensor(ts, shapes, r, p + "input_layernorm.weight", HIDDEN);
        tensor(ts, shapes, r, p + "self_attn.q_proj.weight", HEADS * hd, HIDDEN);
        tensor(ts, shapes, r, p + "self_attn.k_proj.weight", KV_HEADS * hd, HIDDEN);
        tensor(ts, shapes, r, p + "self_attn.v_proj.weight", KV_HEADS * hd, HIDDEN);
        if (bias) {
            tensor(ts, shapes, r, p + "self_attn.q_proj.bias", HEADS * hd);
            tensor(ts, shapes, r, p + "self_attn.k_proj.bias", KV_HEADS * hd);
            tensor(ts, shapes, r, p + "self_attn.v_proj.bias", KV_HEADS * hd);
        }
        tensor(ts, shapes, r, p + "self_attn.o_proj.weight", HIDDEN, HEADS * hd);
        tensor(ts, shapes, r, p + "post_attention_layernorm.weight", HIDDEN);
        tensor(ts, shapes, r, p + "mlp.gate_proj.weight", FFN, HIDDEN);
        tensor(ts, shapes, r, p + "mlp.up_proj.weight", FFN, HIDDEN);
        tensor(ts, shapes, r, p + "mlp.down_proj.weight", HIDDEN, FFN);
        ts.put(p + "self_attn.rotary_emb.inv_freq", new float[hd / 2]); // old checkpoints carry it; skipped
        shapes.put(p + "self_attn.rotary_emb.inv_freq", new long[] {hd / 2});
    }

    private static void tensor(Map<String, float[]> ts, Map<String, long[]> shapes, SplittableRandom r, String name, long... shape) {
        int n = 1;
        for (long d : shape) n *= (int) d;
        float[] v = new float[n];
        boolean norm = shape.length == 1 && name.endsWith("norm.weight");
        for (int i = 0; i < n; i++) v[i] = norm ? 1f + (float) r.nextGaussian() * 0.05f : (float) r.nextGaussian() * 0.5f;
        ts.put(name, v);
        shapes.put(name, shape);
    }

    /** Writes the tensors as one safetensors file, or as two shards with model.safetensors.index.json. */
    static void writeSafetensors(Path dir, Map<String, float[]> ts, Map<String, long[]> shapes, String dtype, boolean sharded)
            throws IOException {
        List<String> names = new ArrayList<>(ts.keySet());
        if (!sharded) {
            writeOne(dir.resolve("model.safetensors"), names, ts, shapes, dtype);
            return;
        }
        List<String> a = names.subList(0, names.size() / 2), b = names.subList(names.size() / 2, names.size());
        writeOne(dir.resolve("model-00001-of-00002.safetensors"), a, ts, shapes, dtype);
        writeOne(dir.resolve("model-00002-of-00002.safetensors"), b, ts, shapes, dtype);
        ObjectNode index = Cli.JSON.createObjectNode();
        ObjectNode map = index.putObject("weight_map");
        for (String n : a) map.put(n, "model-00001-of-00002.safetensors");
        for (String n : b) map.put(n, "model-00002-of-00002.safetensors");
        Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
    }

    private static void writeOne(Path file, List<String> names, Map<String, float[]> ts, Map<String, long[]> shapes,
                                 String dtype) throws IOException {
        ObjectNode header = Cli.JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (String n : names) {
            float[] v = ts.get(n);
            int width = dtype.equals("F32") ? 4 : 2;
            ByteBuffer bb = ByteBuffer.allocate(v.length * width).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                switch (dtype) {
                    case "F32" -> bb.putFloat(f);
                    case "F16" -> bb.putShort(Fp16.fromFloat(f));
                    case "BF16" -> bb.putShort(Fp16.floatToBf16(f));
                    default -> throw new IllegalArgumentException(dtype);
                }
            }
            ObjectNode t = header.putObject(n);
            t.put("dtype", dtype);
            ArrayNode s = t.putArray("shape");
            for (long d : shapes.get(n)) s.add(d);
            t.putArray("data_offsets").add(data.size()).add(data.size() + bb.capacity());
            data.write(bb.array());
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(len.array());
        all.write(h);
        all.write(data.toByteArray());
        Files.write(file, all.toByteArray());
    }

    /** The value a tensor element has after the dtype the checkpoint was written in. */
    static float stored(float f, String dtype) {
        return switch (dtype) {
            case "F16" -> Fp16.toFloat(Fp16.fromFloat(f));
            case "BF16" -> Fp16.bf16ToFloat(Fp16.floatToBf16(f));
            default -> f;
        };
    }

    /** A byte-level BPE: the 256 GPT-2 byte symbols, a few merges, and special tokens. */
    static final class ByteBpe {
        static final String[][] MERGES = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"}};
        static final int BOS = 256 + MERGES.length, EOS = BOS + 1, VOCAB = EOS + 2; // one spare id: [PAD]

        static void write(Path dir, boolean llamaStyle) throws IOException {
            ObjectNode tok = Cli.JSON.createObjectNode();
            ObjectNode model = tok.putObject("model");
            model.put("type", "BPE").put("byte_fallback", false).put("ignore_merges", llamaStyle);
            ObjectNode vocab = model.putObject("vocab");
            List<String> symbols = byteSymbols();
            for (int i = 0; i < 256; i++) vocab.put(symbols.get(i), i);
            ArrayNode merges = model.putArray("merges");
            for (int i = 0; i < MERGES.length; i++) {
                vocab.put(MERGES[i][0] + MERGES[i][1], 256 + i);
                if (i % 2 == 0) merges.add(MERGES[i][0] + " " + MERGES[i][1]); // both merge formats
                else merges.addArray().add(MERGES[i][0]).add(MERGES[i][1]);
            }
            ArrayNode added = tok.putArray("added_tokens");
            String bos = llamaStyle ? "<|begin_of_text|>" : "<|im_start|>";
            String eos = llamaStyle ? "<|end_of_text|>" : "<|endoftext|>";
            added.addObject().put("id", BOS).put("content", bos).put("special", true);
            added.addObject().put("id", EOS).put("content", eos).put("special", true);
            if (llamaStyle) {
                ObjectNode post = tok.putObject("post_processor");
                post.put("type", "TemplateProcessing");
                ArrayNode single = post.putArray("single");
                single.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
                single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            }
            Files.writeString(dir.resolve("tokenizer.json"), tok.toString());
            ObjectNode cfg = Cli.JSON.createObjectNode();
            cfg.put("bos_token", bos).put("eos_token", eos);
            cfg.put("chat_template", "{% for m in messages %}<|" + "{{ m.role }}|>{{ m.content }}{% endfor %}");
            Files.writeString(dir.resolve("tokenizer_config.json"), cfg.toString());
        }

        /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map to U+0100 onwards. */
        static List<String> byteSymbols() {
            List<String> out = new ArrayList<>();
            int n = 0;
            for (int b = 0; b < 256; b++) {
                boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                out.add(String.valueOf((char) (printable ? b : 256 + n++)));
            }
            return out;
        }
    }
}
