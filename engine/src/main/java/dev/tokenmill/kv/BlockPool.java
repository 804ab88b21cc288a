package dev.tokenmill.kv;

import java.util.function.IntConsumer;

/**
 * A fixed set of KV block numbers with reference counts. The backend owns the bytes of each block; the pool only
 * decides who holds which number, and never hands out more blocks than it was built with.
 *
 * <p>Blocks with no holder sit in one free queue (an intrusive doubly linked list, so nothing is allocated per
 * operation). A free block that still holds a cached prefix ({@link #setCached}) is queued at the tail, so cached
 * blocks are reused least-recently-released first; a free block without useful content is queued at the head and
 * is reused before any cached block is evicted. Reusing a cached block tells the eviction listener, so the prefix
 * index forgets it. Not thread-safe: one engine loop owns it.
 */
public final class BlockPool {
    private static final int NIL = -1;

    private final int numBlocks;
    private final int[] refCounts;
    private final boolean[] cached;
    private final int[] prev;
    private final int[] next;
    private int head = NIL;
    private int tail = NIL;
    private int numFree;
    private IntConsumer evictionListener = block -> { };

    /** A pool of {@code numBlocks} blocks, all free. */
    public BlockPool(int numBlocks) {
        if (numBlocks <= 0) throw new IllegalArgumentException("KV block pool needs at least 1 block, got " + numBlocks);
        this.numBlocks = numBlocks;
        refCounts = new int[numBlocks];
        cached = new boolean[numBlocks];
        prev = new int[numBlocks];
        next = new int[numBlocks];
        for (int b = numBlocks - 1; b >= 0; b--) pushHead(b); // block 0 first out: easier to read in logs and tests
    }

    /**
     * How many blocks a KV budget in bytes pays for (rounded down), e.g.
     * {@code numBlocksFor(config.kvBytes(), backend.kvBytesPerBlock())}.
     */
    public static int numBlocksFor(long kvBudgetBytes, long kvBytesPerBlock) {
        if (kvBytesPerBlock <= 0) throw new IllegalArgumentException("kvBytesPerBlock must be positive, got " + kvBytesPerBlock);
        long n = kvBudgetBytes / kvBytesPerBlock;
        if (n < 1) {
            throw new IllegalArgumentException("KV budget of " + kvBudgetBytes + " bytes is smaller than one KV block ("
                    + kvBytesPerBlock + " bytes); raise the KV budget");
        }
        return (int) Math.min(n, Integer.MAX_VALUE - 8);
    }

    public int numBlocks() { return numBlocks; }

    /** Blocks nobody holds, cached (evictable) ones included. */
    public int numFree() { return numFree; }

    public int refCount(int block) { return refCounts[block]; }

    public boolean isCached(int block) { return cached[block]; }

    /** Takes the next free block (evicting its cached content if it has any) with a reference count of 1, or -1. */
    public int allocate() {
        int block = head;
        if (block == NIL) return -1;
        unlink(block);
        refCounts[block] = 1;
        if (cached[block]) {
            cached[block] = false;
            evictionListener.accept(block);
        }
        return block;
    }

    /** One more holder of a block; a free block must be a cached one (a prefix-cache hit), and leaves the free queue. */
    public void retain(int block) {
        if (refCounts[block] == 0) {
            if (!cached[block]) throw new IllegalStateException("KV block " + block + " is free and holds no cached prefix");
            unlink(block);
        }
        refCounts[block]++;
    }

    /** One holder fewer; at zero the block becomes free (evictable if cached). */
    public void release(int block) {
        if (refCounts[block] <= 0) throw new IllegalStateException("KV block " + block + " released more often than held");
        if (--refCounts[block] == 0) {
            if (cached[block]) pushTail(block);
            else pushHead(block);
        }
    }

    /** Marks a held block as holding a cached prefix (or not); decides where it queues once free. */
    void setCached(int block, boolean isCached) {
        if (refCounts[block] == 0) throw new IllegalStateException("KV block " + block + " must be held to change its cached mark");
        cached[block] = isCached;
    }

    void setEvictionListener(IntConsumer listener) { this.evictionListener = listener; }

    /** Free blocks from next-to-reuse to last; for tests. */
    int[] freeQueue() {
        int[] order = new int[numFree];
        int i = 0;
        for (int b = head; b != NIL; b = next[b]) order[i++] = b;
        return order;
    }

    /** Checks the free queue against the reference counts; throws on the first disagreement. */
    void checkInvariants() {
        int count = 0;
        boolean[] seen = new boolean[numBlocks];
        int last = NIL;
        for (int b = head; b != NIL; b = next[b]) {
            if (seen[b]) throw new IllegalStateException("free queue has a cycle at block " + b);
            if (prev[b] != last) throw new IllegalStateException("free queue back link of block " + b + " is broken");
            if (refCounts[b] != 0) throw new IllegalStateException("free block " + b + " has refcount " + refCounts[b]);
            seen[b] = true;
            last = b;
            count++;
        }
        if (last != tail) throw new IllegalStateException("free queue tail is " + tail + ", walked to " + last);
        if (count != numFree) throw new IllegalStateException("free queue holds " + count + " blocks, counted " + numFree);
        for (int b = 0; b < numBlocks; b++) {
            if (refCounts[b] < 0) throw new IllegalStateException("block " + b + " has refcount " + refCounts[b]);
            if (refCounts[b] == 0 && !seen[b]) throw new IllegalStateException("block " + b + " is unheld but not free");
        }
    }

    private void pushHead(int b) {
        prev[b] = NIL;
        next[b] = head;
        if (head != NIL) prev[head] = b; else tail = b;
        head = b;
        numFree++;
    }

    private void pushTail(int b) {
        next[b] = NIL;
        prev[b] = tail;
        if (tail != NIL) next[tail] = b; else head = b;
        tail = b;
        numFree++;
    }

    private void unlink(int b) {
        int p = prev[b];
        int n = next[b];
        if (p != NIL) next[p] = n; else head = n;
        if (n != NIL) prev[n] = p; else tail = p;
        prev[b] = NIL;
        next[b] = NIL;
        numFree--;
    }
}
