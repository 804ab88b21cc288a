package dev.tokenmill.synth;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The shape of a model {@code synth} writes with random weights: the sizes of a real model (see PERFORMANCE.md),
 * so that it costs exactly what the real one costs.
 *
 * @param architecture  the GGUF architecture name: {@code llama} or {@code qwen2} (q/k/v biases)
 * @param tiedEmbeddings no {@code output.weight}: llama.cpp uses {@code token_embd.weight} as the output matrix
 */
public record SynthPreset(String name, String architecture, int nEmbd, int nLayer, int nHead, int nHeadKv,
                          int headDim, int nFf, int nVocab, boolean tiedEmbeddings, float ropeFreqBase,
                          int contextLength, float rmsEps) {

    public static final List<SynthPreset> ALL = List.of(
            new SynthPreset("tiny", "llama", 256, 4, 4, 2, 64, 768, 4096, true, 10000f, 2048, 1e-5f),
            new SynthPreset("qwen-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, true, 1000000f, 32768, 1e-6f),
            new SynthPreset("llama-1b", "llama", 2048, 16, 32, 8, 64, 8192, 128256, true, 500000f, 131072, 1e-5f),
            new SynthPreset("qwen-1.5b", "qwen2", 1536, 28, 12, 2, 128, 8960, 151936, true, 1000000f, 32768, 1e-6f),
            new SynthPreset("llama-8b", "llama", 4096, 32, 32, 8, 128, 14336, 128256, false, 500000f, 131072, 1e-5f));

    public static SynthPreset byName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (SynthPreset p : ALL) {
            if (p.name.equals(n)) return p;
        }
        throw new IllegalArgumentException("unknown preset '" + name + "'; known: "
                + Arrays.toString(ALL.stream().map(SynthPreset::name).toArray()));
    }

    /** q/k/v projections carry biases (Qwen2). */
    public boolean qkvBias() { return architecture.equals("qwen2"); }

    public int qDim() { return nHead * headDim; }

    public int kvDim() { return nHeadKv * headDim; }

    /** Parameters of the model, as the PERFORMANCE.md table counts them (norms and biases included). */
    public long parameterCount() {
        long perLayer = 2L * nEmbd                                  // attn_norm, ffn_norm
                + (long) nEmbd * qDim() + 2L * nEmbd * kvDim()      // q, k, v
                + (long) qDim() * nEmbd                             // attn_output
                + 3L * nEmbd * nFf;                                 // gate, up, down
        if (qkvBias()) perLayer += qDim() + 2L * kvDim();
        long n = (long) nEmbd * nVocab + nEmbd + perLayer * nLayer;
        if (!tiedEmbeddings) n += (long) nEmbd * nVocab;
        return n;
    }
}
