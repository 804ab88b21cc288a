package dev.tokenmill.jobs;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.tokenmill.jobs.JobTestSupport.model;
import static dev.tokenmill.jobs.JobTestSupport.spark;
import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class NightlyScoringJobTest {
    @TempDir Path dir;

    private static final String[] ANIMALS = {"cat", "dog", "bird", "fish", "frog"};

    private Path reviews(int n, int changedFrom, int changedTo) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String animal = ANIMALS[i % ANIMALS.length] + (i >= changedFrom && i < changedTo ? " and a ball" : "");
            lines.add("{\"id\": " + i + ", \"text\": \"Lily had a " + animal + " number " + i + ".\"}");
        }
        Path p = dir.resolve("in-" + changedFrom + ".jsonl");
        Files.write(p, lines);
        return p;
    }

    private Path config(Path input, String task, String extra) throws Exception {
        Path p = dir.resolve(task + "-" + input.getFileName() + ".yaml");
        Files.writeString(p, """
                model: %s
                input: {path: %s, format: json}
                key: id
                task: %s
                template: "{text} She was very"
                output: %s
                incremental: true
                options: {threads: "1"}
                %s
                """.formatted(model(), input, task, dir.resolve("out-" + task), extra));
        return p;
    }

    private NightlyScoringJob run(Path config, String date) {
        spark();
        var job = new NightlyScoringJob(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertThat(BatchGenerateJob.command(job).execute("--config", config.toString(), "--date", date)).isZero();
        return job;
    }

    @Test
    void classifyIsIdempotentPerDateAndIncrementalRunsRecomputeOnlyChangedRows() throws Exception {
        String labels = "labels: [\" happy\", \" sad\", \" sleepy\"]";
        Path day1 = config(reviews(30, 0, 0), "classify", labels);
        NightlyScoringJob first = run(day1, "2026-12-01");
        assertThat(first.computed).isEqualTo(30);
        String out = dir.resolve("out-classify").toString();
        List<Row> once = spark().read().parquet(out).orderBy("id").select("id", "label", "label_probs").collectAsList();
        assertThat(once).hasSize(30);
        for (Row r : once) {
            Map<String, Double> probs = r.getJavaMap(2);
            assertThat(probs.keySet()).containsExactlyInAnyOrder(" happy", " sad", " sleepy");
            assertThat(probs.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, within(1e-9));
            assertThat(probs.get(r.getString(1))).isEqualTo(probs.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow());
        }
        // the same date again: one partition, the same rows
        run(day1, "2026-12-01");
        Dataset<Row> all = spark().read().parquet(out);
        assertThat(all.select("dt").distinct().count()).isEqualTo(1);
        assertThat(all.orderBy("id").select("id", "label", "label_probs").collectAsList()).isEqualTo(once);

        // the next day 10 rows changed: exactly those are computed, the other 20 carried over
        NightlyScoringJob next = run(config(reviews(30, 5, 15), "classify", labels), "2026-12-02");
        assertThat(next.computed).isEqualTo(10);
        assertThat(next.carried).isEqualTo(20);
        Dataset<Row> day2 = spark().read().parquet(out).filter(col("dt").equalTo("2026-12-02"));
        assertThat(day2.count()).isEqualTo(30);
        assertThat(day2.filter(col("prompt_text").contains("a ball")).count()).isEqualTo(10);
        assertThat(spark().read().parquet(out).filter(col("dt").equalTo("2026-12-01")).count()).isEqualTo(30);
    }

    @Test
    void scoreGivesTheEngineLogLikelihoodOfTheText() throws Exception {
        NightlyScoringJob job = run(config(reviews(4, 0, 0), "score", ""), "2026-12-01");
        assertThat(job.computed).isEqualTo(4);
        List<Row> rows = spark().read().parquet(dir.resolve("out-score").toString()).orderBy("id")
                .select("prompt_text", "logprob", "tokens").collectAsList();
        try (Engine engine = Engine.open(Path.of(model()), EngineConfig.builder().threads(1).build())) {
            for (Row r : rows) {
                Result res = engine.generate(List.of(Request.text("x", r.getString(0)).greedy(1).promptLogprobs(0).build())).getFirst();
                double expected = res.promptLogprobs().stream().mapToDouble(Result.TokenLogprobs::logprob).sum();
                assertThat(r.getDouble(1)).isCloseTo(expected, within(1e-6)).isNegative();
                assertThat(r.getInt(2)).isEqualTo(res.promptTokens() - 1);
            }
        }
    }

    @Test
    void scoreCandidatesAndGenerateWriteTheirColumns() throws Exception {
        Path in = dir.resolve("qa.jsonl");
        Files.write(in, List.of("{\"id\": 1, \"text\": \"The sun is\", \"answers\": [\" hot\", \" a banana boat\"]}"));
        run(config(in, "score", "candidatesColumn: answers"), "2026-12-01");
        Row r = spark().read().parquet(dir.resolve("out-score").toString()).select("candidate_logprobs").first();
        List<Row> cands = r.getList(0);
        assertThat(cands).extracting(c -> c.getString(0)).containsExactly(" hot", " a banana boat");
        assertThat(cands).allSatisfy(c -> assertThat(c.getDouble(1)).isNegative());

        run(config(in, "generate", ""), "2026-12-01");
        Row g = spark().read().parquet(dir.resolve("out-generate").toString()).select("result.text", "result.error").first();
        assertThat(g.getString(0)).isNotEmpty();
        assertThat(g.isNullAt(1)).isTrue();
    }

    @Test
    void aConfigWithATypoOrAMissingKeyIsRefusedNamingIt() throws Exception {
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "model: m.gguf\ninput: {path: x}\nkey: id\ntask: classify\nlabls: [a, b]\noutput: o\n");
        var err = new ByteArrayOutputStream();
        spark();
        var cl = BatchGenerateJob.command(new NightlyScoringJob(System.out));
        cl.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        assertThat(cl.execute("--config", bad.toString())).isEqualTo(BatchGenerateJob.EXIT_FAILED);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("labls");
    }
}
