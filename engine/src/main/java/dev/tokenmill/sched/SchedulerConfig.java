package dev.tokenmill.sched;

import dev.tokenmill.backend.ForwardBatch;

/**
 * Limits of the scheduler, validated once.
 *
 * @param maxBatchTokens tokens computed per step, over all sequences (decode tokens plus prefill chunks)
 * @param maxSeqs        sequences running at once; at most {@code maxBatchTokens}, so every running decode fits
 *                       in every step
 * @param maxModelLen    context length of the model (prompt plus generated tokens)
 * @param blockSize      tokens per KV block ({@code Backend.blockSize()})
 * @param numBlocks      KV blocks in the pool, e.g. {@code BlockPool.numBlocksFor(kvBytes, backend.kvBytesPerBlock())}
 * @param prefixCaching  share full blocks of equal token prefixes between sequences
 */
public record SchedulerConfig(int maxBatchTokens, int maxSeqs, int maxModelLen, int blockSize, int numBlocks,
                              boolean prefixCaching) {

    public SchedulerConfig {
        requirePositive("maxBatchTokens", maxBatchTokens);
        requirePositive("maxSeqs", maxSeqs);
        requirePositive("maxModelLen", maxModelLen);
        requirePositive("blockSize", blockSize);
        requirePositive("numBlocks", numBlocks);
        if (maxSeqs > maxBatchTokens) {
            throw new IllegalArgumentException("maxSeqs (" + maxSeqs + ") must not exceed maxBatchTokens (" + maxBatchTokens
                    + "): each running sequence needs one token of every step's budget to decode");
        }
    }

    /** Longest sequence (prompt plus generated tokens) that can ever be held: the model's context or the whole pool. */
    public int maxContextLen() {
        return (int) Math.min(maxModelLen, (long) numBlocks * blockSize);
    }

    /** Most blocks one sequence can hold. */
    public int maxBlocksPerSeq() {
        return Math.ceilDiv(maxContextLen(), blockSize);
    }

    /** A forward batch sized for these limits, to be filled by {@link Scheduler#schedule} every step. */
    public ForwardBatch newForwardBatch() {
        return new ForwardBatch(maxBatchTokens, maxSeqs, maxBlocksPerSeq());
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) throw new IllegalArgumentException("scheduler option " + name + " must be positive, got " + value);
    }
}
