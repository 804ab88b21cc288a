package dev.tokenmill.backend.cuda;

import dev.tokenmill.EngineConfig;
import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.BackendOptions;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.kv.BlockPool;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelConfig;
import dev.tokenmill.model.ModelWeights;
import dev.tokenmill.model.Weight;
import dev.tokenmill.tensor.GgmlType;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static dev.tokenmill.backend.cuda.CudaDriver.Kernel;

/**
 * The forward pass on an NVIDIA GPU. Weights stay resident in one compute type ({@link ComputeType}: F32 when every
 * matrix is F32, F16 when every one is F16, else BF16, quantized types dequantized to it at load); q|k|v and
 * gate|up are each fused into one matrix, so a layer is four cuBLAS products (tokens of the step as the N dimension,
 * f32 accumulation, the two residual adds folded into the products as {@code beta = 1}) and five kernels of ours
 * (RMSNorm, bias + q/k norm + RoPE + paged KV write, paged attention, RMSNorm, SwiGLU). The residual stream is f32,
 * the KV cache f16 in device memory, position-major within a block. Each step uploads one packed int plan
 * ({@link StepPlan}) from pinned memory, launches on one stream, computes the greedy argmax of every logits row on
 * the device and copies back only the ids, plus the full rows the engine needs on the host. Nothing is allocated
 * on the device after open.
 */
public final class CudaBackend implements Backend {
    private static final Logger LOG = LoggerFactory.getLogger(CudaBackend.class);
    /** Device memory left to cuBLAS and the driver when the KV cache is sized from what is free. */
    static final long RESERVE_BYTES = 1L << 30;
    /** Logit rows copied back per round trip through the pinned staging buffer. */
    private static final int STAGE_ROWS = 8;

    /** The element type of resident weights and of the activations that feed matrix products. */
    enum ComputeType {
        F32(0, Cublas.R_32F, 4), F16(1, Cublas.R_16F, 2), BF16(2, Cublas.R_16BF, 2);

        final int kernelCode, cudaType, bytes;

        ComputeType(int kernelCode, int cudaType, int bytes) {
            this.kernelCode = kernelCode;
            this.cudaType = cudaType;
            this.bytes = bytes;
        }

        /** F32 when every matrix is F32, F16 when every one is F16, else BF16. */
        static ComputeType choose(List<GgmlType> matrixTypes) {
            if (matrixTypes.stream().allMatch(t -> t == GgmlType.F32)) return F32;
            if (matrixTypes.stream().allMatch(t -> t == GgmlType.F16)) return F16;
            return BF16;
        }
    }

    private final ModelConfig cfg;
    private final BackendOptions o;
    private final int ordinal;
    private CudaContext cu;
    private CudaDriver drv;
    private Cublas blas;
    private String deviceName;
    private int sms, ccMajor, ccMinor;
    private ComputeType ct;

