package dev.tokenmill.fuzz;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.Quantizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The well-formed models the fuzzer mutates, written by the tests (never read from disk): the three
 * architectures, every tensor type the engine runs (matrices of one model cycle through a list of types), each
 * with a SentencePiece vocabulary as large as its embedding.
 */
final class GgufFuzzSeeds {
    private GgufFuzzSeeds() {}

    /** Seed name to file bytes, in a fixed order. */
    static Map<String, byte[]> write(Path dir) throws IOException {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("llama-f32", bytes(dir, "llama-f32", TinyModel.llama(1), List.of(GgmlType.F32)));
        seeds.put("qwen2-f16-bf16", bytes(dir, "qwen2-f16-bf16", TinyModel.qwen2(2), List.of(GgmlType.F16, GgmlType.BF16)));
        seeds.put("qwen3-f16", bytes(dir, "qwen3-f16", TinyModel.qwen3(3), List.of(GgmlType.F16)));
        seeds.put("llama-legacy-quants", bytes(dir, "llama-legacy-quants", TinyModel.llamaQuantizable(4),
                List.of(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1)));
        seeds.put("llama-k-quants", bytes(dir, "llama-k-quants", TinyModel.llamaWide(5),
                List.of(GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0)));
        return seeds;
    }

    /** The model with matrix i quantized to {@code types[i % n]} (vectors stay F32) and a vocabulary. */
    private static byte[] bytes(Path dir, String name, TinyModel m, List<GgmlType> types) throws IOException {
        Path f32 = dir.resolve(name + "-f32-source.gguf");
        m.writer(null).write(f32);
        GgufWriter w = new GgufWriter();
        try (GgufFile src = GgufFile.open(f32)) {
            w.putAll(src.metadata());
        }
        int vocab = Math.toIntExact(m.shapes.get("token_embd.weight")[1]);
        putVocabulary(w, vocab);
        int matrix = 0;
        for (var e : m.tensors.entrySet()) {
            long[] shape = m.shapes.get(e.getKey());
            float[] v = e.getValue();
            if (shape.length == 2) {
                GgmlType type = types.get(matrix++ % types.size());
                byte[] bytes = new byte[Math.toIntExact(type.bytesFor(v.length))];
                Quantizer.forType(type).quantize(v, 0, v.length, bytes, 0);
                w.addTensor(e.getKey(), type, shape, out -> out.write(bytes));
            } else {
                w.addF32(e.getKey(), shape, v);
            }
        }
        Path p = dir.resolve(name + ".gguf");
        w.write(p);
        return Files.readAllBytes(p);
    }

    /** {@code <unk> <s> </s> ▁}, a..z, ▁a..▁z, then filler pieces up to {@code size}. */
    private static void putVocabulary(GgufWriter w, int size) {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>", "\u2581"));
        for (char c = 'a'; c <= 'z'; c++) tokens.add(String.valueOf(c));
        for (char c = 'a'; c <= 'z'; c++) tokens.add("\u2581" + c);
        while (tokens.size() < size) tokens.add("<0x" + String.format("%02X", tokens.size()) + ">");
        float[] scores = new float[size];
        int[] types = new int[size];
        for (int i = 0; i < size; i++) {
            types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 56 ? 1 : 6; // unknown, control, normal, byte
            scores[i] = -i;
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.subList(0, size).toArray(String[]::new)));
        w.put("tokenizer.ggml.scores", GgufValue.ofFloats(scores));
        w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
        w.putUint32("tokenizer.ggml.bos_token_id", 1);
        w.putUint32("tokenizer.ggml.eos_token_id", 2);
        w.putUint32("tokenizer.ggml.unknown_token_id", 0);
        w.putBool("tokenizer.ggml.add_bos_token", true);
    }
}
