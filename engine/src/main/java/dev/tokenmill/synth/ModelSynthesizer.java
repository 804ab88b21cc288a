package dev.tokenmill.synth;

import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import dev.tokenmill.tensor.quant.Quantizer;
import dev.tokenmill.tensor.quant.RowEncoder;
import dev.tokenmill.tensor.quant.TensorTypePolicy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * Writes a GGUF model of a {@link SynthPreset}'s shape with random weights: matrices N(0, 0.02²), norms 1, biases
 * N(0, 0.02²), tensor names and ggml shapes as llama.cpp's llama/qwen2 loaders expect, a synthetic vocabulary
 * (SentencePiece for {@code tiny}, byte-level BPE like the real models for the others), and tensor types chosen for the {@link FileType} as llama-quantize would choose them. Tensors are
 * generated chunk by chunk on several threads and streamed to disk; the bytes depend only on the preset, file type
 * and seed, never on the thread count.
 */
public final class ModelSynthesizer {
    static final float WEIGHT_STD = 0.02f;

    private ModelSynthesizer() {}

    /**
     * What to write.
     *
     * @param byteLevelBpe a gpt2-style BPE vocabulary (as Llama 3 and Qwen2 have) instead of a SentencePiece one;
     *                     null picks what the real model of the preset uses (BPE for all but {@code tiny})
     */
    public record Options(SynthPreset preset, FileType fileType, long seed, int threads, Boolean byteLevelBpe) {
        public Options {
            if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }

        public Options(SynthPreset preset, FileType fileType, long seed, int threads) {
            this(preset, fileType, seed, threads, null);
        }

        SyntheticVocab.Kind vocab() {
            boolean bpe = byteLevelBpe != null ? byteLevelBpe : !preset.name().equals("tiny");
            return bpe ? SyntheticVocab.Kind.BPE : SyntheticVocab.Kind.SPM;
        }
    }

    enum Init { NORMAL, ONES }

    /** One tensor of the plan, in file order. */
    record Planned(String name, long[] shape, GgmlType type, Init init) {
        long elements() { return Arrays.stream(shape).reduce(1, Math::multiplyExact); }

        long bytes() { return type.bytesFor(elements()); }
    }

    /** The tensors of the model, with their final types. */
    static List<Planned> plan(SynthPreset p, FileType fileType) {
        record Spec(String name, long[] shape, Init init) {}
        List<Spec> specs = new ArrayList<>();
        long e = p.nEmbd();
        specs.add(new Spec("token_embd.weight", new long[] {e, p.nVocab()}, Init.NORMAL));
        for (int l = 0; l < p.nLayer(); l++) {
            String b = "blk." + l + ".";
            specs.add(new Spec(b + "attn_norm.weight", new long[] {e}, Init.ONES));
            specs.add(new Spec(b + "attn_q.weight", new long[] {e, p.qDim()}, Init.NORMAL));
            specs.add(new Spec(b + "attn_k.weight", new long[] {e, p.kvDim()}, Init.NORMAL));
            specs.add(new Spec(b + "attn_v.weight", new long[] {e, p.kvDim()}, Init.NORMAL));
            if (p.qkvBias()) {
                specs.add(new Spec(b + "attn_q.bias", new long[] {p.qDim()}, Init.NORMAL));
                specs.add(new Spec(b + "attn_k.bias", new long[] {p.kvDim()}, Init.NORMAL));
                specs.add(new Spec(b + "attn_v.bias", new long[] {p.kvDim()}, Init.NORMAL));
            }
            specs.add(new Spec(b + "attn_output.weight", new long[] {p.qDim(), e}, Init.NORMAL));
            specs.add(new Spec(b + "ffn_norm.weight", new long[] {e}, Init.ONES));
            specs.add(new Spec(b + "ffn_gate.weight", new long[] {e, p.nFf()}, Init.NORMAL));
            specs.add(new Spec(b + "ffn_up.weight", new long[] {e, p.nFf()}, Init.NORMAL));
            specs.add(new Spec(b + "ffn_down.weight", new long[] {p.nFf(), e}, Init.NORMAL));
        }
        specs.add(new Spec("output_norm.weight", new long[] {e}, Init.ONES));
        if (!p.tiedEmbeddings()) specs.add(new Spec("output.weight", new long[] {e, p.nVocab()}, Init.NORMAL));

        List<TensorTypePolicy.Tensor> asF32 = specs.stream()
                .map(s -> new TensorTypePolicy.Tensor(s.name(), s.shape(), GgmlType.F32)).toList();
        boolean is70B = p.architecture().equals("llama") && p.nLayer() == 80 && p.nHead() != p.nHeadKv();
        var choice = TensorTypePolicy.choose(fileType, asF32, p.nLayer(), is70B);
        return specs.stream().map(s -> new Planned(s.name(), s.shape(), choice.types().get(s.name()), s.init())).toList();
    }

