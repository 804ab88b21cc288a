package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.TensorInfo;

/**
 * Hyperparameters of a decoder-only transformer, read from the GGUF keys {@code {arch}.*} (as llama.cpp's
 * {@code llama_model::load_hparams}). {@code headDim} is {@code attention.key_length} when present, else
 * {@code nEmbd / nHeads}; {@code ropeDim} defaults to {@code headDim}; the vocabulary size is the row count of
 * {@code token_embd.weight}.
 */
public record ModelConfig(
        Architecture architecture,
        int nEmbd,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int headDim,
        int ffnDim,
        int contextLength,
        float ropeFreqBase,
        int ropeDim,
        float rmsEps,
        int vocabSize) {

    /** llama.cpp's default when {@code rope.freq_base} is absent. */
    public static final float DEFAULT_ROPE_FREQ_BASE = 10000f;

    public ModelConfig {
        if (nEmbd <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || headDim <= 0 || ffnDim <= 0 || vocabSize <= 0) {
            throw new IllegalArgumentException("model sizes must be positive: " + describe(nEmbd, nLayers, nHeads, nKvHeads, headDim, ffnDim, vocabSize));
        }
        if (nHeads % nKvHeads != 0) {
            throw new IllegalArgumentException("head_count " + nHeads + " is not a multiple of head_count_kv " + nKvHeads);
        }
        if (ropeDim <= 0 || ropeDim > headDim || ropeDim % 2 != 0) {
            throw new IllegalArgumentException("rope.dimension_count " + ropeDim + " must be even and in 2.." + headDim + " (the head size)");
        }
        if (!(rmsEps > 0) || !(ropeFreqBase > 0)) {
            throw new IllegalArgumentException("rms epsilon " + rmsEps + " and rope.freq_base " + ropeFreqBase + " must be positive");
        }
    }

    /** Reads the hyperparameters; a missing required key or an unknown architecture is an error naming it. */
    public static ModelConfig fromGguf(GgufFile gguf) {
        Architecture arch = Architecture.fromGgufName(gguf.getString("general.architecture"));
        String p = arch.ggufName() + ".";
        int nEmbd = gguf.getInt(p + "embedding_length");
        int nLayers = gguf.getInt(p + "block_count");
        int nHeads = gguf.getInt(p + "attention.head_count");
        int nKvHeads = gguf.getInt(p + "attention.head_count_kv", nHeads);
        if (nHeads <= 0 || nEmbd <= 0) {
            throw gguf.error(p + "attention.head_count = " + nHeads + " and " + p + "embedding_length = " + nEmbd + " must be positive");
        }
        int headDim = gguf.getInt(p + "attention.key_length", nEmbd / nHeads);
        int valueDim = gguf.getInt(p + "attention.value_length", headDim);
        if (valueDim != headDim) {
            throw new UnsupportedModelException(gguf.path() + ": " + p + "attention.value_length " + valueDim
                    + " differs from key_length " + headDim + "; Tokenmill needs them equal");
        }
        int ffnDim = gguf.getInt(p + "feed_forward_length");
        int ctx = gguf.getInt(p + "context_length");
        float base = gguf.getFloat(p + "rope.freq_base", DEFAULT_ROPE_FREQ_BASE);
        int ropeDim = gguf.getInt(p + "rope.dimension_count", headDim);
        float eps = (float) gguf.getDouble(p + "attention.layer_norm_rms_epsilon");
        TensorInfo embd = gguf.tensor(ModelWeights.TOKEN_EMBD);
        if (embd.shape().length != 2) {
            throw gguf.error("tensor '" + ModelWeights.TOKEN_EMBD + "' has shape " + java.util.Arrays.toString(embd.shape()) + ", expected 2 dimensions");
        }
        int vocab = Math.toIntExact(embd.shape()[1]);
        try {
            return new ModelConfig(arch, nEmbd, nLayers, nHeads, nKvHeads, headDim, ffnDim, ctx, base, ropeDim, eps, vocab);
        } catch (IllegalArgumentException e) {
            throw gguf.error(e.getMessage());
        }
    }

    /** Width of q (all heads). */
    public int qDim() { return nHeads * headDim; }

    /** Width of k and v (all KV heads). */
    public int kvDim() { return nKvHeads * headDim; }

    /** Query heads per KV head (grouped-query attention). */
    public int groupSize() { return nHeads / nKvHeads; }

    private static String describe(int nEmbd, int nLayers, int nHeads, int nKvHeads, int headDim, int ffnDim, int vocab) {
        return "embd " + nEmbd + ", layers " + nLayers + ", heads " + nHeads + ", kv heads " + nKvHeads
                + ", head dim " + headDim + ", ffn " + ffnDim + ", vocab " + vocab;
    }
}
