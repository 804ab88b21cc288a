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
        if ((long) nHeads * headDim > Integer.MAX_VALUE || contextLength <= 0) {
            throw new IllegalArgumentException("head_count " + nHeads + " x head size " + headDim + " and context_length "
                    + contextLength + " must be positive and fit an int");
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
        Architecture arch;
        try {
            arch = Architecture.fromGgufName(gguf.getString("general.architecture"));
        } catch (UnsupportedModelException e) {
            throw new UnsupportedModelException(gguf.path() + ": " + GgufFile.printable(e.getMessage()));
        }
        String p = arch.ggufName() + ".";
        int nEmbd = gguf.getInt(p + "embedding_length");
        int nLayers = gguf.getInt(p + "block_count");
        if ((long) nLayers * 9 > gguf.tensors().size()) {
            throw gguf.error(p + "block_count = " + nLayers + ", but the file holds only " + gguf.tensors().size()
                    + " tensors, too few for " + nLayers + " blocks of 9");
        }
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
        if (embd.shape()[1] > Integer.MAX_VALUE) {
            throw gguf.error("tensor '" + ModelWeights.TOKEN_EMBD + "' has " + embd.shape()[1] + " rows, more than a vocabulary can have");
        }
        int vocab = (int) embd.shape()[1];
        checkVocabularySize(gguf, p + "vocab_size", vocab);
        try {
            return new ModelConfig(arch, nEmbd, nLayers, nHeads, nKvHeads, headDim, ffnDim, ctx, base, ropeDim, eps, vocab);
        } catch (IllegalArgumentException e) {
            throw gguf.error(e.getMessage());
        }
    }

    /**
     * The vocabulary size is the embedding's row count; {@code {arch}.vocab_size}, where present, must say the same,
     * and the tokenizer may not have more tokens than the embedding has rows (their ids could not be embedded).
     * Fewer tokens than rows are allowed: the ids without a token are never produced by tokenizing, and a request
     * that generates one fails alone when its text is decoded.
     */
    private static void checkVocabularySize(GgufFile gguf, String vocabKey, int rows) {
        if (gguf.has(vocabKey)) {
            long declared = gguf.getLong(vocabKey);
            if (declared != rows) {
                throw gguf.error(vocabKey + " = " + declared + ", but tensor '" + ModelWeights.TOKEN_EMBD + "' has " + rows
                        + " rows (one per token); expected " + vocabKey + " = " + rows);
            }
        }
        String tokensKey = "tokenizer.ggml.tokens";
        if (gguf.has(tokensKey) && gguf.value(tokensKey).value() instanceof String[] tokens && tokens.length > rows) {
            throw gguf.error(tokensKey + " holds " + tokens.length + " tokens, but tensor '" + ModelWeights.TOKEN_EMBD
                    + "' has only " + rows + " rows; expected at most " + rows + " tokens");
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
