package dev.tokenmill.backend.cpu;

import dev.tokenmill.tensor.GgmlType;

/**
 * Sizes of a {@link CpuBackend}, fixed at construction: the KV cache holds {@code numBlocks} blocks of
 * {@code blockSize} tokens, one forward call carries at most {@code maxBatchTokens} tokens of at most
 * {@code maxSeqs} sequences and returns at most {@code maxLogitRows} logit rows, and no sequence is longer than
 * {@code maxSeqLen}. {@code kvType} is F32 (exact, as the llama.cpp reference runs) or F16 (half the memory).
 * {@code roundActivations} makes F16-weight products round the activations to F16 first, as llama.cpp's CPU
 * backend does, so that logits match it more closely. {@code nativeKernels} runs Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K products
 * through the native int8 kernels where they are available ({@code dev.tokenmill.tensor.nativ}): the activations
 * are then quantized to 8 bits per block, as llama.cpp's CPU backend does, and the weights repacked once at start.
 * {@code packCacheDir}: where the repacked weights are kept as one file per model and host, memory-mapped and so
 * shared by every JVM on the host that serves the model ({@code PackedWeightsCache}); null keeps them in this
 * process's memory. Only a backend opened with its {@code Model} ({@link CpuBackend#CpuBackend(dev.tokenmill.model.Model,
 * CpuBackendConfig)}) can use the cache.
 */
public record CpuBackendConfig(
        int blockSize,
        int numBlocks,
        int maxBatchTokens,
        int maxSeqs,
        int maxSeqLen,
        int maxLogitRows,
        GgmlType kvType,
        int threads,
        boolean roundActivations,
        boolean nativeKernels,
        java.nio.file.Path packCacheDir) {

    /** Without a cache directory: repacked weights stay in memory. */
    public CpuBackendConfig(int blockSize, int numBlocks, int maxBatchTokens, int maxSeqs, int maxSeqLen, int maxLogitRows,
                            GgmlType kvType, int threads, boolean roundActivations, boolean nativeKernels) {
        this(blockSize, numBlocks, maxBatchTokens, maxSeqs, maxSeqLen, maxLogitRows, kvType, threads, roundActivations,
                nativeKernels, null);
    }

    public CpuBackendConfig {
        check(blockSize, "blockSize");
        check(numBlocks, "numBlocks");
        check(maxBatchTokens, "maxBatchTokens");
        check(maxSeqs, "maxSeqs");
        check(maxSeqLen, "maxSeqLen");
        check(maxLogitRows, "maxLogitRows");
        check(threads, "threads");
        if (kvType != GgmlType.F32 && kvType != GgmlType.F16) {
            throw new IllegalArgumentException("kvType must be F32 or F16, got " + kvType);
        }
        if (maxLogitRows > maxBatchTokens) {
            throw new IllegalArgumentException("maxLogitRows " + maxLogitRows + " exceeds maxBatchTokens " + maxBatchTokens);
        }
    }

    /** One sequence of up to {@code maxSeqLen} tokens, fed at most {@code maxBatchTokens} per call, logits for each. */
    public static CpuBackendConfig singleSequence(int maxSeqLen, int maxBatchTokens, int blockSize, int threads) {
        int blocks = (maxSeqLen + blockSize - 1) / blockSize;
        return new CpuBackendConfig(blockSize, blocks, maxBatchTokens, 1, maxSeqLen, maxBatchTokens, GgmlType.F32, threads, true, true);
    }

    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    public CpuBackendConfig withKvType(GgmlType type) {
        return new CpuBackendConfig(blockSize, numBlocks, maxBatchTokens, maxSeqs, maxSeqLen, maxLogitRows, type, threads, roundActivations, nativeKernels, packCacheDir);
    }

    public CpuBackendConfig withThreads(int n) {
        return new CpuBackendConfig(blockSize, numBlocks, maxBatchTokens, maxSeqs, maxSeqLen, maxLogitRows, kvType, n, roundActivations, nativeKernels, packCacheDir);
    }

    public CpuBackendConfig withRoundActivations(boolean round) {
        return new CpuBackendConfig(blockSize, numBlocks, maxBatchTokens, maxSeqs, maxSeqLen, maxLogitRows, kvType, threads, round, nativeKernels, packCacheDir);
    }

    public CpuBackendConfig withNativeKernels(boolean on) {
        return new CpuBackendConfig(blockSize, numBlocks, maxBatchTokens, maxSeqs, maxSeqLen, maxLogitRows, kvType, threads, roundActivations, on, packCacheDir);
    }

    /** With repacked weights kept in {@code dir} (null: in memory); see the class comment. */
    public CpuBackendConfig withPackCacheDir(java.nio.file.Path dir) {
        return new CpuBackendConfig(blockSize, numBlocks, maxBatchTokens, maxSeqs, maxSeqLen, maxLogitRows, kvType, threads, roundActivations, nativeKernels, dir);
    }

    /**
     * The default cache directory of repacked weights: {@code -Dtokenmill.cache.dir} ({@code off}: none), else
     * {@code $XDG_CACHE_HOME/tokenmill}, else {@code ${java.io.tmpdir}/tokenmill-cache}.
     */
    public static java.nio.file.Path defaultPackCacheDir() {
        return PackedWeightsCache.defaultDir();
    }

    private static void check(int v, String name) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }
}
