package dev.tokenmill.jobs;

import dev.tokenmill.Request;
import dev.tokenmill.Result;
import dev.tokenmill.spark.EngineHolder;
import dev.tokenmill.spark.TokenmillOptions;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import static org.apache.spark.sql.functions.col;

/**
 * Batch generation as a spark-submit main class: read an input, generate with the connector, write Parquet or Arrow
 * in committed waves, resume a killed run, print progress and a summary. {@code ./tokenmill run-job ...} runs it on
 * local Spark. Exit status: 0 done; 1 the job failed; 2 failed rows above {@code --max-error-rate}; 64 bad arguments.
 */
@Command(name = "run-job", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Batch generation over a table or files on Spark (connector options keep their names).")
public final class BatchGenerateJob implements Callable<Integer> {
    static final int EXIT_FAILED = 1, EXIT_ERROR_RATE = 2, EXIT_USAGE = 64;

    @Option(names = "--input", description = "input path (any Hadoop FileSystem URI)") String input;
    @Option(names = "--input-format", description = "parquet, json, csv or text (default: from the extension, else parquet)") String inputFormat;
    @Option(names = "--table", description = "a catalog table instead of --input") String table;
    @Option(names = "--read-option", description = "reader option of Spark's file source, e.g. header=true") Map<String, String> readOptions = new LinkedHashMap<>();
    @Option(names = "--id-column", defaultValue = "id", description = "row id (default ${DEFAULT-VALUE}); when the input lacks it, a hash of the row's columns") String idColumn;
    @Option(names = "--output", required = true, description = "output path") String output;
    @Option(names = "--outputFormat", defaultValue = "parquet", description = "parquet or arrow (default ${DEFAULT-VALUE})") String outputFormat;

    @Option(names = "--model", required = true, description = "GGUF file: a local path or any Hadoop URI") String model;
    @Option(names = "--promptColumn") String promptColumn;
    @Option(names = "--template", description = "prompt text with {column} placeholders") String template;
    @Option(names = "--messagesColumn") String messagesColumn;
    @Option(names = "--systemPrompt") String systemPrompt;
    @Option(names = "--maxTokens") Integer maxTokens;
    @Option(names = "--temperature") Float temperature;
    @Option(names = "--topP") Float topP;
    @Option(names = "--topK") Integer topK;
    @Option(names = "--minP") Float minP;
    @Option(names = "--seed") Long seed;
    @Option(names = "--stop", description = "a stop string, or a JSON array of them") String stop;
    @Option(names = "--option", description = "any other connector option, e.g. threads=2 maxSeqs=32") Map<String, String> options = new LinkedHashMap<>();

    @Option(names = "--partitions", description = "partitions per wave (default: 2 x Spark's default parallelism)") Integer partitions;
    @Option(names = "--commit-rows", defaultValue = "5000", description = "rows per committed wave (default ${DEFAULT-VALUE})") long commitRows;
    @Option(names = "--resume", description = "skip rows whose id already has a committed result in the output") boolean resume;
    @Option(names = "--overwrite", description = "replace an existing output") boolean overwrite;
    @Option(names = "--limit", description = "only the first N rows (by id)") Long limit;
    @Option(names = "--dry-run", description = "tokenize a sample, estimate total tokens and time, print, exit") boolean dryRun;
    @Option(names = "--max-error-rate", defaultValue = "0.1", description = "exit 2 when failed rows / rows exceed this (default ${DEFAULT-VALUE})") double maxErrorRate;
    @Option(names = "--progress-seconds", defaultValue = "10", description = "seconds between progress lines; 0: none") int progressSeconds;

    private final PrintStream out;
    Summary summary;

    public BatchGenerateJob() {
        this(System.out);
    }

    BatchGenerateJob(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out));
    }

    /** Parses, runs and returns the exit status (also for tests and the demo, which run it in their own JVM). */
    static int run(String[] args, PrintStream out) {
        BatchGenerateJob job = new BatchGenerateJob(out);
        return command(job).execute(args);
    }

    static CommandLine command(Object job) {
        return new CommandLine(job)
                .setExecutionExceptionHandler((e, cl, parsed) -> {
                    Throwable root = e;
                    while (root.getCause() != null && !(root instanceof JobException)) root = root.getCause();
                    cl.getErr().println("tokenmill: job failed: " + (root instanceof JobException ? root.getMessage() : e.toString()));
                    return EXIT_FAILED;
                })
                .setParameterExceptionHandler((e, args) -> {
                    e.getCommandLine().getErr().println("tokenmill: " + e.getMessage());
                    return EXIT_USAGE;
                });
    }

    /** The connector options of this run. */
    Map<String, String> connectorOptions() {
        Map<String, String> o = new LinkedHashMap<>(options);
        o.put("model", model);
        putIf(o, "promptColumn", promptColumn);
        putIf(o, "template", template);
        putIf(o, "messagesColumn", messagesColumn);
        putIf(o, "systemPrompt", systemPrompt);
        putIf(o, "maxTokens", maxTokens);
        putIf(o, "temperature", temperature);
        putIf(o, "topP", topP);
        putIf(o, "topK", topK);
        putIf(o, "minP", minP);
        putIf(o, "seed", seed);
        putIf(o, "stop", stop);
        o.put("outputFormat", outputFormat);
        return o;
    }

    private static void putIf(Map<String, String> o, String key, Object v) {
        if (v != null) o.put(key, v.toString());
    }

    @Override
    public Integer call() throws Exception {
        if (!outputFormat.equals("parquet") && !outputFormat.equals("arrow")) {
            throw new JobException("--outputFormat: expected parquet or arrow, found '" + outputFormat + "'");
        }
        Map<String, String> opts = connectorOptions();
        TokenmillOptions.parse(opts);   // fails now, naming the option, rather than in the first task
        SparkSession spark = JobSpark.session("tokenmill batch generate");
        long t0 = System.nanoTime();
        Dataset<Row> rows = JobInput.withId(new JobInput(input, inputFormat, table, readOptions).read(spark), idColumn);
        if (limit != null) rows = rows.orderBy(col(idColumn)).limit(Math.toIntExact(limit));
        if (dryRun) return dryRun(rows, opts);

        long skipped = 0;
        Dataset<Row> done = CommittedIds.read(spark, output, outputFormat, idColumn, rows.schema().apply(idColumn).dataType());
        if (done != null && !resume && !overwrite) {
            throw new JobException(output + " already holds results: give --resume to finish it or --overwrite to replace it");
        }
        if (done != null && resume) {
            long before = rows.count();
            rows = rows.join(done, rows.col(idColumn).equalTo(done.col(idColumn)), "left_anti");
            rows = rows.persist();
            skipped = before - rows.count();
        }
        int perWave = partitions != null ? partitions : 2 * spark.sparkContext().defaultParallelism();
        PartitionPlan plan = PartitionPlan.build(spark, rows, opts, idColumn, perWave, commitRows);
        plan.rows.persist();
        out.printf("tokenmill: %,d rows to generate (%,d already committed), ~%,d tokens estimated, %d wave(s) of %d partitions%n",
                plan.rowCount, skipped, plan.estimatedTokens, plan.waves, plan.partitionsPerWave);

        try (JobProgress progress = new JobProgress(plan.rowCount, progressSeconds, out)) {
            spark.sparkContext().addSparkListener(progress);
            try {
                for (int w = 0; w < plan.waves; w++) {
                    String mode = w == 0 && overwrite && !resume ? "overwrite" : "append";
                    plan.wave(spark, w).write().format("tokenmill").options(opts).mode(mode).save(output);
                }
            } finally {
                spark.sparkContext().removeSparkListener(progress);
                plan.rows.unpersist();
            }
            summary = new Summary(progress.rowsOk.get(), progress.rowsFailed.get(), skipped, progress.promptTokens.get(),
                    progress.generatedTokens.get(), (System.nanoTime() - t0) / 1e9, output, outputFormat);
        }
        summary.print(out);
        if (summary.errorRate() > maxErrorRate) {
            out.printf("tokenmill: %.1f%% of rows failed, above --max-error-rate %.1f%%%n", 100 * summary.errorRate(), 100 * maxErrorRate);
            return EXIT_ERROR_RATE;
        }
        return 0;
    }

    /** What a run would cost: prompt tokens from a tokenized sample, speed from a few rows generated on the driver. */
    private int dryRun(Dataset<Row> rows, Map<String, String> opts) throws Exception {
        long n = rows.count();
        List<String> sample = rows.select(PartitionPlan.renderedPrompt(opts)).limit(256).as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
        TokenmillOptions o = TokenmillOptions.parse(opts);
        try (EngineHolder.Lease lease = EngineHolder.acquire(o)) {
            var tok = lease.engine().tokenizer();
            double meanPrompt = sample.stream().mapToInt(s -> tok.encode(s, true, false).length).average().orElse(0);
            List<Request> probe = new ArrayList<>();
            for (int i = 0; i < Math.min(8, sample.size()); i++) probe.add(Request.text("dry-" + i, sample.get(i)).greedy(o.sampling().maxTokens()).build());
            long t0 = System.nanoTime();
            List<Result> results = lease.engine().generate(probe);
            double s = (System.nanoTime() - t0) / 1e9;
            long probeTokens = results.stream().mapToLong(r -> r.promptTokens() + r.completionTokens()).sum();
            double meanGenerated = results.stream().mapToInt(Result::completionTokens).average().orElse(o.sampling().maxTokens());
            double tokPerS = probeTokens / Math.max(1e-9, s);
            long promptTotal = Math.round(meanPrompt * n), genTotal = Math.round(meanGenerated * n);
            int slots = SparkSession.active().sparkContext().defaultParallelism();
            out.printf("tokenmill dry run: %,d rows; sample of %d prompts: %.1f prompt tokens a row%n", n, sample.size(), meanPrompt);
            out.printf("  estimated prompt tokens     %,d%n  estimated generated tokens  %,d (%.1f a row in a %d-row probe, max %d)%n",
                    promptTotal, genTotal, meanGenerated, results.size(), o.sampling().maxTokens());
            out.printf("  probe speed                 %,.0f tok/s on the driver (%d engine threads, batch of %d; larger batches run faster)%n",
                    tokPerS, lease.engine().config().threads(), results.size());
            out.printf("  estimated time              %s at that speed on one engine; Spark's default parallelism here is %d%n",
                    JobProgress.duration((promptTotal + genTotal) / Math.max(1e-9, tokPerS)), slots);
        }
        return 0;
    }

    /** The end-of-job table. */
    record Summary(long rowsOk, long rowsFailed, long rowsSkipped, long promptTokens, long generatedTokens, double wallSeconds,
                   String output, String format) {
        double errorRate() {
            long rows = rowsOk + rowsFailed;
            return rows == 0 ? 0 : (double) rowsFailed / rows;
        }

        void print(PrintStream out) {
            out.println("tokenmill: summary");
            String[][] lines = {
                    {"rows ok", String.format("%,d", rowsOk)},
                    {"rows failed", String.format("%,d", rowsFailed)},
                    {"rows skipped (resumed)", String.format("%,d", rowsSkipped)},
                    {"prompt tokens", String.format("%,d", promptTokens)},
                    {"generated tokens", String.format("%,d", generatedTokens)},
                    {"tokens/s (prompt + generated)", String.format("%,.0f", (promptTokens + generatedTokens) / Math.max(1e-9, wallSeconds))},
                    {"generated tokens/s", String.format("%,.0f", generatedTokens / Math.max(1e-9, wallSeconds))},
                    {"wall time", String.format("%.1f s", wallSeconds)},
                    {"output", output + " (" + format + ")"}};
            for (String[] l : lines) out.printf("  %-31s %s%n", l[0], l[1]);
        }
    }

}
