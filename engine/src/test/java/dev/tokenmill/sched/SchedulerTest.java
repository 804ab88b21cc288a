package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;
import dev.tokenmill.backend.ForwardBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SchedulerTest {

    private static int[] prompt(int seed, int n) {
        Random r = new Random(seed);
        return IntStream.range(0, n).map(i -> 1000 + r.nextInt(5000)).toArray();
    }

    private static int[] concat(int[] a, int[] b) {
        return IntStream.concat(IntStream.of(a), IntStream.of(b)).toArray();
    }

    /** maxBatchTokens, maxSeqs, maxModelLen, blockSize, numBlocks, prefixCaching */
    private static FakeModelLoop loop(int maxBatchTokens, int maxSeqs, int maxModelLen, int blockSize, int numBlocks, boolean prefix) {
        return new FakeModelLoop(new SchedulerConfig(maxBatchTokens, maxSeqs, maxModelLen, blockSize, numBlocks, prefix));
    }

    @Test
    void singleSequenceGeneratesWhatTheModelPredictsAlone() {
        FakeModelLoop loop = loop(16, 4, 256, 4, 64, true);
        Sequence s = loop.add("a", prompt(1, 37), SequenceParams.of(20));
        loop.runUntilDone(100);
        loop.assertOutputsMatchModelRunAlone();
        assertThat(s.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(s.numGeneratedTokens()).isEqualTo(20);
        assertThat(loop.kv.numFreeBlocks()).isEqualTo(64);
        // 37 prompt tokens in chunks of 16, then 19 decodes (the last sampled token is never computed)
        assertThat(loop.computedTokens).isEqualTo(37 + 19);
        assertThat(loop.steps).isEqualTo(3 + 19);
    }

    @Test
    void longPromptIsPrefilledInChunksWhileRunningSequencesDecodeEveryStep() {
        FakeModelLoop loop = loop(8, 4, 512, 4, 128, true);
        Sequence a = loop.add("a", prompt(1, 3), SequenceParams.of(40));
        loop.step(); // a prefilled, first token sampled
        Sequence b = loop.add("b", prompt(2, 60), SequenceParams.of(5));
        int chunkSteps = 0;
        while (b.numComputedTokens() < 60 && b.numGeneratedTokens() == 0) {
            int aGenerated = a.numGeneratedTokens();
            int bComputed = b.numComputedTokens();
            loop.step();
            SchedulerOutput out = loop.lastOut;
            assertThat(out.numSequences()).isEqualTo(2);
            assertThat(out.sequence(0)).isSameAs(a);
            assertThat(out.numScheduledTokens(0)).isEqualTo(1);
            assertThat(out.sequence(1)).isSameAs(b);
            assertThat(out.numScheduledTokens(1)).isEqualTo(Math.min(7, 60 - bComputed));
            assertThat(out.numTokens()).isLessThanOrEqualTo(8);
            assertThat(a.numGeneratedTokens()).isEqualTo(aGenerated + 1);
            chunkSteps++;
        }
        assertThat(chunkSteps).isEqualTo(9); // ceil(60 / 7)
        assertThat(b.numGeneratedTokens()).isEqualTo(1);
        loop.runUntilDone(200);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void prefillChunkNeedsNoLogitsUntilItReachesTheEndOfThePrompt() {
        FakeModelLoop loop = loop(8, 2, 64, 4, 32, true);
        Sequence s = loop.add("a", prompt(3, 20), SequenceParams.of(2));
        loop.step();
        assertThat(loop.lastOut.numLogitRows()).isZero();
        assertThat(loop.lastOut.numSamples()).isZero();
        assertThat(loop.batch.nLogits).isZero();
        loop.step();
        loop.step(); // 8 + 8 + 4: the last chunk samples from its last token
        assertThat(loop.lastOut.numSamples()).isEqualTo(1);
        assertThat(loop.lastOut.logitRowPosition(loop.lastOut.sampleLogitRow(0))).isEqualTo(19);
        assertThat(s.numGeneratedTokens()).isEqualTo(1);
    }

    @Test
    void laterSequenceSharesTheCachedPrefixOfARunningOne() {
        FakeModelLoop loop = loop(64, 4, 256, 4, 64, true);
        int[] system = prompt(10, 12); // 3 full blocks
        Sequence a = loop.add("a", concat(system, prompt(11, 5)), SequenceParams.of(10));
        loop.step();
        Sequence b = loop.add("b", concat(system, prompt(12, 7)), SequenceParams.of(10));
        loop.step();
        assertThat(b.numCachedPromptTokens()).isEqualTo(12);
        assertThat(loop.lastOut.numCachedTokens()).isEqualTo(12);
        for (int i = 0; i < 3; i++) {
            assertThat(b.blockTable().block(i)).isEqualTo(a.blockTable().block(i));
            assertThat(loop.kv.refCount(a.blockTable().block(i))).isEqualTo(2);
        }
        assertThat(b.blockTable().block(3)).isNotEqualTo(a.blockTable().block(3));
        loop.runUntilDone(100);
        loop.assertOutputsMatchModelRunAlone();
        assertThat(a.numCachedPromptTokens()).isZero();
    }

    @Test
    void laterRequestReusesThePrefixOfAFinishedOneAndComputesOnlyTheRest() {
        FakeModelLoop loop = loop(64, 4, 256, 4, 64, true);
        int[] system = prompt(20, 16);
        loop.add("a", concat(system, prompt(21, 3)), SequenceParams.of(6));
        loop.runUntilDone(50);
        long computedBefore = loop.computedTokens;
        assertThat(loop.kv.numCachedBlocks()).isGreaterThanOrEqualTo(4);
        Sequence c = loop.add("c", concat(system, prompt(22, 9)), SequenceParams.of(6));
        loop.runUntilDone(100);
        assertThat(c.numCachedPromptTokens()).isEqualTo(16);
        assertThat(loop.computedTokens - computedBefore).isEqualTo(9 + 5);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void sharedSystemPromptOfABatchJobIsComputedOnce() {
        // the acceptance workload: 32 requests x (256 shared + 64 own prompt tokens), 64 generated
        FakeModelLoop loop = loop(512, 32, 4096, 16, 1024, true);
        int[] system = prompt(160, 256);
        for (int i = 0; i < 32; i++) loop.add("r" + i, concat(system, prompt(161 + i, 64)), SequenceParams.of(64));
        loop.step();
        // r1 would fit the first step's budget, but r0 is filling r1's first block in it: r1 waits one step
        assertThat(loop.lastOut.numSequences()).isEqualTo(1);
        loop.runUntilDone(500);
        loop.assertOutputsMatchModelRunAlone();
        long cached = loop.added.stream().mapToLong(Sequence::numCachedPromptTokens).sum();
        // every request after r0 finds all 16 prefix blocks
        assertThat(cached).isEqualTo(31 * 256);
        assertThat(loop.computedTokens).isEqualTo(32 * 320 - cached + 32 * 63);
    }

    @Test
    void admissionWaitsForAPrefixBeingFilledOnlyWhileItIsFilledInThisStep() {
        FakeModelLoop loop = loop(16, 4, 256, 4, 64, true);
        int[] system = prompt(40, 24); // 6 blocks: a's 24-token header takes two steps of a 16-token budget
        Sequence a = loop.add("a", concat(system, prompt(41, 3)), SequenceParams.of(4));
        Sequence b = loop.add("b", concat(system, prompt(42, 5)), SequenceParams.of(4));
        Sequence c = loop.add("c", prompt(43, 9), SequenceParams.of(4)); // shares nothing, queued behind b
        loop.step(); // a: 16 tokens (blocks 0-3), which b needs next: b and c wait
        assertThat(loop.lastOut.numSequences()).isEqualTo(1);
        loop.step(); // a: 11 more (blocks 4-5 and its own 3 tokens); b would find 4 blocks and need a's 5th: waits
        assertThat(loop.lastOut.numSequences()).isEqualTo(1);
        loop.runUntilDone(200);
        assertThat(b.numCachedPromptTokens()).isEqualTo(24);
        assertThat(c.numCachedPromptTokens()).isZero();
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void wholePromptIsNeverServedFromCacheSoItsLastTokenHasLogits() {
        FakeModelLoop loop = loop(64, 4, 256, 4, 64, true);
        int[] p = prompt(30, 8); // exactly 2 blocks
        Sequence a = loop.add("a", p, SequenceParams.of(4));
        loop.runUntilDone(50);
        Sequence b = loop.add("b", p, SequenceParams.of(4));
        loop.step();
        assertThat(b.numCachedPromptTokens()).isEqualTo(4);
        assertThat(loop.lastOut.numScheduledTokens(0)).isEqualTo(4);
        loop.runUntilDone(50);
        assertThat(b.generatedTokens()).containsExactly(a.generatedTokens());
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void cachedPrefixesAreEvictedLeastRecentlyUsedFirst() {
        // 8 blocks of 4; three 2-block prefixes cached, then one is touched again
        FakeModelLoop loop = loop(64, 1, 64, 4, 8, true);
        int[][] prefixes = {prompt(40, 8), prompt(41, 8), prompt(42, 8)};
        for (int i = 0; i < 3; i++) {
            loop.add("p" + i, concat(prefixes[i], new int[] {7}), SequenceParams.of(1));
            loop.runUntilDone(20);
        }
        loop.add("touch0", concat(prefixes[0], new int[] {8}), SequenceParams.of(1));
        loop.runUntilDone(20);
        // a 5-block request: 2 never-cached blocks free, so 3 cached blocks must go: p1's two, then p2's tail
        loop.add("big", prompt(43, 19), SequenceParams.of(1));
        loop.runUntilDone(20);
        Sequence q0 = loop.add("q0", concat(prefixes[0], new int[] {9}), SequenceParams.of(1));
        loop.runUntilDone(20);
        Sequence q1 = loop.add("q1", concat(prefixes[1], new int[] {9}), SequenceParams.of(1));
        loop.runUntilDone(20);
        assertThat(q0.numCachedPromptTokens()).isEqualTo(8);
        assertThat(q1.numCachedPromptTokens()).isZero();
        loop.assertOutputsMatchModelRunAlone();
    }

    @ParameterizedTest(name = "prefix caching {0}")
    @ValueSource(booleans = {true, false})
    void preemptedSequencesResumeAndProduceExactlyTheirUninterruptedTokens(boolean prefixCaching) {
        // 10 blocks of 4 = 40 token slots for 4 sequences that grow to 26 tokens each
        FakeModelLoop loop = loop(16, 4, 64, 4, 10, prefixCaching);
        for (int i = 0; i < 4; i++) loop.add("s" + i, prompt(50 + i, 6), SequenceParams.of(20));
        boolean sawPreemption = false;
        while (loop.scheduler.hasUnfinished()) {
            assertThat(loop.steps).isLessThan(500);
            loop.step();
            for (Sequence victim : loop.lastOut.preempted()) {
                sawPreemption = true;
                for (Sequence s : loop.added) {
                    if (s.state() == Sequence.State.RUNNING && s != victim) {
                        assertThat(s.arrivalOrder()).as("victim is the latest arrival").isLessThan(victim.arrivalOrder());
                    }
                }
            }
        }
        assertThat(sawPreemption).isTrue();
        assertThat(loop.scheduler.numPreemptions()).isPositive();
        assertThat(loop.added).allMatch(s -> s.finishReason() == FinishReason.LENGTH);
        loop.assertOutputsMatchModelRunAlone();
        assertThat(loop.kv.numFreeBlocks()).isEqualTo(10);
    }

    @Test
    void preemptionFreesTheVictimsBlocksAndQueuesItFirst() {
        FakeModelLoop loop = loop(16, 2, 64, 4, 6, false);
        Sequence a = loop.add("a", prompt(60, 8), SequenceParams.of(12));
        Sequence b = loop.add("b", prompt(61, 8), SequenceParams.of(12));
        Sequence c = loop.add("c", prompt(62, 3), SequenceParams.of(3));
        loop.step(); // a and b prefilled: 4 of 6 blocks
        assertThat(loop.kv.numFreeBlocks()).isEqualTo(2);
        while (loop.lastOut.preempted().isEmpty()) loop.step();
        assertThat(loop.lastOut.preempted()).containsExactly(b);
        assertThat(b.state()).isEqualTo(Sequence.State.PREEMPTED);
        assertThat(b.blockTable().size()).isZero();
        assertThat(a.state()).isEqualTo(Sequence.State.RUNNING);
        assertThat(c.state()).as("c waits behind the preempted b").isEqualTo(Sequence.State.WAITING);
        loop.runUntilDone(200);
        assertThat(b.numPreemptions()).isPositive();
        assertThat(a.numPreemptions()).isZero();
        loop.assertOutputsMatchModelRunAlone();
        List<String> order = loop.finishedInOrder.stream().map(Sequence::requestId).toList();
        assertThat(order).containsExactlyInAnyOrder("a", "b", "c").first().isEqualTo("a");
    }

    @Test
    void tokenBudgetAndSequenceCapHoldInEveryStep() {
        FakeModelLoop loop = loop(10, 3, 128, 4, 64, true);
        for (int i = 0; i < 12; i++) loop.add("s" + i, prompt(70 + i, 5 + 3 * i), SequenceParams.of(4 + i % 5));
        int maxTokens = 0;
        int maxSeqs = 0;
        while (loop.scheduler.hasUnfinished()) {
            loop.step(); // the loop itself asserts <= 10 tokens and <= 3 sequences
            maxTokens = Math.max(maxTokens, loop.lastOut.numTokens());
            maxSeqs = Math.max(maxSeqs, loop.lastOut.numSequences());
            assertThat(loop.scheduler.numRunning()).isLessThanOrEqualTo(3);
        }
        assertThat(maxTokens).isEqualTo(10);
        assertThat(maxSeqs).isEqualTo(3);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void promptLongerThanTheModelContextFailsAloneWithAClearReason() {
        FakeModelLoop loop = loop(16, 4, 32, 4, 64, true);
        loop.add("ok1", prompt(80, 10), SequenceParams.of(5));
        Sequence bad = new Sequence("too-long", prompt(81, 40), SequenceParams.of(5));
        assertThat(loop.scheduler.add(bad)).isFalse();
        loop.add("ok2", prompt(82, 32), SequenceParams.of(5)); // exactly the context: one token fits
        loop.runUntilDone(100);
        assertThat(bad.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(bad.errorMessage()).contains("too-long", "40 tokens", "context length of 32");
        loop.assertOutputsMatchModelRunAlone();
        assertThat(loop.added).allMatch(s -> s.finishReason() == FinishReason.LENGTH);
        assertThat(loop.added.get(1).numGeneratedTokens()).isEqualTo(1);
    }

    @Test
    void promptNeedingMoreBlocksThanThePoolFailsAloneWithAClearReason() {
        FakeModelLoop loop = loop(16, 4, 4096, 4, 8, true);
        Sequence bad = loop.add("huge", prompt(90, 33), SequenceParams.of(2));
        Sequence ok = loop.add("ok", prompt(91, 30), SequenceParams.of(10));
        loop.runUntilDone(100);
        assertThat(bad.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(bad.errorMessage()).contains("33 tokens", "KV cache", "32 tokens", "8 blocks of 4");
        assertThat(ok.finishReason()).as("stopped at the pool's 32 tokens").isEqualTo(FinishReason.LENGTH);
        assertThat(ok.numTokens()).isEqualTo(32);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void overlongPromptIsTruncatedFromTheLeftWhenAsked() {
        FakeModelLoop loop = loop(16, 4, 32, 4, 64, true);
        int[] p = prompt(95, 40);
        Sequence s = loop.add("t", p, SequenceParams.of(6).withTruncateLeft(true));
        loop.runUntilDone(100);
        assertThat(s.numTruncatedPromptTokens()).isEqualTo(14);
        assertThat(s.promptTokens()).containsExactly(java.util.Arrays.copyOfRange(p, 14, 40));
        assertThat(s.numGeneratedTokens()).isEqualTo(6);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void stopTokenFinishesOnlyAfterMinNewTokens() {
        int[] p = prompt(100, 9);
        int[] alone = FakeModelLoop.expectedTokens(p, SequenceParams.of(30), 1 << 20);
        int stop = alone[3];
        int firstIndex = 0;
        while (alone[firstIndex] != stop) firstIndex++;
        FakeModelLoop loop = loop(16, 4, 256, 4, 64, true);
        Sequence s1 = loop.add("s1", p, SequenceParams.of(30).withStopTokens(stop));
        Sequence s2 = loop.add("s2", p, SequenceParams.of(30).withStopTokens(stop).withMinNewTokens(firstIndex + 2));
        loop.runUntilDone(100);
        assertThat(s1.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(s1.numGeneratedTokens()).isEqualTo(firstIndex + 1);
        assertThat(s1.generatedTokens()[firstIndex]).isEqualTo(stop);
        assertThat(s2.numGeneratedTokens()).isGreaterThan(firstIndex + 1);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void promptLogitsCoverEveryPromptPositionExactlyOnceAcrossChunks() {
        FakeModelLoop loop = loop(8, 2, 128, 4, 64, true);
        int[] p = prompt(110, 8);
        loop.add("warm", p, SequenceParams.of(2));
        loop.runUntilDone(20);
        Sequence s = loop.add("lp", concat(p, prompt(111, 13)), SequenceParams.of(3).withPromptLogits(true));
        List<Integer> promptRows = new ArrayList<>();
        while (loop.scheduler.hasUnfinished()) {
            loop.step();
            SchedulerOutput out = loop.lastOut;
            for (int r = 0; r < out.numLogitRows(); r++) {
                if (out.logitRowSequence(r) == s && out.logitRowPosition(r) < s.numPromptTokens() - 1) promptRows.add(out.logitRowPosition(r));
            }
        }
        assertThat(s.numCachedPromptTokens()).as("prompt logits need every position computed").isZero();
        assertThat(promptRows).containsExactlyElementsOf(IntStream.range(0, 20).boxed().toList());
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void finishingARunningOrWaitingSequenceReleasesItAndOthersContinue() {
        FakeModelLoop loop = loop(16, 1, 128, 4, 64, true);
        Sequence a = loop.add("a", prompt(120, 10), SequenceParams.of(30));
        Sequence b = loop.add("b", prompt(121, 10), SequenceParams.of(30));
        Sequence c = loop.add("c", prompt(122, 10), SequenceParams.of(5));
        loop.step();
        loop.step();
        loop.scheduler.finish(a, FinishReason.ABORT, null);
        loop.scheduler.finish(b, FinishReason.ABORT, null);
        assertThat(a.state()).isEqualTo(Sequence.State.FINISHED);
        assertThat(loop.kv.numFreeBlocks()).isEqualTo(64);
        loop.checkAccounting();
        loop.runUntilDone(50);
        assertThat(b.numGeneratedTokens()).isZero();
        assertThat(c.finishReason()).isEqualTo(FinishReason.LENGTH);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void finishAllAbortsQueuedAndRunningSequencesAndReleasesEveryBlock() {
        FakeModelLoop loop = loop(16, 2, 128, 4, 64, true);
        for (int i = 0; i < 5; i++) loop.add("s" + i, prompt(130 + i, 12), SequenceParams.of(20));
        loop.step();
        loop.step();
        SchedulerOutput pending = loop.scheduler.schedule(loop.batch); // shutdown may come between schedule and update
        List<Sequence> aborted = loop.scheduler.finishAll(FinishReason.ABORT);
        assertThat(loop.scheduler.update(pending, new int[8])).isEmpty();
        assertThat(aborted).hasSize(5).allMatch(s -> s.finishReason() == FinishReason.ABORT);
        assertThat(loop.scheduler.hasUnfinished()).isFalse();
        assertThat(loop.kv.numFreeBlocks()).isEqualTo(64);
        loop.checkAccounting();
        Sequence next = loop.add("after", prompt(140, 5), SequenceParams.of(3));
        loop.runUntilDone(20);
        assertThat(next.finishReason()).isEqualTo(FinishReason.LENGTH);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void longSequenceGrowsItsBlockTableToTheWholeContext() {
        FakeModelLoop loop = loop(64, 1, 200, 2, 100, false);
        Sequence s = loop.add("long", prompt(150, 30), SequenceParams.of(500));
        loop.runUntilDone(400);
        assertThat(s.numTokens()).isEqualTo(200);
        assertThat(s.finishReason()).isEqualTo(FinishReason.LENGTH);
        loop.assertOutputsMatchModelRunAlone();
    }

    @Test
    void misuseIsRejectedWithAClearMessage() {
        Scheduler s = new Scheduler(new SchedulerConfig(16, 4, 64, 4, 16, true));
        assertThatThrownBy(() -> s.schedule(new ForwardBatch(8, 4, 16)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens 8").hasMessageContaining("newForwardBatch");
        ForwardBatch batch = s.config().newForwardBatch();
        Sequence seq = new Sequence("x", prompt(1, 5), SequenceParams.of(3));
        s.add(seq);
        assertThatThrownBy(() -> s.add(seq)).isInstanceOf(IllegalStateException.class).hasMessageContaining("x");
        s.schedule(batch);
        assertThatThrownBy(() -> s.schedule(batch)).isInstanceOf(IllegalStateException.class).hasMessageContaining("update");
        assertThatThrownBy(() -> new SchedulerConfig(4, 8, 64, 4, 16, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxSeqs (8)");
        assertThat(s.add(new Sequence("empty", new int[0], SequenceParams.of(1)))).isFalse();
    }
}
