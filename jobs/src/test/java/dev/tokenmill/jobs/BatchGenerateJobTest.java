package dev.tokenmill.jobs;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.tokenmill.jobs.JobTestSupport.batch;
import static dev.tokenmill.jobs.JobTestSupport.jsonInput;
import static dev.tokenmill.jobs.JobTestSupport.model;
import static dev.tokenmill.jobs.JobTestSupport.spark;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.spark_partition_id;
import static org.assertj.core.api.Assertions.assertThat;

class BatchGenerateJobTest {
    @TempDir Path dir;

    private String[] args(Path input, Path output, String... more) {
        String[] base = {"--input", input.toString(), "--model", model(), "--output", output.toString(), "--maxTokens", "6",
                "--temperature", "0", "--progress-seconds", "0", "--option", "threads=1"};
        String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void writesEveryRowOnceAndSummarisesTheRun() {
        Path out = dir.resolve("out");
        var run = batch(args(jsonInput(dir, 40), out, "--commit-rows", "15"));
        assertThat(run.status()).as(run.out()).isZero();
        assertThat(run.out()).contains("3 wave(s)").containsPattern("rows ok +40\\n").containsPattern("rows failed +0\\n")
                .containsPattern("generated tokens +240\\n");
        Dataset<Row> written = spark().read().parquet(out.toString());
        assertThat(written.count()).isEqualTo(40);
        assertThat(written.select("id").distinct().count()).isEqualTo(40);
        assertThat(written.filter(col("result.error").isNotNull()).count()).isZero();
    }

    @Test
    void resumeAfterAPartialRunWritesEachRemainingRowExactlyOnce() {
        Path in = jsonInput(dir, 50), out = dir.resolve("arrow-out");
        // the first run stops after 20 committed rows (as a killed run that committed its first waves)
        assertThat(batch(args(in, out, "--outputFormat", "arrow", "--limit", "20", "--commit-rows", "10")).status()).isZero();
        var again = batch(args(in, out, "--outputFormat", "arrow", "--commit-rows", "10"));
        assertThat(again.status()).isEqualTo(BatchGenerateJob.EXIT_FAILED);   // neither --resume nor --overwrite
        var resumed = batch(args(in, out, "--outputFormat", "arrow", "--resume", "--commit-rows", "10"));
        assertThat(resumed.status()).as(resumed.out()).isZero();
        assertThat(resumed.out()).containsPattern("rows ok +30\\n").containsPattern("rows skipped \\(resumed\\) +20\\n");
        Dataset<Row> ids = CommittedIds.read(spark(), out.toString(), "arrow", "id", org.apache.spark.sql.types.DataTypes.LongType);
        assertThat(ids.count()).isEqualTo(50);
        assertThat(ids.distinct().count()).isEqualTo(50);
        var nothingLeft = batch(args(in, out, "--outputFormat", "arrow", "--resume"));
        assertThat(nothingLeft.out()).containsPattern("rows ok +0\\n").containsPattern("rows skipped \\(resumed\\) +50\\n");
    }

    @Test
    void failedRowsAboveTheErrorRateGiveExitStatusTwoButDoNotFailTheJob() throws Exception {
        Path in = dir.resolve("bad.jsonl");
        Files.write(in, List.of("{\"id\":1,\"prompt\":\"Once upon a time\"}", "{\"id\":2,\"prompt\":\"\"}",
                "{\"id\":3,\"prompt\":\"One day\"}", "{\"id\":4}"));
        var strict = batch(args(in, dir.resolve("strict"), "--max-error-rate", "0.25"));
        assertThat(strict.status()).as(strict.out()).isEqualTo(BatchGenerateJob.EXIT_ERROR_RATE);
        assertThat(strict.out()).containsPattern("rows ok +2\\n").containsPattern("rows failed +2\\n");
        assertThat(spark().read().parquet(dir.resolve("strict").toString()).count()).isEqualTo(4);
        assertThat(batch(args(in, dir.resolve("lenient"), "--max-error-rate", "0.5")).status()).isZero();
    }

    @Test
    void dryRunEstimatesAndWritesNothing() {
        Path out = dir.resolve("dry");
        var run = batch(args(jsonInput(dir, 30), out, "--dry-run"));
        assertThat(run.status()).as(run.out()).isZero();
        assertThat(run.out()).contains("dry run: 30 rows").contains("estimated prompt tokens").contains("estimated time");
        assertThat(out).doesNotExist();
    }

    @Test
    void badArgumentsExitWithUsageStatus() {
        assertThat(batch("--model", model()).status()).isEqualTo(BatchGenerateJob.EXIT_USAGE);
        var badFormat = batch(args(jsonInput(dir, 2), dir.resolve("x"), "--outputFormat", "csv"));
        assertThat(badFormat.status()).isEqualTo(BatchGenerateJob.EXIT_FAILED);
    }

    @Test
    void rowsSharingAPrefixShareAPartitionAndTokensAreBalanced() {
        SparkSession spark = spark();
        String a = "A long shared preamble that every row of group A starts with: ";
        String b = "Another long preamble, this one for the rows of group B only: ";
        var rows = new java.util.ArrayList<Row>();
        for (int i = 0; i < 200; i++) rows.add(org.apache.spark.sql.RowFactory.create((long) i, (i % 2 == 0 ? a : b) + "x".repeat(i % 7)));
        var schema = new org.apache.spark.sql.types.StructType().add("id", "long").add("prompt", "string");
        Dataset<Row> df = spark.createDataFrame(rows, schema);
        PartitionPlan plan = PartitionPlan.build(spark, df, Map.of("maxTokens", "8"), "id", 4, 1_000);
        assertThat(plan.waves).isEqualTo(1);
        List<Row> parts = plan.wave(spark, 0).withColumn("p", spark_partition_id())
                .groupBy("p").agg(org.apache.spark.sql.functions.count("id").as("n"),
                        org.apache.spark.sql.functions.countDistinct(org.apache.spark.sql.functions.substring(col("prompt"), 1, 20)).as("groups"))
                .collectAsList();
        assertThat(parts).hasSize(4);
        // each group holds half the tokens: two partitions each, never mixed
        parts.forEach(r -> assertThat(r.getLong(2)).isEqualTo(1));
        parts.forEach(r -> assertThat(r.getLong(1)).isBetween(40L, 60L));
    }
}
