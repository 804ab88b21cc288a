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
 * with a vocabulary as large as its embedding (SentencePiece; byte-level BPE with merges for qwen2-bpe).
 */
final class GgufFuzzSeeds {
    private GgufFuzzSeeds() {}

    /** Seed name to file bytes, in a fixed order. */
    static Map<String, byte[]> write(Path dir) throws IOException {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("llama-f32", bytes(dir, "llama-f32", TinyModel.llama(1), List.of(GgmlType.F32)));
        seeds.put("qwen2-f16-bf16", bytes(dir, "qwen2-f16-bf16", TinyModel.qwen2(2), List.of(GgmlType.F16, GgmlType.BF16)));
        seeds.put("qwen3-f16", bytes(dir, "qwen3-f16", TinyModel.qwen3(3), List.of(GgmlType.F16)));
        seeds.put("qwen2-bpe", bytes(dir, "qwen2-bpe", TinyModel.qwen2(6, BPE_VOCAB), List.of(GgmlType.F32, GgmlType.F16)));
        seeds.put("llama-legacy-quants", bytes(dir, "llama-legacy-quants", TinyModel.llamaQuantizable(4),
                List.of(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1)));
        seeds.put("llama-k-quants", bytes(dir, "llama-k-quants", TinyModel.llamaWide(5),
                List.of(GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0)));
        return seeds;
    }

    /** The byte-level BPE vocabulary's size: 256 byte symbols, the merged pieces and three control tokens. */
    private static final int BPE_VOCAB = 256 + 9 + 3;

    /**
     * The model with matrix i quantized to {@code types[i % n]} (vectors stay F32) and a vocabulary: byte-level
     * BPE when the embedding has {@link #BPE_VOCAB} rows, else SentencePiece.
     */
    private static byte[] bytes(Path dir, String name, TinyModel m, List<GgmlType> types) throws IOException {
        Path f32 = dir.resolve(name + "-f32-source.gguf");
        m.writer(null).write(f32);
        GgufWriter w = new GgufWriter();
        try (GgufFile src = GgufFile.open(f32)) {
            w.putAll(src.metadata());
        }
        int vocab = Math.toIntExact(m.shapes.get("token_embd.weight")[1]);
        if (vocab == BPE_VOCAB) putBpeVocabulary(w);
        else putVocabulary(w, vocab);
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

    /** GPT-2's byte-level BPE: a symbol per byte (printable bytes stand for themselves), merges for "hello world". */
    private static void putBpeVocabulary(GgufWriter w) {
        List<String> tokens = new ArrayList<>();
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            tokens.add(Character.toString(printable ? b : next++));
        }
        String[][] merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\u0120", "w"}, {"o", "r"},
                {"\u0120w", "or"}, {"l", "d"}, {"\u0120wor", "ld"}};
        List<String> mergeLines = new ArrayList<>();
        for (String[] pair : merges) {
            mergeLines.add(pair[0] + " " + pair[1]);
            tokens.add(pair[0] + pair[1]);
        }
        tokens.addAll(List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"));
        if (tokens.size() != BPE_VOCAB) throw new AssertionError("BPE vocabulary has " + tokens.size() + " tokens");
        int[] types = new int[tokens.size()];
        for (int i = 0; i < types.length; i++) types[i] = i < tokens.size() - 3 ? 1 : 3; // normal, control
        w.putString("tokenizer.ggml.model", "gpt2");
        w.putString("tokenizer.ggml.pre", "qwen2");
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)));
        w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
        w.put("tokenizer.ggml.merges", GgufValue.ofStrings(mergeLines.toArray(String[]::new)));
        w.putUint32("tokenizer.ggml.bos_token_id", tokens.size() - 3);
        w.putUint32("tokenizer.ggml.eos_token_id", tokens.size() - 1);
    }
}
