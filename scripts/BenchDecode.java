// Decode/prefill speed of CpuBackend on a random model of a chosen shape (F16 or F32 weights).
// Run from a built checkout:  scripts/bench-decode.sh [nEmbd layers ffn vocab type tokens threads...]
// Prints one line per thread count: prefill tok/s, decode ms/token, and the weight bytes streamed per second.
import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.SequenceRunner;
import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

public class BenchDecode {
    public static void main(String[] a) throws Exception {
        int d = Integer.parseInt(a[0]), layers = Integer.parseInt(a[1]), ffn = Integer.parseInt(a[2]), vocab = Integer.parseInt(a[3]);
        GgmlType type = GgmlType.parse(a[4]);
        int tokens = Integer.parseInt(a[5]);
        int heads = d / 64, kvHeads = Math.max(1, heads / 4);
        Path file = Files.createTempFile("bench-", ".gguf");
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                .putUint32("llama.context_length", 4096).putUint32("llama.embedding_length", d)
                .putUint32("llama.block_count", layers).putUint32("llama.feed_forward_length", ffn)
                .putUint32("llama.attention.head_count", heads).putUint32("llama.attention.head_count_kv", kvHeads)
                .putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        long[] bytes = {0};
        matrix(w, "token_embd.weight", d, vocab, type, bytes);
        vector(w, "output_norm.weight", d);
        matrix(w, "output.weight", d, vocab, type, bytes);
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            vector(w, b + "attn_norm.weight", d);
            vector(w, b + "ffn_norm.weight", d);
            matrix(w, b + "attn_q.weight", d, d, type, bytes);
            matrix(w, b + "attn_k.weight", d, kvHeads * 64, type, bytes);
            matrix(w, b + "attn_v.weight", d, kvHeads * 64, type, bytes);
            matrix(w, b + "attn_output.weight", d, d, type, bytes);
            matrix(w, b + "ffn_gate.weight", d, ffn, type, bytes);
            matrix(w, b + "ffn_up.weight", d, ffn, type, bytes);
            matrix(w, b + "ffn_down.weight", ffn, d, type, bytes);
        }
        w.write(file);
        // per decoded token every matrix but the embedding is read once
        long perToken = bytes[0] - type.bytesFor((long) d * vocab);
        System.out.printf("model: embd %d, %d layers, ffn %d, vocab %d, %s, %.1f MB streamed per token%n",
                d, layers, ffn, vocab, type, perToken / 1e6);
        int[] prompt = new int[64];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 31) % vocab;
        try (Model m = ModelLoader.load(file)) {
            for (int i = 6; i < a.length; i++) {
                int threads = Integer.parseInt(a[i]);
                try (SequenceRunner r = SequenceRunner.create(m, prompt.length + tokens + 1, threads)) {
                    r.prefill(prompt); // warm-up
                    long t0 = System.nanoTime();
                    r.prefill(prompt);
                    long t1 = System.nanoTime();
                    for (int k = 0; k < 5; k++) r.decode(1 + k, prompt.length + k); // warm-up
                    long t2 = System.nanoTime();
                    for (int k = 0; k < tokens; k++) r.decode(1 + k, prompt.length + k);
                    long t3 = System.nanoTime();
                    double msTok = (t3 - t2) / 1e6 / tokens;
                    System.out.printf("threads %2d: prefill %.1f tok/s, decode %.2f ms/token (%.1f tok/s, %.2f GB/s of weights)%n",
                            threads, prompt.length / ((t1 - t0) / 1e9), msTok, 1000 / msTok, perToken / (msTok / 1e3) / 1e9);
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    static void vector(GgufWriter w, String name, int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        w.addF32(name, new long[] {n}, v);
    }

    static void matrix(GgufWriter w, String name, int cols, int rows, GgmlType type, long[] total) {
        long n = (long) cols * rows;
        total[0] += type.bytesFor(n);
        float std = (float) (1 / Math.sqrt(cols));
        w.addTensor(name, type, new long[] {cols, rows}, out -> {
            SplittableRandom r = new SplittableRandom(name.hashCode());
            ByteBuffer bb = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (long i = 0; i < n; i++) {
                float f = (float) ((r.nextDouble() * 2 - 1) * 1.7 * std);
                if (type == GgmlType.F16) bb.putShort(Fp16.fromFloat(f)); else bb.putFloat(f);
                if (bb.remaining() < 4) { out.write(bb.array(), 0, bb.position()); bb.clear(); }
            }
            out.write(bb.array(), 0, bb.position());
        });
    }
}
