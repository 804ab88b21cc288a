package dev.tokenmill.jobs;

import org.apache.spark.Success$;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

import java.io.PrintStream;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The job's totals, summed on the driver from the connector's named accumulators ({@code tokenmill rows ok}, ...)
 * of successful tasks, and a progress line (rows, tokens/s, ETA) printed every few seconds while rows move.
 */
final class JobProgress extends SparkListener implements AutoCloseable {
    final AtomicLong rowsOk = new AtomicLong(), rowsFailed = new AtomicLong(), promptTokens = new AtomicLong(), generatedTokens = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private final long expectedRows;
    private final PrintStream out;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("tokenmill-progress").daemon().unstarted(r));
    private long lastPrinted = -1;

    JobProgress(long expectedRows, int periodSeconds, PrintStream out) {
        this.expectedRows = expectedRows;
        this.out = out;
        if (periodSeconds > 0) timer.scheduleAtFixedRate(this::print, periodSeconds, periodSeconds, TimeUnit.SECONDS);
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.reason() != Success$.MODULE$) return;   // failed and killed attempts are retried; count the winner once
        scala.collection.Iterator<AccumulableInfo> it = end.taskInfo().accumulables().iterator();
        while (it.hasNext()) {
            AccumulableInfo a = it.next();
            if (a.name().isEmpty() || a.update().isEmpty()) continue;
            long v = ((Number) a.update().get()).longValue();
            switch (a.name().get()) {
                case "tokenmill rows ok" -> rowsOk.addAndGet(v);
                case "tokenmill rows failed" -> rowsFailed.addAndGet(v);
                case "tokenmill prompt tokens" -> promptTokens.addAndGet(v);
                case "tokenmill generated tokens" -> generatedTokens.addAndGet(v);
                default -> { }
            }
        }
    }

    long rows() { return rowsOk.get() + rowsFailed.get(); }

    double seconds() { return (System.nanoTime() - startNanos) / 1e9; }

    double tokensPerSecond() { return (promptTokens.get() + generatedTokens.get()) / Math.max(1e-9, seconds()); }

    private synchronized void print() {
        long rows = rows();
        if (rows == lastPrinted) return;
        lastPrinted = rows;
        double s = seconds();
        String eta = rows == 0 ? "?" : duration((expectedRows - rows) * s / rows);
        out.printf("tokenmill: %,d / %,d rows (%.0f%%), %,.0f tok/s, %s elapsed, ETA %s%n",
                rows, expectedRows, 100.0 * rows / Math.max(1, expectedRows), tokensPerSecond(), duration(s), eta);
    }

    static String duration(double seconds) {
        long s = Math.round(Math.max(0, seconds));
        return s >= 3600 ? String.format("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
