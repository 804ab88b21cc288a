package dev.tokenmill.backend;

import dev.tokenmill.EngineConfig;

/**
 * What the engine asks of a backend when it opens one: sizes fixed for the engine's life. The backend decides how
 * many KV blocks fit (from {@code kvCacheBytes}, or from free device memory when it is {@link EngineConfig#AUTO}) and
 * how many logit rows one {@code forward} call returns; the engine reads both back from the {@link Backend}.
 *
 * @param blockSize       tokens per KV block
 * @param maxBatchTokens  tokens one forward call carries at most, over all sequences
 * @param maxSeqs         sequences one forward call carries at most
 * @param maxSeqLen       longest sequence (prompt plus generated tokens) the engine will run
 * @param kvCacheBytes    byte budget of the KV cache; {@link EngineConfig#AUTO}: the backend sizes it
 *                        ({@code autoKvSeqs} sequences of {@code maxSeqLen} on the CPU, capped at
 *                        {@link EngineConfig#DEFAULT_KV_CACHE_BYTES}; a fraction of free memory on a GPU)
 * @param kvType          element type of the KV cache
 * @param threads         host compute threads
 * @param nativeMode      whether the CPU's native kernels may, must or must not be used
 * @param deviceOrdinal   which device of the kind (a GPU index); -1: the backend's default
 * @param memoryFraction  share of the device memory free after the weights that the KV cache may take (GPU)
 */
public record BackendOptions(int blockSize, int maxBatchTokens, int maxSeqs, int maxSeqLen, long kvCacheBytes,
                             EngineConfig.KvType kvType, int threads, EngineConfig.NativeMode nativeMode,
                             int deviceOrdinal, double memoryFraction) {

    /** KV budget for {@link EngineConfig#AUTO} on a host-memory backend: every sequence at full length, capped. */
    public long autoHostKvBytes(long bytesPerBlock) {
        return Math.min(EngineConfig.DEFAULT_KV_CACHE_BYTES, bytesPerBlock * maxSeqs * Math.ceilDiv(maxSeqLen, blockSize));
    }

    /** Logit rows per forward call the engine would like: every sampled sequence at once, at least 64. */
    public int preferredLogitRows() {
        return Math.min(maxBatchTokens, Math.max(maxSeqs, 64));
    }
}
