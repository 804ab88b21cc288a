package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenmillDataSourceTest {
    private static SparkSession spark;
    private static String model;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.get();
        model = TestModels.tiny().toString();
    }

    static Dataset<Row> prompts(int n, int partitions) {
        List<Row> rows = new ArrayList<>();
        List<String> texts = TokenmillTransformerTest.words(n, 11);
        for (int i = 0; i < n; i++) rows.add(RowFactory.create(i, i % 2 == 0 ? "en" : "fr", texts.get(i)));
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("lang", DataTypes.StringType)
                .add("prompt", DataTypes.StringType);
        return spark.createDataFrame(rows, schema).repartition(partitions);
    }

    static Map<String, String> options() {
        return Map.of("model", model, "temperature", "0", "maxTokens", "4", "threads", "2");
    }

    /** id -> generated text, computed by the Transformer path. */
    static Map<Integer, String> expectedTexts(Dataset<Row> in) {
        Map<Integer, String> m = new HashMap<>();
        for (Row r : Tokenmill.generate(in, options()).collectAsList()) m.put(r.getInt(0), r.getStruct(3).getString(0));
        return m;
    }

    static Map<Integer, String> duckDbTexts(Path dir) throws Exception {
        Map<Integer, String> m = new HashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, result.text, result.error FROM read_parquet('" + dir + "/**/*.parquet')")) {
            while (rs.next()) {
                assertThat(rs.getString(3)).isNull();
                assertThat(m.put(rs.getInt(1), rs.getString(2))).as("row %d written twice", rs.getInt(1)).isNull();
            }
        }
        return m;
    }

    static JsonNode manifest(Path dir) throws IOException {
        return new ObjectMapper().readTree(dir.resolve(FileCommit.MANIFEST).toFile());
    }

    static List<Path> files(Path dir, String ext) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(ext)).sorted().toList();
        }
    }

    @Test
    void parquetOutputIsReadByDuckDbAndTheJobWritesSuccessAndAManifest(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Dataset<Row> in = prompts(30, 3);
        Map<String, Long> accumulators = new java.util.concurrent.ConcurrentHashMap<>();
        var listener = new org.apache.spark.scheduler.SparkListener() {
            @Override public void onStageCompleted(org.apache.spark.scheduler.SparkListenerStageCompleted e) {
                scala.jdk.javaapi.CollectionConverters.asJava(e.stageInfo().accumulables().values()).forEach(a -> {
                    String name = a.name().getOrElse(() -> "");
                    if (name.startsWith("tokenmill")) accumulators.merge(name, Long.parseLong(a.value().get().toString()), Long::sum);
                });
            }
        };
        spark.sparkContext().addSparkListener(listener);
        try {
            in.write().format("tokenmill").options(options()).option("outputFormat", "parquet").save(out.toString());
        } finally {
            spark.sparkContext().listenerBus().waitUntilEmpty();
            spark.sparkContext().removeSparkListener(listener);
        }
        // the named accumulators (the Spark UI's stage page) saw every row
        assertThat(accumulators.get("tokenmill rows ok")).isEqualTo(30);
        assertThat(accumulators.getOrDefault("tokenmill rows failed", 0L)).isZero(); // Spark drops zero updates
        assertThat(accumulators.get("tokenmill generated tokens")).isPositive();

        assertThat(out.resolve(FileCommit.SUCCESS)).exists();
        assertThat(out.resolve(WriteJob.STAGING)).doesNotExist();
        assertThat(duckDbTexts(out)).isEqualTo(expectedTexts(in));
        JsonNode m = manifest(out);
        assertThat(m.get("rows_ok").asLong()).isEqualTo(30);
        assertThat(m.get("rows_failed").asLong()).isZero();
        assertThat(m.get("generated_tokens").asLong()).isEqualTo(accumulators.get("tokenmill generated tokens"));
        assertThat(m.get("model_fingerprint").asText()).isEqualTo(ModelCache.fingerprint(Path.of(model)));
        assertThat(m.get("engine_version").asText()).matches("\\d+\\.\\d+\\.\\d+.*");
        assertThat(m.get("options").get("sampling").get("maxTokens").asInt()).isEqualTo(4);
        assertThat(m.get("files")).hasSize(files(out, ".parquet").size());
        // and Spark reads its own output back too
        assertThat(spark.read().parquet(out.toString()).count()).isEqualTo(30);
    }

    @Test
    void arrowOutputIsReadByArrowJs(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Dataset<Row> in = prompts(20, 2);
        in.write().format("tokenmill").options(options()).option("outputFormat", "arrow").save(out.toString());
        Map<Integer, String> texts = new HashMap<>();
        List<Path> arrowFiles = files(out, ".arrow");
        assertThat(arrowFiles).isNotEmpty();
        for (Path f : arrowFiles) {
            JsonNode j = new ObjectMapper().readTree(ArrowJs.read(f));
            assertThat(j.get("columns").toString()).isEqualTo("[\"id\",\"lang\",\"prompt\",\"result\"]");
            for (JsonNode r : j.get("records")) {
                assertThat(r.get("result").get("error").isNull()).isTrue();
                assertThat(texts.put(r.get("id").asInt(), r.get("result").get("text").asText())).isNull();
            }
        }
        assertThat(texts).isEqualTo(expectedTexts(in));
        assertThat(manifest(out).get("output_format").asText()).isEqualTo("arrow");
    }

    @Test
    void saveModesBehaveAsForSparksFileSources(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        String p = out.toString();
        prompts(6, 2).write().format("tokenmill").options(options()).save(p);
        String firstJob = manifest(out).get("job_id").asText();

        assertThatThrownBy(() -> prompts(6, 2).write().format("tokenmill").options(options()).save(p))
                .hasMessageContaining("already exists");
        prompts(6, 2).write().format("tokenmill").options(options()).mode("ignore").save(p);
        assertThat(manifest(out).get("job_id").asText()).isEqualTo(firstJob);
        assertThat(duckDbTexts(out)).hasSize(6);

        prompts(6, 2).withColumn("id", org.apache.spark.sql.functions.col("id").plus(100))
                .write().format("tokenmill").options(options()).mode("append").save(p);
        assertThat(duckDbTexts(out)).hasSize(12);

        prompts(3, 1).write().format("tokenmill").options(options()).mode("overwrite").save(p);
        assertThat(duckDbTexts(out)).hasSize(3);
        assertThat(manifest(out).get("mode").asText()).isEqualTo("overwrite");
    }

    @Test
    void partitionByWritesOneDirectoryPerValue(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        prompts(10, 2).write().format("tokenmill").options(options()).partitionBy("lang").save(out.toString());
        assertThat(out.resolve("lang=en")).isDirectory();
        assertThat(out.resolve("lang=fr")).isDirectory();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT lang, count(*), min(id % 2), max(id % 2) FROM read_parquet('" + out
                     + "/**/*.parquet', hive_partitioning = true) GROUP BY lang ORDER BY lang")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("en");
            assertThat(rs.getInt(2)).isEqualTo(5);
            assertThat(rs.getInt(4)).isZero();
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("fr");
            assertThat(rs.getInt(3)).isEqualTo(1);
        }
    }

    @Test
    void aTaskAttemptThatFailsHalfwayIsRetriedWithoutDuplicatesOrLoss(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Dataset<Row> in = prompts(40, 2);
        StructType schema = in.schema();
        // the first attempt of partition 1 dies after handing 7 rows to the writer
        Dataset<Row> flaky = in.mapPartitions(new FailFirstAttempt(1, 7, 0), Encoders.row(schema));
        flaky.write().format("tokenmill").options(options()).save(out.toString());
        Map<Integer, String> texts = duckDbTexts(out);
        assertThat(texts).hasSize(40);
        assertThat(texts).isEqualTo(expectedTexts(in));
        assertThat(manifest(out).get("rows_ok").asLong()).isEqualTo(40);
        assertThat(out.resolve(WriteJob.STAGING)).doesNotExist();
    }

    @Test
    void readRunsInferenceLazilyOverAnInputWithItsSchemaKnownFirst(@TempDir Path tmp) throws Exception {
        Path json = tmp.resolve("in.json");
        Files.writeString(json, "{\"id\":1,\"prompt\":\"the cat sat\"}\n{\"id\":2,\"prompt\":null}\n{\"id\":3,\"prompt\":\"rain fell\"}\n",
                StandardCharsets.UTF_8);
        long generatedBefore = TokenmillMetrics.Executor.GENERATED_TOKENS.get();
        long rowsBefore = TokenmillMetrics.Executor.ROWS_OK.get() + TokenmillMetrics.Executor.ROWS_FAILED.get();
        Dataset<Row> df = spark.read().format("tokenmill").options(options()).option("inputFormat", "json").load(json.toString());
        assertThat(df.schema().fieldNames()).containsExactly("id", "prompt", "result");
        assertThat(TokenmillMetrics.Executor.ROWS_OK.get() + TokenmillMetrics.Executor.ROWS_FAILED.get()).isEqualTo(rowsBefore);

        List<Row> rows = df.orderBy("id").collectAsList();
        assertThat(rows).hasSize(3);
        assertThat(rows.get(0).getStruct(2).getString(0))
                .isEqualTo(TokenmillTransformerTest.engineAlone(List.of(dev.tokenmill.Request.text("a", "the cat sat").greedy(4).build())).getFirst().text());
        assertThat(rows.get(1).getStruct(2).getString(5)).contains("prompt column 'prompt' is null");
        assertThat(TokenmillMetrics.Executor.GENERATED_TOKENS.get()).isGreaterThan(generatedBefore);
    }

    @Test
    void readTakesCsvAndTextInputs(@TempDir Path tmp) throws Exception {
        Path csv = tmp.resolve("in.csv");
        Files.writeString(csv, "city,n\nparis,3\nrome,4\n", StandardCharsets.UTF_8);
        Dataset<Row> df = spark.read().format("tokenmill").options(options()).option("inputFormat", "csv").option("header", "true")
                .option("template", "facts about {city}:").load(csv.toString());
        assertThat(df.schema().fieldNames()).containsExactly("city", "n", "result");
        assertThat(df.collectAsList()).allSatisfy(r -> assertThat(r.getStruct(2).isNullAt(5)).isTrue());

        Path txt = tmp.resolve("in.txt");
        Files.writeString(txt, "one line\nanother line\n", StandardCharsets.UTF_8);
        Dataset<Row> t = spark.read().format("tokenmill").options(options()).option("inputFormat", "text").option("promptColumn", "value")
                .load(txt.toString());
        assertThat(t.count()).isEqualTo(2);
    }

    @Test
    void sqlCreateTableInsertAndSelect(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("sql-out");
        prompts(8, 2).createOrReplaceTempView("src");
        spark.sql("CREATE TABLE gen USING tokenmill OPTIONS (model '" + model + "', temperature '0', maxTokens '4', threads '2', "
                + "outputFormat 'parquet') LOCATION '" + out + "'");
        try {
            spark.sql("INSERT INTO gen SELECT id, lang, prompt FROM src");
            assertThat(duckDbTexts(out)).isEqualTo(expectedTexts(prompts(8, 2)));
            spark.sql("INSERT OVERWRITE gen SELECT id, lang, prompt FROM src WHERE id < 3");
            assertThat(duckDbTexts(out)).hasSize(3);
        } finally {
            spark.sql("DROP TABLE IF EXISTS gen");
        }
        Path json = tmp.resolve("q.json");
        Files.writeString(json, "{\"prompt\":\"the cat sat\"}\n", StandardCharsets.UTF_8);
        spark.sql("CREATE TABLE answers USING tokenmill OPTIONS (model '" + model + "', temperature '0', maxTokens '4', threads '2', "
                + "inputFormat 'json', path '" + json + "')");
        try {
            List<Row> rows = spark.sql("SELECT prompt, result.text, result.error FROM answers").collectAsList();
            assertThat(rows).hasSize(1);
            assertThat(rows.getFirst().isNullAt(2)).isTrue();
        } finally {
            spark.sql("DROP TABLE IF EXISTS answers");
        }
    }

    /** Arrow JS (the {@code apache-arrow} npm package) run by node, installed once into target/. */
    static final class ArrowJs {
        private static Path dir;

        static synchronized String read(Path file) throws Exception {
            if (dir == null) {
                Path d = Path.of("target", "arrow-js").toAbsolutePath();
                Files.createDirectories(d);
                for (String f : List.of("package.json", "package-lock.json", "read-arrow.mjs")) {
                    Files.copy(Path.of("src/test/node", f), d.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                if (!Files.isDirectory(d.resolve("node_modules/apache-arrow"))) {
                    run(d, "npm", "ci", "--no-audit", "--no-fund");
                }
                dir = d;
            }
            return run(dir, "node", "read-arrow.mjs", file.toAbsolutePath().toString());
        }

        private static String run(Path cwd, String... cmd) throws Exception {
            Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(false).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("%s failed: %s", String.join(" ", cmd), err).isZero();
            return out;
        }
    }
}
