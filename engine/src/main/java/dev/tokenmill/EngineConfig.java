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
 * @param device         where the model runs: {@code cpu}, {@code cuda}, or {@code auto} (CUDA when a device and its
 *                       driver are present, else the CPU; one log line says which)
 * @param nativeKernels  the CPU's native int8 kernels: {@code auto} uses them when they load, {@code required} fails
 *                       {@link Engine#open} with the reason when they cannot, {@code off} runs the Java kernels; the
 *                       default comes from the system property {@code tokenmill.native} ({@code auto} when unset)
 * @param maxQueuedRequests requests submitted but not yet finished, beyond which {@link Engine#submit} blocks and
 *                       {@link Engine#trySubmit} gives up: bounds the memory a fast producer can pin
 * @param deviceOrdinal  which GPU (CUDA device index); -1: the one Spark assigned (its resource address) or else 0
 * @param gpuMemoryFraction share of the GPU memory left free after the weights that the KV cache takes when
 *                       {@code kvCacheBytes} is auto
 */
public record EngineConfig(int maxBatchTokens, int maxSeqs, long kvCacheBytes, KvType kvType, int blockSize,
                           int threads, boolean prefixCaching, int maxModelLen, Device device, NativeMode nativeKernels,
                           int maxQueuedRequests, int deviceOrdinal, double gpuMemoryFraction) {

    /** For {@code kvCacheBytes} and {@code maxModelLen}: derive from the model and the other options. */
    public static final int AUTO = 0;
    /** Upper bound of an automatically sized KV cache: 1 GiB. */
    public static final long DEFAULT_KV_CACHE_BYTES = 1L << 30;

    /** Element type of the KV cache. */
    public enum KvType { F16, F32 }

    /** Default of {@code maxQueuedRequests}: enough to keep any batch full, small enough to bound memory. */
    public static final int DEFAULT_MAX_QUEUED_REQUESTS = 4096;

    /** Where the model runs. Declared in the order {@code auto} prefers them after CUDA: CPU is the fallback. */
    public enum Device { CPU, CUDA, AUTO }

    /** Whether the CPU backend's native kernels are used. */
    public enum NativeMode {
        AUTO, REQUIRED, OFF;

        /** From {@code -Dtokenmill.native}, as {@link #parse} reads it. */
        public static NativeMode fromSystemProperty() {
            return parse(System.getProperty("tokenmill.native"));
        }

        /**
         * {@code auto} (or null, empty or {@code true}), {@code required}, {@code off} (or {@code false}), in any case;
         * anything else is an {@link IllegalArgumentException} naming the property.
         */
        public static NativeMode parse(String value) {
            String v = value == null ? "auto" : value.trim().toLowerCase(java.util.Locale.ROOT);
            return switch (v) {
                case "auto", "true", "" -> AUTO;
                case "required" -> REQUIRED;
                case "off", "false" -> OFF;
                default -> throw new IllegalArgumentException("-Dtokenmill.native must be auto, required or off, got '" + value + "'");
            };
        }
    }

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
        if (nativeKernels == null) throw new IllegalArgumentException("EngineConfig.nativeKernels must be auto, required or off, got null");
        requireRange("maxQueuedRequests", maxQueuedRequests, 1, 1 << 24);
        requireRange("deviceOrdinal", deviceOrdinal, -1, 1024);
        if (!(gpuMemoryFraction > 0 && gpuMemoryFraction <= 1)) {
            throw new IllegalArgumentException("EngineConfig.gpuMemoryFraction must be in (0, 1], got " + gpuMemoryFraction);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The defaults: 512 tokens and 64 sequences per step, auto KV size, F16 KV, 16-token blocks, prefix caching. */
    public static EngineConfig defaults() {
        return builder().build();
    }

    /**
     * One sequence of up to {@code maxModelLen} tokens with llama.cpp's reference setup (F32 KV cache, no prefix
     * cache), as scoring, evaluation and the single-prompt commands use it: their numbers are compared with
     * llama.cpp's. Set {@code threads} and anything else on the returned builder.
     */
    public static Builder singleSequence(int maxModelLen) {
        return builder().maxSeqs(1).maxBatchTokens(Math.min(512, Math.max(1, maxModelLen))).blockSize(16)
                .kvType(KvType.F32).maxModelLen(maxModelLen).prefixCaching(false);
    }

    public Builder toBuilder() {
        return new Builder().maxBatchTokens(maxBatchTokens).maxSeqs(maxSeqs).kvCacheBytes(kvCacheBytes).kvType(kvType)
                .blockSize(blockSize).threads(threads).prefixCaching(prefixCaching).maxModelLen(maxModelLen).device(device)
                .nativeKernels(nativeKernels).maxQueuedRequests(maxQueuedRequests).deviceOrdinal(deviceOrdinal)
                .gpuMemoryFraction(gpuMemoryFraction);
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
        private NativeMode nativeKernels;
        private int maxQueuedRequests = DEFAULT_MAX_QUEUED_REQUESTS;
        private int deviceOrdinal = -1;
        private double gpuMemoryFraction = 0.9;

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
        public Builder nativeKernels(NativeMode v) { nativeKernels = v; return this; }
        public Builder maxQueuedRequests(int v) { maxQueuedRequests = v; return this; }
        public Builder deviceOrdinal(int v) { deviceOrdinal = v; return this; }
        public Builder gpuMemoryFraction(double v) { gpuMemoryFraction = v; return this; }

        /** Validates; an option out of range is an {@link IllegalArgumentException} naming it. */
        public EngineConfig build() {
            return new EngineConfig(maxBatchTokens, maxSeqs, kvCacheBytes, kvType, blockSize, threads, prefixCaching,
                    maxModelLen, device, nativeKernels != null ? nativeKernels : NativeMode.fromSystemProperty(),
                    maxQueuedRequests, deviceOrdinal, gpuMemoryFraction);
        }
    }
}
