package dev.tokenmill.kv;

import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class KvCacheTest {
    private static final int BS = 4;

    private static int[] tokens(int from, int n) {
        return IntStream.range(from, from + n).toArray();
    }

    /** Allocates and "computes" a sequence of tokens, registering its full blocks. */
    private static BlockTable computed(KvCache kv, int[] tokens) {
        BlockTable t = kv.newBlockTable(64);
        int[] hits = new int[16];
        int n = kv.findCachedPrefix(tokens, tokens.length - 1, hits);
        assertThat(kv.allocate(t, tokens.length, hits, n)).isTrue();
        kv.cacheFullBlocks(t, tokens, tokens.length);
        return t;
    }

    @Test
    void allocationIsAllOrNothingAndNeverExceedsThePool() {
        KvCache kv = new KvCache(5, BS, true);
        BlockTable a = kv.newBlockTable(64);
        BlockTable b = kv.newBlockTable(64);
        assertThat(kv.allocate(a, 9)).isTrue(); // 3 blocks
        assertThat(kv.numFreeBlocks()).isEqualTo(2);
        assertThat(kv.maxTokens(b)).isEqualTo(8);
        assertThat(kv.allocate(b, 9)).isFalse();
        assertThat(b.size()).isZero();
        assertThat(kv.numFreeBlocks()).isEqualTo(2);
        assertThat(kv.allocate(b, 8)).isTrue();
        assertThat(kv.numFreeBlocks()).isZero();
        assertThat(kv.allocate(a, 13)).isFalse();
        assertThat(a.size()).isEqualTo(3);
        kv.free(a);
        kv.free(b);
        assertThat(kv.numFreeBlocks()).isEqualTo(5);
        kv.pool().checkInvariants();
    }

    @Test
    void sequencesWithACommonPrefixShareItsFullBlocks() {
        KvCache kv = new KvCache(16, BS, true);
        int[] common = tokens(100, 10); // 2 full blocks + 2 tokens
        BlockTable a = computed(kv, common);
        int[] b = IntStream.concat(IntStream.of(common).limit(8), IntStream.range(500, 505)).toArray();
        int[] hits = new int[16];
        int n = kv.findCachedPrefix(b, b.length - 1, hits);
        assertThat(n).isEqualTo(2);
        assertThat(hits[0]).isEqualTo(a.block(0));
        assertThat(hits[1]).isEqualTo(a.block(1));
        BlockTable tb = kv.newBlockTable(64);
        assertThat(kv.allocate(tb, b.length, hits, n)).isTrue();
        assertThat(kv.refCount(a.block(0))).isEqualTo(2);
        assertThat(kv.refCount(a.block(2))).isEqualTo(1);
        assertThat(tb.size()).isEqualTo(4);
        assertThat(kv.numFreeBlocks()).isEqualTo(16 - 3 - 2);

        kv.cacheFullBlocks(tb, b, b.length);
        int shared = a.block(0);
        int aTail = a.block(2);
        kv.free(a);
        assertThat(a.size()).isZero();
        assertThat(kv.refCount(shared)).isEqualTo(1);
        assertThat(kv.refCount(aTail)).isZero();
        kv.free(tb);
        assertThat(kv.numFreeBlocks()).isEqualTo(16);
        assertThat(kv.numCachedBlocks()).isEqualTo(3); // a's 2 full blocks + b's third (b's last block is partial)

        // a later request finds the prefix in the evictable blocks
        BlockTable c = kv.newBlockTable(64);
        n = kv.findCachedPrefix(b, b.length - 1, hits);
        assertThat(n).isEqualTo(3);
        assertThat(kv.maxTokens(c, hits, n)).isEqualTo(16 * BS);
        assertThat(kv.allocate(c, b.length, hits, n)).isTrue();
        assertThat(kv.numFreeBlocks()).isEqualTo(12);
        kv.pool().checkInvariants();
    }

    @Test
    void lookupNeverCoversTheLastTokenWhenToldSo() {
        KvCache kv = new KvCache(8, BS, true);
        int[] t = tokens(0, 8);
        kv.free(computed(kv, t));
        int[] hits = new int[8];
        assertThat(kv.findCachedPrefix(t, t.length - 1, hits)).isEqualTo(1);
        assertThat(kv.findCachedPrefix(t, t.length, hits)).isEqualTo(2);
    }

    @Test
    void evictsTheLeastRecentlyUsedPrefixFirstAndTailsBeforeHeads() {
        KvCache kv = new KvCache(6, BS, true);
        int[] a = tokens(0, 9);   // 2 full blocks
        int[] b = tokens(100, 9);
        int[] c = tokens(200, 9);
        kv.free(computed(kv, a));
        kv.free(computed(kv, b));
        assertThat(kv.numCachedBlocks()).isEqualTo(4);
        // touch a again: b becomes the least recently used prefix
        kv.free(computed(kv, a));
        int[] hits = new int[8];

        // c needs 3 blocks: the 2 never-cached ones first, then the tail block of b
        BlockTable tc = computed(kv, c);
        assertThat(kv.findCachedPrefix(b, 8, hits)).as("b lost its tail block only").isEqualTo(1);
        assertThat(kv.findCachedPrefix(a, 8, hits)).isEqualTo(2);
        kv.free(tc);
        kv.pool().checkInvariants();
    }

    @Test
    void withoutPrefixCachingNothingIsShared() {
        KvCache kv = new KvCache(8, BS, false);
        int[] t = tokens(0, 9);
        kv.free(computed(kv, t));
        assertThat(kv.findCachedPrefix(t, 8, new int[8])).isZero();
        assertThat(kv.numCachedBlocks()).isZero();
        assertThat(kv.numFreeBlocks()).isEqualTo(8);
    }
}
