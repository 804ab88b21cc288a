package dev.tokenmill.quant;

import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A tiny random llama with a SentencePiece vocabulary (control tokens, 256 byte tokens, single characters and a few
 * words), written with {@link GgufWriter} for the eval tests. Rows are multiples of 32 so that Q8_0 and Q4_0 apply to
 * every matrix; weights are scaled so that logits spread over a few units, like the reference models.
 */
final class TinyLlama {
    static final int EMBD = 64, LAYERS = 2, HEADS = 4, KV_HEADS = 2, FFN = 128, CTX = 256;
    static final String[] WORDS = {"the", "cat", "sat", "on", "mat", "and", "dog", "ran", "far", "away", "little", "girl",
            "named", "lily", "loved", "play", "park", "with", "her", "sun", "was", "bright", "one", "day"};

    private TinyLlama() {}

    /** Writes the model to {@code path}; {@code extraPiece} (or null) adds one piece, changing the vocabulary. */
    static Path write(Path path, long seed, String extraPiece) throws IOException {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(6);
        }
        for (char c : "\u2581abcdefghijklmnopqrstuvwxyz.,".toCharArray()) {
            tokens.add(String.valueOf(c));
            types.add(1);
        }
        for (String w : WORDS) {
            tokens.add("\u2581" + w);
            types.add(1);
        }
        if (extraPiece != null) {
            tokens.add(extraPiece);
            types.add(1);
        }
        int vocab = tokens.size();
        float[] scores = new float[vocab];
        int[] tokenTypes = new int[vocab];
        for (int i = 0; i < vocab; i++) {
            tokenTypes[i] = types.get(i);
            scores[i] = tokenTypes[i] == 1 ? -i : 0f;
        }
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", "tiny-eval-llama")
                .putUint32("general.file_type", 0)
                .putUint32("llama.context_length", CTX)
                .putUint32("llama.embedding_length", EMBD)
                .putUint32("llama.block_count", LAYERS)
                .putUint32("llama.feed_forward_length", FFN)
                .putUint32("llama.attention.head_count", HEADS)
                .putUint32("llama.attention.head_count_kv", KV_HEADS)
                .putUint32("llama.rope.dimension_count", EMBD / HEADS)
                .putFloat32("llama.rope.freq_base", 10000f)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .putString("tokenizer.ggml.model", "llama")
                .put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)))
                .put("tokenizer.ggml.scores", GgufValue.ofFloats(scores))
                .put("tokenizer.ggml.token_type", GgufValue.ofInt32s(tokenTypes))
                .putUint32("tokenizer.ggml.bos_token_id", 1)
                .putUint32("tokenizer.ggml.eos_token_id", 2)
                .putUint32("tokenizer.ggml.unknown_token_id", 0)
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putBool("tokenizer.ggml.add_eos_token", false);
        Random r = new Random(seed);
        int kv = KV_HEADS * (EMBD / HEADS);
        matrix(w, r, "token_embd.weight", vocab, EMBD, 1);
        for (int l = 0; l < LAYERS; l++) {
            String b = "blk." + l + ".";
            vector(w, r, b + "attn_norm.weight", EMBD);
            matrix(w, r, b + "attn_q.weight", EMBD, EMBD, 1 / Math.sqrt(EMBD));
            matrix(w, r, b + "attn_k.weight", kv, EMBD, 1 / Math.sqrt(EMBD));
            matrix(w, r, b + "attn_v.weight", kv, EMBD, 1 / Math.sqrt(EMBD));
            matrix(w, r, b + "attn_output.weight", EMBD, EMBD, 1 / Math.sqrt(EMBD));
            vector(w, r, b + "ffn_norm.weight", EMBD);
            matrix(w, r, b + "ffn_gate.weight", FFN, EMBD, 1 / Math.sqrt(EMBD));
            matrix(w, r, b + "ffn_up.weight", FFN, EMBD, 1 / Math.sqrt(EMBD));
            matrix(w, r, b + "ffn_down.weight", EMBD, FFN, 1 / Math.sqrt(FFN));
        }
        vector(w, r, "output_norm.weight", EMBD);
        matrix(w, r, "output.weight", vocab, EMBD, 4 / Math.sqrt(EMBD));
        w.write(path);
        return path;
    }

    /** Deterministic English-like text of about {@code words} words from {@link #WORDS}. */
    static String text(long seed, int words) {
        Random r = new Random(seed);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < words; i++) {
            if (i > 0) b.append(r.nextInt(9) == 0 ? ". " : " ");
            b.append(WORDS[r.nextInt(WORDS.length)]);
        }
        return b.append(".\n").toString();
    }

    private static void matrix(GgufWriter w, Random r, String name, int rows, int cols, double std) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
        w.addF32(name, new long[] {cols, rows}, v);
    }

    private static void vector(GgufWriter w, Random r, String name, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (1 + r.nextGaussian() * 0.05);
        w.addF32(name, new long[] {n}, v);
    }
}