    // weights
    private long embd, output, outputNorm;
    private long[] attnNorm, wqkv, bq, bk, bv, qNorm, kNorm, wo, ffnNorm, wgu, wdown;
    // activations and step buffers
    private long x, xb, qkv, att, gu, h, xl, logitsDev, ids, plan, cosT, sinT, partO, partML;
    private long kCache, vCache;
    private int numBlocks;
    private StepPlan stepPlan;
    private MemorySegment pinnedPlan, pinnedIds, pinnedStage;
    private Logits logits;
    private final int maxLogitRows;
    private int targetBlocks, splitItemsCap, headCap;
    private Kernel kGemv;
    private Kernel kEmbed, kRmsNorm, kRope, kAttn, kCombine, kSwiglu, kArgmax;
    private boolean closed;
    /** -Dtokenmill.cuda.graphs=false runs every step launch by launch. */
    private static final boolean GRAPHS = !"false".equalsIgnoreCase(System.getProperty("tokenmill.cuda.graphs"));
    static final int GRAPH_MAX_TOKENS = 256;
    /**
     * -Dtokenmill.cuda.gemv=true runs products of at most four tokens on gemv.cu. Off by default: on an H200 it made
     * single-sequence decode slower inside a CUDA graph (724 against 761 tok/s with cuBLAS), though faster launched
     * kernel by kernel.
     */
    private static final boolean GEMV = Boolean.getBoolean("tokenmill.cuda.gemv");
    private final Map<Integer, Long> graphs = new HashMap<>();
    private boolean graphsFailed;
    // step statistics, logged at close: wall time inside forward (host plan + launches + device work + copy-back)
    private long forwardCalls, forwardTokens, forwardNanos, planNanos;
    /** -Dtokenmill.cuda.profile=true: CUDA events between the phases of every step (one more sync a step), summed. */
    private static final boolean PROFILE = Boolean.getBoolean("tokenmill.cuda.profile");
    private static final String[] PHASES = {"embed", "norm", "qkv_gemm", "rope_kv", "attention", "wo_gemm", "gate_up_gemm", "swiglu",
            "down_gemm", "logits", "argmax_copy"};
    private static final int P_EMBED = 0, P_NORM = 1, P_QKV = 2, P_ROPE = 3, P_ATTN = 4, P_WO = 5, P_GU = 6, P_SWIGLU = 7,
            P_DOWN = 8, P_LOGITS = 9, P_ARGMAX = 10;
    private final double[] phaseMs = new double[PHASES.length];
    private jcuda.driver.CUevent[] events;
    private int[] eventPhase;
    private int nEvents;

    private CudaBackend(ModelConfig cfg, BackendOptions o) {
        this.cfg = cfg;
        this.o = o;
        this.ordinal = DeviceOrdinal.resolve(o.deviceOrdinal());
        this.maxLogitRows = o.preferredLogitRows();
    }

    /** Opens the backend on the configured device; on failure everything allocated is freed and the cause named. */
    static CudaBackend open(Model model, BackendOptions o) {
        ModelConfig c = model.config();
        String file = model.gguf().path().toString();
        if (o.kvType() != EngineConfig.KvType.F16) {
            throw new IllegalArgumentException(file + ": the CUDA backend stores the KV cache in F16; kvType " + o.kvType() + " is not supported on it");
        }
        if (c.groupSize() > StepPlan.MAX_ROWS) {
            throw new IllegalArgumentException(file + ": " + c.groupSize() + " query heads per KV head; the CUDA attention kernel takes at most " + StepPlan.MAX_ROWS);
        }
        if (!LaunchGeometry.supportedHeadDim(c.headDim())) {
            throw new IllegalArgumentException(file + ": head size " + c.headDim() + "; the CUDA attention kernel takes head sizes that are multiples of 8, up to 128");
        }
        CudaBackend b = new CudaBackend(c, o);
        try {
            b.init(model);
            return b;
        } catch (RuntimeException | Error e) {
            try {
                b.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof CudaException ce) throw new CudaException(file + ": opening the CUDA backend on device " + b.ordinal + " failed: " + ce.getMessage(), ce);
            throw e;
        }
    }

    private void init(Model model) {
        cu = CudaContext.open(ordinal);
        drv = cu.drv;
        blas = cu.blas;
        deviceName = cu.deviceName;
        sms = cu.sms;
        ccMajor = cu.ccMajor;
        ccMinor = cu.ccMinor;
        kEmbed = cu.kernel("embed_gather");
        kRmsNorm = cu.kernel("rmsnorm");
        kRope = cu.kernel("qkv_rope_kv");
        kAttn = cu.kernel(LaunchGeometry.attentionKernel(cfg.headDim()));
        kCombine = cu.kernel("attn_combine");
        kSwiglu = cu.kernel(LaunchGeometry.swigluKernel(cfg.ffnDim()));
        kArgmax = cu.kernel("argmax_rows");
        kGemv = cu.kernel("gemv");
        uploadWeights(model.weights());
        allocateBuffers();
        allocateKv();
        LOG.info("CUDA backend on {} (sm_{}{}, {} SMs): {} weights, {} KV blocks of {} tokens, {}", deviceName, ccMajor, ccMinor, sms,
                ct, numBlocks, o.blockSize(), blas.library);
    }