    /** Bytes of tensor data the model will have (without header and padding), for progress reports. */
    public static long dataBytes(SynthPreset preset, FileType fileType) {
        return plan(preset, fileType).stream().mapToLong(Planned::bytes).sum();
    }

    /** Writes the model to {@code out}; {@code progress} receives tensor bytes as they are written (may be null). */
    public static void write(Options o, Path out, LongConsumer progress) throws IOException {
        SynthPreset p = o.preset();
        GgufWriter w = new GgufWriter();
        String arch = p.architecture();
        w.putString("general.architecture", arch);
        w.putString("general.name", "tokenmill-synth-" + p.name());
        w.putUint32("general.file_type", o.fileType().id());
        w.putUint32("general.quantization_version", 2);
        w.putUint32(arch + ".vocab_size", p.nVocab());
        w.putUint32(arch + ".context_length", p.contextLength());
        w.putUint32(arch + ".embedding_length", p.nEmbd());
        w.putUint32(arch + ".block_count", p.nLayer());
        w.putUint32(arch + ".feed_forward_length", p.nFf());
        w.putUint32(arch + ".attention.head_count", p.nHead());
        w.putUint32(arch + ".attention.head_count_kv", p.nHeadKv());
        w.putFloat32(arch + ".rope.freq_base", p.ropeFreqBase());
        w.putUint32(arch + ".rope.dimension_count", p.headDim());
        w.putFloat32(arch + ".attention.layer_norm_rms_epsilon", p.rmsEps());
        if (o.vocab() == SyntheticVocab.Kind.SPM) {
            SyntheticVocab.putSentencePiece(w, p.nVocab());
        } else if (arch.equals("qwen2")) {
            SyntheticVocab.putBpe(w, p.nVocab(), "qwen2", List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"), false);
        } else {
            SyntheticVocab.putBpe(w, p.nVocab(), "llama-bpe", List.of("<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"), true);
        }

        Path target = out.toAbsolutePath();
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        try (RowEncoder encoder = new RowEncoder(o.threads())) {
            List<Planned> plan = plan(p, o.fileType());
            for (int i = 0; i < plan.size(); i++) {
                Planned t = plan.get(i);
                long tensorSeed = mix(o.seed() * 0x9E3779B97F4A7C15L + i + 1);
                w.addTensor(t.name(), t.type(), t.shape(), os -> writeTensor(encoder, t, tensorSeed, os, progress));
            }
            // written under a temporary name and renamed: a half-written model never looks whole
            w.write(tmp);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    private static void writeTensor(RowEncoder encoder, Planned t, long tensorSeed, OutputStream os,
                                    LongConsumer progress) throws IOException {
        int rowLength = Math.toIntExact(t.shape()[0]);
        long nRows = t.elements() / rowLength;
        RowEncoder.RowSource source = switch (t.init()) {
            case ONES -> (first, count, dst) -> Arrays.fill(dst, 1f);
            case NORMAL -> (first, count, dst) -> {
                // one generator per chunk, seeded by its first row: the bytes do not depend on the thread count
                SplittableRandom r = new SplittableRandom(mix(tensorSeed ^ (first * 0xD1B54A32D192ED03L)));
                for (int k = 0; k < dst.length; k++) dst[k] = (float) r.nextGaussian() * WEIGHT_STD;
            };
        };
        encoder.encode(source, nRows, rowLength, Quantizer.forType(t.type()), os, progress);
    }

    /** The murmur3 64-bit finaliser: spreads nearby seeds far apart. */
    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }
}
