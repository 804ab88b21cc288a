package dev.tokenmill.spark;

import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Progress of one Spark job: rows done and failed, prompt and generated tokens, summed into named accumulators
 * (visible in the Spark UI on the stage page), and the per-executor totals that a daemon thread logs every
 * {@link #LOG_PERIOD_SECONDS} seconds while they move.
 */
public final class TokenmillMetrics implements Serializable {
    private static final Logger log = LoggerFactory.getLogger(TokenmillMetrics.class);
    static final int LOG_PERIOD_SECONDS = 30;

    private final LongAccumulator rowsOk;
    private final LongAccumulator rowsFailed;
    private final LongAccumulator promptTokens;
    private final LongAccumulator generatedTokens;

    private TokenmillMetrics(SparkContext sc) {
        rowsOk = sc.longAccumulator("tokenmill rows ok");
        rowsFailed = sc.longAccumulator("tokenmill rows failed");
        promptTokens = sc.longAccumulator("tokenmill prompt tokens");
        generatedTokens = sc.longAccumulator("tokenmill generated tokens");
    }

    /** New accumulators registered with the driver's context. */
    public static TokenmillMetrics register(SparkContext sc) {
        return new TokenmillMetrics(sc);
    }

    void add(RowResult r) {
        (r.failed() ? rowsFailed : rowsOk).add(1);
        promptTokens.add(r.promptTokens());
        generatedTokens.add(r.completionTokens());
        Executor.add(r);
    }

    public long rowsOk() { return rowsOk.value(); }

    public long rowsFailed() { return rowsFailed.value(); }

    public long promptTokens() { return promptTokens.value(); }

    public long generatedTokens() { return generatedTokens.value(); }

    /** This JVM's totals over all jobs, logged periodically. */
    static final class Executor {
        static final AtomicLong ROWS_OK = new AtomicLong();
        static final AtomicLong ROWS_FAILED = new AtomicLong();
        static final AtomicLong PROMPT_TOKENS = new AtomicLong();
        static final AtomicLong GENERATED_TOKENS = new AtomicLong();
        private static final long START = System.nanoTime();
        private static volatile boolean started;
        private static long lastGenerated;
        private static long lastNanos = START;

        private Executor() {}

        static void add(RowResult r) {
            (r.failed() ? ROWS_FAILED : ROWS_OK).incrementAndGet();
            PROMPT_TOKENS.addAndGet(r.promptTokens());
            GENERATED_TOKENS.addAndGet(r.completionTokens());
            if (!started) start();
        }

        private static synchronized void start() {
            if (started) return;
            started = true;
            ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(
                    run -> Thread.ofPlatform().name("tokenmill-progress").daemon().unstarted(run));
            s.scheduleAtFixedRate(Executor::logProgress, LOG_PERIOD_SECONDS, LOG_PERIOD_SECONDS, TimeUnit.SECONDS);
        }

        private static synchronized void logProgress() {
            long gen = GENERATED_TOKENS.get();
            long now = System.nanoTime();
            if (gen == lastGenerated) return;
            double tps = (gen - lastGenerated) / ((now - lastNanos) / 1e9);
            lastGenerated = gen;
            lastNanos = now;
            log.info("tokenmill progress in executor {}: {} rows ok, {} failed, {} prompt tokens, {} generated tokens, {} generated tok/s",
                    EngineHolder.executorId(), ROWS_OK.get(), ROWS_FAILED.get(), PROMPT_TOKENS.get(), gen, String.format("%.1f", tps));
        }
    }
}
