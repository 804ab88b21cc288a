package dev.tokenmill.backend.cpu;

import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelConfig;
import dev.tokenmill.model.ModelWeights;
import dev.tokenmill.model.Weight;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.MatMul;
import dev.tokenmill.tensor.nativ.NativeKernels;
import dev.tokenmill.tensor.nativ.PackedWeights;
import dev.tokenmill.tensor.nativ.Q8Activations;
import dev.tokenmill.backend.cpu.StepProfile.Phase;

import java.lang.foreign.Arena;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The forward pass on the CPU over a paged KV cache: llama.cpp's llama/qwen2/qwen3 graph (RMSNorm, q/k/v with
 * optional biases and per-head q/k norms, RoPE, grouped-query attention, SwiGLU, output norm and projection)
 * computed token by token with the weights read in place from the mapped file. Matrix products go row by row
 * through the weight type's {@link dev.tokenmill.tensor.RowKernel}, rows split across a fixed {@link ComputePool},
 * or, for the types the native int8 kernels handle (when {@link CpuBackendConfig#nativeKernels()}), through
 * weights repacked once here and activations quantized once per product input; attention is split across
 * (run of tokens of one sequence, KV head) items ({@link PagedAttention}), and the per-token steps between products
 * across tokens. Every buffer is allocated here, sized by the config; {@link StepProfile} times the phases.
 *
 * <p>A token's result never depends on which other tokens share its step: every product computes each (row, token)
 * pair with the same arithmetic whatever the batch, so batched greedy decoding gives the ids of one-at-a-time runs.
 */
public final class CpuBackend implements Backend {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CpuBackend.class);
    /** Below this many multiply-adds an op runs on the calling thread: a dispatch would cost more. */
    private static final long PARALLEL_MIN_WORK = 1 << 15;

    private final ModelConfig cfg;
    private final ModelWeights weights;
    private final CpuBackendConfig bc;
    private final PagedKvCache kv;
    private final RopeTable rope;
    private final ComputePool pool;
    private final Logits logits;

    // scratch, [tokens, width] row-major
    private final float[] x, xb, xr, q, k, v, att, gate, up, xl;
    private final float[][] scores; // [worker][...]: a row of scores per (token, query head) of an attention run
    private final float[][] kBlock, vBlock; // [worker][headDim * blockSize]: one KV block of one head as floats
    private final int[] runStart;   // attention runs of the current batch: [runStart[r], runStart[r + 1])
    /** Tokens of one sequence whose attention one work item computes, sharing each widened KV block. */
    private static final int ATTENTION_RUN = 16;
    /** Floats of scores per worker when a run of {@link #ATTENTION_RUN} tokens needs more than one token's row. */
    private static final int SCORE_BUDGET = 1 << 18;
    private final float[][] rowScratch; // [worker][widest row]: one dequantized weight row

    private final MatmulTask matmul = new MatmulTask();
    private final NativeMatmulTask nativeMatmul = new NativeMatmulTask();
    /** Repacked matrices of native-kernel types, [layer][WQ..FFN_DOWN]; null entries run on the Java kernels. */
    private final PackedWeights[][] packedLayers;
    private PackedWeights packedOutput;
    private boolean releaseEmbeddingPages;
    private static final int WQ = 0, WK = 1, WV = 2, WO = 3, FFN_GATE = 4, FFN_UP = 5, FFN_DOWN = 6;
    private final Arena packedArena; // freed by the GC once this backend is unreachable
    private final Q8Activations acts;
    private final AttentionTask attention = new AttentionTask();
    private int attentionRuns;
    private final StepProfile prof = new StepProfile();
    private final RowTask rows = new RowTask();
    private final QuantizeTask quantize = new QuantizeTask();

    /**
     * A backend over {@code model}'s weights; with {@link CpuBackendConfig#packCacheDir()} set, the weights repacked for
     * the native kernels are mapped from (and written once into) that directory's file for this model.
     */
    public CpuBackend(Model model, CpuBackendConfig bc) {
        this(model.config(), model.weights(), bc, model.gguf());
    }

    /** A backend over these weights; repacked weights stay in memory (no model file to key a cache file by). */
    public CpuBackend(ModelConfig cfg, ModelWeights weights, CpuBackendConfig bc) {
        this(cfg, weights, bc, null);
    }

    private CpuBackend(ModelConfig cfg, ModelWeights weights, CpuBackendConfig bc, GgufFile gguf) {
        this.cfg = cfg;
        this.weights = weights;
        this.bc = bc;
        int t = bc.maxBatchTokens();
        this.kv = new PagedKvCache(cfg.nLayers(), bc.numBlocks(), bc.blockSize(), cfg.nKvHeads(), cfg.headDim(), bc.kvType() == GgmlType.F16);
        this.rope = new RopeTable(bc.maxSeqLen(), cfg.ropeDim(), cfg.ropeFreqBase(), cfg.architecture().neoxRope());
        this.pool = new ComputePool(bc.threads());
        this.logits = new Logits(bc.maxLogitRows(), cfg.vocabSize());
        int wide = Math.max(Math.max(cfg.nEmbd(), cfg.qDim()), cfg.ffnDim());
        x = new float[t * cfg.nEmbd()];
        xb = new float[t * Math.max(cfg.nEmbd(), cfg.qDim())];
        // F16 products round their input to F16 first (as ggml does): only then is this buffer needed
        xr = new float[bc.roundActivations() && hasF16Products(weights) ? t * wide : 0];
        q = new float[t * cfg.qDim()];
        k = new float[t * cfg.kvDim()];
        v = new float[t * cfg.kvDim()];
        att = new float[t * cfg.qDim()];
        gate = new float[t * cfg.ffnDim()];
        up = new float[t * cfg.ffnDim()];
        xl = new float[bc.maxLogitRows() * cfg.nEmbd()];
        int rowLen = (bc.maxSeqLen() + bc.blockSize() - 1) / bc.blockSize() * bc.blockSize();
        int scoreFloats = (int) Math.min(Integer.MAX_VALUE - 16,
                Math.max((long) cfg.groupSize() * rowLen, Math.min((long) ATTENTION_RUN * cfg.groupSize() * rowLen, SCORE_BUDGET)));
        scores = new float[bc.threads()][scoreFloats];
        kBlock = new float[bc.threads()][cfg.headDim() * bc.blockSize()];
        vBlock = new float[bc.threads()][cfg.headDim() * bc.blockSize()];
        runStart = new int[t + 1];
        rowScratch = new float[bc.threads()][wide];
        packedLayers = new PackedWeights[cfg.nLayers()][7];
        if (bc.nativeKernels() && NativeKernels.available()) {
            // an automatic arena: downcalls on its segments skip the acquire/release that a shared arena's segments
            // pay on every call, an atomic counter that two compute threads would fight over
            packedArena = Arena.ofAuto();
            boolean any = packAll(gguf);
            acts = any ? new Q8Activations(packedArena, t, (wide + 31) / 32 * 32) : null;
        } else {
            packedArena = null;
            acts = null;
        }
    }

    private static boolean hasF16Products(ModelWeights w) {
        if (w.output().type() == GgmlType.F16) return true;
        for (ModelWeights.Layer l : w.layers()) {
            for (Weight m : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.ffnGate(), l.ffnUp(), l.ffnDown())) {
                if (m.type() == GgmlType.F16) return true;
            }
        }
        return false;
    }

    /**
     * Repacks every matrix the native kernels handle (a matrix shared by two roles, such as tied embeddings, once),
     * then drops its mapped pages from this process (see MappedPages). With a cache directory and the model file,
     * the packed matrices are mapped from the model's cache file instead (written first if needed).
     */
    private boolean packAll(GgufFile gguf) {
        Map<Weight, PackedWeights> done = new IdentityHashMap<>();
        List<Weight> all = new java.util.ArrayList<>();
        for (ModelWeights.Layer w : weights.layers()) all.addAll(List.of(w.wq(), w.wk(), w.wv(), w.wo(), w.ffnGate(), w.ffnUp(), w.ffnDown()));
        all.add(weights.output());
        List<Weight> distinct = new java.util.ArrayList<>(); // in model order, so that the cache file's table is stable
        java.util.Set<Weight> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Weight w : all) if (NativeKernels.supports(w.type()) && seen.add(w)) distinct.add(w);
        List<PackedWeights> cached = gguf != null && bc.packCacheDir() != null && !distinct.isEmpty()
                ? PackedWeightsCache.load(gguf, distinct, bc.packCacheDir(), MappedPages::release) : null;
        if (cached != null) {
            for (int i = 0; i < distinct.size(); i++) done.put(distinct.get(i), cached.get(i));
        }
        for (int l = 0; l < cfg.nLayers(); l++) {
            ModelWeights.Layer w = weights.layers().get(l);
            List<Weight> roles = List.of(w.wq(), w.wk(), w.wv(), w.wo(), w.ffnGate(), w.ffnUp(), w.ffnDown());
            for (int r = 0; r < roles.size(); r++) packedLayers[l][r] = pack(roles.get(r), done);
        }
        packedOutput = pack(weights.output(), done);
        releaseEmbeddingPages = packedOutput != null && weights.output().data().address() == weights.tokenEmbd().data().address();
        return done.values().stream().anyMatch(java.util.Objects::nonNull);
    }

    private PackedWeights pack(Weight w, Map<Weight, PackedWeights> done) {
        if (!NativeKernels.supports(w.type())) return null;
        if (done.containsKey(w)) return done.get(w);
        PackedWeights p;
        try {
            p = NativeKernels.pack(w.type(), w.data(), w.rows(), w.cols(), packedArena, MappedPages::release);
        } catch (OutOfMemoryError e) {
            // native memory counts against -XX:MaxDirectMemorySize (by default the heap limit)
            LOG.warn("cannot repack {} for the native kernels ({}); it runs on the slower Java kernels. "
                    + "Raise -XX:MaxDirectMemorySize to the model size.", w.name(), e.getMessage());
            p = null;
        }
        done.put(w, p);
        return p;
    }

    public ModelConfig modelConfig() { return cfg; }

    public CpuBackendConfig config() { return bc; }

    @Override public int blockSize() { return bc.blockSize(); }

    @Override public int numBlocks() { return bc.numBlocks(); }

    @Override public int maxLogitRows() { return bc.maxLogitRows(); }

    @Override
    public String kernelPath() {
        if (acts != null) return "cpu: native " + NativeKernels.describe();
        String java = "cpu: " + (dev.tokenmill.tensor.VectorSupport.available() ? "Java Vector API" : "Java scalar");
        return bc.nativeKernels() && NativeKernels.available() ? java + " (no weights of a native-kernel type)" : java;
    }

    @Override
    public long kvBytesPerBlock() {
        return PagedKvCache.bytesPerBlock(cfg.nLayers(), bc.blockSize(), cfg.kvDim(), bc.kvType() == GgmlType.F16);
    }

    @Override
    public Logits forward(ForwardBatch batch) {
        validate(batch);
        int n = batch.nTokens;
        int d = cfg.nEmbd();
        long m = prof.mark();
        prof.step(n);
        Weight embd = weights.tokenEmbd();
        for (int t = 0; t < n; t++) embd.dequantizeRow(batch.tokens[t], x, t * d);
        // the lookups fault in pages (and the kernel maps neighbours with them): drop them again, so that a large
        // embedding matrix does not creep into the resident set one step at a time (its product uses a packed copy).
        // One madvise over the whole matrix per step: each madvise costs a TLB shootdown, so one per token cost more
        // (measured on a 2-vCPU VM, llama-1b's 215 MB matrix: 59 us per token's window against 21 us for the whole
        // matrix with one row read, 1.7 ms against 94 us with 32, 25 ms against 0.7 ms with 512)
        if (releaseEmbeddingPages) MappedPages.release(embd.data());
        prof.add(Phase.EMBED, m);
        attentionRuns = planAttention(batch);
        for (int l = 0; l < cfg.nLayers(); l++) layer(l, weights.layers().get(l), batch);

        return logitsPage(batch, 0);
    }

    /** The hidden states of the whole batch stay in {@code x} until the next forward call: any page can be computed. */
    @Override
    public boolean pagesLogits() {
        return true;
    }

    @Override
    public Logits logitsPage(ForwardBatch batch, int fromRow) {
        if (fromRow < 0 || (fromRow >= batch.nLogits && batch.nLogits > 0)) {
            throw new IllegalArgumentException("logits page from row " + fromRow + " of a batch with " + batch.nLogits + " logit rows");
        }
        int d = cfg.nEmbd();
        int nLogits = Math.min(bc.maxLogitRows(), batch.nLogits - fromRow);
        long m = prof.mark();
        for (int r = 0; r < nLogits; r++) {
            CpuOps.rmsNorm(xl, r * d, x, batch.logitRows[fromRow + r] * d, weights.outputNorm(), d, cfg.rmsEps());
        }
        prof.add(Phase.NORM, m);
        matmul(weights.output(), packedOutput, xl, logits.data(), nLogits, false, Phase.LOGITS);
        logits.setCount(nLogits);
        return logits;
    }

    private void layer(int l, ModelWeights.Layer w, ForwardBatch batch) {
        int n = batch.nTokens;
        long m = prof.mark();
        rows.run(RowTask.NORM, n, w.attnNorm());
        prof.add(Phase.NORM, m);
        PackedWeights[] pw = packedLayers[l];
        matmul(w.wq(), pw[WQ], xb, q, n, false, Phase.QKV);
        matmul(w.wk(), pw[WK], xb, k, n, true, Phase.QKV);
        matmul(w.wv(), pw[WV], xb, v, n, true, Phase.QKV);
        m = prof.mark();
        rows.ropeKv(l, w, batch);
        m = prof.add(Phase.ROPE_KV, m);
        attention.layer = l;
        attention.batch = batch;
        long work = (long) n * cfg.nHeads() * (batch.positions[n - 1] + 1) * cfg.headDim() * 2;
        parallelFor(attentionRuns * cfg.nKvHeads(), attention, work);
        attention.batch = null;
        prof.add(Phase.ATTENTION, m);
        matmul(w.wo(), pw[WO], att, xb, n, false, Phase.WO);
        m = prof.mark();
        rows.run(RowTask.ADD, n, null);
        m = prof.add(Phase.SWIGLU_ADD, m);

        rows.run(RowTask.NORM, n, w.ffnNorm());
        prof.add(Phase.NORM, m);
        matmul(w.ffnGate(), pw[FFN_GATE], xb, gate, n, false, Phase.GATE_UP);
        matmul(w.ffnUp(), pw[FFN_UP], xb, up, n, true, Phase.GATE_UP);
        m = prof.mark();
        rows.run(RowTask.SWIGLU, n, null);
        prof.add(Phase.SWIGLU_ADD, m);
        matmul(w.ffnDown(), pw[FFN_DOWN], gate, xb, n, false, Phase.DOWN);
        m = prof.mark();
        rows.run(RowTask.ADD, n, null);
        prof.add(Phase.SWIGLU_ADD, m);
    }

    /**
     * out[t][r] = W[r] . in[t] for t in [0, nTok): [nTok, rows] from [nTok, cols]. {@code sameInput}: {@code in} holds
     * exactly what the previous product read (q, k and v share one input), so its quantized form is reused.
     * {@code p}: the matrix repacked for the native kernels, or null for the Java kernels.
     */
    private void matmul(Weight w, PackedWeights p, float[] in, float[] out, int nTok, boolean sameInput, Phase phase) {
        if (nTok == 0) return;
        long m = prof.mark();
        if (p != null) {
            if (!sameInput || acts.batch() != nTok || acts.cols() != w.cols()) {
                quantize.set(in, nTok, w.cols());
                parallelFor(w.cols() / 32, quantize, (long) nTok * w.cols() / 4);
                quantize.set(null, 0, 0);
                m = prof.add(Phase.QUANTIZE, m);
            }
            nativeMatmul.set(p, out);
            int groups = (w.rows() + NativeKernels.ROW_GROUP - 1) / NativeKernels.ROW_GROUP;
            parallelFor(groups, nativeMatmul, (long) w.rows() * w.cols() * nTok);
            nativeMatmul.set(null, null);
            prof.add(phase, m);
            return;
        }
        float[] src = in;
        if (bc.roundActivations() && w.type() == GgmlType.F16) {
            CpuOps.roundToF16(in, xr, nTok * w.cols());
            src = xr;
        }
        matmul.set(w, src, out, nTok);
        parallelFor(w.rows(), matmul, (long) w.rows() * w.cols() * nTok);
        matmul.set(null, null, null, 0);
        prof.add(phase, m);
    }

    private void parallelFor(int n, ComputePool.RangeTask task, long work) {
        if (work < PARALLEL_MIN_WORK) task.run(0, n, 0);
        else pool.parallelFor(n, task);
    }

    private void validate(ForwardBatch b) {
        if (b.nTokens <= 0) throw new IllegalArgumentException("forward batch has no tokens");
        if (b.nTokens > bc.maxBatchTokens()) {
            throw new IllegalArgumentException("forward batch has " + b.nTokens + " tokens, backend allows " + bc.maxBatchTokens());
        }
        if (b.nSeqs > bc.maxSeqs()) {
            throw new IllegalArgumentException("forward batch has " + b.nSeqs + " sequences, backend allows " + bc.maxSeqs());
        }
        for (int t = 0; t < b.nTokens; t++) {
            int tok = b.tokens[t], pos = b.positions[t], s = b.seqOfToken[t];
            if (tok < 0 || tok >= cfg.vocabSize()) {
                throw new IllegalArgumentException("token id " + tok + " at batch row " + t + " is outside the vocabulary [0, " + cfg.vocabSize() + ")");
            }
            if (s < 0 || s >= b.nSeqs) throw new IllegalArgumentException("batch row " + t + " names sequence slot " + s + ", batch has " + b.nSeqs);
            if (pos < 0 || pos >= bc.maxSeqLen() || pos >= b.contextLens[s]) {
                throw new IllegalArgumentException("position " + pos + " at batch row " + t + " is outside [0, min(maxSeqLen "
                        + bc.maxSeqLen() + ", context length " + b.contextLens[s] + "))");
            }
            if (pos / bc.blockSize() >= b.maxBlocksPerSeq) {
                throw new IllegalArgumentException("position " + pos + " needs block " + pos / bc.blockSize() + ", block table holds " + b.maxBlocksPerSeq);
            }
        }
        for (int s = 0; s < b.nSeqs; s++) {
            int blocks = (b.contextLens[s] + bc.blockSize() - 1) / bc.blockSize();
            if (blocks > b.maxBlocksPerSeq) {
                throw new IllegalArgumentException("sequence slot " + s + " context " + b.contextLens[s] + " needs " + blocks + " blocks, table holds " + b.maxBlocksPerSeq);
            }
            for (int i = 0; i < blocks; i++) {
                int blk = b.blockTables[s][i];
                if (blk < 0 || blk >= bc.numBlocks()) {
                    throw new IllegalArgumentException("sequence slot " + s + " block table entry " + i + " = " + blk + " is outside [0, " + bc.numBlocks() + ")");
                }
            }
        }
        for (int r = 0; r < b.nLogits; r++) {
            if (b.logitRows[r] < 0 || b.logitRows[r] >= b.nTokens) {
                throw new IllegalArgumentException("logit row " + r + " names batch row " + b.logitRows[r] + ", batch has " + b.nTokens);
            }
        }
    }

    @Override
    public void close() {
        if (StepProfile.ENABLED) LOG.info("{}", prof.report());
        pool.close();
    }

    /**
     * The per-token steps between products, split over tokens [from, to): x's RMS norm into xb, x += xb,
     * gate = silu(gate) * up, and q/k biases, norms and RoPE with the KV cache write. Each token's values are
     * computed alone, whichever thread runs it.
     */
    private final class RowTask implements ComputePool.RangeTask {
        static final int NORM = 0, ADD = 1, SWIGLU = 2, ROPE_KV = 3;
        private int op;
        private float[] weight;
        private int layer;
        private ModelWeights.Layer lw;
        private ForwardBatch batch;

        void ropeKv(int layer, ModelWeights.Layer lw, ForwardBatch batch) {
            this.layer = layer;
            this.lw = lw;
            this.batch = batch;
            op = ROPE_KV;
            int n = batch.nTokens;
            parallelFor(n, this, (long) n * (cfg.qDim() + 2 * cfg.kvDim()) * 4);
            this.lw = null;
            this.batch = null;
        }

        private void ropeKv(int from, int to) {
            int hd = cfg.headDim();
            ModelWeights.Layer w = lw;
            for (int t = from; t < to; t++) {
                int qOff = t * cfg.qDim(), kOff = t * cfg.kvDim();
                if (w.bq() != null) {
                    CpuOps.addBias(q, qOff, w.bq());
                    CpuOps.addBias(k, kOff, w.bk());
                    CpuOps.addBias(v, kOff, w.bv());
                }
                int pos = batch.positions[t];
                for (int h = 0; h < cfg.nHeads(); h++) {
                    if (w.qNorm() != null) CpuOps.rmsNorm(q, qOff + h * hd, q, qOff + h * hd, w.qNorm(), hd, cfg.rmsEps());
                    rope.apply(q, qOff + h * hd, pos);
                }
                for (int h = 0; h < cfg.nKvHeads(); h++) {
                    if (w.kNorm() != null) CpuOps.rmsNorm(k, kOff + h * hd, k, kOff + h * hd, w.kNorm(), hd, cfg.rmsEps());
                    rope.apply(k, kOff + h * hd, pos);
                }
                kv.write(layer, batch.blockTables[batch.seqOfToken[t]][pos / bc.blockSize()], pos % bc.blockSize(), k, kOff, v, kOff);
            }
        }

        void run(int op, int nTok, float[] weight) {
            this.op = op;
            this.weight = weight;
            int width = op == SWIGLU ? cfg.ffnDim() : cfg.nEmbd();
            parallelFor(nTok, this, (long) nTok * width * (op == SWIGLU ? 16 : 2));
            this.weight = null;
        }

        @Override
        public void run(int from, int to, int worker) {
            int d = cfg.nEmbd();
            switch (op) {
                case NORM -> {
                    for (int t = from; t < to; t++) CpuOps.rmsNorm(xb, t * d, x, t * d, weight, d, cfg.rmsEps());
                }
                case ADD -> CpuOps.add(x, xb, from * d, (to - from) * d);
                case SWIGLU -> CpuOps.swiglu(gate, up, from * cfg.ffnDim(), (to - from) * cfg.ffnDim());
                case ROPE_KV -> ropeKv(from, to);
                default -> throw new IllegalStateException("row op " + op);
            }
        }
    }

    /** Quantizes blocks [from, to) of every token of a product's input for the native kernels. */
    private final class QuantizeTask implements ComputePool.RangeTask {
        private float[] in;
        private int nTok, cols;

        void set(float[] in, int nTok, int cols) {
            this.in = in;
            this.nTok = nTok;
            this.cols = cols;
        }

        @Override
        public void run(int from, int to, int worker) {
            acts.quantize(in, nTok, cols, from, to);
        }
    }

    /** Row groups [from, to) of a product through the native kernels. */
    private final class NativeMatmulTask implements ComputePool.RangeTask {
        private PackedWeights w;
        private float[] out;

        void set(PackedWeights w, float[] out) {
            this.w = w;
            this.out = out;
        }

        @Override
        public void run(int from, int to, int worker) {
            int g = NativeKernels.ROW_GROUP;
            NativeKernels.gemm(w, acts, out, from * g, Math.min(w.rows(), to * g));
        }
    }

    /**
     * Rows [from, to) of one matrix product through {@link MatMul#matmul} (each weight row dequantized once into the
     * worker's scratch and reused for every token); fields are set by the caller before each dispatch. Decode (one
     * token) takes the same path as a batch, not the type's fused dot, so that a token's logits do not depend on the
     * batch it runs in.
     */
    private final class MatmulTask implements ComputePool.RangeTask {
        private Weight w;
        private float[] in, out;
        private int nTok;

        void set(Weight w, float[] in, float[] out, int nTok) {
            this.w = w;
            this.in = in;
            this.out = out;
            this.nTok = nTok;
        }

        @Override
        public void run(int from, int to, int worker) {
            MatMul.matmul(w.kernel(), w.data(), w.rows(), w.cols(), in, nTok, out, from, to, rowScratch[worker]);
        }
    }

    /**
     * Causal attention of items [from, to), item = run * nKvHeads + kvHead, where a run is a few consecutive tokens of
     * one sequence (see {@link #planAttention}): for each token and each query head h sharing that KV head,
     * softmax(q_h . K[0..pos] / sqrt(headDim)) weighted sum of V, reading K/V block by block through the sequence's
     * block table. Each block of K and V is widened once per item and serves every token and query head of it.
     * A (token, head) result is computed the same way whatever else is in the batch or the run.
     */
    private final class AttentionTask implements ComputePool.RangeTask {
        int layer;
        ForwardBatch batch;

        @Override
        public void run(int from, int to, int worker) {
            int hd = cfg.headDim(), nkv = cfg.nKvHeads(), group = cfg.groupSize(), bs = bc.blockSize(), qDim = cfg.qDim();
            float scale = (float) (1.0 / Math.sqrt(hd)); // llama.cpp: 1.0f/sqrtf(float(n_embd_head))
            float[] s = scores[worker];
            float[] kb = kBlock[worker], vb = vBlock[worker];
            for (int item = from; item < to; item++) {
                int run = item / nkv, kvh = item % nkv;
                int t0 = runStart[run], t1 = runStart[run + 1];
                int[] table = batch.blockTables[batch.seqOfToken[t0]];
                int nBlocks = (batch.positions[t1 - 1] + bs) / bs;
                int stride = nBlocks * bs; // one row of scores per query (token, query head): query j is row j
                int nq = (t1 - t0) * group;
                // query j: token t0 + j / group, query head kvh * group + j % group; its q and att rows start at qOff(j)
                int qBase = t0 * qDim + kvh * group * hd;
                for (int b = 0; b < nBlocks; b++) {
                    kv.kBlock(layer, table[b], kvh, kb);
                    int j = firstToken(t0, t1, b * bs) * group; // tokens before it do not reach this block
                    // four queries at a time; a last group of fewer repeats its last query (same bits, stored again), which
                    // costs no more than one query alone: a single chain of fmas waits on its own latency
                    for (; j < nq; j += 4) {
                        int j1 = Math.min(j + 1, nq - 1), j2 = Math.min(j + 2, nq - 1), j3 = Math.min(j + 3, nq - 1);
                        PagedAttention.blockScores4(q, qOff(j, qBase, group, qDim, hd), qOff(j1, qBase, group, qDim, hd),
                                qOff(j2, qBase, group, qDim, hd), qOff(j3, qBase, group, qDim, hd), kb, bs, hd,
                                s, j * stride + b * bs, j1 * stride + b * bs, j2 * stride + b * bs, j3 * stride + b * bs);
                    }
                }
                for (int j = 0; j < nq; j++) {
                    CpuOps.scaledSoftmax(s, j * stride, batch.positions[t0 + j / group] + 1, scale);
                    int outOff = qOff(j, qBase, group, qDim, hd);
                    java.util.Arrays.fill(att, outOff, outOff + hd, 0f);
                }
                for (int b = 0; b < nBlocks; b++) {
                    kv.vBlock(layer, table[b], kvh, vb);
                    int j = firstToken(t0, t1, b * bs) * group;
                    int full = firstToken(t0, t1, b * bs + bs - 1) * group; // queries from here see the whole block
                    while (j < full) { // a token that sees part of the block: its query heads share its valid count
                        int valid = batch.positions[t0 + j / group] + 1 - b * bs;
                        int end = (j / group + 1) * group;
                        for (int i = j; i < end; i += 4) {
                            int i1 = Math.min(i + 1, end - 1), i2 = Math.min(i + 2, end - 1), i3 = Math.min(i + 3, end - 1);
                            PagedAttention.addWeightedRows4(s, i * stride + b * bs, i1 * stride + b * bs, i2 * stride + b * bs,
                                    i3 * stride + b * bs, valid, vb, hd, att, qOff(i, qBase, group, qDim, hd),
                                    qOff(i1, qBase, group, qDim, hd), qOff(i2, qBase, group, qDim, hd), qOff(i3, qBase, group, qDim, hd));
                        }
                        j = end;
                    }
                    for (; j < nq; j += 4) {
                        int j1 = Math.min(j + 1, nq - 1), j2 = Math.min(j + 2, nq - 1), j3 = Math.min(j + 3, nq - 1);
                        PagedAttention.addWeightedRows4(s, j * stride + b * bs, j1 * stride + b * bs, j2 * stride + b * bs,
                                j3 * stride + b * bs, bs, vb, hd, att, qOff(j, qBase, group, qDim, hd),
                                qOff(j1, qBase, group, qDim, hd), qOff(j2, qBase, group, qDim, hd), qOff(j3, qBase, group, qDim, hd));
                    }
                }
            }
        }

        /** The first token of [t0, t1) at or past position {@code pos}, relative to t0 ({@code t1 - t0} if none). */
        private int firstToken(int t0, int t1, int pos) {
            int t = t0;
            while (t < t1 && batch.positions[t] < pos) t++;
            return t - t0;
        }

        private static int qOff(int j, int qBase, int group, int qDim, int hd) {
            return qBase + (j / group) * qDim + (j % group) * hd;
        }
    }

    /**
     * Cuts the batch into attention runs, {@code runStart[0..nRuns]}: consecutive tokens of one sequence, at most
     * {@link #ATTENTION_RUN} of them and no more than one worker's score buffer holds (a row of scores per token and
     * query head, as long as the run's last context rounded up to whole blocks).
     */
    private int planAttention(ForwardBatch batch) {
        int bs = bc.blockSize(), group = cfg.groupSize(), capacity = scores[0].length;
        int runs = 0;
        runStart[0] = 0;
        for (int t = 1; t < batch.nTokens; t++) {
            int len = t - runStart[runs] + 1;
            long rowLen = (long) (batch.positions[t] + bs) / bs * bs;
            if (batch.seqOfToken[t] != batch.seqOfToken[t - 1] || len > ATTENTION_RUN || len * group * rowLen > capacity) {
                runStart[++runs] = t;
            }
        }
        runStart[++runs] = batch.nTokens;
        return runs;
    }
}
