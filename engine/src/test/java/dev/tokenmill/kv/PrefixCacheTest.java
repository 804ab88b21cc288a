package dev.tokenmill.kv;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class PrefixCacheTest {
    private static final int BS = 4;

    @Test
    void blocksWithEqualTokensUnderDifferentParentsAreDistinct() {
        BlockPool pool = new BlockPool(4);
        PrefixCache cache = new PrefixCache(pool, BS);
        int[] tokens = {1, 2, 3, 4, 5, 6, 7, 8};
        int[] other = {9, 9, 9, 9, 5, 6, 7, 8};
        int a0 = pool.allocate(), a1 = pool.allocate(), b0 = pool.allocate();
        long ida0 = cache.register(a0, PrefixCache.ROOT, tokens, 0);
        long ida1 = cache.register(a1, ida0, tokens, 4);
        long idb0 = cache.register(b0, PrefixCache.ROOT, other, 0);

        assertThat(cache.find(PrefixCache.ROOT, tokens, 0)).isEqualTo(a0);
        assertThat(cache.find(ida0, tokens, 4)).isEqualTo(a1);
        assertThat(cache.find(idb0, other, 4)).isEqualTo(-1); // same tokens 5..8, other prefix
        assertThat(cache.find(PrefixCache.ROOT, tokens, 4)).isEqualTo(-1);
        assertThat(ida1).isNotIn(ida0, idb0);
    }

    @Test
    void collidingHashesNeverReturnTheWrongBlock() {
        BlockPool pool = new BlockPool(16);
        PrefixCache cache = new PrefixCache(pool, BS, (parent, t, from, n) -> 42L); // every key collides
        int[][] contents = new int[16][];
        int[] blocks = new int[16];
        long[] ids = new long[16];
        for (int i = 0; i < 16; i++) {
            contents[i] = new int[] {i, i + 1, i % 3, 7};
            blocks[i] = pool.allocate();
            ids[i] = cache.register(blocks[i], PrefixCache.ROOT, contents[i], 0);
        }
        for (int i = 0; i < 16; i++) assertThat(cache.find(PrefixCache.ROOT, contents[i], 0)).isEqualTo(blocks[i]);
        assertThat(cache.find(PrefixCache.ROOT, new int[] {0, 1, 0, 8}, 0)).isEqualTo(-1);
        assertThat(cache.find(ids[0], contents[0], 0)).isEqualTo(-1);

        // evict every other block; the rest must stay reachable through the shifted probe chain
        for (int i = 0; i < 16; i += 2) pool.release(blocks[i]);
        for (int i = 0; i < 8; i++) pool.allocate();
        for (int i = 0; i < 16; i++) {
            assertThat(cache.find(PrefixCache.ROOT, contents[i], 0)).isEqualTo(i % 2 == 0 ? -1 : blocks[i]);
        }
        assertThat(cache.numCachedBlocks()).isEqualTo(8);
    }

    @Test
    void indexAgreesWithAReferenceMapUnderRandomRegisterAndEvict() {
        Random rnd = new Random(7);
        int n = 32;
        BlockPool pool = new BlockPool(n);
        // a weak hash: many collisions and long probe chains through deletions
        PrefixCache cache = new PrefixCache(pool, BS, (parent, t, from, count) -> (t[from] % 5) * 31 + parent % 3);
        Map<List<Integer>, Integer> reference = new HashMap<>(); // [parent, tokens...] -> block
        List<Integer> held = new ArrayList<>();
        for (int step = 0; step < 5000; step++) {
            int op = rnd.nextInt(3);
            if (op < 2 && pool.numFree() > 0) {
                int b = pool.allocate();
                reference.values().remove(b); // reusing a cached block evicts it
                int[] t = {rnd.nextInt(6), rnd.nextInt(3), rnd.nextInt(2), 0};
                long parent = rnd.nextInt(3);
                List<Integer> key = List.of((int) parent, t[0], t[1], t[2], t[3]);
                if (!reference.containsKey(key)) {
                    cache.register(b, parent, t, 0);
                    reference.put(key, b);
                }
                held.add(b);
            } else if (!held.isEmpty()) {
                pool.release(held.remove(rnd.nextInt(held.size())));
            }
            if (step % 50 == 0) {
                for (int p = 0; p < 3; p++) {
                    for (int a = 0; a < 6; a++) for (int c = 0; c < 3; c++) for (int d = 0; d < 2; d++) {
                        int[] t = {a, c, d, 0};
                        Integer expected = reference.get(List.of(p, a, c, d, 0));
                        assertThat(cache.find(p, t, 0)).as("step %d key %d/%d,%d,%d", step, p, a, c, d)
                                .isEqualTo(expected == null ? -1 : expected);
                    }
                }
                pool.checkInvariants();
            }
        }
        assertThat(cache.numCachedBlocks()).isEqualTo(reference.size());
    }

    @Test
    void sameContentComputedTwiceKeepsTheFirstBlockCached() {
        BlockPool pool = new BlockPool(4);
        PrefixCache cache = new PrefixCache(pool, BS);
        int[] tokens = {3, 1, 4, 1};
        int first = pool.allocate(), second = pool.allocate();
        long id = cache.register(first, PrefixCache.ROOT, tokens, 0);
        assertThat(cache.register(second, PrefixCache.ROOT, tokens, 0)).isEqualTo(id);
        assertThat(pool.isCached(second)).isFalse();
        assertThat(cache.find(PrefixCache.ROOT, tokens, 0)).isEqualTo(first);
        assertThat(cache.numCachedBlocks()).isEqualTo(1);
    }

    @Test
    void childOfAnEvictedParentIsNeverFoundUnderTheParentsNewId() {
        BlockPool pool = new BlockPool(3);
        PrefixCache cache = new PrefixCache(pool, BS);
        int[] tokens = {1, 2, 3, 4, 5, 6, 7, 8};
        int parent = pool.allocate(), child = pool.allocate();
        long parentId = cache.register(parent, PrefixCache.ROOT, tokens, 0);
        cache.register(child, parentId, tokens, 4);
        pool.release(child);
        pool.release(parent); // queue: [2 (empty), child, parent]
        pool.allocate();
        pool.allocate(); // evicts child
        int again = pool.allocate(); // evicts parent
        assertThat(again).isEqualTo(parent);
        long newParentId = cache.register(again, PrefixCache.ROOT, tokens, 0);
        assertThat(newParentId).isNotEqualTo(parentId);
        assertThat(cache.find(newParentId, tokens, 4)).isEqualTo(-1);
    }
}
