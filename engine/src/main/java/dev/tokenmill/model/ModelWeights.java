package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.tensor.Kernels;
import dev.tokenmill.tensor.RowKernel;

import java.util.Arrays;
import java.util.List;

/**
 * The tensors of a model, named and shaped as llama.cpp's {@code LLM_TENSOR_*} for llama/qwen2/qwen3. Matrices stay
 * in the memory-mapped file; the small vectors (norm weights, biases) are dequantized to float arrays once.
 * {@code output} is {@code token_embd} when the file has no {@code output.weight} (tied embeddings).
 */
public record ModelWeights(Weight tokenEmbd, float[] outputNorm, Weight output, List<Layer> layers) {

    static final String TOKEN_EMBD = "token_embd.weight";

    /** One transformer block; biases and q/k norms are null where the architecture has none. */
    public record Layer(
            float[] attnNorm,
            Weight wq, Weight wk, Weight wv,
            float[] bq, float[] bk, float[] bv,
            float[] qNorm, float[] kNorm,
            Weight wo,
            float[] ffnNorm,
            Weight ffnGate, Weight ffnUp, Weight ffnDown) {}

    /** Looks up and shape-checks every tensor the config needs; a missing or misshaped tensor is an error naming it. */
    public static ModelWeights fromGguf(GgufFile gguf, ModelConfig c) {
        Reader r = new Reader(gguf);
        Weight embd = r.matrix(TOKEN_EMBD, c.nEmbd(), c.vocabSize());
        float[] outNorm = r.vector("output_norm.weight", c.nEmbd());
        Weight output = gguf.hasTensor("output.weight") ? r.matrix("output.weight", c.nEmbd(), c.vocabSize()) : embd;
        Layer[] layers = new Layer[c.nLayers()];
        Architecture a = c.architecture();
        for (int i = 0; i < c.nLayers(); i++) {
            String b = "blk." + i + ".";
            boolean bias = a.qkvBias() || gguf.hasTensor(b + "attn_q.bias");
            layers[i] = new Layer(
                    r.vector(b + "attn_norm.weight", c.nEmbd()),
                    r.matrix(b + "attn_q.weight", c.nEmbd(), c.qDim()),
                    r.matrix(b + "attn_k.weight", c.nEmbd(), c.kvDim()),
                    r.matrix(b + "attn_v.weight", c.nEmbd(), c.kvDim()),
                    bias ? r.vector(b + "attn_q.bias", c.qDim()) : null,
                    bias ? r.vector(b + "attn_k.bias", c.kvDim()) : null,
                    bias ? r.vector(b + "attn_v.bias", c.kvDim()) : null,
                    a.qkNorm() ? r.vector(b + "attn_q_norm.weight", c.headDim()) : null,
                    a.qkNorm() ? r.vector(b + "attn_k_norm.weight", c.headDim()) : null,
                    r.matrix(b + "attn_output.weight", c.qDim(), c.nEmbd()),
                    r.vector(b + "ffn_norm.weight", c.nEmbd()),
                    r.matrix(b + "ffn_gate.weight", c.nEmbd(), c.ffnDim()),
                    r.matrix(b + "ffn_up.weight", c.nEmbd(), c.ffnDim()),
                    r.matrix(b + "ffn_down.weight", c.ffnDim(), c.nEmbd()));
        }
        return new ModelWeights(embd, outNorm, output, List.of(layers));
    }

    /** True when the output projection is the token embedding. */
    public boolean tiedOutput() {
        return output == tokenEmbd;
    }

    private record Reader(GgufFile gguf) {
        /** A matrix with ggml shape [cols, rows] (cols contiguous). */
        Weight matrix(String name, int cols, int rows) {
            TensorInfo t = gguf.tensor(name);
            long[] s = t.shape();
            boolean ok = s.length == 2 && s[0] == cols && s[1] == rows;
            if (!ok) {
                throw gguf.error("tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected [" + cols + ", " + rows + "]");
            }
            return new Weight(name, t.type(), rows, cols, t.type().bytesFor(cols), gguf.tensorData(t), kernel(t));
        }

        float[] vector(String name, int n) {
            TensorInfo t = gguf.tensor(name);
            long[] s = t.shape();
            if (s.length != 1 || s[0] != n) {
                throw gguf.error("tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected [" + n + "]");
            }
            float[] v = new float[n];
            kernel(t).dequantize(gguf.tensorData(t), 0, v, 0, n);
            return v;
        }

        private RowKernel kernel(TensorInfo t) {
            try {
                return Kernels.forType(t.type());
            } catch (UnsupportedOperationException e) {
                throw new UnsupportedModelException(gguf.path() + ": tensor '" + t.name() + "' has type " + t.type()
                        + ", for which Tokenmill has no kernel yet");
            }
        }
    }
}