    // ---- memory ----

    private long alloc(long bytes) {
        return cu.alloc(bytes);
    }

    private long uploadFloats(float[] v) {
        return cu.upload(v);
    }

    private void uploadWeights(ModelWeights w) {
        List<GgmlType> types = new ArrayList<>();
        types.add(w.tokenEmbd().type());
        types.add(w.output().type());
        for (ModelWeights.Layer l : w.layers()) {
            for (Weight m : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.ffnGate(), l.ffnUp(), l.ffnDown())) types.add(m.type());
        }
        ct = ComputeType.choose(types);
        int n = cfg.nLayers();
        attnNorm = new long[n]; wqkv = new long[n]; bq = new long[n]; bk = new long[n]; bv = new long[n];
        qNorm = new long[n]; kNorm = new long[n]; wo = new long[n]; ffnNorm = new long[n]; wgu = new long[n]; wdown = new long[n];
        embd = uploadMatrix(List.of(w.tokenEmbd()));
        output = w.tiedOutput() ? embd : uploadMatrix(List.of(w.output()));
        outputNorm = uploadFloats(w.outputNorm());
        for (int l = 0; l < n; l++) {
            ModelWeights.Layer L = w.layers().get(l);
            attnNorm[l] = uploadFloats(L.attnNorm());
            wqkv[l] = uploadMatrix(List.of(L.wq(), L.wk(), L.wv()));
            bq[l] = uploadFloats(L.bq());
            bk[l] = uploadFloats(L.bk());
            bv[l] = uploadFloats(L.bv());
            qNorm[l] = uploadFloats(L.qNorm());
            kNorm[l] = uploadFloats(L.kNorm());
            wo[l] = uploadMatrix(List.of(L.wo()));
            ffnNorm[l] = uploadFloats(L.ffnNorm());
            wgu[l] = uploadMatrix(List.of(L.ffnGate(), L.ffnUp()));
            wdown[l] = uploadMatrix(List.of(L.ffnDown()));
        }
    }

    /** The matrices stacked by rows (same column count) in the compute type, as one device allocation. */
    private long uploadMatrix(List<Weight> parts) {
        int cols = parts.getFirst().cols();
        long rows = 0;
        for (Weight p : parts) {
            if (p.cols() != cols) throw new IllegalStateException("stacked matrices differ in width: " + p.name());
            rows += p.rows();
        }
        long rowBytes = (long) cols * ct.bytes;
        long d = alloc(rows * rowBytes);
        long at = d;
        int chunkRows = (int) Math.max(1, (64L << 20) / rowBytes);
        try (Arena a = Arena.ofShared()) { // conversion fills the stage from the common pool
            MemorySegment stage = null;
            for (Weight p : parts) {
                if (sameType(p.type())) { // as it is in the file: straight from the mapping
                    for (int r = 0; r < p.rows(); r += chunkRows) {
                        int nr = Math.min(chunkRows, p.rows() - r);
                        CudaDriver.copyToDeviceSync(at + r * rowBytes, p.data().asSlice(p.rowOffset(r), nr * rowBytes), nr * rowBytes);
                    }
                } else {
                    if (stage == null) stage = a.allocate(chunkRows * rowBytes, 64);
                    for (int r = 0; r < p.rows(); r += chunkRows) {
                        int nr = Math.min(chunkRows, p.rows() - r);
                        convertRows(p, r, nr, stage);
                        CudaDriver.copyToDeviceSync(at + r * rowBytes, stage, nr * rowBytes);
                    }
                }
                at += p.rows() * rowBytes;
            }
        }
        return d;
    }

    private boolean sameType(GgmlType t) {
        return switch (ct) {
            case F32 -> t == GgmlType.F32;
            case F16 -> t == GgmlType.F16;
            case BF16 -> t == GgmlType.BF16;
        };
    }

    /** Rows [r0, r0 + n) of {@code w} dequantized and rounded to the compute type into {@code dst}. */
    private void convertRows(Weight w, int r0, int n, MemorySegment dst) {
        int cols = w.cols();
        ComputeType t = ct;
        IntStream.range(0, Math.ceilDiv(n, 64)).parallel().forEach(chunk -> {
            float[] row = new float[cols];
            for (int i = chunk * 64; i < Math.min(n, chunk * 64 + 64); i++) {
                w.dequantizeRow(r0 + i, row, 0);
                long base = (long) i * cols * t.bytes;
                switch (t) {
                    case F32 -> MemorySegment.copy(row, 0, dst, ValueLayout.JAVA_FLOAT, base, cols);
                    case F16 -> { for (int c = 0; c < cols; c++) dst.set(ValueLayout.JAVA_SHORT, base + 2L * c, Float.floatToFloat16(row[c])); }
                    case BF16 -> { for (int c = 0; c < cols; c++) dst.set(ValueLayout.JAVA_SHORT, base + 2L * c, dev.tokenmill.tensor.Fp16.floatToBf16(row[c])); }
                }
            }
        });
    }

    private void allocateBuffers() {
        long t = o.maxBatchTokens();
        int d = cfg.nEmbd(), qd = cfg.qDim(), kvd = cfg.kvDim(), ffn = cfg.ffnDim(), vocab = cfg.vocabSize();
        long es = ct.bytes;
        x = alloc(t * d * 4);
        xb = alloc(t * Math.max(d, qd) * es);
        qkv = alloc(t * (qd + 2L * kvd) * 4);
        att = alloc(t * qd * es);
        gu = alloc(t * 2L * ffn * 4);
        h = alloc(t * ffn * es);
        xl = alloc((long) maxLogitRows * d * es);
        logitsDev = alloc((long) maxLogitRows * vocab * 4);
        ids = alloc(4L * maxLogitRows);
        int maxBlocksPerSeq = Math.ceilDiv(o.maxSeqLen(), o.blockSize());
        long btCap = Math.min((long) o.maxSeqs() * maxBlocksPerSeq, (long) o.maxBatchTokens() * maxBlocksPerSeq);
        stepPlan = new StepPlan(o.maxBatchTokens(), o.maxSeqs(), maxLogitRows, Math.toIntExact(Math.min(btCap, Integer.MAX_VALUE / 2)));
        plan = alloc(4L * stepPlan.capacity());
        // rope angles exactly as the CPU's RopeTable: a running float product per pair
        int half = cfg.ropeDim() / 2;
        float[] cos = new float[o.maxSeqLen() * half], sin = new float[o.maxSeqLen() * half];
        float thetaScale = (float) Math.pow(cfg.ropeFreqBase(), -2.0f / cfg.ropeDim());
        for (int p = 0; p < o.maxSeqLen(); p++) {
            float theta = p;
            for (int i = 0; i < half; i++) {
                cos[p * half + i] = (float) Math.cos(theta);
                sin[p * half + i] = (float) Math.sin(theta);
                theta *= thetaScale;
            }
        }
        cosT = uploadFloats(cos);
        sinT = uploadFloats(sin);
        targetBlocks = 2 * sms;
        splitItemsCap = targetBlocks;
        long partRows = (long) splitItemsCap * StepPlan.MAX_SPLITS * StepPlan.MAX_ROWS;
        headCap = LaunchGeometry.attentionCapacity(cfg.headDim());
        partO = alloc(partRows * headCap * 4);
        partML = alloc(partRows * 2 * 4);
        pinnedPlan = CudaDriver.allocHost(4L * stepPlan.capacity());
        pinnedIds = CudaDriver.allocHost(4L * maxLogitRows);
        pinnedStage = CudaDriver.allocHost(4L * STAGE_ROWS * vocab);
        logits = new Logits(maxLogitRows, vocab);
    }

    private void allocateKv() {
        long perBlock = kvBytesPerBlock();
        long budget;
        if (o.kvCacheBytes() == EngineConfig.AUTO) {
            long free = cu.freeMemory();
            budget = Math.min((long) (free * o.memoryFraction()), free - RESERVE_BYTES);
        } else {
            budget = o.kvCacheBytes();
        }
        numBlocks = BlockPool.numBlocksFor(budget, perBlock);
        long half = (long) numBlocks * perBlock / 2;
        kCache = alloc(half);
        vCache = alloc(half);
    }

    // ---- Backend ----

    @Override public int blockSize() { return o.blockSize(); }

    @Override public long kvBytesPerBlock() { return 2L * cfg.nLayers() * o.blockSize() * cfg.kvDim() * 2; }

    @Override public int numBlocks() { return numBlocks; }

    @Override public int maxLogitRows() { return maxLogitRows; }

    @Override
    public String kernelPath() {
        return "cuda: " + deviceName + " (sm_" + ccMajor + ccMinor + "), " + ct.name().toLowerCase(java.util.Locale.ROOT)
                + " weights, cuBLAS " + blas.library.getFileName();
    }

    private long layerKv(long base, int layer) {
        return base + (long) layer * numBlocks * o.blockSize() * cfg.kvDim() * 2;
    }

    @Override
    public Logits forward(ForwardBatch b) {
        long t0 = System.nanoTime();
        validate(b);
        cu.makeCurrent();
        StepPlan p = stepPlan;
        p.build(b, o.blockSize(), cfg.groupSize(), cfg.nKvHeads(), targetBlocks, splitItemsCap);
        boolean graph = graphEligible(p);
        if (graph) p.forceSplit(graphSplits(p.nTokens));
        MemorySegment.copy(p.data, 0, pinnedPlan, ValueLayout.JAVA_INT, 0, p.size);
        planNanos += System.nanoTime() - t0;
        drv.copyToDevice(plan, pinnedPlan, 4L * p.size);
        if (graph) runGraph(p);
        else launchStep(p);
        drv.synchronize();
        if (PROFILE) collectPhases();
        return collect(b, p, t0);
    }

    /**
     * A decode step (one token per sequence, a logits row for each) of at most {@link #GRAPH_MAX_TOKENS} tokens runs as a
     * CUDA graph captured once per batch size: its kernels' arguments depend on the batch size alone (the plan's
     * sections sit at offsets fixed by it, the split length is read from the plan), and one graph launch replaces
     * ~170 kernel launches, which is what bounds a small batch's step.
     */
    private boolean graphEligible(StepPlan p) {
        return GRAPHS && !PROFILE && !graphsFailed && p.nTokens <= GRAPH_MAX_TOKENS && p.nSeqs == p.nTokens
                && p.nItems == p.nTokens && p.nLogits == p.nTokens;
    }

    /** Splits of the context for a graph of {@code seqs} decode sequences: enough blocks to fill the GPU. */
    private int graphSplits(int seqs) {
        int blocks = seqs * cfg.nKvHeads();
        if (blocks >= targetBlocks || blocks > splitItemsCap) return 1;
        int bySeqLen = Math.max(1, Math.ceilDiv(o.maxSeqLen(), StepPlan.MIN_SPLIT));
        return Math.max(1, Math.min(Math.min(StepPlan.MAX_SPLITS, Math.ceilDiv(targetBlocks, blocks)), bySeqLen));
    }

    private void runGraph(StepPlan p) {
        Long exec = graphs.get(p.nTokens);
        if (exec == null) {
            drv.beginCapture();
            try {
                launchStep(p);
                exec = drv.endCaptureAndInstantiate();
            } catch (RuntimeException e) {
                drv.abandonCapture();
                graphsFailed = true;
                LOG.warn("capturing a CUDA graph of a {}-sequence decode step failed; running every step without graphs", p.nTokens, e);
                launchStep(p);
                return;
            }
            graphs.put(p.nTokens, exec);
        }
        drv.launchGraph(exec);
    }

    /** Every launch of one step, from the embedding to the argmax ids copied into pinned memory. */
    private void launchStep(StepPlan p) {
        int n = p.nTokens, d = cfg.nEmbd(), qd = cfg.qDim(), kvd = cfg.kvDim(), ffn = cfg.ffnDim(), hd = cfg.headDim();
        int nH = cfg.nHeads(), nKv = cfg.nKvHeads(), act = ct.kernelCode;
        long tokens = plan + 4L * p.offTokens, positions = plan + 4L * p.offPositions, slots = plan + 4L * p.offSlots;
        long itemTok0 = plan + 4L * p.offItemTok0, itemLen = plan + 4L * p.offItemLen, itemSeq = plan + 4L * p.offItemSeq;
        long logitRows = plan + 4L * p.offLogitRows, btStart = plan + 4L * p.offBtStart, btFlat = plan + 4L * p.offBtFlat;
        float eps = cfg.rmsEps();
        float scale = (float) (1.0 / Math.sqrt(hd));
        int qkvWidth = qd + 2 * kvd;

        nEvents = 0;
        mark(-1);
        drv.begin().arg(x).arg(embd).arg(act).arg(tokens).arg(d).launch(kEmbed, n, 1, 256, 0);
        mark(P_EMBED);
        for (int l = 0; l < cfg.nLayers(); l++) {
            drv.begin().arg(xb).arg(act).arg(x).arg(attnNorm[l]).arg(0L).arg(d).arg(eps).launch(kRmsNorm, n, 1, 256, 0);
            mark(P_NORM);
            matmul(wqkv[l], xb, qkv, qkvWidth, n, d, false);
            mark(P_QKV);
            drv.begin().arg(qkv).arg(qkvWidth).arg(bq[l]).arg(bk[l]).arg(bv[l]).arg(qNorm[l]).arg(kNorm[l])
                    .arg(cosT).arg(sinT).arg(cfg.ropeDim() / 2).arg(cfg.architecture().neoxRope() ? 1 : 0)
                    .arg(positions).arg(slots).arg(layerKv(kCache, l)).arg(layerKv(vCache, l))
                    .arg(nH).arg(nKv).arg(hd).arg(eps)
                    .launch(kRope, n, LaunchGeometry.ropeBlocks(nH + 2 * nKv), LaunchGeometry.ROPE_THREADS, 0);
            mark(P_ROPE);
            drv.begin().arg(qkv).arg(qkvWidth).arg(att).arg(act).arg(layerKv(kCache, l)).arg(layerKv(vCache, l)).arg(kvd)
                    .arg(itemTok0).arg(itemLen).arg(itemSeq).arg(positions).arg(btStart).arg(btFlat).arg(o.blockSize())
                    .arg(cfg.groupSize()).arg(nKv).arg(hd).arg(scale).arg(plan + 4L * StepPlan.OFF_SPLIT_LEN).arg(partO).arg(partML)
                    .launch(kAttn, p.nItems * nKv, p.nSplit, LaunchGeometry.ATTENTION_THREADS, 0);
            if (p.nSplit > 1) {
                drv.begin().arg(att).arg(act).arg(partO).arg(partML).arg(p.nSplit).arg(itemTok0).arg(itemLen)
                        .arg(cfg.groupSize()).arg(nKv).arg(hd).arg(headCap)
                        .launch(kCombine, p.nItems * nKv, StepPlan.MAX_ROWS, hd, 0);
            }
            mark(P_ATTN);
            matmul(wo[l], att, x, d, n, qd, true);
            mark(P_WO);
            drv.begin().arg(xb).arg(act).arg(x).arg(ffnNorm[l]).arg(0L).arg(d).arg(eps).launch(kRmsNorm, n, 1, 256, 0);
            mark(P_NORM);
            matmul(wgu[l], xb, gu, 2 * ffn, n, d, false);
            mark(P_GU);
            long total = (long) n * ffn, units = ffn % 4 == 0 ? total / 4 : total;
            drv.begin().arg(h).arg(act).arg(gu).arg(ffn).arg(units).launch(kSwiglu, LaunchGeometry.blocks(units, 256), 1, 256, 0);
            mark(P_SWIGLU);
            matmul(wdown[l], h, x, d, n, ffn, true);
            mark(P_DOWN);
        }
        int r = p.nLogits;
        int vocab = cfg.vocabSize();
        if (r > 0) {
            drv.begin().arg(xl).arg(act).arg(x).arg(outputNorm).arg(logitRows).arg(d).arg(eps).launch(kRmsNorm, r, 1, 256, 0);
            matmul(output, xl, logitsDev, vocab, r, d, false);
            mark(P_LOGITS);
            drv.begin().arg(logitsDev).arg(vocab).arg(ids).launch(kArgmax, r, 1, 1024, 0);
            drv.copyToHost(pinnedIds, ids, 4L * r);
            mark(P_ARGMAX);
        }
    }

    /**
     * {@code Y[n, m] (+)= X[n, k] . W[m, k]^T} into f32: cuBLAS, or gemv.cu for steps of at most four tokens over
     * 16-bit weights when {@link #GEMV} is on.
     */
    private void matmul(long w, long x, long y, int m, int n, int k, boolean accumulate) {
        if (GEMV && LaunchGeometry.gemv(n, k, ct != ComputeType.F32)) {
            drv.begin().arg(w).arg(x).arg(ct.kernelCode).arg(y).arg(m).arg(k).arg(n).arg(accumulate ? 1 : 0)
                    .launch(kGemv, Math.ceilDiv(m, LaunchGeometry.GEMV_ROWS_PER_BLOCK), 1, 256, 0);
        } else {
            blas.gemm(w, ct.cudaType, x, ct.cudaType, y, Cublas.R_32F, m, n, k, accumulate);
        }
    }

    /** Fills the Logits after the step's work is done: ids for argmaxOnly rows, whole rows for the others. */
    private Logits collect(ForwardBatch b, StepPlan p, long t0) {
        int r = p.nLogits, n = p.nTokens;
        int vocab = cfg.vocabSize();
        // rows the engine needs whole come back through the pinned staging buffer, a few at a time
        int staged = 0;
        int[] stagedRows = new int[STAGE_ROWS];
        for (int row = 0; row < r; row++) {
            if (b.argmaxOnly[row]) {
                logits.setArgmax(row, pinnedIds.getAtIndex(ValueLayout.JAVA_INT, row));
                continue;
            }
            logits.setArgmax(row, -1);
            drv.copyToHost(pinnedStage.asSlice(4L * staged * vocab), logitsDev + 4L * row * vocab, 4L * vocab);
            stagedRows[staged++] = row;
            if (staged == STAGE_ROWS) {
                flushStage(stagedRows, staged, vocab);
                staged = 0;
            }
        }
        if (staged > 0) flushStage(stagedRows, staged, vocab);
        logits.setCount(r);
        forwardCalls++;
        forwardTokens += n;
        forwardNanos += System.nanoTime() - t0;
        return logits;
    }

    private void mark(int phase) {
        if (!PROFILE) return;
        if (events == null) {
            events = new jcuda.driver.CUevent[16 * cfg.nLayers() + 16];
            eventPhase = new int[events.length];
            for (int i = 0; i < events.length; i++) events[i] = cu.event();
        }
        JCudaDriver.cuEventRecord(events[nEvents], cu.stream());
        eventPhase[nEvents++] = phase;
    }

    private void collectPhases() {
        float[] ms = new float[1];
        for (int i = 1; i < nEvents; i++) {
            JCudaDriver.cuEventElapsedTime(ms, events[i - 1], events[i]);
            phaseMs[eventPhase[i]] += ms[0];
        }
    }

    private void flushStage(int[] rows, int n, int vocab) {
        drv.synchronize();
        for (int i = 0; i < n; i++) {
            MemorySegment.copy(pinnedStage, ValueLayout.JAVA_FLOAT, 4L * i * vocab, logits.data(), logits.offset(rows[i]), vocab);
        }
    }

    private void validate(ForwardBatch b) {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
        if (b.nTokens <= 0) throw new IllegalArgumentException("forward batch has no tokens");
        if (b.nTokens > o.maxBatchTokens()) {
            throw new IllegalArgumentException("forward batch has " + b.nTokens + " tokens, backend allows " + o.maxBatchTokens());
        }
        if (b.nLogits > maxLogitRows) {
            throw new IllegalArgumentException("forward batch asks for " + b.nLogits + " logit rows, backend allows " + maxLogitRows);
        }
        if (b.nSeqs > o.maxSeqs()) throw new IllegalArgumentException("forward batch has " + b.nSeqs + " sequences, backend allows " + o.maxSeqs());
        int vocab = cfg.vocabSize(), bs = o.blockSize();
        for (int t = 0; t < b.nTokens; t++) {
            int tok = b.tokens[t], pos = b.positions[t], s = b.seqOfToken[t];
            if (tok < 0 || tok >= vocab) {
                throw new IllegalArgumentException("token id " + tok + " at batch row " + t + " is outside the vocabulary [0, " + vocab + ")");
            }
            if (s < 0 || s >= b.nSeqs || pos < 0 || pos >= o.maxSeqLen() || pos >= b.contextLens[s]) {
                throw new IllegalArgumentException("batch row " + t + ": sequence slot " + s + ", position " + pos
                        + " is outside the batch (" + b.nSeqs + " sequences, max length " + o.maxSeqLen() + ")");
            }
            if (t > 0 && b.seqOfToken[t - 1] == s && b.positions[t - 1] + 1 != pos) {
                throw new IllegalArgumentException("batch row " + t + ": positions of one sequence must be consecutive");
            }
        }
        for (int s = 0; s < b.nSeqs; s++) {
            int blocks = Math.ceilDiv(b.contextLens[s], bs);
            if (blocks > b.maxBlocksPerSeq) {
                throw new IllegalArgumentException("sequence slot " + s + " context " + b.contextLens[s] + " needs " + blocks + " blocks, table holds " + b.maxBlocksPerSeq);
            }
            int[] table = b.blockTables[s];
            for (int i = 0; i < blocks; i++) {
                if (table[i] < 0 || table[i] >= numBlocks) {
                    throw new IllegalArgumentException("sequence slot " + s + " block table entry " + i + " = " + table[i] + " is outside [0, " + numBlocks + ")");
                }
            }
        }
        for (int r = 0; r < b.nLogits; r++) {
            if (b.logitRows[r] < 0 || b.logitRows[r] >= b.nTokens) {
                throw new IllegalArgumentException("logit row " + r + " names batch row " + b.logitRows[r] + ", batch has " + b.nTokens);
            }
        }
    }

    /** For tests and the benchmark: the device's name, and the compute type the weights were put in. */
    String deviceName() { return deviceName; }

    ComputeType computeType() { return ct; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (forwardCalls > 0) {
            LOG.info("CUDA backend: {} forward calls, {} tokens, {} s in forward ({} ms a call, of which {} ms validating and planning on the host)",
                    forwardCalls, forwardTokens, String.format(java.util.Locale.ROOT, "%.3f", forwardNanos / 1e9),
                    String.format(java.util.Locale.ROOT, "%.3f", forwardNanos / 1e6 / forwardCalls),
                    String.format(java.util.Locale.ROOT, "%.3f", planNanos / 1e6 / forwardCalls));
        }
        if (PROFILE && forwardCalls > 0) {
            StringBuilder sb = new StringBuilder("CUDA backend device time by phase (ms, all steps):");
            double sum = 0;
            for (int i = 0; i < PHASES.length; i++) {
                sb.append(String.format(java.util.Locale.ROOT, " %s %.1f", PHASES[i], phaseMs[i]));
                sum += phaseMs[i];
            }
            LOG.info("{}; total {} ms over {} calls", sb, String.format(java.util.Locale.ROOT, "%.1f", sum), forwardCalls);
        }
        try {
            if (cu != null) cu.makeCurrent();
            if (pinnedPlan != null) drv.synchronize();
            for (long g : graphs.values()) CudaDriver.destroyGraphExec(g);
            graphs.clear();
        } finally {
            CudaDriver.freeHost(pinnedPlan);
            CudaDriver.freeHost(pinnedIds);
            CudaDriver.freeHost(pinnedStage);
            if (cu != null) cu.close();
        }
    }
}
