package dev.tokenmill;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The engine's sampling threads: the logits rows of one step (sampling, penalties, processors, logprobs, prompt
 * logprobs) are processed in parallel while the backend is idle. Rows are claimed one at a time from a shared
 * counter by the calling thread (the engine loop) and {@code threads - 1} helpers; each participant has its own
 * {@link RequestState.Scratch}. A row's result never depends on which thread ran it.
 */
final class RowPool implements AutoCloseable {
    /** Work on one logits row, with the running thread's scratch. */
    @FunctionalInterface
    interface RowTask {
        void run(int row, RequestState.Scratch scratch);
    }

    private final int threads;
    private final int vocab;
    private final RequestState.Scratch[] scratch;
    private final java.util.concurrent.ExecutorService helpers;

    RowPool(int threads, int vocab) {
        this.threads = Math.max(1, threads);
        this.vocab = vocab;
        this.scratch = new RequestState.Scratch[this.threads];
        this.helpers = this.threads == 1 ? null : java.util.concurrent.Executors.newFixedThreadPool(this.threads - 1,
                Thread.ofPlatform().name("tokenmill-sampling-", 0).daemon().factory());
    }

    /** Runs {@code task} for rows {@code [0, n)}; returns when all are done. A task must not throw. */
    void run(int n, RowTask task) {
        if (n <= 0) return;
        int parts = Math.min(threads, n);
        if (parts == 1) {
            RequestState.Scratch s = scratch(0);
            for (int r = 0; r < n; r++) task.run(r, s);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(parts - 1);
        for (int p = 1; p < parts; p++) {
            int worker = p;
            helpers.execute(() -> {
                try {
                    claim(n, next, task, scratch(worker));
                } finally {
                    done.countDown();
                }
            });
        }
        claim(n, next, task, scratch(0));
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private static void claim(int n, AtomicInteger next, RowTask task, RequestState.Scratch s) {
        for (int r = next.getAndIncrement(); r < n; r = next.getAndIncrement()) task.run(r, s);
    }

    private RequestState.Scratch scratch(int worker) {
        RequestState.Scratch s = scratch[worker];
        if (s == null) s = scratch[worker] = new RequestState.Scratch(vocab); // each worker writes only its own slot
        return s;
    }

    @Override
    public void close() {
        if (helpers != null) helpers.shutdownNow();
    }
}
