package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A tiny random model for tests: the hyperparameters, every weight as a float array (row-major [rows, cols]), and a
 * writer that puts it into a GGUF file laid out as llama.cpp's converters do. Weights are drawn so that logits have a
 * spread of a few units, like the reference models.
 */
public final class TinyModel {
    public final Architecture arch;
    public final int nEmbd, nLayers, nHeads, nKvHeads, headDim, ffn, vocab, ropeDim, ctx;
    public final float ropeBase, eps;
    public final boolean tied;
    public final GgmlType matrixType;
    /** name -> values; matrices row-major [rows][cols], vectors plain. */
    public final Map<String, float[]> tensors = new LinkedHashMap<>();
    public final Map<String, long[]> shapes = new LinkedHashMap<>();

    private TinyModel(Architecture arch, int nEmbd, int nLayers, int nHeads, int nKvHeads, int headDim, int ffn, int vocab,
                      int ropeDim, float ropeBase, float eps, boolean tied, GgmlType matrixType, long seed) {
        this.arch = arch;
        this.nEmbd = nEmbd;
        this.nLayers = nLayers;
        this.nHeads = nHeads;
        this.nKvHeads = nKvHeads;
        this.headDim = headDim;
        this.ffn = ffn;
        this.vocab = vocab;
        this.ropeDim = ropeDim;
        this.ctx = 256;
        this.ropeBase = ropeBase;
        this.eps = eps;
        this.tied = tied;
        this.matrixType = matrixType;
        Random r = new Random(seed);
        matrix(r, "token_embd.weight", vocab, nEmbd, tied ? 3 / Math.sqrt(nEmbd) : 1);
        vector(r, "output_norm.weight", nEmbd, 1, 0.05);
        if (!tied) matrix(r, "output.weight", vocab, nEmbd, 4 / Math.sqrt(nEmbd));
        int q = nHeads * headDim, kv = nKvHeads * headDim;
        for (int l = 0; l < nLayers; l++) {
            String b = "blk." + l + ".";
            vector(r, b + "attn_norm.weight", nEmbd, 1, 0.05);
            matrix(r, b + "attn_q.weight", q, nEmbd, 1 / Math.sqrt(nEmbd));
            matrix(r, b + "attn_k.weight", kv, nEmbd, 1 / Math.sqrt(nEmbd));
            matrix(r, b + "attn_v.weight", kv, nEmbd, 1 / Math.sqrt(nEmbd));
            if (arch.qkvBias()) {
                vector(r, b + "attn_q.bias", q, 0, 0.3);
                vector(r, b + "attn_k.bias", kv, 0, 0.3);
                vector(r, b + "attn_v.bias", kv, 0, 0.3);
            }
            if (arch.qkNorm()) {
                vector(r, b + "attn_q_norm.weight", headDim, 1, 0.1);
                vector(r, b + "attn_k_norm.weight", headDim, 1, 0.1);
            }
            matrix(r, b + "attn_output.weight", nEmbd, q, 2 / Math.sqrt(q));
            vector(r, b + "ffn_norm.weight", nEmbd, 1, 0.05);
            matrix(r, b + "ffn_gate.weight", ffn, nEmbd, 1 / Math.sqrt(nEmbd));
            matrix(r, b + "ffn_up.weight", ffn, nEmbd, 1 / Math.sqrt(nEmbd));
            matrix(r, b + "ffn_down.weight", nEmbd, ffn, 2 / Math.sqrt(ffn));
        }
        if (matrixType == GgmlType.F16) {
            // the reference forward must see the weights the file holds
            for (var e : tensors.entrySet()) {
                if (shapes.get(e.getKey()).length == 2) {
                    float[] v = e.getValue();
                    for (int i = 0; i < v.length; i++) v[i] = Fp16.toFloat(Fp16.fromFloat(v[i]));
                }
            }
        }
    }

    /** Llama with GQA (4 heads, 2 KV heads), rope over half of each head, separate output matrix. */
    public static TinyModel llama(long seed) {
        return new TinyModel(Architecture.LLAMA, 32, 2, 4, 2, 8, 48, 64, 4, 10000f, 1e-5f, false, GgmlType.F32, seed);
    }

    /** The {@link #llama} shape with a vocabulary of {@code vocab} tokens (for tests that bring their own tokenizer). */
    public static TinyModel llamaWithVocab(long seed, int vocab) {
        return new TinyModel(Architecture.LLAMA, 32, 2, 4, 2, 8, 48, vocab, 4, 10000f, 1e-5f, false, GgmlType.F32, seed);
    }

    /** Qwen2 with q/k/v biases, NEOX rope, tied embeddings. */
    public static TinyModel qwen2(long seed) {
        return new TinyModel(Architecture.QWEN2, 32, 2, 4, 1, 8, 40, 80, 8, 1e6f, 1e-6f, true, GgmlType.F32, seed);
    }

