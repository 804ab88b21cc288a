package dev.tokenmill.jobs;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import static org.apache.spark.sql.functions.col;

/**
 * {@code ./tokenmill demo}: the batch job on local Spark over the sample story openings with the bundled stories260K
 * model, written as Parquet and as Arrow; then a few stories and where the output is.
 */
public final class Demo {
    private Demo() {}

    public static void main(String[] args) {
        Path demo = Path.of(args.length > 0 ? args[0] : "demo").toAbsolutePath();
        Path out = Path.of(args.length > 1 ? args[1] : "target/demo").toAbsolutePath();
        System.exit(run(demo, out, System.out));
    }

    static int run(Path demo, Path out, PrintStream console) {
        String model = demo.resolve("stories260K-f32.gguf").toString(), prompts = demo.resolve("prompts.jsonl").toString();
        for (String format : List.of("parquet", "arrow")) {
            console.println("tokenmill demo: generating stories into " + format);
            int rc = BatchGenerateJob.run(new String[] {"--input", prompts, "--model", model, "--output", out.resolve(format).toString(),
                    "--outputFormat", format, "--overwrite", "--maxTokens", "96", "--temperature", "0.7", "--seed", "42",
                    "--progress-seconds", "5"}, console);
            if (rc != 0) return rc;
        }
        List<Row> stories = SparkSession.active().read().parquet(out.resolve("parquet").toString())
                .orderBy(col("id")).limit(3).select(col("prompt"), col("result.text")).collectAsList();
        console.println();
        for (Row r : stories) console.println(r.getString(0) + " " + r.getString(1).strip().replaceAll("\\s+", " ") + "\n");
        console.println("tokenmill demo: Parquet in " + out.resolve("parquet") + ", Arrow IPC in " + out.resolve("arrow"));
        return 0;
    }
}
