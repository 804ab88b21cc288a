package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import dev.tokenmill.tensor.quant.Quantizer;
import dev.tokenmill.tensor.quant.RowEncoder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Converts a Hugging Face checkpoint of {@code LlamaForCausalLM} (Llama 2/3, Mistral), {@code Qwen2ForCausalLM} or
 * {@code Qwen3ForCausalLM} to GGUF, as llama.cpp's convert_hf_to_gguf.py does: config.json to hyperparameter keys,
 * safetensors tensors (sharded or not, memory-mapped) renamed to llama.cpp's names and written in F32, F16, BF16
 * or Q8_0 (1-D tensors stay F32), Llama's q/k rows un-permuted for llama.cpp's rotary layout, Llama 3's rope
 * frequency factors as {@code rope_freqs.weight}, and the tokenizer ({@link HfTokenizer}).
 */
public final class HfConverter {
    private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.+)$");
    private static final Map<String, String> LAYER_NAMES = Map.ofEntries(
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("self_attn.q_norm.weight", "attn_q_norm.weight"),
            Map.entry("self_attn.k_norm.weight", "attn_k_norm.weight"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate.weight"),
            Map.entry("mlp.up_proj.weight", "ffn_up.weight"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"));

    private HfConverter() {}

    /** The result: the file written, its architecture and what each tensor became. */
    public record Report(Path out, String architecture, int tensors, long bytes) {}

    /** One tensor to write: its GGUF name, source, ggml shape, type, and the head count of a Llama q/k un-permute. */
    private record Job(String name, Safetensors.Tensor src, long[] shape, GgmlType type, int permuteHeads, float[] values) {}

    /**
     * @param pre the BPE pre-tokenizer name to record, or null to choose it from the architecture
     */
    public static Report convert(Path dir, Path out, FileType type, int threads, String pre, LongConsumer progress)
            throws IOException {
        if (type != FileType.F32 && type != FileType.F16 && type != FileType.BF16 && type != FileType.Q8_0) {
            throw new ConvertException("convert writes F32, F16, BF16 or Q8_0, not " + type + "; quantize the result instead");
        }
        JsonNode config = HfTokenizer.readJson(dir.resolve("config.json"));
        if (config == null) throw new ConvertException(dir + ": no config.json (is this a Hugging Face model directory?)");
        String hfArch = config.path("architectures").path(0).asText("");
        String arch = switch (hfArch) {
            case "LlamaForCausalLM", "MistralForCausalLM" -> "llama";
            case "Qwen2ForCausalLM" -> "qwen2";
            case "Qwen3ForCausalLM" -> "qwen3";
            default -> throw new ConvertException(dir.resolve("config.json") + ": architecture '" + hfArch
                    + "' is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");
        };
        int nEmbd = required(config, "hidden_size", dir);
        int nLayer = required(config, "num_hidden_layers", dir);
        int nHead = required(config, "num_attention_heads", dir);
        int nHeadKv = config.path("num_key_value_heads").asInt(nHead);
        int headDim = config.path("head_dim").asInt(nEmbd / nHead);
        int nVocab = config.path("vocab_size").asInt(0);

        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", arch);
        w.putString("general.name", dir.toAbsolutePath().normalize().getFileName().toString());
        w.putUint32("general.file_type", type.id());
        if (type.defaultType().isQuantized()) w.putUint32("general.quantization_version", 2);
        if (nVocab > 0) w.putUint32(arch + ".vocab_size", nVocab);
        if (config.has("max_position_embeddings")) w.putUint32(arch + ".context_length", config.path("max_position_embeddings").asInt());
        w.putUint32(arch + ".embedding_length", nEmbd);
        w.putUint32(arch + ".block_count", nLayer);
        w.putUint32(arch + ".feed_forward_length", required(config, "intermediate_size", dir));
        w.putUint32(arch + ".attention.head_count", nHead);
        w.putUint32(arch + ".attention.head_count_kv", nHeadKv);
        w.putFloat32(arch + ".rope.freq_base", (float) ropeTheta(config));
        w.putFloat32(arch + ".attention.layer_norm_rms_epsilon", (float) config.path("rms_norm_eps").asDouble(1e-6));
        if (arch.equals("qwen3") || config.has("head_dim")) {
            w.putUint32(arch + ".attention.key_length", headDim);
            w.putUint32(arch + ".attention.value_length", headDim);
        }
        w.putUint32(arch + ".rope.dimension_count", headDim);
        JsonNode rope = ropeScaling(config);
        String ropeType = rope == null ? "" : rope.path("rope_type").asText(rope.path("type").asText(""));
        if (ropeType.equals("linear") && rope.has("factor")) {
            w.putString(arch + ".rope.scaling.type", "linear");
            w.putFloat32(arch + ".rope.scaling.factor", (float) rope.path("factor").asDouble());
        } else if (!ropeType.isEmpty() && !ropeType.equals("default") && !ropeType.equals("llama3")) {
            throw new ConvertException(dir.resolve("config.json") + ": rope scaling '" + ropeType
                    + "' is not supported (supported: none, linear, llama3)");
        }
        HfTokenizer.put(w, dir, arch, nVocab, pre);

        List<Safetensors> files = openShards(dir);
        Path target = out.toAbsolutePath();
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        try (RowEncoder encoder = new RowEncoder(threads)) {
            Map<String, Safetensors.Tensor> all = new LinkedHashMap<>();
            for (Safetensors f : files) {
                for (var e : f.tensors().entrySet()) {
                    if (all.put(e.getKey(), e.getValue()) != null) {
                        throw new ConvertException(dir + ": tensor '" + e.getKey() + "' appears in more than one shard");
                    }
                }
            }
            List<Job> jobs = plan(all, arch, type, nLayer, nHead, nHeadKv, dir);
            if (arch.equals("llama") && ropeType.equals("llama3")) {
                float[] factors = llama3RopeFactors(rope, ropeTheta(config), headDim);
                jobs.add(new Job("rope_freqs.weight", null, new long[] {factors.length}, GgmlType.F32, 0, factors));
            }
            long bytes = 0;
            for (Job j : jobs) {
                bytes += j.type().bytesFor(elements(j.shape()));
                w.addTensor(j.name(), j.type(), j.shape(), os -> write(encoder, j, os, progress));
            }
            w.write(tmp);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return new Report(out, arch, jobs.size(), bytes);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        } finally {
            for (Safetensors f : files) f.close();
        }
    }

    private static List<Job> plan(Map<String, Safetensors.Tensor> all, String arch, FileType type, int nLayer,
                                  int nHead, int nHeadKv, Path dir) {
        List<Job> jobs = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        // llama.cpp's order: embeddings, the layers in order, final norm, output
        List<String> names = new ArrayList<>(all.keySet());
        names.sort((a, b) -> Integer.compare(order(a), order(b)) != 0 ? Integer.compare(order(a), order(b)) : a.compareTo(b));
        for (String hf : names) {
            if (hf.endsWith("rotary_emb.inv_freq")) continue; // recomputed by llama.cpp
            String gguf;
            int permute = 0;
            Matcher m = LAYER.matcher(hf);
            if (hf.equals("model.embed_tokens.weight")) gguf = "token_embd.weight";
            else if (hf.equals("model.norm.weight")) gguf = "output_norm.weight";
            else if (hf.equals("lm_head.weight")) gguf = "output.weight";
            else if (m.matches() && LAYER_NAMES.containsKey(m.group(2))) {
                gguf = "blk." + m.group(1) + "." + LAYER_NAMES.get(m.group(2));
                if (arch.equals("llama") && m.group(2).startsWith("self_attn.q_proj.")) permute = nHead;
                if (arch.equals("llama") && m.group(2).startsWith("self_attn.k_proj.")) permute = nHeadKv;
            } else {
                throw new ConvertException(dir + ": tensor '" + hf + "' has no GGUF name for architecture " + arch);
            }
            Safetensors.Tensor t = all.get(hf);
            long[] shape = new long[t.shape().length];
            for (int i = 0; i < shape.length; i++) shape[i] = t.shape()[shape.length - 1 - i]; // ggml order: innermost first
            GgmlType gt = shape.length < 2 ? GgmlType.F32 : type.defaultType();
            if (shape[0] % gt.blockSize() != 0) gt = GgmlType.F16;
            jobs.add(new Job(gguf, t, shape, gt, permute, null));
            seen.add(gguf);
        }
        List<String> required = new ArrayList<>(List.of("token_embd.weight", "output_norm.weight"));
        for (int l = 0; l < nLayer; l++) {
            for (String s : List.of("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")) {
                required.add("blk." + l + "." + s + ".weight");
            }
        }
        for (String r : required) {
            if (!seen.contains(r)) throw new ConvertException(dir + ": the checkpoint has no tensor for '" + r + "'");
        }
        return jobs;
    }

    /** Sort key: embeddings first, then layers in numeric order, then the rest. */
    private static int order(String hf) {
        if (hf.equals("model.embed_tokens.weight")) return -1;
        Matcher m = LAYER.matcher(hf);
        return m.matches() ? Integer.parseInt(m.group(1)) : Integer.MAX_VALUE;
    }

    private static void write(RowEncoder encoder, Job j, java.io.OutputStream os, LongConsumer progress) throws IOException {
        int rowLength = Math.toIntExact(j.shape()[0]);
        long rows = elements(j.shape()) / rowLength;
        RowEncoder.RowSource source;
        if (j.values() != null) {
            source = (first, count, dst) -> System.arraycopy(j.values(), (int) first * rowLength, dst, 0, count * rowLength);
        } else if (j.permuteHeads() > 0) {
            // convert_hf_to_gguf.py's LlamaModel.permute: within each head, row 2i+k takes row k*(headDim/2)+i
            long headRows = (j.shape().length == 1 ? j.shape()[0] : rows) / j.permuteHeads();
            long half = headRows / 2;
            int rl = j.shape().length == 1 ? 1 : rowLength;
            long n = j.shape().length == 1 ? j.shape()[0] : rows;
            if (j.shape().length == 1) {
                source = (first, count, dst) -> {
                    for (int r = 0; r < count; r++) {
                        for (int c = 0; c < rowLength; c++) dst[r * rowLength + c] = read1(j, permuted(c, headRows, half));
                    }
                };
            } else {
                source = (first, count, dst) -> {
                    for (int r = 0; r < count; r++) j.src().read(permuted(first + r, headRows, half) * rl, rl, dst, r * rl);
                };
            }
            if (n % (2L * j.permuteHeads()) != 0) {
                throw new ConvertException("tensor '" + j.name() + "' has " + n + " rows, not a multiple of 2 x " + j.permuteHeads() + " heads");
            }
        } else {
            source = (first, count, dst) -> j.src().read(first * rowLength, count * rowLength, dst, 0);
        }
        encoder.encode(source, rows, rowLength, Quantizer.forType(j.type()), os,
                progress == null ? null : b -> progress.accept(b));
    }

    private static float read1(Job j, long index) {
        float[] one = new float[1];
        j.src().read(index, 1, one, 0);
        return one[0];
    }

    /** The source row of output row {@code r}: head h, position 2i+k takes k*half+i. */
    private static long permuted(long r, long headRows, long half) {
        long h = r / headRows, within = r % headRows;
        long i = within / 2, k = within % 2;
        return h * headRows + k * half + i;
    }

    /** convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors for rope_type llama3. */
    static float[] llama3RopeFactors(JsonNode rope, double base, int dim) {
        double factor = rope.path("factor").asDouble(8.0);
        double lowFreqFactor = rope.path("low_freq_factor").asDouble(1.0);
        double highFreqFactor = rope.path("high_freq_factor").asDouble(4.0);
        double oldContext = rope.path("original_max_position_embeddings").asDouble(8192);
        double lowFreqWavelen = oldContext / lowFreqFactor;
        double highFreqWavelen = oldContext / highFreqFactor;
        float[] out = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            float freq = (float) (1.0 / Math.pow(base, (float) (2 * i) / dim));
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highFreqWavelen) out[i] = 1f;
            else if (wavelen > lowFreqWavelen) out[i] = (float) factor;
            else {
                double smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                out[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return out;
    }

    private static JsonNode ropeScaling(JsonNode config) {
        JsonNode r = config.path("rope_scaling");
        if (r.isObject()) return r;
        r = config.path("rope_parameters");
        return r.isObject() ? r : null;
    }

    private static double ropeTheta(JsonNode config) {
        if (config.has("rope_theta")) return config.path("rope_theta").asDouble();
        JsonNode r = ropeScaling(config);
        return r != null && r.has("rope_theta") ? r.path("rope_theta").asDouble() : 10000.0;
    }

    private static List<Safetensors> openShards(Path dir) throws IOException {
        Set<Path> paths = new LinkedHashSet<>();
        JsonNode index = HfTokenizer.readJson(dir.resolve("model.safetensors.index.json"));
        if (index != null) {
            for (var e : index.path("weight_map").properties()) paths.add(dir.resolve(e.getValue().asText()));
        } else {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().forEach(paths::add);
            }
        }
        if (paths.isEmpty()) throw new ConvertException(dir + ": no .safetensors files");
        List<Safetensors> files = new ArrayList<>();
        try {
            for (Path p : paths) {
                if (!Files.isRegularFile(p)) throw new ConvertException(dir + ": shard " + p.getFileName() + " named by the index is missing");
                files.add(Safetensors.open(p));
            }
        } catch (IOException | RuntimeException e) {
            for (Safetensors f : files) f.close();
            throw e;
        }
        return files;
    }

    private static int required(JsonNode config, String key, Path dir) {
        JsonNode v = config.path(key);
        if (!v.canConvertToInt()) throw new ConvertException(dir.resolve("config.json") + ": required key '" + key + "' is missing");
        return v.asInt();
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }
}
