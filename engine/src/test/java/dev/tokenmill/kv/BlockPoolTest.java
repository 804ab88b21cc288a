package dev.tokenmill.kv;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlockPoolTest {

    @Test
    void numBlocksForBudgetRoundsDownAndRejectsBudgetBelowOneBlock() {
        assertThat(BlockPool.numBlocksFor(1000, 300)).isEqualTo(3);
        assertThat(BlockPool.numBlocksFor(900, 300)).isEqualTo(3);
        assertThatThrownBy(() -> BlockPool.numBlocksFor(299, 300))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("299 bytes").hasMessageContaining("300 bytes");
    }

    @Test
    void handsOutEveryBlockExactlyOnceThenRunsOut() {
        BlockPool pool = new BlockPool(5);
        Set<Integer> got = new HashSet<>();
        for (int i = 0; i < 5; i++) {
            int b = pool.allocate();
            assertThat(b).isBetween(0, 4);
            assertThat(got.add(b)).isTrue();
            assertThat(pool.refCount(b)).isEqualTo(1);
            assertThat(pool.numFree()).isEqualTo(4 - i);
        }
        assertThat(pool.allocate()).isEqualTo(-1);
        pool.checkInvariants();
        pool.release(3);
        assertThat(pool.numFree()).isEqualTo(1);
        assertThat(pool.allocate()).isEqualTo(3);
        pool.checkInvariants();
    }

    @Test
    void sharedBlockIsFreedOnlyWhenLastHolderReleases() {
        BlockPool pool = new BlockPool(2);
        int b = pool.allocate();
        pool.setCached(b, true);
        pool.retain(b);
        assertThat(pool.refCount(b)).isEqualTo(2);
        pool.release(b);
        assertThat(pool.numFree()).isEqualTo(1);
        pool.release(b);
        assertThat(pool.numFree()).isEqualTo(2);
        assertThatThrownBy(() -> pool.release(b)).isInstanceOf(IllegalStateException.class).hasMessageContaining("block " + b);
        pool.checkInvariants();
    }

    @Test
    void freeBlockWithoutCachedContentCannotBeRetained() {
        BlockPool pool = new BlockPool(2);
        assertThatThrownBy(() -> pool.retain(0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("no cached prefix");
    }

    @Test
    void cachedBlocksAreEvictedLeastRecentlyReleasedFirstAfterEmptyBlocks() {
        BlockPool pool = new BlockPool(4);
        List<Integer> evicted = new ArrayList<>();
        pool.setEvictionListener(evicted::add);
        int[] b = {pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()};
        pool.setCached(b[0], true);
        pool.setCached(b[1], true);
        pool.setCached(b[2], true);
        pool.release(b[2]);
        pool.release(b[0]);
        pool.release(b[3]); // no cached content: reused first
        pool.release(b[1]);
        assertThat(pool.freeQueue()).containsExactly(b[3], b[2], b[0], b[1]);

        pool.retain(b[2]); // a prefix hit on b2 takes it out of the queue ...
        pool.release(b[2]); // ... and its release makes it the most recently used
        assertThat(pool.freeQueue()).containsExactly(b[3], b[0], b[1], b[2]);

        assertThat(pool.allocate()).isEqualTo(b[3]);
        assertThat(evicted).isEmpty();
        assertThat(pool.allocate()).isEqualTo(b[0]);
        assertThat(pool.allocate()).isEqualTo(b[1]);
        assertThat(evicted).containsExactly(b[0], b[1]);
        assertThat(pool.isCached(b[0])).isFalse();
        assertThat(pool.isCached(b[2])).isTrue();
        pool.checkInvariants();
    }
}
