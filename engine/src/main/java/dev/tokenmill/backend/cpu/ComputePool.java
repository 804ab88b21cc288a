package dev.tokenmill.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of compute threads that splits one loop {@code [0, n)} into contiguous chunks, one per thread; the
 * calling thread runs chunk 0 and waits for the rest. Built for many small ops per step (one matmul, one attention
 * per layer): a dispatch is one volatile write and an unpark per worker, and no object is allocated per call.
 * Workers spin briefly before parking so that back-to-back ops of one forward pass do not pay a park/unpark each.
 * One caller at a time (the engine loop).
 */
final class ComputePool implements AutoCloseable {

    /** The body of a parallel loop: runs indices {@code [from, to)} on thread number {@code worker}. */
    interface RangeTask {
        void run(int from, int to, int worker);
    }

    private static final int SPIN_ITERATIONS = 20_000;

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Thread caller;
    // published by the volatile write of generation
    private RangeTask task;
    private int n;
    private volatile Throwable failure;

    ComputePool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("compute threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int worker = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("tokenmill-compute-" + worker).unstarted(() -> workLoop(worker));
            workers[i].start();
        }
    }

    int threads() { return threads; }

    /** Runs {@code task} over {@code [0, n)}; returns when every chunk is done, rethrowing a worker's failure. */
    void parallelFor(int n, RangeTask task) {
        if (n <= 0) return;
        if (threads == 1 || n == 1) {
            task.run(0, n, 0);
            return;
        }
        this.task = task;
        this.n = n;
        this.caller = Thread.currentThread();
        pending.set(workers.length);
        generation++; // publishes task and n
        for (Thread w : workers) LockSupport.unpark(w);
        Throwable mine = null;
        try {
            runChunk(0);
        } catch (Throwable t) {
            mine = t;
        }
        int spins = 0;
        while (pending.get() != 0) {
            if (spins++ < SPIN_ITERATIONS) Thread.onSpinWait();
            else LockSupport.park(this);
        }
        this.task = null;
        Throwable f = failure;
        failure = null;
        if (mine == null) mine = f;
        if (mine instanceof RuntimeException re) throw re;
        if (mine instanceof Error e) throw e;
        if (mine != null) throw new IllegalStateException("compute task failed", mine);
    }

    private void runChunk(int worker) {
        int from = (int) ((long) n * worker / threads);
        int to = (int) ((long) n * (worker + 1) / threads);
        if (from < to) task.run(from, to, worker);
    }

    private void workLoop(int worker) {
        int seen = 0;
        while (true) {
            int spins = 0;
            int g;
            while ((g = generation) == seen) {
                if (closed) return;
                if (spins++ < SPIN_ITERATIONS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            seen = g;
            try {
                runChunk(worker);
            } catch (Throwable t) {
                failure = t;
            }
            if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
