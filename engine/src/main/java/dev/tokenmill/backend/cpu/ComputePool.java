package dev.tokenmill.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of compute threads for the many small parallel loops of one forward pass (one matmul, one attention
 * per step of a layer). A loop {@code [0, n)} is cut into a few contiguous chunks per thread; the calling thread and
 * the workers claim chunks from one atomic cursor until none are left, so a worker that the OS has not scheduled
 * yet costs nothing: the others take its share. A dispatch is a few volatile writes and an unpark per worker, and
 * allocates nothing. Workers spin briefly before parking so back-to-back ops do not pay a wake-up each.
 * Which thread runs a chunk never changes the result (every output element is computed by one thread alone).
 * One caller at a time (the engine loop).
 */
final class ComputePool implements AutoCloseable {

    /** The body of a parallel loop: runs indices {@code [from, to)} on thread number {@code worker} (0 = caller). */
    interface RangeTask {
        void run(int from, int to, int worker);
    }

    private static final int CHUNKS_PER_THREAD = 4;
    private static final int SPIN_ITERATIONS = 20_000;

    private final int threads;
    private final Thread[] workers;
    /** (generation << 32) | chunks not yet claimed; a claim decrements it and runs chunk (remaining - 1). */
    private final AtomicLong cursor = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    // written by the caller before the volatile write of generation, read by workers after reading it
    private RangeTask task;
    private int n;
    private int chunks;
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

    /** Runs {@code task} over {@code [0, n)}; returns when every chunk is done, rethrowing a chunk's failure. */
    void parallelFor(int n, RangeTask task) {
        if (n <= 0) return;
        if (threads == 1 || n == 1) {
            task.run(0, n, 0);
            return;
        }
        int chunks = Math.min(n, threads * CHUNKS_PER_THREAD);
        this.task = task;
        this.n = n;
        this.chunks = chunks;
        done.set(0);
        int g = generation + 1;
        cursor.set(((long) g << 32) | chunks);
        generation = g; // publishes task, n, chunks
        for (Thread w : workers) LockSupport.unpark(w);
        claimAndRun(g, task, n, chunks, 0);
        int spins = 0;
        while (done.get() != chunks) {
            // only chunks that a running worker has claimed are left: short, unless that worker lost its CPU
            if (spins++ < SPIN_ITERATIONS) Thread.onSpinWait();
            else Thread.yield();
        }
        this.task = null;
        Throwable f = failure;
        failure = null;
        if (f instanceof RuntimeException re) throw re;
        if (f instanceof Error e) throw e;
        if (f != null) throw new IllegalStateException("compute task failed", f);
    }

    private void claimAndRun(int g, RangeTask task, int n, int chunks, int worker) {
        while (true) {
            long c = cursor.get();
            int remaining = (int) c;
            if ((int) (c >>> 32) != g || remaining == 0) return;
            if (!cursor.compareAndSet(c, c - 1)) continue;
            int i = remaining - 1;
            try {
                task.run((int) ((long) n * i / chunks), (int) ((long) n * (i + 1) / chunks), worker);
            } catch (Throwable t) {
                failure = t;
            }
            done.incrementAndGet();
        }
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
            // a successful claim proves generation g is unfinished, so these fields are still g's
            claimAndRun(g, task, n, chunks, worker);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
