package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.kv.KvCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Continuous batching over the paged KV cache: sequences join and leave at every step.
 *
 * <p>The engine loop drives it:
 * <pre>{@code
 * scheduler.add(sequence);                              // any time between steps
 * SchedulerOutput out = scheduler.schedule(batch);      // fills the ForwardBatch
 * Logits logits = backend.forward(batch);
 * int[] sampled = ...;                                  // one token per out.sampleSequence(i), from out.sampleLogitRow(i)
 * List<Sequence> done = scheduler.update(out, sampled); // appends, stops, frees
 * }</pre>
 *
 * <p>Each step, under a budget of {@code maxBatchTokens} tokens and at most {@code maxSeqs} running sequences,
 * first come first served (by {@link Sequence#arrivalOrder()}):
 * <ol>
 *   <li>every running sequence that is decoding gets its one token (the budget always covers them, since
 *       {@code maxSeqs <= maxBatchTokens}), so a long prompt never stalls them;</li>
 *   <li>running sequences still in prefill get chunks from what is left of the budget;</li>
 *   <li>waiting sequences are admitted, front of the queue first, each with the prefix-cache hit on its leading
 *       full blocks (never its last token, whose logits are needed) and a first prefill chunk. Admission stops at
 *       the first sequence that does not fit, so nobody overtakes it; there are no admissions in a step that had
 *       to preempt. Admission also stops, for one step, at a sequence whose next prompt block is being filled in
 *       this step by a planned sequence with the same leading tokens: next step it reads that block from the cache,
 *       so requests that share a long header and arrive together compute it once.</li>
 * </ol>
 * When a running sequence needs a block and the pool is empty, the most recently arrived running sequence is
 * preempted: its blocks are released (full ones stay in the prefix cache) and it goes back to the front of the
 * queue to recompute all its tokens, prompt and generated, before it continues. A prefill chunk is first shrunk
 * to the blocks available and preempts only when not even one token fits.
 *
 * <p>A consequence checked by the tests: after every step at most one running sequence is partway through its
 * prefill, and it is the latest arrival (a chunk stops short only when the budget or the pool ran out, and then
 * nobody behind it is admitted).
 *
 * <p>Not thread-safe: one engine loop owns the scheduler. {@code schedule} allocates nothing per step except when
 * a sequence's token array grows.
 */
public final class Scheduler {
    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);

    private final SchedulerConfig config;
    private final KvCache kv;
    private final int maxContextLen;
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private final ArrayList<Sequence> running;   // in arrival order
    private final SchedulerOutput out;
    private final int[] hits;
    private final ArrayList<Sequence> finished = new ArrayList<>();
    private final List<Sequence> finishedView = Collections.unmodifiableList(finished);
    private long nextArrival;
    private long numPreemptions;
    private int budget;

    public Scheduler(SchedulerConfig config) {
        this.config = config;
        this.kv = new KvCache(config.numBlocks(), config.blockSize(), config.prefixCaching());
        this.maxContextLen = config.maxContextLen();
        this.running = new ArrayList<>(config.maxSeqs());
        this.out = new SchedulerOutput(config.maxBatchTokens(), config.maxSeqs());
        this.hits = new int[config.maxBlocksPerSeq()];
    }

    public SchedulerConfig config() { return config; }

    public KvCache kvCache() { return kv; }

    /** Longest sequence (prompt plus generated) the scheduler can hold: the model context or the whole KV pool. */
    public int maxContextLen() { return maxContextLen; }

    public int numWaiting() { return waiting.size(); }

    public int numRunning() { return running.size(); }

    public boolean hasUnfinished() { return !waiting.isEmpty() || !running.isEmpty(); }

    /** Preemptions since the start. */
    public long numPreemptions() { return numPreemptions; }

    /**
     * Queues a new sequence. A prompt that can never fit (empty, longer than the model context, or needing more
     * blocks than the whole pool) is left-truncated when its params ask for it, else the sequence is finished at
     * once with {@link FinishReason#ERROR} and a message saying why, and false is returned; nothing else changes.
     */
    public boolean add(Sequence seq) {
        if (seq.arrival >= 0) throw new IllegalStateException("sequence " + seq.requestId() + " was already added");
        seq.arrival = nextArrival++;
        String problem = admissionProblem(seq);
        if (problem != null) {
            log.debug("rejecting request {}: {}", seq.requestId(), problem);
            seq.finish(FinishReason.ERROR, problem);
            return false;
        }
        seq.blockTable = kv.newBlockTable(maxContextLen);
        waiting.addLast(seq);
        return true;
    }

    private String admissionProblem(Sequence seq) {
        int n = seq.numPromptTokens();
        if (n == 0) return "request " + seq.requestId() + " has an empty prompt; at least 1 token is needed";
        if (n <= maxContextLen) return null;
        if (seq.params().truncateLeft()) {
            // room for every new token when possible, but never less than half the context for the prompt
            int keep = Math.max(1, Math.max(maxContextLen - seq.params().maxNewTokens(), maxContextLen / 2));
            seq.truncateLeftTo(keep);
            log.debug("request {}: prompt truncated from {} to its last {} tokens", seq.requestId(), n, keep);
            return null;
        }
        String limit = n > config.maxModelLen()
                ? "the model context length of " + config.maxModelLen() + " tokens"
                : "the KV cache, which holds " + maxContextLen + " tokens (" + config.numBlocks() + " blocks of "
                        + config.blockSize() + ")";
        return "request " + seq.requestId() + ": prompt of " + n + " tokens exceeds " + limit
                + "; shorten the prompt, raise the limit, or ask for left truncation";
    }

    /**
     * Plans one step and fills {@code batch} (cleared first) with its tokens. Returns this scheduler's reused
     * output, to be passed to {@link #update} after the forward pass. An empty output means nothing can run.
     */
    public SchedulerOutput schedule(ForwardBatch batch) {
        if (out.awaitingUpdate) throw new IllegalStateException("schedule() called again before update() of the previous step");
        checkBatch(batch);
        out.clear();
        batch.clear();
        budget = config.maxBatchTokens();

        // 1. decodes of running sequences, earliest arrival first
        for (int i = 0; i < running.size(); i++) {
            Sequence seq = running.get(i);
            if (seq.numTokens() - seq.numComputedTokens != 1) continue;
            if (!allocateOrPreempt(seq)) break; // it was the latest arrival and preempted itself
            plan(seq, 1);
        }
        // 2. prefill chunks of running sequences
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence seq = running.get(i);
            if (seq.numScheduledTokens > 0) continue;
            int room = kv.maxTokens(seq.blockTable) - seq.numComputedTokens;
            while (room < 1 && running.getLast() != seq) {
                preempt(running.getLast());
                room = kv.maxTokens(seq.blockTable) - seq.numComputedTokens;
            }
            if (room < 1) {
                preempt(seq);
                break;
            }
            int n = Math.min(Math.min(seq.numTokens() - seq.numComputedTokens, budget), room);
            mustAllocate(seq, seq.numComputedTokens + n);
            plan(seq, n);
        }
        // 3. admissions from the front of the queue, unless this step had to preempt (as vLLM v1): the pool is
        //    tight, and re-admitting a sequence just preempted would only recompute it to preempt it again
        while (out.preempted.isEmpty() && budget > 0 && running.size() < config.maxSeqs() && !waiting.isEmpty()) {
            Sequence seq = waiting.peekFirst();
            int numHits = kv.findCachedPrefix(seq.tokenArray(), cacheableTokens(seq), hits);
            int cached = numHits * kv.blockSize();
            if (out.numSeqs > 0 && nextBlockFilledThisStep(seq, cached)) break; // next step it reads that block cached
            int room = kv.maxTokens(seq.blockTable, hits, numHits) - cached;
            if (room < 1) break;
            int n = Math.min(Math.min(seq.numTokens() - cached, budget), room);
            if (!kv.allocate(seq.blockTable, cached + n, hits, numHits)) {
                throw new IllegalStateException("KV allocation for " + (cached + n) + " tokens of " + seq.requestId() + " failed after room was checked");
            }
            waiting.pollFirst();
            seq.numComputedTokens = cached;
            if (seq.numCachedPromptTokens < 0) seq.numCachedPromptTokens = Math.min(cached, seq.numPromptTokens());
            out.numCachedTokens += cached;
            seq.setState(Sequence.State.RUNNING);
            insertRunning(seq);
            plan(seq, n);
        }

        fillBatch(batch);
        out.awaitingUpdate = out.numSeqs > 0;
        return out;
    }

    /**
     * Applies the step: advances computed tokens, registers newly full blocks in the prefix cache, appends
     * {@code sampledTokens[i]} to {@code out.sampleSequence(i)}, and finishes sequences that hit a stop token, their
     * token limit or the context limit (their blocks are released; full ones stay cached). Returns the sequences
     * finished by this call, in a list reused by the next call.
     */
    public List<Sequence> update(SchedulerOutput step, int[] sampledTokens) {
        if (step != out) throw new IllegalArgumentException("update() needs the output of this scheduler's schedule()");
        finished.clear();
        if (!out.awaitingUpdate) {
            if (out.numSeqs == 0) return finishedView; // an empty step: nothing to apply
            throw new IllegalStateException("update() called twice for one step");
        }
        if (sampledTokens.length < out.numSamples) {
            throw new IllegalArgumentException("update() needs " + out.numSamples + " sampled tokens, got " + sampledTokens.length);
        }
        for (int slot = 0; slot < out.numSeqs; slot++) {
            Sequence seq = out.seqs[slot];
            seq.numScheduledTokens = 0;
            if (seq.state() != Sequence.State.RUNNING) continue; // finished by the engine after schedule()
            seq.numComputedTokens += out.slotTokens[slot];
            kv.cacheFullBlocks(seq.blockTable, seq.tokenArray(), seq.numComputedTokens);
        }
        for (int i = 0; i < out.numSamples; i++) {
            Sequence seq = out.sampleSeqs[i];
            if (seq.state() != Sequence.State.RUNNING) continue;
            int token = sampledTokens[i];
            seq.append(token);
            FinishReason reason = stopReason(seq, token);
            if (reason != null) {
                release(seq);
                seq.finish(reason, null);
                finished.add(seq);
            }
        }
        out.awaitingUpdate = false;
        return finishedView;
    }

    /**
     * Finishes a sequence now, whatever its state (a stop string matched by the engine, a cancelled request, an
     * error while sampling); its blocks are released. No-op if it already finished.
     */
    public void finish(Sequence seq, FinishReason reason, String errorMessage) {
        switch (seq.state()) {
            case FINISHED -> { return; }
            case WAITING, PREEMPTED -> {
                if (!waiting.remove(seq)) throw new IllegalStateException("sequence " + seq.requestId() + " is not queued in this scheduler");
            }
            case RUNNING -> release(seq);
        }
        seq.finish(reason, errorMessage);
    }

    /**
     * Finishes every queued and running sequence with {@code reason} (engine shutdown) and returns them, queued
     * ones first; all blocks are released (full ones stay cached).
     */
    public List<Sequence> finishAll(FinishReason reason) {
        if (out.awaitingUpdate) {
            for (int slot = 0; slot < out.numSeqs; slot++) out.seqs[slot].numScheduledTokens = 0;
            out.awaitingUpdate = false;
            out.clear(); // a late update() of that step then applies nothing
        }
        List<Sequence> all = new ArrayList<>(waiting.size() + running.size());
        for (Sequence seq : waiting) {
            seq.finish(reason, null);
            all.add(seq);
        }
        waiting.clear();
        for (Sequence seq : running) {
            kv.free(seq.blockTable);
            seq.finish(reason, null);
            all.add(seq);
        }
        running.clear();
        return all;
    }

    private FinishReason stopReason(Sequence seq, int token) {
        FinishReason reason = seq.stopCondition().afterToken(seq, token);
        if (reason != null) return reason;
        if (seq.numTokens() >= maxContextLen) return FinishReason.LENGTH; // the next token would have no KV slot
        return null;
    }

    /** Grows a decoding sequence by one token, preempting latest arrivals as needed; false if it preempted itself. */
    private boolean allocateOrPreempt(Sequence seq) {
        while (!kv.allocate(seq.blockTable, seq.numComputedTokens + 1)) {
            Sequence victim = running.getLast();
            preempt(victim);
            if (victim == seq) return false;
        }
        return true;
    }

    private void mustAllocate(Sequence seq, int numTokens) {
        if (!kv.allocate(seq.blockTable, numTokens)) {
            throw new IllegalStateException("KV allocation for " + numTokens + " tokens of " + seq.requestId() + " failed after room was checked");
        }
    }

    private void preempt(Sequence victim) {
        if (running.getLast() != victim) throw new IllegalStateException("only the latest running arrival may be preempted");
        running.removeLast();
        if (victim.numScheduledTokens > 0) unplan(victim);
        kv.free(victim.blockTable);
        victim.numComputedTokens = 0;
        victim.numPreemptions++;
        numPreemptions++;
        victim.setState(Sequence.State.PREEMPTED);
        waiting.addFirst(victim);
        out.preempted.add(victim);
        log.debug("preempted request {} ({} tokens) for lack of KV blocks", victim.requestId(), victim.numTokens());
    }

    private void release(Sequence seq) {
        if (!running.remove(seq)) throw new IllegalStateException("sequence " + seq.requestId() + " is not running in this scheduler");
        kv.free(seq.blockTable);
    }

    private void insertRunning(Sequence seq) {
        int lo = 0;
        int hi = running.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (running.get(mid).arrival < seq.arrival) lo = mid + 1; else hi = mid;
        }
        running.add(lo, seq);
    }

    /** Tokens of {@code seq} that may come from the prefix cache. */
    private static int cacheableTokens(Sequence seq) {
        // the last token is always computed (its logits are sampled), and so is every prompt row still owed logits
        int n = seq.numTokens() - 1;
        return seq.params().promptLogits() ? Math.min(n, seq.nextPromptLogitPosition) : n;
    }

    /**
     * Whether a sequence planned in this step fills, during this step, the block of {@code seq}'s prompt that follows
     * its {@code cached} cached tokens (same tokens from position 0). Admitting {@code seq} one step later then reads
     * that block from the prefix cache instead of computing it a second time: requests sharing a long header that
     * arrive together compute it once.
     */
    private boolean nextBlockFilledThisStep(Sequence seq, int cached) {
        int end = cached + kv.blockSize();
        if (!kv.prefixCaching() || end > cacheableTokens(seq)) return false;
        for (int i = 0; i < out.numSeqs; i++) {
            Sequence p = out.seqs[i];
            if (p.numComputedTokens >= end || p.numComputedTokens + p.numScheduledTokens < end) continue;
            if (Arrays.equals(seq.tokenArray(), 0, end, p.tokenArray(), 0, end)) return true;
        }
        return false;
    }

    private void plan(Sequence seq, int n) {
        out.seqs[out.numSeqs++] = seq;
        seq.numScheduledTokens = n;
        budget -= n;
    }

    private void unplan(Sequence seq) {
        int i = 0;
        while (out.seqs[i] != seq) i++;
        System.arraycopy(out.seqs, i + 1, out.seqs, i, out.numSeqs - i - 1);
        out.seqs[--out.numSeqs] = null;
        budget += seq.numScheduledTokens;
        seq.numScheduledTokens = 0;
    }

    private void fillBatch(ForwardBatch batch) {
        for (int slot = 0; slot < out.numSeqs; slot++) {
            Sequence seq = out.seqs[slot];
            int n = seq.numScheduledTokens;
            int start = seq.numComputedTokens;
            int end = start + n;
            boolean samples = end == seq.numTokens();
            int promptLogitsEnd = seq.params().promptLogits() ? seq.numPromptTokens() - 1 : 0; // logits at p predict p + 1
            int[] tokens = seq.tokenArray();
            for (int p = start; p < end; p++) {
                boolean sampleRow = samples && p == end - 1;
                boolean promptRow = p >= seq.nextPromptLogitPosition && p < promptLogitsEnd;
                batch.addToken(slot, tokens[p], p, sampleRow || promptRow);
                if (sampleRow || promptRow) {
                    int row = out.numRows++;
                    out.rowSeqs[row] = seq;
                    out.rowPositions[row] = p;
                    if (sampleRow) {
                        out.sampleSeqs[out.numSamples] = seq;
                        out.sampleRows[out.numSamples++] = row;
                    }
                }
            }
            if (promptLogitsEnd > 0) seq.nextPromptLogitPosition = Math.max(seq.nextPromptLogitPosition, Math.min(end, promptLogitsEnd));
            out.slotTokens[slot] = n;
            out.numTokens += n;
            if (n > 1 || start < seq.numPromptTokens()) out.numPrefillTokens += n;
            batch.contextLens[slot] = end;
            seq.blockTable.copyTo(batch.blockTables[slot]);
        }
        batch.nSeqs = out.numSeqs;
    }

    private void checkBatch(ForwardBatch batch) {
        if (batch.maxTokens < config.maxBatchTokens() || batch.maxSeqs < config.maxSeqs()
                || batch.maxBlocksPerSeq < config.maxBlocksPerSeq()) {
            throw new IllegalArgumentException("ForwardBatch limits (tokens " + batch.maxTokens + ", seqs " + batch.maxSeqs
                    + ", blocks per seq " + batch.maxBlocksPerSeq + ") are below the scheduler's (tokens "
                    + config.maxBatchTokens() + ", seqs " + config.maxSeqs() + ", blocks per seq "
                    + config.maxBlocksPerSeq() + "); build it with SchedulerConfig.newForwardBatch()");
        }
    }
}
