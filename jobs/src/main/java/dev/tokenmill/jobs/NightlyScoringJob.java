package dev.tokenmill.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmill.spark.Tokenmill;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.security.MessageDigest;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sha2;

/**
 * The nightly job: one config (YAML or JSON) names the model, input, prompt, task and output table; a run writes the
 * {@code dt=YYYY-MM-DD} partition of its run date, replacing exactly that partition when the date is run again
 * (Spark's dynamic partition overwrite). Incremental runs compute only the rows whose hash of (key, rendered prompt,
 * model fingerprint, parameters) is not in the latest earlier partition, and carry the rest over from it.
 */
@Command(name = "nightly", mixinStandardHelpOptions = true, description = "Nightly generate / classify / score into a dt partition.")
public final class NightlyScoringJob implements Callable<Integer> {
    static final String HASH = "input_hash";

    @Option(names = "--config", required = true, description = "YAML or JSON config (any Hadoop FileSystem path)") String config;
    @Option(names = "--date", description = "run date YYYY-MM-DD (default: today, UTC)") String date;

    private final PrintStream out;
    /** Rows computed, carried over from the previous partition, and failed, in the last run. */
    long computed, carried, failed;

    public NightlyScoringJob() {
        this(System.out);
    }

    NightlyScoringJob(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(BatchGenerateJob.command(new NightlyScoringJob(System.out)).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        SparkSession spark = JobSpark.session("tokenmill nightly");
        NightlyConfig cfg = NightlyConfig.read(config, spark.sparkContext().hadoopConfiguration());
        String dt = date != null ? LocalDate.parse(date).toString() : LocalDate.now(ZoneOffset.UTC).toString();
        return run(spark, cfg, dt);
    }

    int run(SparkSession spark, NightlyConfig cfg, String dt) throws IOException {
        long t0 = System.nanoTime();
        Map<String, String> opts = cfg.connectorOptions();
        NightlyConfig.Input in = cfg.input();
        Dataset<Row> rows = new JobInput(in.path(), in.format(), in.table(), in.options()).read(spark);
        if (!Arrays.asList(rows.columns()).contains(cfg.key())) throw new JobException("config key 'key': the input has no column '" + cfg.key() + "'");
        Column prompt = PartitionPlan.renderedPrompt(opts);
        // what a row's result depends on: its key and prompt, the model's bytes, and every parameter of the task
        String params = new ObjectMapper().writeValueAsString(new TreeMap<>(Map.of(
                "task", cfg.task(), "labels", String.join("\u0001", cfg.labels()),
                "candidatesColumn", String.valueOf(cfg.candidatesColumn()), "options", new TreeMap<>(cfg.options()).toString(),
                "model", modelFingerprint(spark, cfg.model()))));
        Column candidates = cfg.candidatesColumn() != null ? col(cfg.candidatesColumn()).cast("string") : lit("");
        rows = rows.withColumn("prompt_text", prompt)
                .withColumn(HASH, sha2(concat_ws("\u0001", col(cfg.key()).cast("string"), col("prompt_text"), candidates, lit(params)), 256));

        Dataset<Row> previous = cfg.incremental() ? previousPartition(spark, cfg.output(), dt) : null;
        Dataset<Row> todo = rows, kept = null;
        if (previous != null) {
            Dataset<Row> prevHashes = previous.select(col(HASH)).distinct();
            todo = rows.join(prevHashes, rows.col(HASH).equalTo(prevHashes.col(HASH)), "left_anti");
            Dataset<Row> current = rows.select(col(HASH).as("_cur_hash")).distinct();
            kept = previous.join(current, previous.col(HASH).equalTo(current.col("_cur_hash")), "left_semi");
        }
        Dataset<Row> computedRows = compute(todo, cfg, opts).persist();
        computed = computedRows.count();
        failed = computedRows.filter(errorColumn(cfg).isNotNull()).count();
        Dataset<Row> result = computedRows;
        if (kept != null) {
            kept = kept.persist();
            carried = kept.count();
            result = computedRows.unionByName(kept.select(Arrays.stream(computedRows.columns()).map(c -> col(c)).toArray(Column[]::new)));
        } else {
            carried = 0;
        }
        result.withColumn("dt", lit(dt)).write().mode("overwrite").option("partitionOverwriteMode", "dynamic")
                .partitionBy("dt").parquet(cfg.output());
        computedRows.unpersist();
        if (kept != null) kept.unpersist();
        out.printf("tokenmill nightly: %s task %s, dt=%s: %,d rows computed, %,d carried over, %,d failed, %.1f s -> %s%n",
                cfg.model(), cfg.task(), dt, computed, carried, failed, (System.nanoTime() - t0) / 1e9, cfg.output());
        return 0;
    }

    private static Column errorColumn(NightlyConfig cfg) {
        return cfg.task().equals("generate") ? col("result.error") : col("error");
    }

    private static Dataset<Row> compute(Dataset<Row> todo, NightlyConfig cfg, Map<String, String> opts) {
        if (cfg.task().equals("generate")) return Tokenmill.generate(todo, opts);
        ContinuationScorer.Mode mode = cfg.task().equals("classify") ? ContinuationScorer.Mode.CLASSIFY
                : cfg.candidatesColumn() != null ? ContinuationScorer.Mode.SCORE_CANDIDATES : ContinuationScorer.Mode.SCORE_TEXT;
        StructType schema = todo.schema();
        int promptIndex = schema.fieldIndex("prompt_text");
        int candidatesIndex = cfg.candidatesColumn() != null ? schema.fieldIndex(cfg.candidatesColumn()) : -1;
        var f = new ContinuationScorer(opts, mode, cfg.labels(), promptIndex, candidatesIndex);
        return todo.mapPartitions(f, Encoders.row(ContinuationScorer.outputSchema(schema, mode)));
    }

    /** The latest {@code dt=} partition before {@code dt} (a rerun of an older date carries over from the one before it). */
    static Dataset<Row> previousPartition(SparkSession spark, String output, String dt) throws IOException {
        Path root = new Path(output);
        FileSystem fs = root.getFileSystem(spark.sparkContext().hadoopConfiguration());
        if (!fs.exists(root)) return null;
        String best = null;
        for (FileStatus st : fs.listStatus(root)) {
            String name = st.getPath().getName();
            if (st.isDirectory() && name.startsWith("dt=") && name.substring(3).compareTo(dt) < 0 && (best == null || name.compareTo(best) > 0)) {
                best = name;
            }
        }
        return best == null ? null : spark.read().parquet(new Path(root, best).toString());
    }

    /** The model's identity for the hash: SHA-256 of its length and of its first and last MiB (any Hadoop path). */
    static String modelFingerprint(SparkSession spark, String model) throws IOException {
        Path p = new Path(model);
        FileSystem fs = p.getFileSystem(spark.sparkContext().hadoopConfiguration());
        long len = fs.getFileStatus(p).getLen();
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Long.toString(len).getBytes());
            try (var in = fs.open(p)) {
                md.update(in.readNBytes(1 << 20));
                long tail = Math.max(0, len - (1 << 20));
                in.seek(tail);
                md.update(in.readNBytes(1 << 20));
            }
            return HexFormat.of().formatHex(md.digest(), 0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
