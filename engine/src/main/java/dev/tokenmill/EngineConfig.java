package dev.tokenmill;

/**
 * How an {@link Engine} is sized, fixed when it opens: every buffer (activations, logits, KV blocks) is allocated
 * once from these numbers. Build with {@link #builder()}; {@link Builder#build()} validates and names the option
 * that is out of range.
 *
 * @param maxBatchTokens tokens computed per engine step over all sequences (decodes plus prefill chunks)
 * @param maxSeqs        sequences running at once; at most {@code maxBatchTokens}
 * @param kvCacheBytes   bytes of K/V storage; the pool gets {@code kvCacheBytes / kvBytesPerBlock} blocks and never
 *                       more. {@link #AUTO} (0): enough for {@code maxSeqs} sequences of {@code maxModelLen} tokens,
 *                       capped at {@link #DEFAULT_KV_CACHE_BYTES}
 * @param kvType         element type of the KV cache: F16 (half the memory, as llama.cpp's default) or F32 (exact)
 * @param blockSize      tokens per KV block
 * @param threads        compute threads of the forward pass
 * @param prefixCaching  share full KV blocks of equal token prefixes between requests, now and later
 * @param maxModelLen    longest sequence (prompt plus generated tokens); {@link #AUTO} (0): the model's context length
 * @param device         where the model runs
 */
public record EngineConfig(int maxBatchTokens, int maxSeqs, long kvCacheBytes, KvType kvType, int blockSize,
                           int threads, boolean prefixCaching, int maxModelLen, Device device) {

    /** For {@code kvCacheBytes} and {@code maxModelLen}: derive from the model and the other options. */
    public static final int AUTO = 0;
    /** Upper bound of an automatically sized KV cache: 1 GiB. */
    public static final long DEFAULT_KV_CACHE_BYTES = 1L << 30;

    /** Element type of the KV cache. */
    public enum KvType { F16, F32 }

    /** Where the model runs. {@code AUTO} picks the CPU until the CUDA backend lands. */
    public enum Device { AUTO, CPU, CUDA }

    public EngineConfig {
        requireRange("maxBatchTokens", maxBatchTokens, 1, 1 << 20);
        requireRange("maxSeqs", maxSeqs, 1, 1 << 16);
        if (maxSeqs > maxBatchTokens) {
            throw new IllegalArgumentException("EngineConfig.maxSeqs (" + maxSeqs + ") must not exceed maxBatchTokens ("
                    + maxBatchTokens + "): every running sequence needs one token of each step to decode");
        }
        if (kvCacheBytes < 0) {
            throw new IllegalArgumentException("EngineConfig.kvCacheBytes must be >= 0 (0 = auto), got " + kvCacheBytes);
        }
        if (kvType == null) throw new IllegalArgumentException("EngineConfig.kvType must be F16 or F32, got null");
        requireRange("blockSize", blockSize, 1, 1024);
        // compute threads far beyond the cores only contend (1000 on 2 cores took minutes): at most 4 per processor
        requireRange("threads", threads, 1, 4L * Runtime.getRuntime().availableProcessors());
        requireRange("maxModelLen", maxModelLen, 0, Integer.MAX_VALUE);
        if (device == null) throw new IllegalArgumentException("EngineConfig.device must be auto, cpu or cuda, got null");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The defaults: 512 tokens and 64 sequences per step, auto KV size, F16 KV, 16-token blocks, prefix caching. */
    public static EngineConfig defaults() {
        return builder().build();
    }

    public Builder toBuilder() {
        return new Builder().maxBatchTokens(maxBatchTokens).maxSeqs(maxSeqs).kvCacheBytes(kvCacheBytes).kvType(kvType)
                .blockSize(blockSize).threads(threads).prefixCaching(prefixCaching).maxModelLen(maxModelLen).device(device);
    }

    private static void requireRange(String name, long v, long lo, long hi) {
        if (v < lo || v > hi) {
            throw new IllegalArgumentException("EngineConfig." + name + " must be in [" + lo + ", " + hi + "], got " + v);
        }
    }

    /** Mutable builder starting from the defaults. */
    public static final class Builder {
        private int maxBatchTokens = 512;
        private int maxSeqs = 64;
        private long kvCacheBytes = AUTO;
        private KvType kvType = KvType.F16;
        private int blockSize = 16;
        private int threads = Runtime.getRuntime().availableProcessors();
        private boolean prefixCaching = true;
        private int maxModelLen = AUTO;
        private Device device = Device.AUTO;

        private Builder() {}

        public Builder maxBatchTokens(int v) { maxBatchTokens = v; return this; }
        public Builder maxSeqs(int v) { maxSeqs = v; return this; }
        public Builder kvCacheBytes(long v) { kvCacheBytes = v; return this; }
        public Builder kvType(KvType v) { kvType = v; return this; }
        public Builder blockSize(int v) { blockSize = v; return this; }
        public Builder threads(int v) { threads = v; return this; }
        public Builder prefixCaching(boolean v) { prefixCaching = v; return this; }
        public Builder maxModelLen(int v) { maxModelLen = v; return this; }
        public Builder device(Device v) { device = v; return this; }

        /** Validates; an option out of range is an {@link IllegalArgumentException} naming it. */
        public EngineConfig build() {
            return new EngineConfig(maxBatchTokens, maxSeqs, kvCacheBytes, kvType, blockSize, threads, prefixCaching,
                    maxModelLen, device);
        }
    }
}
