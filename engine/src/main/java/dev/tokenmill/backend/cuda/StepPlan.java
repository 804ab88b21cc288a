package dev.tokenmill.backend.cuda;

import dev.tokenmill.backend.ForwardBatch;

/**
 * One step's host-side plan for the device, packed into one int array that a single copy uploads: the tokens and
 * their positions, each token's KV slot ({@code block * blockSize + offset} through its sequence's block table), the
 * attention work items (runs of consecutive tokens of one sequence, at most {@code 16 / group} tokens, so that a run's
 * query rows fit one thread block), the block tables of the step's sequences packed back to back (only the blocks
 * their contexts use), the logit rows, and the split of the context over thread blocks for small batches
 * (flash-decoding). No GPU is needed to build or test it; no allocation per step.
 */
final class StepPlan {
    /** Query rows one attention block holds (attention.cu's MAX_ROWS). */
    static final int MAX_ROWS = 16;
    /** Most splits of one context (attention.cu's partial buffers are sized for this many). */
    static final int MAX_SPLITS = 16;
    /** Positions a split covers at least. */
    static final int MIN_SPLIT = 64;

    final int maxTokens, maxSeqs, maxLogits, maxBlocksPerStep;
    final int[] data;

    /** Where the split length lives (read by the attention kernel from device memory, so a CUDA graph replays any). */
    static final int OFF_SPLIT_LEN = 0;

    // offsets into data (in ints) and counts of the current step
    int nTokens, nItems, nSeqs, nLogits, nBlocks, maxCtx;
    int offTokens, offPositions, offSlots, offItemTok0, offItemLen, offItemSeq, offLogitRows, offBtStart, offBtFlat;
    int size;
    /** Splits of the context per work item, and positions per split (a multiple of 32). */
    int nSplit, splitLen;

    StepPlan(int maxTokens, int maxSeqs, int maxLogits, int maxBlocksPerStep) {
        this.maxTokens = maxTokens;
        this.maxSeqs = maxSeqs;
        this.maxLogits = maxLogits;
        this.maxBlocksPerStep = maxBlocksPerStep;
        this.data = new int[Math.toIntExact(1 + 6L * maxTokens + maxLogits + maxSeqs + maxBlocksPerStep)];
    }

    /** Ints of the largest plan: what the device buffer must hold. */
    int capacity() { return data.length; }

    /**
     * Fills the plan for {@code b}. {@code targetBlocks}: thread blocks the attention launch should reach at least
     * (a few per multiprocessor) before the context is split; {@code splitItemsCap}: most work items the partial
     * buffers hold, beyond which no split happens.
     */
    void build(ForwardBatch b, int blockSize, int group, int nKv, int targetBlocks, int splitItemsCap) {
        int n = b.nTokens;
        nTokens = n;
        nSeqs = b.nSeqs;
        nLogits = b.nLogits;
        offTokens = 1;
        offPositions = offTokens + n;
        offSlots = offPositions + n;
        System.arraycopy(b.tokens, 0, data, offTokens, n);
        System.arraycopy(b.positions, 0, data, offPositions, n);
        for (int t = 0; t < n; t++) {
            int pos = b.positions[t];
            data[offSlots + t] = b.blockTables[b.seqOfToken[t]][pos / blockSize] * blockSize + pos % blockSize;
        }
        // attention runs
        int runMax = Math.max(1, MAX_ROWS / group);
        offItemTok0 = offSlots + n;
        int items = 0;
        for (int t = 0; t < n; ) {
            int s = b.seqOfToken[t];
            int e = t + 1;
            while (e < n && e - t < runMax && b.seqOfToken[e] == s) e++;
            data[offItemTok0 + items] = t;
            items++;
            t = e;
        }
        nItems = items;
        offItemLen = offItemTok0 + items;
        offItemSeq = offItemLen + items;
        int maxCtx = 0;
        for (int i = 0; i < items; i++) {
            int t0 = data[offItemTok0 + i];
            int t1 = i + 1 < items ? data[offItemTok0 + i + 1] : n;
            data[offItemLen + i] = t1 - t0;
            data[offItemSeq + i] = b.seqOfToken[t0];
            maxCtx = Math.max(maxCtx, b.positions[t1 - 1] + 1);
        }
        offLogitRows = offItemSeq + items;
        System.arraycopy(b.logitRows, 0, data, offLogitRows, nLogits);
        offBtStart = offLogitRows + nLogits;
        offBtFlat = offBtStart + nSeqs;
        int flat = 0;
        for (int s = 0; s < nSeqs; s++) {
            int blocks = Math.ceilDiv(b.contextLens[s], blockSize);
            if (flat + blocks > maxBlocksPerStep) {
                throw new IllegalArgumentException("the step's block tables hold more than " + maxBlocksPerStep + " blocks");
            }
            data[offBtStart + s] = flat;
            System.arraycopy(b.blockTables[s], 0, data, offBtFlat + flat, blocks);
            flat += blocks;
        }
        nBlocks = flat;
        size = offBtFlat + flat;
        this.maxCtx = maxCtx;
        chooseSplit(items * nKv, maxCtx, targetBlocks, splitItemsCap);
    }

    /**
     * A fixed number of splits (a CUDA graph's grid), with the split length for this step's longest context: splits
     * that start past a context are empty and the merge skips them.
     */
    void forceSplit(int splits) {
        nSplit = splits;
        splitLen = Math.max(32, Math.ceilDiv(Math.ceilDiv(Math.max(maxCtx, 1), splits), 32) * 32);
        data[OFF_SPLIT_LEN] = splitLen;
    }

    /** Flash-decoding: split each context over several blocks when too few blocks would run otherwise. */
    void chooseSplit(int blocks, int maxCtx, int targetBlocks, int splitItemsCap) {
        int want = blocks >= targetBlocks || blocks > splitItemsCap ? 1 : Math.ceilDiv(targetBlocks, blocks);
        int split = Math.max(1, Math.min(Math.min(want, MAX_SPLITS), Math.ceilDiv(maxCtx, MIN_SPLIT)));
        if (split == 1) {
            nSplit = 1;
            splitLen = Math.max(32, Math.ceilDiv(maxCtx, 32) * 32);
        } else {
            splitLen = Math.ceilDiv(Math.ceilDiv(maxCtx, split), 32) * 32;
            nSplit = Math.ceilDiv(maxCtx, splitLen);
        }
        data[OFF_SPLIT_LEN] = splitLen;
    }
}
