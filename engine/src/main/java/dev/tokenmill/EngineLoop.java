package dev.tokenmill;

import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.sched.Scheduler;
import dev.tokenmill.sched.SchedulerOutput;
import dev.tokenmill.sched.Sequence;
import dev.tokenmill.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The one thread that owns the scheduler and the backend. Each step: take in new requests and aborts, end requests
 * whose deadline passed, plan a step ({@link Scheduler#schedule}), run the forward pass, process the step's logits
 * rows in parallel ({@link RowPool}: sampling, logprobs, prompt logprobs), apply the step ({@link Scheduler#update},
 * which asks each request's stop rule), and complete the futures of finished requests. It sleeps while there is
 * nothing to do and exits after {@link #close()}, aborting whatever has not finished.
 *
 * <p>A failure is contained where it happens: a sampling error (non-finite logits, a processor that throws) fails that
 * request; a forward-pass error fails the requests of that step; only an error in the bookkeeping itself stops the
 * engine (every request then completes with an error). Futures are completed on this thread.
 */
final class EngineLoop implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(EngineLoop.class);
    private static final Object CLOSE = new Object();

    /** Abort one request (its future was cancelled). */
    private record Abort(RequestState state) {}

    /** Abort every live request with this id ({@link Engine#cancel}); {@code found} receives how many. */
    private record CancelId(String id, java.util.concurrent.CompletableFuture<Integer> found) {}

    private final Scheduler scheduler;
    private final Backend backend;
    private final Tokenizer tokenizer; // null when the model has none
    private final int vocabSize;
    private final int maxLogitRows;
    private final Semaphore permits;   // EngineConfig.maxQueuedRequests, released as requests complete
    private final RowPool rows;
    private final ForwardBatch batch;
    private final ForwardBatch part;   // a slice of batch, when it asks for more logit rows than the backend returns
    private final int[] slotOfPart;    // batch slot -> part slot, -1 when absent
    private final int[] sampled;       // [sample] token chosen
    private final int[] sampleOfRow;   // [logits row] sample index, -1 for a prompt-logprob row
    private final String[] rowError;   // [logits row] why processing it failed, else null
    private final ArrayList<RequestState> failedThisStep = new ArrayList<>();
    private final LinkedHashSet<RequestState> live = new LinkedHashSet<>();
    private final PriorityQueue<RequestState> deadlines =
            new PriorityQueue<>((a, b) -> Long.compare(a.deadlineNanos, b.deadlineNanos));
    private final LinkedBlockingQueue<Object> incoming = new LinkedBlockingQueue<>();
    private final AtomicInteger notAdmitted = new AtomicInteger();

    private final Object submitLock = new Object();
    private boolean accepting = true;  // guarded by submitLock
    private volatile String stoppedBecause;

    // statistics: written by the loop thread only, except the adders
    private volatile long steps, prefillTokens, decodeTokens, generatedTokens, cachedPromptTokens, preemptions;
    private volatile long prefillNanos, decodeNanos, promptTokens;
    private volatile int waitingNow, runningNow, kvFreeNow;
    final LongAdder done = new LongAdder(), failed = new LongAdder(), aborted = new LongAdder(), timedOut = new LongAdder();

    EngineLoop(Scheduler scheduler, Backend backend, Tokenizer tokenizer, int vocabSize, int maxLogitRows, int threads,
               Semaphore permits) {
        this.scheduler = scheduler;
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.maxLogitRows = maxLogitRows;
        this.permits = permits;
        this.rows = new RowPool(threads, vocabSize);
        this.batch = scheduler.config().newForwardBatch();
        this.part = scheduler.config().newForwardBatch();
        this.slotOfPart = new int[batch.maxSeqs];
        this.sampled = new int[batch.maxSeqs];
        this.sampleOfRow = new int[batch.maxTokens];
        this.rowError = new String[batch.maxTokens];
        Arrays.fill(sampleOfRow, -1);
        this.kvFreeNow = scheduler.kvCache().numFreeBlocks();
    }

    // ---- called from any thread ----

    /** Queues prepared requests for the loop, all or none; fails once the engine stopped accepting. */
    void offer(List<RequestState> states) {
        synchronized (submitLock) {
            if (!accepting) {
                throw new IllegalStateException("the engine is closed" + (stoppedBecause == null ? "" : " (" + stoppedBecause + ")")
                        + "; no request can be submitted");
            }
            // one element for the whole list: the loop admits all of it at once, so a batch's first step (and which
            // requests share a prefix computed in it) does not depend on how far the loop got while it was queued
            notAdmitted.addAndGet(states.size());
            incoming.add(List.copyOf(states));
        }
    }

    /** Asks the loop to abort {@code state} at its next step (its future was cancelled). */
    void abort(RequestState state) {
        incoming.add(new Abort(state));
    }

    /** Asks the loop to abort every live request with {@code id}; completes with how many it found. */
    java.util.concurrent.CompletableFuture<Integer> cancel(String id) {
        var found = new java.util.concurrent.CompletableFuture<Integer>();
        synchronized (submitLock) {
            if (!accepting) {
                found.complete(0);
                return found;
            }
            incoming.add(new CancelId(id, found));
        }
        return found;
    }

    /** Stops accepting; the loop aborts what is unfinished and exits. Idempotent. */
    void close() {
        synchronized (submitLock) {
            if (!accepting) return;
            accepting = false;
            incoming.add(CLOSE);
        }
    }

    boolean isAccepting() {
        synchronized (submitLock) {
            return accepting;
        }
    }

    Engine.Stats stats(String kernelPath, int numBlocks) {
        long prompt = promptTokens, cached = cachedPromptTokens;
        int free = kvFreeNow;
        return new Engine.Stats(steps, preemptions, prefillTokens, decodeTokens, generatedTokens, cached,
                prefillNanos / 1e9, decodeNanos / 1e9, done.sum(), failed.sum(), aborted.sum(), timedOut.sum(),
                notAdmitted.get() + waitingNow, runningNow, numBlocks - free, free, prompt,
                prompt == 0 ? 0 : (double) cached / prompt, kernelPath);
    }

    // ---- the loop thread ----

    @Override
    public void run() {
        String abortReason = "the engine was closed before the request finished";
        FinishReason abortAs = FinishReason.ABORT;
        try {
            boolean closing = false;
            while (!closing) {
                if (!scheduler.hasUnfinished()) {
                    Object first = incoming.take(); // nothing to compute: sleep until a request or close arrives
                    closing = admit(first);
                }
                closing |= drainIncoming();
                if (closing) break;
                expireDeadlines();
                snapshot();
                if (scheduler.hasUnfinished()) step();
            }
        } catch (InterruptedException e) {
            log.warn("engine loop interrupted; aborting unfinished requests");
            Thread.currentThread().interrupt();
        } catch (Throwable e) {
            log.error("engine loop failed; failing every unfinished request", e);
            abortReason = "the engine failed: " + e;
            abortAs = FinishReason.ERROR;
            stoppedBecause = abortReason;
        } finally {
            synchronized (submitLock) {
                accepting = false;
            }
            drainAll(abortAs, abortReason);
            rows.close();
        }
    }

    /** Takes every queued message; true when close was requested. */
    private boolean drainIncoming() {
        boolean closing = false;
        for (Object o = incoming.poll(); o != null; o = incoming.poll()) closing |= admit(o);
        return closing;
    }

    private boolean admit(Object o) {
        switch (o) {
            case List<?> states -> {
                for (Object st : states) admitOne((RequestState) st);
                return false;
            }
            case Abort(RequestState st) -> {
                end(st, FinishReason.ABORT, "request " + st.request.id() + " was cancelled");
                return false;
            }
            case CancelId(String id, var found) -> {
                int n = 0;
                for (RequestState st : new ArrayList<>(live)) {
                    if (st.request.id().equals(id) && !st.isCompleted()) {
                        end(st, FinishReason.ABORT, "request " + id + " was cancelled");
                        n++;
                    }
                }
                found.complete(n);
                return false;
            }
            default -> {
                if (o == CLOSE) return true;
                throw new IllegalStateException("unknown engine message " + o);
            }
        }
    }

    private void admitOne(RequestState st) {
        notAdmitted.decrementAndGet();
        if (st.isCompleted()) return;
        live.add(st);
        if (st.deadlineNanos != Long.MAX_VALUE) deadlines.add(st);
        if (st.future.isCancelled()) {
            end(st, FinishReason.ABORT, "request " + st.request.id() + " was cancelled");
            return;
        }
        if (!scheduler.add(st.seq)) complete(st, System.nanoTime()); // can never fit: finished with ERROR
    }

    /** Ends every request whose deadline passed with finish reason timeout. */
    private void expireDeadlines() {
        if (deadlines.isEmpty()) return;
        long now = System.nanoTime();
        while (!deadlines.isEmpty() && deadlines.peek().deadlineNanos - now <= 0) {
            RequestState st = deadlines.poll();
            if (!st.isCompleted()) {
                end(st, FinishReason.TIMEOUT, "request " + st.request.id() + " did not finish within its timeout of "
                        + st.request.timeout());
            }
        }
    }

    /** Takes a request out now (its blocks return to the pool; full prefix blocks stay cached) and completes it. */
    private void end(RequestState st, FinishReason reason, String message) {
        if (st.isCompleted()) return;
        st.abort(reason, message);
        if (st.seq.arrivalOrder() >= 0 && !st.seq.isFinished()) scheduler.finish(st.seq, reason, message);
        complete(st, System.nanoTime());
    }

    private void step() {
        SchedulerOutput out = scheduler.schedule(batch);
        if (out.isEmpty()) {
            throw new IllegalStateException("the scheduler planned nothing with " + scheduler.numWaiting() + " waiting and "
                    + scheduler.numRunning() + " running sequences");
        }
        long t0 = System.nanoTime();
        for (int slot = 0; slot < out.numSequences(); slot++) {
            RequestState st = state(out.sequence(slot));
            if (st.firstScheduledNanos == 0) {
                st.firstScheduledNanos = t0;
                promptTokens += st.seq.numPromptTokens();
            }
            st.ensurePromptLogprobs();
        }
        int numSamples = out.numSamples();
        for (int i = 0; i < numSamples; i++) {
            int row = out.sampleLogitRow(i);
            sampleOfRow[row] = i;
            batch.argmaxOnly[row] = state(out.sampleSequence(i)).wantsOnlyArgmax();
        }
        try {
            forward(out);
        } catch (RuntimeException e) {
            log.error("forward pass failed; failing the {} requests of this step", out.numSequences(), e);
            for (int slot = 0; slot < out.numSequences(); slot++) fail(state(out.sequence(slot)), "forward pass failed: " + e);
        }
        for (int i = 0; i < failedThisStep.size(); i++) {
            RequestState st = failedThisStep.get(i);
            scheduler.finish(st.seq, FinishReason.ERROR, st.failure());
        }
        scheduler.update(out, sampled); // asks each sampled request's stop rule (RequestState.afterToken)
        long t1 = System.nanoTime();
        // before any future completes, so a caller that saw its results also sees their step counted
        long dt = t1 - t0;
        long prefill = out.numPrefillTokens();
        long total = out.numTokens();
        long prefillPart = total == 0 ? 0 : dt * prefill / total; // a mixed step's time is split by tokens
        steps++;
        prefillTokens += prefill;
        decodeTokens += total - prefill;
        generatedTokens += numSamples;
        cachedPromptTokens += out.numCachedTokens();
        prefillNanos += prefillPart;
        decodeNanos += dt - prefillPart;
        preemptions = scheduler.numPreemptions();

        for (int i = 0; i < numSamples; i++) {
            sampleOfRow[out.sampleLogitRow(i)] = -1;
            Sequence seq = out.sampleSequence(i);
            RequestState st = state(seq);
            if (seq.isFinished()) complete(st, t1);
        }
        for (int i = 0; i < failedThisStep.size(); i++) complete(failedThisStep.get(i), t1);
        failedThisStep.clear();
        snapshot();
    }

    /** What {@link #stats} reports of the scheduler, which only this thread may read. */
    private void snapshot() {
        waitingNow = scheduler.numWaiting();
        runningNow = scheduler.numRunning();
        kvFreeNow = scheduler.kvCache().numFreeBlocks();
    }

    /**
     * Runs the batch; when it asks for more logit rows than the backend returns at once, in pages (the backend keeps
     * the hidden states) or else in slices.
     */
    private void forward(SchedulerOutput out) {
        int nLogits = batch.nLogits;
        if (nLogits <= maxLogitRows) {
            processRows(out, backend.forward(batch), 0, nLogits);
            return;
        }
        if (backend.pagesLogits()) { // the layers run once; the logits come a page at a time
            processRows(out, backend.forward(batch), 0, maxLogitRows);
            for (int r0 = maxLogitRows; r0 < nLogits; r0 += maxLogitRows) {
                processRows(out, backend.logitsPage(batch, r0), r0, Math.min(nLogits, r0 + maxLogitRows));
            }
            return;
        }
        // Slices run in order, so each sees the K/V the previous ones wrote: the result is the same as one call.
        int t0 = 0;
        int r0 = 0;
        while (t0 < batch.nTokens) {
            int r1 = Math.min(r0 + maxLogitRows, nLogits);
            int t1 = r1 == nLogits ? batch.nTokens : batch.logitRows[r1 - 1] + 1;
            slice(t0, t1, r0, r1);
            processRows(out, backend.forward(part), r0, r1);
            t0 = t1;
            r0 = r1;
        }
    }

    /** Fills {@code part} with tokens {@code [t0, t1)} of the batch and its logit rows {@code [r0, r1)}. */
    private void slice(int t0, int t1, int r0, int r1) {
        part.clear();
        Arrays.fill(slotOfPart, 0, batch.nSeqs, -1);
        for (int t = t0; t < t1; t++) {
            int s = batch.seqOfToken[t];
            int ps = slotOfPart[s];
            if (ps < 0) {
                ps = slotOfPart[s] = part.nSeqs++;
                int blocks = Math.ceilDiv(batch.contextLens[s], scheduler.config().blockSize());
                System.arraycopy(batch.blockTables[s], 0, part.blockTables[ps], 0, blocks);
            }
            part.contextLens[ps] = batch.positions[t] + 1; // only what this slice has computed so far
            part.addToken(ps, batch.tokens[t], batch.positions[t], false);
        }
        for (int r = r0; r < r1; r++) {
            part.argmaxOnly[part.nLogits] = batch.argmaxOnly[r];
            part.logitRows[part.nLogits++] = batch.logitRows[r] - t0;
        }
    }

    /**
     * Samples or scores logits rows {@code [r0, r1)} of the step, held in rows {@code 0..} of {@code logits}, in
     * parallel; failures are recorded per row and applied on this thread afterwards.
     */
    private void processRows(SchedulerOutput out, Logits logits, int r0, int r1) {
        float[] data = logits.data();
        rows.run(r1 - r0, (i, scratch) -> {
            int r = r0 + i;
            RequestState st = state(out.logitRowSequence(r));
            if (st.failure() != null) return;
            int s = sampleOfRow[r];
            try {
                int deviceArgmax = logits.argmax(i);
                if (s >= 0 && deviceArgmax >= 0) sampled[s] = deviceArgmax;
                else if (s >= 0) sampled[s] = st.sample(data, logits.offset(i), vocabSize, scratch);
                else st.promptLogprob(out.logitRowPosition(r), data, logits.offset(i), vocabSize, scratch);
            } catch (RuntimeException | AssertionError | LinkageError e) {
                rowError[r] = "request " + st.request.id() + ": " + (s >= 0 ? "sampling" : "scoring the prompt")
                        + " failed: " + (e.getMessage() == null ? e.toString() : e.getMessage());
                if (!(e instanceof dev.tokenmill.model.NonFiniteLogitsException)) {
                    log.warn("{}", rowError[r], e);
                }
            }
        });
        for (int r = r0; r < r1; r++) {
            if (rowError[r] != null) {
                fail(state(out.logitRowSequence(r)), rowError[r]);
                rowError[r] = null;
            }
        }
    }

    private void fail(RequestState st, String message) {
        if (st.failure() != null) return;
        st.fail(message);
        failedThisStep.add(st);
    }

    private void complete(RequestState st, long now) {
        if (st.isCompleted()) return;
        snapshot(); // a caller that saw its result sees the scheduler without it in the stats
        st.markCompleted();
        live.remove(st);
        if (st.deadlineNanos != Long.MAX_VALUE) deadlines.remove(st);
        Result result;
        try {
            result = st.toResult(tokenizer, now);
        } catch (RuntimeException e) {
            log.warn("building the result of request {} failed", st.request.id(), e);
            int[] generated = st.seq.generatedTokens();
            result = new Result(st.request.id(), "", generated, FinishReason.ERROR, st.seq.numPromptTokens(),
                    generated.length, st.seq.numCachedPromptTokens(), null, null, new Result.Timings(0, 0, 0),
                    "request " + st.request.id() + ": building the result failed: " + e);
        }
        switch (result.finishReason()) {
            case STOP, LENGTH -> done.increment();
            case ERROR -> failed.increment();
            case ABORT -> aborted.increment();
            case TIMEOUT -> timedOut.increment();
        }
        st.future.complete(result);
        // after the callbacks: a producer woken by this permit never sees more than maxQueuedRequests unfinished
        if (st.holdsPermit) {
            st.holdsPermit = false;
            permits.release();
        }
    }

    /** Finishes every request not yet complete, queued ones included, with {@code reason}. */
    private void drainAll(FinishReason reason, String message) {
        long now = System.nanoTime();
        for (Object o = incoming.poll(); o != null; o = incoming.poll()) {
            if (o instanceof List<?> states) {
                for (Object st : states) {
                    notAdmitted.decrementAndGet();
                    live.add((RequestState) st);
                }
            }
            if (o instanceof CancelId(String id, var found)) found.complete(0);
        }
        for (RequestState st : new ArrayList<>(live)) {
            if (!st.seq.isFinished()) {
                st.abort(reason, message);
                try {
                    if (st.seq.arrivalOrder() >= 0) scheduler.finish(st.seq, reason, message);
                } catch (RuntimeException e) {
                    log.debug("scheduler could not finish {} while stopping", st.request.id(), e);
                }
            }
            complete(st, now);
        }
    }

    private static RequestState state(Sequence seq) {
        return (RequestState) seq.attachment();
    }
}
