package dev.tokenmill.spark;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One {@link Engine} per executor JVM and (model fingerprint, engine configuration): opened by the first task that
 * needs it, shared by every task running in the JVM at the same time (so their rows are batched together), closed
 * when no task has used it for {@link TokenmillOptions#idleSeconds()} and when the JVM shuts down.
 */
public final class EngineHolder {
    private static final Logger log = LoggerFactory.getLogger(EngineHolder.class);
    private static final AtomicLong LOADS = new AtomicLong();
    private static final Map<Key, Slot> SLOTS = new HashMap<>();
    private static final ScheduledExecutorService IDLE = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("tokenmill-engine-idle").daemon().unstarted(r));

    static {
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("tokenmill-engine-shutdown").unstarted(EngineHolder::closeAll));
    }

    private record Key(String fingerprint, EngineConfig config) {}

    private static final class Slot {
        final Engine engine;
        int users;
        ScheduledFuture<?> idleClose;

        Slot(Engine engine) { this.engine = engine; }
    }

    /** A task's use of a shared engine; closing it hands the engine back (it stays open for other tasks). */
    public static final class Lease implements AutoCloseable {
        private final Key key;
        private final Engine engine;
        private final int idleSeconds;
        private boolean closed;

        private Lease(Key key, Engine engine, int idleSeconds) {
            this.key = key;
            this.engine = engine;
            this.idleSeconds = idleSeconds;
        }

        public Engine engine() { return engine; }

        public String fingerprint() { return key.fingerprint(); }

        @Override
        public void close() {
            synchronized (SLOTS) {
                if (closed) return;
                closed = true;
                release(key, idleSeconds);
            }
        }
    }

    private EngineHolder() {}

    /** Engines opened by this JVM so far. */
    public static long loads() {
        return LOADS.get();
    }

    /** Engines open in this JVM now. */
    public static int openEngines() {
        synchronized (SLOTS) {
            return SLOTS.size();
        }
    }

    /** Requests the open engines of this JVM aborted (cancelled by their tasks, or closed). */
    static long requestsAborted() {
        synchronized (SLOTS) {
            return SLOTS.values().stream().mapToLong(s -> s.engine.stats().requestsAborted()).sum();
        }
    }

    /** The shared engine for these options, opened on first use. */
    public static Lease acquire(TokenmillOptions o) throws IOException {
        Path local = ModelCache.localFile(o.model(), o.modelCacheDir(), hadoopConf());
        String fingerprint = ModelCache.fingerprint(local);
        EngineConfig config = o.engineConfig(defaultThreads());
        Key key = new Key(fingerprint, config);
        synchronized (SLOTS) {
            Slot slot = SLOTS.get(key);
            if (slot == null) {
                long t0 = System.nanoTime();
                // opening maps the model and allocates the KV cache; tasks asking for the same engine wait here
                slot = new Slot(Engine.open(local, config));
                SLOTS.put(key, slot);
                long n = LOADS.incrementAndGet();
                log.info("tokenmill: engine load #{} in executor {} (pid {}): model {} fingerprint {}, {} threads, {} seqs, {} MiB KV, {} ms",
                        n, executorId(), ProcessHandle.current().pid(), o.model(), fingerprint, config.threads(), config.maxSeqs(),
                        slot.engine.kvCacheBytes() >> 20, (System.nanoTime() - t0) / 1_000_000);
            }
            if (slot.idleClose != null) {
                slot.idleClose.cancel(false);
                slot.idleClose = null;
            }
            slot.users++;
            return new Lease(key, slot.engine, o.idleSeconds());
        }
    }

    private static void release(Key key, int idleSeconds) {
        Slot slot = SLOTS.get(key);
        if (slot == null || --slot.users > 0) return;
        slot.idleClose = IDLE.schedule(() -> closeIfIdle(key, slot), idleSeconds, TimeUnit.SECONDS);
    }

    private static void closeIfIdle(Key key, Slot slot) {
        synchronized (SLOTS) {
            if (slot.users > 0 || SLOTS.get(key) != slot) return;
            SLOTS.remove(key);
        }
        log.info("tokenmill: closing idle engine of model fingerprint {}", key.fingerprint());
        slot.engine.close();
    }

    /** Closes every engine (JVM shutdown; tests). */
    static void closeAll() {
        Map<Key, Slot> all;
        synchronized (SLOTS) {
            all = new HashMap<>(SLOTS);
            SLOTS.clear();
        }
        all.values().forEach(s -> s.engine.close());
    }

    /** Engine threads: the executor's cores when Spark says how many, else every core the JVM sees. */
    static int defaultThreads() {
        SparkEnv env = SparkEnv.get();
        int cores = Runtime.getRuntime().availableProcessors();
        if (env != null && env.conf().contains("spark.executor.cores") && !"driver".equals(env.executorId())) {
            return Math.max(1, env.conf().getInt("spark.executor.cores", cores));
        }
        return cores;
    }

    static String executorId() {
        SparkEnv env = SparkEnv.get();
        return env == null ? "none" : env.executorId();
    }

    private static Configuration hadoopConf() {
        SparkEnv env = SparkEnv.get();
        return env == null ? new Configuration() : SparkHadoopUtil.get().newConfiguration(env.conf());
    }
}
