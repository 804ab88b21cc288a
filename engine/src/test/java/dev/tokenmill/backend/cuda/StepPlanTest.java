package dev.tokenmill.backend.cuda;

import dev.tokenmill.backend.ForwardBatch;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StepPlanTest {
    private static int[] section(StepPlan p, int off, int n) {
        return Arrays.copyOfRange(p.data, off, off + n);
    }

    /** Sequence 0 prefills positions 5..14 (a cached prefix of 5), sequence 1 decodes position 20; blocks of 4. */
    private static ForwardBatch mixed() {
        ForwardBatch b = new ForwardBatch(32, 4, 8);
        b.nSeqs = 2;
        b.blockTables[0] = new int[] {7, 3, 9, 1, 0, 0, 0, 0};
        b.contextLens[0] = 15;
        b.blockTables[1] = new int[] {2, 4, 6, 8, 10, 11, 0, 0};
        b.contextLens[1] = 21;
        for (int p = 5; p < 15; p++) b.addToken(0, 100 + p, p, p == 14);
        b.addToken(1, 42, 20, true);
        b.argmaxOnly[1] = true;
        return b;
    }

    @Test
    void slotsFollowTheBlockTables() {
        StepPlan p = new StepPlan(32, 4, 8, 64);
        p.build(mixed(), 4, 2, 2, 1, 1);
        assertThat(p.nTokens).isEqualTo(11);
        assertThat(section(p, p.offTokens, 11)).containsExactly(105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 42);
        assertThat(section(p, p.offPositions, 11)).containsExactly(5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20);
        // position p of sequence 0 -> table[p / 4] * 4 + p % 4
        assertThat(section(p, p.offSlots, 11)).containsExactly(13, 14, 15, 36, 37, 38, 39, 4, 5, 6, 11 * 4);
    }

    @Test
    void runsHoldAtMostSixteenQueryRowsAndNeverCrossSequences() {
        StepPlan p = new StepPlan(32, 4, 8, 64);
        p.build(mixed(), 4, 2, 2, 1, 1); // group 2: runs of up to 8 tokens
        assertThat(p.nItems).isEqualTo(3);
        assertThat(section(p, p.offItemTok0, 3)).containsExactly(0, 8, 10);
        assertThat(section(p, p.offItemLen, 3)).containsExactly(8, 2, 1);
        assertThat(section(p, p.offItemSeq, 3)).containsExactly(0, 0, 1);
        p.build(mixed(), 4, 16, 1, 1, 1); // group 16: one token a run
        assertThat(p.nItems).isEqualTo(11);
        p.build(mixed(), 4, 32 / 2, 2, 1, 1);
        assertThat(section(p, p.offItemLen, p.nItems)).containsOnly(1);
    }

    @Test
    void blockTablesArePackedToTheBlocksTheContextsUse() {
        StepPlan p = new StepPlan(32, 4, 8, 64);
        p.build(mixed(), 4, 2, 2, 1, 1);
        assertThat(p.nBlocks).isEqualTo(4 + 6);
        assertThat(section(p, p.offBtStart, 2)).containsExactly(0, 4);
        assertThat(section(p, p.offBtFlat, 10)).containsExactly(7, 3, 9, 1, 2, 4, 6, 8, 10, 11);
        assertThat(section(p, p.offLogitRows, 2)).containsExactly(9, 10);
        assertThat(p.size).isEqualTo(p.offBtFlat + 10);
        assertThat(p.size).isLessThanOrEqualTo(p.capacity());
    }

    @Test
    void tooManyBlocksForTheDeviceBufferIsAnError() {
        StepPlan p = new StepPlan(32, 4, 8, 9);
        assertThatThrownBy(() -> p.build(mixed(), 4, 2, 2, 1, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("more than 9 blocks");
    }

    @Test
    void contextsSplitOnlyWhenTooFewBlocksWouldRun() {
        StepPlan p = new StepPlan(8, 1, 8, 64);
        p.chooseSplit(8, 256, 264, 264); // one decode sequence, 8 KV heads: split
        assertThat(p.nSplit).isEqualTo(4);
        assertThat(p.splitLen).isEqualTo(64);
        p.chooseSplit(8, 100, 264, 264); // short context: splits of at least 64 positions
        assertThat(p.nSplit).isEqualTo(2);
        assertThat(p.splitLen % 32).isZero();
        assertThat((long) p.nSplit * p.splitLen).isGreaterThanOrEqualTo(100);
        p.chooseSplit(8, 4096, 264, 264);
        assertThat(p.nSplit).isEqualTo(StepPlan.MAX_SPLITS);
        assertThat((long) p.nSplit * p.splitLen).isGreaterThanOrEqualTo(4096);
        p.chooseSplit(8192, 256, 264, 264); // a big batch fills the GPU without splitting
        assertThat(p.nSplit).isEqualTo(1);
        assertThat(p.splitLen).isGreaterThanOrEqualTo(256);
        p.chooseSplit(300, 256, 400, 264); // more blocks than the partial buffers hold
        assertThat(p.nSplit).isEqualTo(1);
        p.chooseSplit(8, 1, 264, 264);
        assertThat(p.nSplit).isEqualTo(1);
        assertThat(p.splitLen).isEqualTo(32);
        assertThat(p.data[StepPlan.OFF_SPLIT_LEN]).as("the kernel reads it from the plan").isEqualTo(32);
    }

    @Test
    void aGraphsFixedSplitCountCoversAnyContext() {
        StepPlan p = new StepPlan(32, 4, 8, 64);
        p.build(mixed(), 4, 2, 2, 1, 1);
        assertThat(p.maxCtx).isEqualTo(21);
        p.forceSplit(8);
        assertThat(p.nSplit).isEqualTo(8);
        assertThat(p.splitLen).isEqualTo(32);
        assertThat(p.data[StepPlan.OFF_SPLIT_LEN]).isEqualTo(32);
        p.maxCtx = 1000;
        p.forceSplit(8);
        assertThat((long) p.nSplit * p.splitLen).isGreaterThanOrEqualTo(1000);
        assertThat(p.splitLen % 32).isZero();
    }
}