    /** {@link #qwen2(long)} with a vocabulary of {@code vocab} rows (room for a byte-level BPE vocabulary). */
    public static TinyModel qwen2(long seed, int vocab) {
        return new TinyModel(Architecture.QWEN2, 32, 2, 4, 1, 8, 40, vocab, 8, 1e6f, 1e-6f, true, GgmlType.F32, seed);
    }

    /** Qwen3 with per-head q/k norms, head size 16 (wider than nEmbd / nHeads), tied embeddings. */
    public static TinyModel qwen3(long seed) {
        return new TinyModel(Architecture.QWEN3, 32, 2, 4, 2, 16, 40, 72, 16, 1e6f, 1e-6f, true, GgmlType.F32, seed);
    }

    /** A llama whose every matrix row is a multiple of 32 elements, so that it can be quantized to Q8_0 / Q4_0. */
    public static TinyModel llamaQuantizable(long seed) {
        return new TinyModel(Architecture.LLAMA, 64, 2, 4, 2, 16, 128, 96, 16, 10000f, 1e-5f, false, GgmlType.F32, seed);
    }

    /** A one-block llama whose matrix rows are all 256 elements, so that it can hold K-quant (Q4_K, Q5_K, Q6_K) matrices. */
    public static TinyModel llamaWide(long seed) {
        return new TinyModel(Architecture.LLAMA, 256, 1, 4, 2, 64, 256, 64, 64, 10000f, 1e-5f, false, GgmlType.F32, seed);
    }

    /** The same llama with F16 matrices. */
    public static TinyModel llamaF16(long seed) {
        return new TinyModel(Architecture.LLAMA, 32, 2, 4, 2, 8, 48, 64, 4, 10000f, 1e-5f, false, GgmlType.F16, seed);
    }

    public float[] get(String name) {
        return tensors.get(name);
    }

    /** Writes the model; {@code skip} names a tensor to leave out (for error tests). */
    public GgufWriter writer(String skip) {
        String a = arch.ggufName();
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", a)
                .putString("general.name", "tiny-" + a)
                .putUint32(a + ".context_length", ctx)
                .putUint32(a + ".embedding_length", nEmbd)
                .putUint32(a + ".block_count", nLayers)
                .putUint32(a + ".feed_forward_length", ffn)
                .putUint32(a + ".attention.head_count", nHeads)
                .putUint32(a + ".attention.head_count_kv", nKvHeads)
                .putUint32(a + ".rope.dimension_count", ropeDim)
                .putFloat32(a + ".rope.freq_base", ropeBase)
                .putFloat32(a + ".attention.layer_norm_rms_epsilon", eps);
        if (headDim != nEmbd / nHeads) {
            w.putUint32(a + ".attention.key_length", headDim);
            w.putUint32(a + ".attention.value_length", headDim);
        }
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            if (name.equals(skip)) continue;
            long[] shape = shapes.get(name);
            float[] v = e.getValue();
            if (shape.length == 2 && matrixType == GgmlType.F16) {
                w.addTensor(name, GgmlType.F16, shape, out -> {
                    ByteBuffer bb = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                    for (float f : v) bb.putShort(Fp16.fromFloat(f));
                    out.write(bb.array());
                });
            } else {
                w.addF32(name, shape, v);
            }
        }
        return w;
    }

    /** Writes the model with every matrix quantized to {@code type} by the engine's quantizers. */
    public Path writeQuantized(Path dir, GgmlType type) throws IOException {
        GgufWriter w = writer(null);
        GgufWriter q = new GgufWriter();
        // same metadata, matrices re-encoded: rebuild the writer from the tensors
        Path f32 = dir.resolve("tiny-" + arch.ggufName() + "-f32-for-" + type + ".gguf");
        w.write(f32);
        try (dev.tokenmill.gguf.GgufFile src = dev.tokenmill.gguf.GgufFile.open(f32)) {
            q.putAll(src.metadata());
            for (var e : tensors.entrySet()) {
                long[] shape = shapes.get(e.getKey());
                float[] v = e.getValue();
                if (shape.length == 2) {
                    byte[] bytes = new byte[Math.toIntExact(type.bytesFor(v.length))];
                    dev.tokenmill.tensor.quant.Quantizer.forType(type).quantize(v, 0, v.length, bytes, 0);
                    q.addTensor(e.getKey(), type, shape, out -> out.write(bytes));
                } else {
                    q.addF32(e.getKey(), shape, v);
                }
            }
        }
        Path p = dir.resolve("tiny-" + arch.ggufName() + "-" + type + ".gguf");
        q.write(p);
        return p;
    }

    public Path write(Path dir) throws IOException {
        Path p = dir.resolve("tiny-" + arch.ggufName() + "-" + matrixType + ".gguf");
        writer(null).write(p);
        return p;
    }

    private void matrix(Random r, String name, int rows, int cols, double std) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
        tensors.put(name, v);
        shapes.put(name, new long[] {cols, rows});
    }

    private void vector(Random r, String name, int n, double mean, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (mean + r.nextGaussian() * std);
        tensors.put(name, v);
        shapes.put(name, new long[] {n});
    }
}
