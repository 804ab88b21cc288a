package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random arrivals, lengths, shared prefixes, pool sizes and budgets against the fake model loop, which checks the
 * scheduler's invariants every step (budget, sequence cap, block accounting, FCFS, every decode scheduled or
 * preempted, no write into a shared block). Every request must end with the tokens it produces alone.
 */
class SchedulerStressTest {

    private record Totals(long preemptions, long cachedTokens, long rejected, long truncated, long aborted, long stopped) {
        Totals plus(Totals o) {
            return new Totals(preemptions + o.preemptions, cachedTokens + o.cachedTokens, rejected + o.rejected,
                    truncated + o.truncated, aborted + o.aborted, stopped + o.stopped);
        }
    }

    @Test
    void randomWorkloadsKeepEveryInvariantAndProduceTheTokensOfEachRequestAlone() {
        Totals totals = new Totals(0, 0, 0, 0, 0, 0);
        for (int seed = 0; seed < 60; seed++) totals = totals.plus(runOne(seed));
        // the workloads must actually exercise the paths under test
        assertThat(totals.preemptions()).isGreaterThan(20);
        assertThat(totals.cachedTokens()).isGreaterThan(500);
        assertThat(totals.rejected()).isPositive();
        assertThat(totals.truncated()).isPositive();
        assertThat(totals.aborted()).isPositive();
        assertThat(totals.stopped()).isPositive();
    }

    private Totals runOne(int seed) {
        Random rnd = new Random(seed);
        int blockSize = new int[] {1, 2, 4, 8}[rnd.nextInt(4)];
        int numBlocks = 4 + rnd.nextInt(60 / blockSize + 8);
        int maxBatchTokens = 2 + rnd.nextInt(40);
        int maxSeqs = 1 + rnd.nextInt(Math.min(maxBatchTokens, 10));
        int maxModelLen = 8 + rnd.nextInt(120);
        boolean prefixCaching = rnd.nextInt(4) != 0;
        FakeModelLoop loop = new FakeModelLoop(new SchedulerConfig(maxBatchTokens, maxSeqs, maxModelLen, blockSize,
                numBlocks, prefixCaching));
        int limit = loop.scheduler.maxContextLen();

        int[][] prefixes = new int[3][];
        for (int i = 0; i < prefixes.length; i++) prefixes[i] = randomTokens(rnd, 1 + rnd.nextInt(40));
        int numRequests = 20 + rnd.nextInt(30);
        int added = 0;
        long rejected = 0;
        long truncated = 0;
        long aborted = 0;
        List<Sequence> live = new ArrayList<>();
        while (added < numRequests || loop.scheduler.hasUnfinished()) {
            assertThat(loop.steps).as("seed %d makes progress", seed).isLessThan(20_000);
            int arrivals = added < numRequests ? rnd.nextInt(3) : 0;
            for (int a = 0; a < arrivals; a++, added++) {
                int[] prefix = rnd.nextInt(3) == 0 ? new int[0] : prefixes[rnd.nextInt(prefixes.length)];
                int[] prompt = concat(prefix, randomTokens(rnd, 1 + rnd.nextInt(30)));
                SequenceParams params = SequenceParams.of(1 + rnd.nextInt(25))
                        .withTruncateLeft(rnd.nextInt(3) == 0)
                        .withPromptLogits(rnd.nextInt(8) == 0);
                if (rnd.nextInt(4) == 0) params = params.withStopTokens(rnd.nextInt(FakeModelLoop.VOCAB), rnd.nextInt(FakeModelLoop.VOCAB));
                Sequence s = loop.add("r" + seed + "-" + added, prompt, params);
                if (s.finishReason() == FinishReason.ERROR) {
                    assertThat(prompt.length).as("only a prompt that can never fit is rejected").isGreaterThan(limit);
                    assertThat(params.truncateLeft()).isFalse();
                    rejected++;
                } else {
                    if (prompt.length > limit) {
                        assertThat(s.numPromptTokens()).isLessThanOrEqualTo(limit);
                        truncated++;
                    }
                    live.add(s);
                }
            }
            if (!live.isEmpty() && rnd.nextInt(40) == 0) {
                Sequence victim = live.get(rnd.nextInt(live.size()));
                if (!victim.isFinished()) {
                    loop.scheduler.finish(victim, FinishReason.ABORT, null);
                    aborted++;
                    loop.checkAccounting();
                }
            }
            if (loop.scheduler.hasUnfinished()) loop.step();
        }
        loop.assertOutputsMatchModelRunAlone();
        assertThat(loop.kv.numFreeBlocks()).isEqualTo(numBlocks);
        long cached = loop.added.stream().mapToLong(Sequence::numCachedPromptTokens).sum();
        long stopped = loop.added.stream().filter(s -> s.finishReason() == FinishReason.STOP).count();
        return new Totals(loop.scheduler.numPreemptions(), cached, rejected, truncated, aborted, stopped);
    }

    private static int[] randomTokens(Random rnd, int n) {
        return IntStream.range(0, n).map(i -> rnd.nextInt(4000)).toArray();
    }

    private static int[] concat(int[] a, int[] b) {
        return IntStream.concat(IntStream.of(a), IntStream.of(b)).toArray();
    }
}
