package dev.tokenmill.kv;

import java.util.Arrays;

/**
 * The KV blocks of one sequence, in position order: position {@code p} lives in block {@code block(p / blockSize)}
 * at offset {@code p % blockSize}. Changed only through {@link KvCache}.
 *
 * <p>Each leading full block whose content is known to the prefix cache also remembers that content's prefix id,
 * so the next block can be keyed by it (see {@link PrefixCache}).
 */
public final class BlockTable {
    private static final int INITIAL_BLOCKS = 8;

    private final int maxBlocks;
    private int[] blocks;           // grown on demand: a queued request should not cost a whole context's table
    private long[] prefixIds;       // [i] = prefix id of the content of full block i, for i < numHashed
    private int size;
    private int numHashed;

    BlockTable(int maxBlocks) {
        if (maxBlocks <= 0) throw new IllegalArgumentException("a block table needs room for at least 1 block, got " + maxBlocks);
        this.maxBlocks = maxBlocks;
        blocks = new int[Math.min(maxBlocks, INITIAL_BLOCKS)];
        prefixIds = new long[blocks.length];
    }

    /** Blocks held. */
    public int size() { return size; }

    /** Most blocks this table can hold (the context limit in blocks). */
    public int capacity() { return maxBlocks; }

    public int block(int i) {
        if (i >= size) throw new IndexOutOfBoundsException("block " + i + " of a table holding " + size);
        return blocks[i];
    }

    /** Copies the block numbers into {@code dst[0..size())}, e.g. a row of {@code ForwardBatch.blockTables}. */
    public void copyTo(int[] dst) {
        System.arraycopy(blocks, 0, dst, 0, size);
    }

    void append(int block) {
        if (size == blocks.length) {
            if (size == maxBlocks) throw new IllegalStateException("block table is full (" + maxBlocks + " blocks)");
            int grown = (int) Math.min(maxBlocks, 2L * size);
            blocks = Arrays.copyOf(blocks, grown);
            prefixIds = Arrays.copyOf(prefixIds, grown);
        }
        blocks[size++] = block;
    }

    int numHashed() { return numHashed; }

    long prefixId(int i) { return prefixIds[i]; }

    void appendHashed(long prefixId) {
        prefixIds[numHashed++] = prefixId;
    }

    void clear() {
        size = 0;
        numHashed = 0;
    }
}
