package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.kv.BlockTable;
import dev.tokenmill.kv.KvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A deterministic stand-in for backend plus greedy sampler, driving a {@link Scheduler} the way the engine loop
 * will. Its "KV cache" stores the token written at each (block, offset); the next token is a hash of every token
 * of the context read back through the batch's block tables. So a wrong block table, a wrong prefix-cache hit or
 * a lost token after preemption changes the output, which {@link #expectedTokens} computes without any
 * scheduler. Every step it checks the scheduler's invariants.
 */
final class FakeModelLoop {
    static final int VOCAB = 64;

    final SchedulerConfig config;
    final Scheduler scheduler;
    final KvCache kv;
    final ForwardBatch batch;
    private final int bs;
    private final int[] kvTokens;
    private final int[] kvPositions;
    final List<Sequence> added = new ArrayList<>();
    final List<Sequence> finishedInOrder = new ArrayList<>();
    SchedulerOutput lastOut;
    int steps;
    long computedTokens;
    long preemptionsSeen;

    FakeModelLoop(SchedulerConfig config) {
        this.config = config;
        this.scheduler = new Scheduler(config);
        this.kv = scheduler.kvCache();
        this.batch = config.newForwardBatch();
        this.bs = config.blockSize();
        this.kvTokens = new int[config.numBlocks() * bs];
        this.kvPositions = new int[config.numBlocks() * bs];
        Arrays.fill(kvPositions, -1);
    }

    /** The "model": next token after {@code tokens[0..n)}. */
    static int nextToken(int[] tokens, int n) {
        int h = 0x2545F491;
        for (int i = 0; i < n; i++) h = mix(h, tokens[i]);
        return Math.floorMod(h, VOCAB);
    }

    private static int mix(int h, int t) {
        h = (h ^ t) * 0x9E3779B1;
        return h ^ (h >>> 15);
    }

    /** Tokens a sequence must generate: the model run alone on its (possibly truncated) prompt, greedy. */
    static int[] expectedTokens(int[] prompt, SequenceParams p, int maxContextLen) {
        int[] t = Arrays.copyOf(prompt, prompt.length + p.maxNewTokens());
        int n = prompt.length;
        int generated = 0;
        while (true) {
            int next = nextToken(t, n);
            t[n++] = next;
            generated++;
            boolean stop = generated >= p.minNewTokens() && Arrays.stream(p.stopTokenIds()).anyMatch(s -> s == next);
            if (stop || generated >= p.maxNewTokens() || n >= maxContextLen) break;
        }
        return Arrays.copyOfRange(t, prompt.length, n);
    }

    Sequence add(String id, int[] prompt, SequenceParams params) {
        Sequence seq = new Sequence(id, prompt, params);
        scheduler.add(seq);
        added.add(seq);
        return seq;
    }

    /** One engine step; returns the sequences it finished. */
    List<Sequence> step() {
        List<Sequence> decoding = new ArrayList<>();
        Map<Sequence, Integer> computedBefore = new IdentityHashMap<>();
        for (Sequence s : added) {
            if (s.state() == Sequence.State.RUNNING) {
                computedBefore.put(s, s.numComputedTokens());
                if (s.numTokens() - s.numComputedTokens() == 1) decoding.add(s);
            }
        }
        SchedulerOutput out = scheduler.schedule(batch);
        lastOut = out;
        steps++;
        if (out.isEmpty()) fail("step %d scheduled nothing while %d sequences wait and %d run", steps, scheduler.numWaiting(), scheduler.numRunning());
        checkPlan(out, decoding, computedBefore);
        checkAccounting();
        int[] sampled = forward(out);
        List<Sequence> done = new ArrayList<>(scheduler.update(out, sampled));
        for (Sequence s : done) assertThat(s.isFinished()).isTrue();
        finishedInOrder.addAll(done);
        checkAccounting();
        checkAtMostOnePartialPrefill();
        return done;
    }

    void runUntilDone(int maxSteps) {
        while (scheduler.hasUnfinished()) {
            if (steps >= maxSteps) fail("not done after %d steps: %d waiting, %d running", steps, scheduler.numWaiting(), scheduler.numRunning());
            step();
        }
    }

    /** Every accepted sequence finished with exactly the tokens it would have produced alone. */
    void assertOutputsMatchModelRunAlone() {
        for (Sequence s : added) {
            if (s.finishReason() == FinishReason.ERROR || s.finishReason() == FinishReason.ABORT) continue;
            assertThat(s.isFinished()).as("%s finished", s.requestId()).isTrue();
            int[] expected = expectedTokens(s.promptTokens(), s.params(), scheduler.maxContextLen());
            assertThat(s.generatedTokens()).as("tokens of %s (preempted %d times)", s.requestId(), s.numPreemptions())
                    .containsExactly(expected);
        }
    }

    private void checkPlan(SchedulerOutput out, List<Sequence> decoding, Map<Sequence, Integer> computedBefore) {
        assertThat(batch.nTokens).isEqualTo(out.numTokens()).isLessThanOrEqualTo(config.maxBatchTokens());
        assertThat(batch.nSeqs).isEqualTo(out.numSequences()).isLessThanOrEqualTo(config.maxSeqs());
        assertThat(scheduler.numRunning()).isLessThanOrEqualTo(config.maxSeqs());
        computedTokens += batch.nTokens;
        preemptionsSeen += out.preempted().size();

        Map<Sequence, Integer> slotOf = new IdentityHashMap<>();
        int row = 0;
        for (int slot = 0; slot < out.numSequences(); slot++) {
            Sequence s = out.sequence(slot);
            assertThat(slotOf.put(s, slot)).as("%s in two slots", s.requestId()).isNull();
            assertThat(s.state()).isEqualTo(Sequence.State.RUNNING);
            int n = out.numScheduledTokens(slot);
            assertThat(n).isPositive();
            int start = s.numComputedTokens();
            if (computedBefore.containsKey(s)) assertThat(start).isEqualTo(computedBefore.get(s));
            for (int k = 0; k < n; k++, row++) {
                assertThat(batch.seqOfToken[row]).isEqualTo(slot);
                assertThat(batch.positions[row]).isEqualTo(start + k);
                assertThat(batch.tokens[row]).isEqualTo(s.tokenAt(start + k));
            }
            assertThat(batch.contextLens[slot]).isEqualTo(start + n).isLessThanOrEqualTo(s.numTokens());
            BlockTable table = s.blockTable();
            assertThat(table.size()).isGreaterThanOrEqualTo(kv.blocksFor(start + n));
            for (int b = 0; b < table.size(); b++) assertThat(batch.blockTables[slot][b]).isEqualTo(table.block(b));
            boolean samples = start + n == s.numTokens();
            int sampleRows = 0;
            for (int i = 0; i < out.numSamples(); i++) if (out.sampleSequence(i) == s) sampleRows++;
            assertThat(sampleRows).isEqualTo(samples ? 1 : 0);
        }
        assertThat(row).isEqualTo(batch.nTokens);
        assertThat(batch.nLogits).isEqualTo(out.numLogitRows());
        for (Sequence s : decoding) {
            boolean scheduled = slotOf.containsKey(s) && out.numScheduledTokens(slotOf.get(s)) == 1;
            assertThat(scheduled || out.preempted().contains(s))
                    .as("decoding %s neither scheduled nor preempted in step %d", s.requestId(), steps).isTrue();
        }
        for (Sequence p : out.preempted()) {
            if (p.state() == Sequence.State.PREEMPTED) {
                assertThat(p.blockTable().size()).isZero();
                assertThat(p.numComputedTokens()).isZero();
            }
        }
    }

    /** Block reference counts equal the number of running tables holding each block; FCFS order holds. */
    void checkAccounting() {
        int[] holders = new int[config.numBlocks()];
        long maxRunningArrival = -1;
        long minQueuedArrival = Long.MAX_VALUE;
        int running = 0;
        for (Sequence s : added) {
            switch (s.state()) {
                case RUNNING -> {
                    running++;
                    maxRunningArrival = Math.max(maxRunningArrival, s.arrivalOrder());
                    BlockTable t = s.blockTable();
                    assertThat(t.size()).isGreaterThanOrEqualTo(kv.blocksFor(s.numComputedTokens()));
                    for (int b = 0; b < t.size(); b++) holders[t.block(b)]++;
                }
                case WAITING, PREEMPTED -> {
                    minQueuedArrival = Math.min(minQueuedArrival, s.arrivalOrder());
                    assertThat(s.blockTable().size()).isZero();
                }
                case FINISHED -> assertThat(s.blockTable() == null || s.blockTable().size() == 0).isTrue();
            }
        }
        int free = 0;
        for (int b = 0; b < holders.length; b++) {
            assertThat(kv.refCount(b)).as("refcount of block %d", b).isEqualTo(holders[b]);
            if (holders[b] == 0) free++;
        }
        assertThat(kv.numFreeBlocks()).isEqualTo(free);
        assertThat(running).isEqualTo(scheduler.numRunning()).isLessThanOrEqualTo(config.maxSeqs());
        assertThat(maxRunningArrival).as("first come first served").isLessThan(minQueuedArrival);
    }

    /** FCFS admission that stops at the first misfit leaves at most one running prefill unfinished: the latest. */
    private void checkAtMostOnePartialPrefill() {
        Sequence partial = null;
        long latestRunning = -1;
        for (Sequence s : added) {
            if (s.state() != Sequence.State.RUNNING) continue;
            latestRunning = Math.max(latestRunning, s.arrivalOrder());
            if (s.numTokens() - s.numComputedTokens() > 1) {
                assertThat(partial).as("two partial prefills after step %d", steps).isNull();
                partial = s;
            }
        }
        if (partial != null) assertThat(partial.arrivalOrder()).isEqualTo(latestRunning);
    }

    private int[] forward(SchedulerOutput out) {
        for (int i = 0; i < batch.nTokens; i++) {
            int slot = batch.seqOfToken[i];
            int p = batch.positions[i];
            int block = batch.blockTables[slot][p / bs];
            assertThat(kv.refCount(block)).as("write of position %d into shared block %d", p, block).isEqualTo(1);
            kvTokens[block * bs + p % bs] = batch.tokens[i];
            kvPositions[block * bs + p % bs] = p;
        }
        int[] rowToken = new int[batch.nLogits];
        int[] context = new int[scheduler.maxContextLen()];
        for (int r = 0; r < batch.nLogits; r++) {
            int tokenRow = batch.logitRows[r];
            int slot = batch.seqOfToken[tokenRow];
            int p = batch.positions[tokenRow];
            assertThat(out.logitRowSequence(r)).isSameAs(out.sequence(slot));
            assertThat(out.logitRowPosition(r)).isEqualTo(p);
            assertThat(p).isLessThan(batch.contextLens[slot]);
            for (int q = 0; q <= p; q++) {
                int at = batch.blockTables[slot][q / bs] * bs + q % bs;
                assertThat(kvPositions[at]).as("KV of position %d of slot %d", q, slot).isEqualTo(q);
                context[q] = kvTokens[at];
            }
            rowToken[r] = nextToken(context, p + 1);
        }
        int[] sampled = new int[out.numSamples()];
        for (int i = 0; i < sampled.length; i++) sampled[i] = rowToken[out.sampleLogitRow(i)];
        return sampled;
    }

    /** Counts per finish reason; for assertions in stress tests. */
    Map<FinishReason, Integer> finishCounts() {
        Map<FinishReason, Integer> m = new HashMap<>();
        for (Sequence s : added) if (s.isFinished()) m.merge(s.finishReason(), 1, Integer::sum);
        return m;
    }
}
