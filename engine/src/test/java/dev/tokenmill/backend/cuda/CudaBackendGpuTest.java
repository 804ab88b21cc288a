package dev.tokenmill.backend.cuda;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import dev.tokenmill.backend.BackendOptions;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.backend.cpu.CpuBackend;
import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.synth.ModelSynthesizer;
import dev.tokenmill.synth.SynthPreset;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA backend against the CPU backend on the same batches (skipped without a CUDA device). Every kernel runs in
 * every comparison: embedding, RMSNorm, bias + q/k norm + RoPE (normal and NEOX) + paged KV write, paged attention
 * (prefill runs, decode, split contexts and their merge), SwiGLU, the products, argmax. F32 models compute in f32 on
 * the GPU (only the f16 KV cache rounds, as the CPU's F16 cache does), so their logits agree to ~1e-4; F16, BF16 and
 * quantized models compute with 16-bit activations and are held to bf16 tolerances.
 */
@Tag("gpu")
class CudaBackendGpuTest {
    /** Relative L2 error of a logits row set: f32 compute, f16 KV on both sides. */
    private static final double F32_REL = 2e-4;
    /** The same with bf16 weights and activations (7 mantissa bits: ~4e-3 a rounding, over a few layers). */
    private static final double BF16_REL = 3e-2;

    @TempDir static Path dir;

    @BeforeAll
    static void requireDevice() {
        StringBuilder why = new StringBuilder();
        assumeTrue(new CudaBackendFactory().available(why), "no CUDA device: " + why);
    }

    private static BackendOptions options(int blockSize, int maxTokens, int maxSeqs, int maxSeqLen) {
        return new BackendOptions(blockSize, maxTokens, maxSeqs, maxSeqLen, 64L << 20, EngineConfig.KvType.F16, 4,
                EngineConfig.NativeMode.OFF, -1, 0.5);
    }

    private static CpuBackend cpu(Model m, int blockSize, int numBlocks, int maxTokens, int maxSeqs, int maxSeqLen) {
        return new CpuBackend(m.config(), m.weights(), new CpuBackendConfig(blockSize, numBlocks, maxTokens, maxSeqs, maxSeqLen,
                Math.min(maxTokens, Math.max(maxSeqs, 64)), GgmlType.F16, 4, true, false));
    }

    private static Path synth(String preset, FileType type) throws Exception {
        Path p = dir.resolve(preset + "-" + type + ".gguf");
        if (!java.nio.file.Files.exists(p)) {
            ModelSynthesizer.write(new ModelSynthesizer.Options(SynthPreset.byName(preset), type, 7, 4), p, n -> {});
        }
        return p;
    }

    /** One step: a chunk of tokens per sequence, logits for every token. */
    private record Chunk(int seq, int firstPos, int[] ids) {}

    private static ForwardBatch batch(List<Chunk> chunks, int[][] tables, int maxTokens, int maxSeqs, int blocksPerSeq) {
        ForwardBatch b = new ForwardBatch(maxTokens, maxSeqs, blocksPerSeq);
        int slot = 0;
        for (Chunk c : chunks) {
            System.arraycopy(tables[c.seq], 0, b.blockTables[slot], 0, blocksPerSeq);
            b.contextLens[slot] = c.firstPos + c.ids.length;
            // logits for every fifth token and the last (a backend returns at most 64 rows here)
            for (int i = 0; i < c.ids.length; i++) b.addToken(slot, c.ids[i], c.firstPos + i, i % 5 == 0 || i == c.ids.length - 1);
            slot++;
        }
        b.nSeqs = slot;
        return b;
    }

    private static float[][] rows(Logits l, int n) {
        float[][] out = new float[n][];
        for (int r = 0; r < n; r++) out[r] = l.copyRow(r);
        return out;
    }

    private static double relError(float[][] got, float[][] want) {
        double num = 0, den = 0;
        for (int r = 0; r < want.length; r++) {
            for (int v = 0; v < want[r].length; v++) {
                assertThat(Float.isFinite(got[r][v])).as("logit %d,%d finite", r, v).isTrue();
                double d = got[r][v] - want[r][v];
                num += d * d;
                den += (double) want[r][v] * want[r][v];
            }
        }
        return Math.sqrt(num / den);
    }

    private static int[][] scatteredTables(int seqs, int blocksPerSeq, int numBlocks, long seed) {
        List<Integer> free = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) free.add(i);
        java.util.Collections.shuffle(free, new Random(seed));
        int[][] t = new int[seqs][blocksPerSeq];
        int k = 0;
        for (int s = 0; s < seqs; s++) for (int i = 0; i < blocksPerSeq; i++) t[s][i] = free.get(k++);
        return t;
    }

    private static int[] ids(Random r, int n, int vocab) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = r.nextInt(vocab);
        return a;
    }

    /**
     * Three sequences over scattered blocks: a first step of prefill chunks (one long enough for many tiles), a second
     * mixing decodes with a chunk over a cached prefix, then single-token decode steps (split contexts); every
     * step's logits against the CPU backend's.
     */
    private void compareSteps(Path model, double budget, int blockSize) throws Exception {
        int maxTokens = 256, maxSeqs = 4, maxSeqLen = 320, blocksPerSeq = Math.ceilDiv(maxSeqLen, blockSize);
        int numBlocks = maxSeqs * blocksPerSeq + 3;
        try (Model m = ModelLoader.load(model);
             CudaBackend gpu = CudaBackend.open(m, options(blockSize, maxTokens, maxSeqs, maxSeqLen));
             CpuBackend cpu = cpu(m, blockSize, numBlocks, maxTokens, maxSeqs, maxSeqLen)) {
            assertThat(gpu.numBlocks()).isGreaterThanOrEqualTo(numBlocks);
            int vocab = m.config().vocabSize();
            Random r = new Random(11);
            int[][] tables = scatteredTables(3, blocksPerSeq, numBlocks, 5);
            List<List<Chunk>> steps = List.of(
                    List.of(new Chunk(0, 0, ids(r, 150, vocab)), new Chunk(1, 0, ids(r, 7, vocab)), new Chunk(2, 0, ids(r, 33, vocab))),
                    List.of(new Chunk(0, 150, ids(r, 1, vocab)), new Chunk(1, 7, ids(r, 40, vocab)), new Chunk(2, 33, ids(r, 1, vocab))),
                    List.of(new Chunk(0, 151, ids(r, 1, vocab)), new Chunk(1, 47, ids(r, 1, vocab)), new Chunk(2, 34, ids(r, 1, vocab))),
                    List.of(new Chunk(0, 152, ids(r, 1, vocab))),
                    List.of(new Chunk(2, 35, ids(r, 1, vocab)), new Chunk(0, 153, ids(r, 100, vocab))));
            for (int s = 0; s < steps.size(); s++) {
                ForwardBatch b = batch(steps.get(s), tables, maxTokens, maxSeqs, blocksPerSeq);
                float[][] want = rows(cpu.forward(b), b.nLogits);
                Logits gl = gpu.forward(b);
                for (int row = 0; row < b.nLogits; row++) assertThat(gl.argmax(row)).isEqualTo(-1);
                float[][] got = rows(gl, b.nLogits);
                double err = relError(got, want);
                assertThat(err).as("step %d of %s (%s), relative L2 error", s, model.getFileName(), gpu.computeType()).isLessThan(budget);
            }
        }
    }

    @Test
    void tinyLlamaF32() throws Exception {
        compareSteps(TinyModel.llama(1).write(dir), F32_REL, 16);
    }

    @Test
    void tinyQwen2BiasesNeoxRope() throws Exception {
        compareSteps(TinyModel.qwen2(2).write(dir), F32_REL, 16);
    }

    @Test
    void tinyQwen3QkNormsWideHeads() throws Exception {
        compareSteps(TinyModel.qwen3(3).write(dir), F32_REL, 16);
    }

    @Test
    void oddBlockSize() throws Exception {
        compareSteps(TinyModel.llama(4).write(dir), F32_REL, 7);
    }

    @Test
    void synthTinyHeadSize64F32() throws Exception {
        compareSteps(synth("tiny", FileType.F32), F32_REL, 16);
    }

    @Test
    void synthTinyF16() throws Exception {
        compareSteps(synth("tiny", FileType.F16), BF16_REL, 16);
    }

    @Test
    void synthTinyBf16() throws Exception {
        compareSteps(synth("tiny", FileType.BF16), BF16_REL, 16);
    }

    @Test
    void synthTinyQ8DequantizedToBf16() throws Exception {
        compareSteps(synth("tiny", FileType.Q8_0), BF16_REL, 16);
    }

    @Test
    void argmaxOnlyRowsAreAnsweredOnTheDevice() throws Exception {
        try (Model m = ModelLoader.load(synth("tiny", FileType.F32));
             CudaBackend gpu = CudaBackend.open(m, options(16, 256, 4, 320))) {
            int vocab = m.config().vocabSize();
            Random r = new Random(3);
            int[][] tables = scatteredTables(2, 20, 40, 9);
            ForwardBatch b = batch(List.of(new Chunk(0, 0, ids(r, 20, vocab)), new Chunk(1, 0, ids(r, 9, vocab))), tables, 256, 4, 20);
            for (int row = 0; row < b.nLogits; row++) b.argmaxOnly[row] = row % 2 == 0;
            Logits l = gpu.forward(b);
            float[][] full = new float[b.nLogits][];
            int[] ids = new int[b.nLogits];
            for (int row = 0; row < b.nLogits; row++) {
                ids[row] = l.argmax(row); // the Logits object is reused by the next call
                if (!b.argmaxOnly[row]) full[row] = l.copyRow(row);
            }
            // the same batch again (same KV writes) with every row copied back, to check the ids against
            for (int row = 0; row < b.nLogits; row++) b.argmaxOnly[row] = false;
            Logits again = gpu.forward(b);
            for (int row = 0; row < b.nLogits; row++) {
                float[] x = again.copyRow(row);
                int best = 0;
                for (int v = 1; v < vocab; v++) if (x[v] > x[best]) best = v;
                assertThat(again.argmax(row)).isEqualTo(-1);
                if (row % 2 == 0) assertThat(ids[row]).isEqualTo(best);
                else {
                    assertThat(ids[row]).isEqualTo(-1);
                    assertThat(full[row]).containsExactly(x);
                }
            }
        }
    }

    /** Greedy continuations through the whole engine (scheduler, slices, argmax on the device) equal the CPU's. */
    @Test
    void greedyContinuationsEqualTheCpuOnF32() throws Exception {
        Path model = synth("tiny", FileType.F32);
        List<Request> reqs = new ArrayList<>();
        Random r = new Random(21);
        for (int i = 0; i < 6; i++) reqs.add(Request.tokens("r" + i, ids(r, 5 + 9 * i, 4000)).greedy(16).ignoreEos(true).build());
        List<int[]> cpuIds = new ArrayList<>(), gpuIds = new ArrayList<>();
        for (EngineConfig.Device d : List.of(EngineConfig.Device.CPU, EngineConfig.Device.CUDA)) {
            EngineConfig c = EngineConfig.builder().device(d).maxSeqs(4).maxBatchTokens(64).maxModelLen(128)
                    .kvCacheBytes(32L << 20).threads(4).build();
            try (Engine e = Engine.open(model, c)) {
                for (Result res : e.generate(reqs)) (d == EngineConfig.Device.CPU ? cpuIds : gpuIds).add(res.tokenIds());
            }
        }
        for (int i = 0; i < reqs.size(); i++) {
            int[] a = cpuIds.get(i), b = gpuIds.get(i);
            assertThat(b).hasSize(16);
            int n = 8; // the first tokens must agree; later ones may part at a near tie
            assertThat(java.util.Arrays.copyOf(b, n)).as("request %d", i).containsExactly(java.util.Arrays.copyOf(a, n));
        }
    }
}
