package dev.tokenmill.spark;

import dev.tokenmill.Engine;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import org.apache.spark.TaskContext;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The rows of one task on their way through the shared engine: each offered row becomes a request at once (or an
 * error result when it cannot be one), at most {@code maxInFlight} are outstanding, and they are taken back in
 * input order. Memory is bounded by the window whatever the partition's size. While it waits, the task checks
 * whether Spark killed it; a killed or failed task cancels its outstanding requests in the engine.
 *
 * @param <I> the input row type (kept, as given, beside its result)
 */
final class InferenceWindow<I> implements AutoCloseable {
    /** Requests this JVM cancelled because their task ended early (killed, failed, lost a speculation race). */
    static final AtomicLong CANCELLED = new AtomicLong();
    /** Requests this JVM handed to an engine. */
    static final AtomicLong SUBMITTED = new AtomicLong();
    private static final long POLL_MILLIS = 100;

    /** A row and its result. */
    record Completed<I>(I input, RowResult result) {}

    /** How a row becomes a request: {@link PromptPlan#request} for the DataFrame operator, one per call for SQL. */
    interface Requests {
        Request request(String id, RowValues row);
    }

    private record Pending<I>(I input, CompletableFuture<Result> future, RowResult immediate, long startNanos) {}

    private final Engine engine;
    private final String modelFingerprint;
    private final Requests requests;
    private final Function<I, RowValues> values;
    private final int maxInFlight;
    private final String idPrefix;
    private final TokenmillMetrics metrics;
    private final ArrayDeque<Pending<I>> window = new ArrayDeque<>();
    private long rows;

    InferenceWindow(Engine engine, String modelFingerprint, PromptPlan plan, Function<I, RowValues> values, String idPrefix,
                    TokenmillMetrics metrics) {
        this(engine, modelFingerprint, plan::request, plan.options().maxInFlight(), values, idPrefix, metrics);
    }

    InferenceWindow(Engine engine, String modelFingerprint, Requests requests, int maxInFlight, Function<I, RowValues> values,
                    String idPrefix, TokenmillMetrics metrics) {
        this.engine = engine;
        this.modelFingerprint = modelFingerprint;
        this.requests = requests;
        this.values = values;
        this.maxInFlight = maxInFlight;
        this.idPrefix = idPrefix;
        this.metrics = metrics;
    }

    String modelFingerprint() {
        return modelFingerprint;
    }

    boolean isFull() {
        return window.size() >= maxInFlight;
    }

    boolean isEmpty() {
        return window.isEmpty();
    }

    /** Submits one row; the caller keeps the window bounded by taking the head back when {@link #isFull()}. */
    void offer(I input) {
        long index = rows++;
        String id = idPrefix + index;
        Request request;
        try {
            request = requests.request(id, values.apply(input));
        } catch (RuntimeException e) { // a bad row fails alone; the task goes on
            window.add(new Pending<>(input, null, RowResult.failed("row " + index + " (request " + id + "): " + e.getMessage()), 0));
            return;
        }
        window.add(new Pending<>(input, EngineCalls.submit(engine, request), null, System.nanoTime()));
        SUBMITTED.incrementAndGet();
    }

    /** The oldest row with its result; waits for the engine. */
    Completed<I> take() {
        Pending<I> p = window.poll();
        if (p == null) throw new NoSuchElementException("no row in flight");
        RowResult r = p.immediate() != null ? p.immediate() : await(p);
        if (metrics != null) metrics.add(r);
        return new Completed<>(p.input(), r);
    }

    private RowResult await(Pending<I> p) {
        TaskContext task = TaskContext.get();
        while (true) {
            try {
                Result r = p.future().get(POLL_MILLIS, TimeUnit.MILLISECONDS);
                return RowResult.of(r, (System.nanoTime() - p.startNanos()) / 1_000_000);
            } catch (TimeoutException e) {
                if (task != null && task.isInterrupted()) {
                    p.future().cancel(true);
                    close();
                    task.killTaskIfInterrupted();
                }
            } catch (InterruptedException e) {
                p.future().cancel(true);
                close();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("tokenmill: task interrupted while waiting for the engine", e);
            } catch (CancellationException e) {
                return RowResult.failed("request cancelled");
            } catch (ExecutionException e) {
                return RowResult.failed("engine failure: " + e.getCause());
            }
        }
    }

    /** Cancels every outstanding request (the task is ending early); idempotent. */
    @Override
    public void close() {
        for (Pending<I> p; (p = window.poll()) != null; ) {
            if (p.future() != null && !p.future().isDone()) {
                EngineCalls.cancel(p.future());
                CANCELLED.incrementAndGet();
            }
        }
    }

    /** Pulls rows through the window: the {@code mapPartitions} form. */
    static <I> Iterator<Completed<I>> iterate(Iterator<I> input, InferenceWindow<I> w, java.util.function.UnaryOperator<I> retain) {
        return new Iterator<>() {
            private void fill() {
                while (!w.isFull() && input.hasNext()) w.offer(retain.apply(input.next()));
            }

            @Override
            public boolean hasNext() {
                fill();
                return !w.isEmpty();
            }

            @Override
            public Completed<I> next() {
                fill();
                return w.take();
            }
        };
    }
}
