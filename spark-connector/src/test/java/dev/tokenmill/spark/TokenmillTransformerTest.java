package dev.tokenmill.spark;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.tokenizer.ChatMessage;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenmillTransformerTest {
    private static SparkSession spark;
    private static String model;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.get();
        model = TestModels.tiny().toString();
    }

    static List<String> words(int n, int seed) {
        return TestPrompts.words(n, seed);
    }

    static Dataset<Row> prompts(List<String> prompts, int partitions) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) rows.add(RowFactory.create(i, prompts.get(i)));
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType);
        return SparkTestSession.get().createDataFrame(rows, schema).repartition(partitions, org.apache.spark.sql.functions.col("id"))
                .sortWithinPartitions("id");
    }

    /** The engine alone, as a user without Spark runs it: same model, greedy. */
    static List<Result> engineAlone(List<Request> requests) throws Exception {
        try (Engine e = Engine.open(TestModels.tiny(), EngineConfig.builder().threads(2).build())) {
            return e.generate(requests);
        }
    }

    @Test
    void resultsComeBackInInputOrderAndEqualTheEngineAlone() throws Exception {
        List<String> texts = words(24, 1);
        Dataset<Row> in = prompts(texts, 2);
        var t = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(6).setThreads(2).setMaxInFlight(3);
        List<Row> out = t.transform(in).collectAsList();

        List<Request> reqs = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) reqs.add(Request.text("r" + i, texts.get(i)).sampling(SamplingParams.greedy(6)).build());
        List<Result> expected = engineAlone(reqs);

        assertThat(out).hasSize(texts.size());
        for (Row r : out) {
            int id = r.getInt(0);
            Row res = r.getStruct(2);
            assertThat(r.getString(1)).isEqualTo(texts.get(id));
            assertThat(res.isNullAt(res.fieldIndex("error"))).as("error of row %d: %s", id, res).isTrue();
            assertThat(res.getString(res.fieldIndex("text"))).isEqualTo(expected.get(id).text());
            assertThat(res.getInt(res.fieldIndex("completion_tokens"))).isEqualTo(expected.get(id).completionTokens());
            assertThat(res.getInt(res.fieldIndex("prompt_tokens"))).isEqualTo(expected.get(id).promptTokens());
            assertThat(res.getString(res.fieldIndex("finish_reason"))).isEqualTo(expected.get(id).finishReason().wireName());
        }
        // within each partition the rows keep their (sorted) input order
        for (int p = 0; p < 2; p++) {
            List<Integer> ids = t.transform(in).toJavaRDD().glom().collect().get(p).stream().map(r -> r.getInt(0)).toList();
            assertThat(ids).isSorted();
        }
    }

    @Test
    void badRowsGetAnErrorAndTheTaskGoesOn() {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType)
                .add("temperature", DataTypes.DoubleType).add("maxTokens", DataTypes.IntegerType);
        String tooLong = "rain ".repeat(3000);
        List<Row> rows = List.of(
                RowFactory.create(0, "the cat sat", null, null),
                RowFactory.create(1, null, null, null),
                RowFactory.create(2, "", null, null),
                RowFactory.create(3, tooLong, null, null),
                RowFactory.create(4, "the cat sat", -1.0, null),
                RowFactory.create(5, "the cat sat", null, 0),
                RowFactory.create(6, "on a mat", null, null));
        Dataset<Row> in = spark.createDataFrame(rows, schema).coalesce(1);
        List<Row> out = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(4).setThreads(2)
                .transform(in).collectAsList();
        assertThat(out).extracting(r -> r.getInt(0)).containsExactly(0, 1, 2, 3, 4, 5, 6);
        Map<Integer, String> errors = new java.util.HashMap<>();
        for (Row r : out) {
            Row res = r.getStruct(4);
            errors.put(r.getInt(0), res.getString(res.fieldIndex("error")));
            if (res.getString(res.fieldIndex("error")) != null) {
                assertThat(res.getString(res.fieldIndex("finish_reason"))).isEqualTo("error");
            }
        }
        assertThat(errors.get(0)).isNull();
        assertThat(errors.get(6)).isNull();
        assertThat(errors.get(1)).contains("prompt column 'prompt' is null");
        assertThat(errors.get(2)).contains("prompt is empty");
        assertThat(errors.get(3)).isNotNull();
        assertThat(errors.get(4)).contains("temperature");
        assertThat(errors.get(5)).contains("maxTokens");
        // the input columns of a bad row are kept
        assertThat(out.get(3).getString(1)).isEqualTo(tooLong);
        assertThat(out.get(4).getDouble(2)).isEqualTo(-1.0);
    }

    @Test
    void perRowColumnsOverrideTheOptions() throws Exception {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType)
                .add("maxTokens", DataTypes.IntegerType).add("seed", DataTypes.LongType).add("stop", DataTypes.StringType);
        List<String> texts = words(6, 2);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i), i % 3 == 0 ? null : i, 100L + i, null));
        Dataset<Row> in = spark.createDataFrame(rows, schema).coalesce(1);
        List<Row> out = new TokenmillTransformer().setModel(model).setTemperature(0.9).setSeed(5).setMaxTokens(7).setThreads(2)
                .transform(in).collectAsList();
        List<Request> reqs = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            var sp = SamplingParams.builder().temperature(0.9f).maxTokens(i % 3 == 0 ? 7 : i).seed(100L + i).build();
            reqs.add(Request.text("r" + i, texts.get(i)).sampling(sp).build());
        }
        List<Result> expected = engineAlone(reqs);
        for (Row r : out) {
            int id = r.getInt(0);
            Row res = r.getStruct(5);
            assertThat(res.getString(res.fieldIndex("error"))).isNull();
            assertThat(res.getInt(res.fieldIndex("completion_tokens"))).isEqualTo(expected.get(id).completionTokens());
            assertThat(res.getString(res.fieldIndex("text"))).isEqualTo(expected.get(id).text());
        }
    }

    @Test
    void templateAndSystemPromptBuildThePrompt() throws Exception {
        StructType schema = new StructType().add("city", DataTypes.StringType).add("n", DataTypes.IntegerType);
        Dataset<Row> in = spark.createDataFrame(List.of(RowFactory.create("paris", 3), RowFactory.create("rome", 4)), schema).coalesce(1);
        List<Row> out = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(5).setThreads(2)
                .setTemplate("tell {n} facts about {city}.").setSystemPrompt("you are terse. ").transform(in).collectAsList();
        List<Result> expected = engineAlone(List.of(
                Request.text("a", "you are terse. tell 3 facts about paris.").greedy(5).build(),
                Request.text("b", "you are terse. tell 4 facts about rome.").greedy(5).build()));
        for (int i = 0; i < 2; i++) {
            Row res = out.get(i).getStruct(2);
            assertThat(res.getInt(res.fieldIndex("prompt_tokens"))).isEqualTo(expected.get(i).promptTokens());
            assertThat(res.getString(res.fieldIndex("text"))).isEqualTo(expected.get(i).text());
        }
    }

    @Test
    void chatMessagesGoThroughTheModelsTemplate() throws Exception {
        StructType msg = new StructType().add("role", DataTypes.StringType).add("content", DataTypes.StringType);
        StructType schema = new StructType().add("messages", DataTypes.createArrayType(msg));
        List<Row> rows = List.of(RowFactory.create(List.of(RowFactory.create("user", "hello there"))),
                RowFactory.create(List.of()));
        Dataset<Row> in = spark.createDataFrame(rows, schema).coalesce(1);
        String chatModel = TestModels.tinyChat().toString();
        List<Row> out = new TokenmillTransformer().setModel(chatModel).setMessagesColumn("messages").setSystemPrompt("be brief")
                .setTemperature(0).setMaxTokens(4).setThreads(2).transform(in).collectAsList();
        Result expected;
        try (Engine e = Engine.open(Path.of(chatModel), EngineConfig.builder().threads(2).build())) {
            expected = e.generate(List.of(Request.chat("a", List.of(ChatMessage.system("be brief"), ChatMessage.user("hello there")))
                    .greedy(4).build())).getFirst();
        }
        Row ok = out.get(0).getStruct(1);
        assertThat(ok.getString(ok.fieldIndex("error"))).isNull();
        assertThat(ok.getInt(ok.fieldIndex("prompt_tokens"))).isEqualTo(expected.promptTokens());
        assertThat(ok.getString(ok.fieldIndex("text"))).isEqualTo(expected.text());
        Row empty = out.get(1).getStruct(1);
        assertThat(empty.getString(empty.fieldIndex("error"))).isNull(); // the system prompt alone is a conversation
    }

    @Test
    void savedAndLoadedTransformerRunsInAPipeline(@TempDir Path dir) throws Exception {
        var t = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(3).setThreads(2)
                .setStop("zz", "\n").setResultColumn("gen").setLogprobs(2);
        String path = dir.resolve("t").toString();
        t.save(path);
        TokenmillTransformer loaded = TokenmillTransformer.load(path);
        assertThat(loaded.uid()).isEqualTo(t.uid());
        assertThat(loaded.options()).isEqualTo(t.options());

        PipelineModel pm = new Pipeline().setStages(new PipelineStage[] {loaded}).fit(prompts(words(4, 3), 1));
        List<Row> viaPipeline = pm.transform(prompts(words(4, 3), 1)).orderBy("id").collectAsList();
        List<Row> direct = t.transform(prompts(words(4, 3), 1)).orderBy("id").collectAsList();
        assertThat(viaPipeline).hasSize(4);
        for (int i = 0; i < 4; i++) {
            Row a = viaPipeline.get(i).getStruct(2);
            Row b = direct.get(i).getStruct(2);
            assertThat(a.getString(0)).isEqualTo(b.getString(0));
            assertThat(a.getList(a.fieldIndex("logprobs"))).hasSize(a.getInt(a.fieldIndex("completion_tokens")));
        }
        assertThat(viaPipeline.getFirst().schema().fieldNames()).containsExactly("id", "prompt", "gen");
    }

    @Test
    void aPartitionMuchLargerThanTheInFlightBoundStreamsInOrder() {
        int n = 400;
        Dataset<Row> in = prompts(words(n, 4), 1);
        List<Row> out = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(1).setThreads(2).setMaxInFlight(4)
                .transform(in).collectAsList();
        assertThat(out).hasSize(n);
        assertThat(out).extracting(r -> r.getInt(0)).isSorted();
        assertThat(out).allSatisfy(r -> assertThat(r.getStruct(2).isNullAt(5)).isTrue());
    }

    @Test
    void concurrentTasksShareOneEngineLoad() {
        long before = EngineHolder.loads();
        // options no other test uses, so this job needs a fresh engine
        var t = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(2).setThreads(2).setMaxSeqs(17);
        assertThat(t.transform(prompts(words(40, 5), 4)).count()).isEqualTo(40);
        assertThat(EngineHolder.loads() - before).isEqualTo(1);
        assertThat(t.transform(prompts(words(8, 6), 2)).count()).isEqualTo(8);
        assertThat(EngineHolder.loads() - before).isEqualTo(1);
    }

    @Test
    void aCancelledJobCancelsItsRequestsAndTheEngineServesTheNextJob() throws Exception {
        long cancelledBefore = InferenceWindow.CANCELLED.get();
        long submittedBefore = InferenceWindow.SUBMITTED.get();
        long abortedBefore = EngineHolder.requestsAborted();
        var t = new TokenmillTransformer().setModel(model).setTemperature(0).setMaxTokens(200).setThreads(2).setMaxInFlight(8);
        CountDownLatch started = new CountDownLatch(1);
        spark.sparkContext().addSparkListener(new org.apache.spark.scheduler.SparkListener() {
            @Override public void onTaskStart(org.apache.spark.scheduler.SparkListenerTaskStart e) { started.countDown(); }
        });
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread job = new Thread(() -> {
            spark.sparkContext().setJobGroup("to-cancel", "cancelled by the test", true);
            try {
                t.transform(prompts(words(64, 7), 2)).count();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        job.start();
        assertThat(started.await(60, TimeUnit.SECONDS)).isTrue();
        // cancel once both tasks have filled their windows: 64 rows x 200 tokens are far from done then
        while (InferenceWindow.SUBMITTED.get() - submittedBefore < 16 && job.isAlive()) Thread.onSpinWait();
        spark.sparkContext().cancelJobGroup("to-cancel");
        job.join(120_000);
        assertThat(job.isAlive()).isFalse();
        assertThat(failure.get()).isNotNull().hasMessageContaining("cancel");
        assertThat(InferenceWindow.CANCELLED.get()).isGreaterThan(cancelledBefore);
        // the engine aborted them (at its next step) rather than generating on for nobody
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (EngineHolder.requestsAborted() == abortedBefore && System.nanoTime() < deadline) Thread.onSpinWait();
        assertThat(EngineHolder.requestsAborted()).isGreaterThan(abortedBefore);
        assertThat(t.setMaxTokens(2).transform(prompts(words(4, 8), 1)).count()).isEqualTo(4);
    }

    @Test
    void aMissingPromptColumnFailsOnTheDriverNamingIt() {
        Dataset<Row> in = prompts(words(2, 9), 1).withColumnRenamed("prompt", "question");
        assertThatThrownBy(() -> new TokenmillTransformer().setModel(model).transform(in))
                .hasMessageContaining("no column 'prompt'");
    }
}
