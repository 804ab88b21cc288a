package dev.tokenmill.kv;

/**
 * The scheduler's view of the paged KV cache: which blocks each sequence holds, shared through the prefix cache.
 * Combines the {@link BlockPool} (who holds which block) and the {@link PrefixCache} (which full blocks hold which
 * token prefix). The backend owns the bytes; this class only hands out block numbers. Not thread-safe.
 *
 * <p>Admission of a sequence is two calls, so a failed allocation changes nothing:
 * {@link #findCachedPrefix} (no side effects) then {@link #allocate(BlockTable, int, int[], int)}.
 */
public final class KvCache {
    private final int blockSize;
    private final BlockPool pool;
    private final PrefixCache prefixCache; // null when prefix caching is off

    public KvCache(int numBlocks, int blockSize, boolean prefixCaching) {
        if (blockSize <= 0) throw new IllegalArgumentException("KV block size must be positive, got " + blockSize);
        this.blockSize = blockSize;
        this.pool = new BlockPool(numBlocks);
        this.prefixCache = prefixCaching ? new PrefixCache(pool, blockSize) : null;
    }

    public int blockSize() { return blockSize; }

    public int numBlocks() { return pool.numBlocks(); }

    /** Blocks nobody holds (cached, evictable ones included). */
    public int numFreeBlocks() { return pool.numFree(); }

    /** Holders of a block; for accounting checks. */
    public int refCount(int block) { return pool.refCount(block); }

    /** Registered prefix blocks, held or evictable (0 when prefix caching is off). */
    public int numCachedBlocks() { return prefixCache == null ? 0 : prefixCache.numCachedBlocks(); }

    public boolean prefixCaching() { return prefixCache != null; }

    /** An empty block table for a sequence of at most {@code maxTokens} tokens. */
    public BlockTable newBlockTable(int maxTokens) {
        return new BlockTable(blocksFor(maxTokens));
    }

    /** Blocks needed to hold {@code numTokens} tokens. */
    public int blocksFor(int numTokens) {
        return Math.ceilDiv(numTokens, blockSize);
    }

    /**
     * Writes into {@code hits} the cached blocks holding the longest run of full blocks at the start of
     * {@code tokens[0..maxTokens)}, and returns how many. Changes nothing. Pass {@code maxTokens = numTokens - 1}
     * so the last token is always computed (its logits are needed).
     */
    public int findCachedPrefix(int[] tokens, int maxTokens, int[] hits) {
        if (prefixCache == null) return 0;
        int n = Math.min(maxTokens / blockSize, hits.length);
        long parent = PrefixCache.ROOT;
        for (int i = 0; i < n; i++) {
            int b = prefixCache.find(parent, tokens, i * blockSize);
            if (b < 0) return i;
            hits[i] = b;
            parent = prefixCache.prefixId(b);
        }
        return n;
    }

    /**
     * Most tokens {@code table} could hold after adopting the given cached blocks (an empty table) or with its own
     * blocks, using every free block that is not one of the hits. No side effects.
     */
    public int maxTokens(BlockTable table, int[] hits, int numHits) {
        int free = pool.numFree();
        for (int i = 0; i < numHits; i++) {
            if (pool.refCount(hits[i]) == 0) free--; // adopting an evictable hit takes it out of the free queue
        }
        long blocks = Math.min((long) table.size() + numHits + free, table.capacity());
        return (int) Math.min(blocks * blockSize, Integer.MAX_VALUE);
    }

    /** {@link #maxTokens(BlockTable, int[], int)} without hits. */
    public int maxTokens(BlockTable table) {
        return maxTokens(table, null, 0);
    }

    /**
     * Makes an empty {@code table} hold the cached blocks {@code hits[0..numHits)} (from {@link #findCachedPrefix},
     * unchanged since) followed by new blocks, enough for {@code numTokens} tokens. Returns false and changes
     * nothing if the pool is short.
     */
    public boolean allocate(BlockTable table, int numTokens, int[] hits, int numHits) {
        if (numHits > 0 && table.size() != 0) throw new IllegalStateException("cached prefix blocks can only start an empty block table");
        if (numTokens > maxTokens(table, hits, numHits)) return false;
        for (int i = 0; i < numHits; i++) {
            pool.retain(hits[i]);
            table.append(hits[i]);
            table.appendHashed(prefixCache.prefixId(hits[i]));
        }
        int need = blocksFor(numTokens);
        while (table.size() < need) table.append(pool.allocate());
        return true;
    }

    /** Grows {@code table} to hold {@code numTokens} tokens; returns false and changes nothing if the pool is short. */
    public boolean allocate(BlockTable table, int numTokens) {
        return allocate(table, numTokens, null, 0);
    }

    /**
     * Registers the table's blocks that are full and computed (the first {@code numComputedTokens} of
     * {@code tokens}) in the prefix cache, so later sequences can share them.
     */
    public void cacheFullBlocks(BlockTable table, int[] tokens, int numComputedTokens) {
        if (prefixCache == null) return;
        int full = Math.min(numComputedTokens / blockSize, table.size());
        for (int i = table.numHashed(); i < full; i++) {
            long parent = i == 0 ? PrefixCache.ROOT : table.prefixId(i - 1);
            table.appendHashed(prefixCache.register(table.block(i), parent, tokens, i * blockSize));
        }
    }

    /**
     * Releases every block of the table, last block first, so that under LRU the tail of a prefix is evicted before
     * its head (heads are the likelier to be shared). Cached blocks stay cached until evicted.
     */
    public void free(BlockTable table) {
        for (int i = table.size() - 1; i >= 0; i--) pool.release(table.block(i));
        table.clear();
    }

    BlockPool pool() { return pool; }
}
