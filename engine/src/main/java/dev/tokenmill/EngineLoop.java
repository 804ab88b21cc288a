package dev.tokenmill;

import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.sched.FinishReason;
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
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The one thread that owns the scheduler and the backend. Each step: take in new requests, plan a step
 * ({@link Scheduler#schedule}), run the forward pass, sample each sequence that is due a token, apply the step
 * ({@link Scheduler#update}), check stop strings, and complete the futures of finished requests. It sleeps while
 * there is nothing to do and exits after {@link #close()}, aborting whatever has not finished.
 *
 * <p>A failure is contained where it happens: a sampling error fails that request; a forward-pass error fails the
 * requests of that step; only an error in the bookkeeping itself stops the engine (every request then completes
 * with an error). Futures are completed on this thread.
 */
final class EngineLoop implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(EngineLoop.class);
    private static final Object CLOSE = new Object();

    private final Scheduler scheduler;
    private final Backend backend;
    private final Tokenizer tokenizer; // null when the model has none
    private final int vocabSize;
    private final int maxLogitRows;
    private final ForwardBatch batch;
    private final ForwardBatch part;   // a slice of batch, when it asks for more logit rows than the backend returns
    private final int[] slotOfPart;    // batch slot -> part slot, -1 when absent
    private final int[] sampled;       // [sample] token chosen
    private final int[] sampleOfRow;   // [logits row] sample index, -1 for a prompt-logprob row
    private final ArrayList<RequestState> failedThisStep = new ArrayList<>();
    private final LinkedHashSet<RequestState> live = new LinkedHashSet<>();
    private final LinkedBlockingQueue<Object> incoming = new LinkedBlockingQueue<>();

    private final Object submitLock = new Object();
    private boolean accepting = true;  // guarded by submitLock
    private volatile String stoppedBecause;

    // statistics: written by the loop thread only
    private volatile long steps, prefillTokens, decodeTokens, generatedTokens, cachedPromptTokens, preemptions;
    private volatile long prefillNanos, decodeNanos;

    EngineLoop(Scheduler scheduler, Backend backend, Tokenizer tokenizer, int vocabSize, int maxLogitRows) {
        this.scheduler = scheduler;
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.maxLogitRows = maxLogitRows;
        this.batch = scheduler.config().newForwardBatch();
        this.part = scheduler.config().newForwardBatch();
        this.slotOfPart = new int[batch.maxSeqs];
        this.sampled = new int[batch.maxSeqs];
        this.sampleOfRow = new int[batch.maxTokens];
        Arrays.fill(sampleOfRow, -1);
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
            incoming.add(List.copyOf(states));
        }
    }

    /** Stops accepting; the loop aborts what is unfinished and exits. Idempotent. */
    void close() {
        synchronized (submitLock) {
            if (!accepting) return;
            accepting = false;
            incoming.add(CLOSE);
        }
    }

    Engine.Stats stats() {
        return new Engine.Stats(steps, preemptions, prefillTokens, decodeTokens, generatedTokens, cachedPromptTokens,
                prefillNanos / 1e9, decodeNanos / 1e9);
    }

    // ---- the loop thread ----

    @Override
    public void run() {
        String abortReason = "the engine was closed before the request finished";
        FinishReason abortAs = FinishReason.ABORTED;
        try {
            boolean closing = false;
            while (!closing) {
                if (!scheduler.hasUnfinished()) {
                    Object first = incoming.take(); // nothing to compute: sleep until a request or close arrives
                    closing = admit(first);
                }
                closing |= drainIncoming();
                if (!closing && scheduler.hasUnfinished()) step();
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
        }
    }

    /** Takes every queued request; true when close was requested. */
    private boolean drainIncoming() {
        boolean closing = false;
        for (Object o = incoming.poll(); o != null; o = incoming.poll()) closing |= admit(o);
        return closing;
    }

    private boolean admit(Object o) {
        if (o == CLOSE) return true;
        if (o instanceof List<?> states) {
            for (Object st : states) admit(st);
            return false;
        }
        RequestState st = (RequestState) o;
        live.add(st);
        if (!scheduler.add(st.seq)) complete(st, System.nanoTime()); // can never fit: finished with ERROR
        return false;
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
            if (st.firstScheduledNanos == 0) st.firstScheduledNanos = t0;
        }
        int numSamples = out.numSamples();
        for (int i = 0; i < numSamples; i++) sampleOfRow[out.sampleLogitRow(i)] = i;
        // rows whose token is a plain argmax: a backend may return just that (a GPU then copies back no logits row)
        for (int r = 0; r < batch.nLogits; r++) {
            batch.argmaxOnly[r] = sampleOfRow[r] >= 0 && state(out.logitRowSequence(r)).wantsArgmaxOnly();
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
        scheduler.update(out, sampled);
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
            if (st.isCompleted() || st.failure() != null) continue;
            try {
                if (st.acceptGenerated(sampled[i], t1) && !seq.isFinished()) scheduler.finish(seq, FinishReason.STOP, null);
            } catch (RuntimeException e) {
                log.warn("stop-string check failed for request {}", st.request.id(), e);
                st.fail("request " + st.request.id() + ": decoding generated token " + sampled[i] + " failed: " + e);
                scheduler.finish(seq, FinishReason.ERROR, st.failure());
            }
            if (seq.isFinished()) complete(st, t1);
        }
        for (int i = 0; i < failedThisStep.size(); i++) complete(failedThisStep.get(i), t1);
        failedThisStep.clear();
    }

    /** Runs the batch, in slices when it asks for more logit rows than the backend returns at once. */
    private void forward(SchedulerOutput out) {
        int nLogits = batch.nLogits;
        if (nLogits <= maxLogitRows) {
            processRows(out, backend.forward(batch), 0, nLogits);
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

    /** Samples or scores logits rows {@code [r0, r1)} of the step, held in rows {@code 0..} of {@code logits}. */
    private void processRows(SchedulerOutput out, Logits logits, int r0, int r1) {
        float[] data = logits.data();
        for (int r = r0; r < r1; r++) {
            RequestState st = state(out.logitRowSequence(r));
            if (st.failure() != null) continue;
            int off = logits.offset(r - r0);
            try {
                int s = sampleOfRow[r];
                int argmax = logits.argmax(r - r0);
                if (s >= 0 && argmax >= 0) sampled[s] = argmax; // the backend answered an argmaxOnly row
                else if (s >= 0) sampled[s] = st.sample(data, off, vocabSize);
                else st.promptLogprob(out.logitRowPosition(r), data, off, vocabSize);
            } catch (RuntimeException e) {
                log.warn("sampling failed for request {}", st.request.id(), e);
                fail(st, "request " + st.request.id() + ": sampling failed: " + e);
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
        st.markCompleted();
        live.remove(st);
        Result result;
        try {
            result = st.toResult(tokenizer, now);
        } catch (RuntimeException e) {
            log.warn("building the result of request {} failed", st.request.id(), e);
            int[] generated = st.seq.generatedTokens();
            result = new Result(st.request.id(), "", generated, Result.FinishReason.ERROR, st.seq.numPromptTokens(),
                    generated.length, st.seq.numCachedPromptTokens(), null, null, new Result.Timings(0, 0, 0),
                    "request " + st.request.id() + ": building the result failed: " + e);
        }
        st.future.complete(result);
    }

    /** Finishes every request not yet complete, queued ones included, with {@code reason}. */
    private void drainAll(FinishReason reason, String message) {
        long now = System.nanoTime();
        for (Object o = incoming.poll(); o != null; o = incoming.poll()) {
            if (o instanceof RequestState st) live.add(st);
            if (o instanceof List<?> states) for (Object st : states) live.add((RequestState) st);
        }
        Result.FinishReason as = reason == FinishReason.ABORTED ? Result.FinishReason.ABORTED : Result.FinishReason.ERROR;
        for (RequestState st : new ArrayList<>(live)) {
            if (!st.seq.isFinished()) {
                st.abort(as, message);
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
