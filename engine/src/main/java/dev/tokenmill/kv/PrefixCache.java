package dev.tokenmill.kv;

import java.util.Arrays;

/**
 * Index of full KV blocks by their token prefix, so sequences (running now or arriving later) that start with the
 * same tokens share those blocks instead of recomputing them.
 *
 * <p>A block's key is chained: (prefix id of the block before it, the block's own tokens). Each registered block
 * content gets a fresh 64-bit prefix id (never reused), so a key names one whole token prefix exactly. Lookups go
 * through a hash of the key and then compare the parent id and every token, so a hash collision can cost a probe
 * but never returns the wrong block. When a parent block is evicted its children become unreachable (their parent
 * id is never issued again) and age out of the LRU queue like any unreferenced block.
 *
 * <p>Cached blocks with no holder stay in the {@link BlockPool}'s free queue and are evicted least recently
 * released first, when the pool needs a block; this index forgets them then. This follows vLLM v1's
 * {@code KVCacheManager} / {@code BlockPool} (hash-to-block map plus a free queue in LRU order).
 * Nothing is allocated per lookup: an open-addressing table over block numbers, linear probing, backward-shift
 * deletion.
 */
public final class PrefixCache {
    /** Parent id of the first block of every sequence. */
    static final long ROOT = 0;
    private static final long UNREGISTERED = 0;
    private static final int EMPTY = -1;

    /** Hash of a block key; replaceable so tests can force collisions. */
    interface BlockHasher {
        long hash(long parentId, int[] tokens, int from, int count);
    }

    private final BlockPool pool;
    private final int blockSize;
    private final BlockHasher hasher;
    private final long[] blockHash;      // [block] hash of its key, valid while registered
    private final long[] blockPrefixId;  // [block] prefix id of its content, UNREGISTERED if none
    private final long[] blockParentId;  // [block] prefix id of the block before it
    private final int[] blockTokens;     // [block * blockSize + i] its tokens
    private final int[] slots;           // open-addressing table of block numbers
    private final int mask;
    private long nextPrefixId = 1;
    private int numRegistered;

    PrefixCache(BlockPool pool, int blockSize) {
        this(pool, blockSize, PrefixCache::hashBlock);
    }

    PrefixCache(BlockPool pool, int blockSize, BlockHasher hasher) {
        this.pool = pool;
        this.blockSize = blockSize;
        this.hasher = hasher;
        int n = pool.numBlocks();
        blockHash = new long[n];
        blockPrefixId = new long[n];
        blockParentId = new long[n];
        blockTokens = new int[Math.multiplyExact(n, blockSize)];
        int capacity = Integer.highestOneBit(Math.max(2, n) * 2 - 1) << 1; // power of two >= 2n: load factor <= 1/2
        slots = new int[capacity];
        Arrays.fill(slots, EMPTY);
        mask = capacity - 1;
        pool.setEvictionListener(this::evict);
    }

    /** Registered blocks (held or evictable). */
    public int numCachedBlocks() { return numRegistered; }

    /** The cached block whose content is {@code tokens[from..from+blockSize)} after prefix {@code parentId}, or -1. */
    int find(long parentId, int[] tokens, int from) {
        long hash = hasher.hash(parentId, tokens, from, blockSize);
        for (int s = home(hash); ; s = (s + 1) & mask) {
            int b = slots[s];
            if (b == EMPTY) return -1;
            if (blockHash[b] == hash && matches(b, parentId, tokens, from)) return b;
        }
    }

    /** Prefix id of a cached block's content, or 0 if the block is not registered. */
    long prefixId(int block) { return blockPrefixId[block]; }

    /**
     * Registers a held, full, computed block holding {@code tokens[from..from+blockSize)} after prefix
     * {@code parentId}, and returns the prefix id of that content. If the same content is already cached in another
     * block (two sequences computed it at once), that block stays the cached one and its id is returned.
     */
    long register(int block, long parentId, int[] tokens, int from) {
        if (blockPrefixId[block] != UNREGISTERED) {
            if (!matches(block, parentId, tokens, from)) {
                throw new IllegalStateException("KV block " + block + " is cached with other tokens than the sequence holding it");
            }
            return blockPrefixId[block];
        }
        long hash = hasher.hash(parentId, tokens, from, blockSize);
        int s = home(hash);
        for (; slots[s] != EMPTY; s = (s + 1) & mask) {
            int b = slots[s];
            if (blockHash[b] == hash && matches(b, parentId, tokens, from)) return blockPrefixId[b];
        }
        long id = nextPrefixId++;
        slots[s] = block;
        blockHash[block] = hash;
        blockPrefixId[block] = id;
        blockParentId[block] = parentId;
        System.arraycopy(tokens, from, blockTokens, block * blockSize, blockSize);
        pool.setCached(block, true);
        numRegistered++;
        return id;
    }

    /** Forgets a block whose storage the pool is handing out again. */
    private void evict(int block) {
        if (blockPrefixId[block] == UNREGISTERED) return;
        int s = home(blockHash[block]);
        while (slots[s] != block) {
            if (slots[s] == EMPTY) throw new IllegalStateException("cached KV block " + block + " is missing from the prefix index");
            s = (s + 1) & mask;
        }
        deleteSlot(s);
        blockPrefixId[block] = UNREGISTERED;
        numRegistered--;
    }

    /** Backward-shift deletion: keeps every remaining key reachable from its home slot without tombstones. */
    private void deleteSlot(int hole) {
        int j = hole;
        while (true) {
            j = (j + 1) & mask;
            int b = slots[j];
            if (b == EMPTY) break;
            int k = home(blockHash[b]);
            // b may move into the hole only if its home is not cyclically within (hole, j]
            boolean homeInRange = hole <= j ? (k > hole && k <= j) : (k > hole || k <= j);
            if (!homeInRange) {
                slots[hole] = b;
                hole = j;
            }
        }
        slots[hole] = EMPTY;
    }

    private boolean matches(int block, long parentId, int[] tokens, int from) {
        if (blockParentId[block] != parentId) return false;
        return Arrays.equals(blockTokens, block * blockSize, (block + 1) * blockSize, tokens, from, from + blockSize);
    }

    private int home(long hash) {
        return (int) (hash ^ (hash >>> 32)) & mask;
    }

    /** A 64-bit mix of the parent id and the tokens (splitmix-style finalizer per token). */
    static long hashBlock(long parentId, int[] tokens, int from, int count) {
        long h = parentId * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
        for (int i = from; i < from + count; i++) {
            h ^= tokens[i] & 0xFFFF_FFFFL;
            h *= 0xBF58476D1CE4E5B9L;
            h ^= h >>> 29;
        }
        h *= 0x94D049BB133111EBL;
        return h ^ (h >>> 31);
    }
}
