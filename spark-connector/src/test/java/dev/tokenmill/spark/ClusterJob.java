package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The spark-submit job of {@link ClusterIT}: two tokenmill writes (one whose partition 1 fails its first attempt,
 * one whose partition 0 straggles so that speculation races it), a structured-output write ({@link #SCHEMA} with
 * {@code parseJson}), a {@code tokenmill_generate} query (the session has {@code spark.sql.extensions} and
 * {@code spark.tokenmill.model} from the submit's {@code --conf}), then a probe of every executor JVM's engine loads
 * and model copies. Args: model URI, output directory, model cache directory, report file.
 */
public final class ClusterJob {
    static final int ROWS = 24;
    /** Rows of the structured-output write: the first ones of {@link #prompts()}. */
    static final int STRUCTURED_ROWS = 8;
    /** Every value bounded, so that generation ends well within its maxTokens. */
    static final String SCHEMA = "{\"type\": \"object\", \"properties\": {\"word\": {\"type\": \"string\", \"maxLength\": 8}, "
            + "\"n\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 99}, \"day\": {\"type\": \"string\", \"format\": \"date\"}, "
            + "\"mood\": {\"enum\": [\"calm\", \"loud\"]}}, \"required\": [\"word\", \"n\", \"day\", \"mood\"]}";

    private ClusterJob() {}

    static List<String> prompts() {
        return TestPrompts.words(ROWS, 31);
    }

    public static void main(String[] args) throws Exception {
        String model = args[0], out = args[1], cache = args[2], report = args[3];
        SparkSession spark = SparkSession.builder().appName("tokenmill-cluster-it").getOrCreate();
        AtomicInteger speculative = new AtomicInteger(), failed = new AtomicInteger(), killed = new AtomicInteger();
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override public void onTaskStart(SparkListenerTaskStart e) {
                if (e.taskInfo().speculative()) speculative.incrementAndGet();
            }

            @Override public void onTaskEnd(SparkListenerTaskEnd e) {
                if (e.taskInfo().failed()) failed.incrementAndGet();
                if (e.taskInfo().killed()) killed.incrementAndGet();
            }
        });
        List<Row> rows = new ArrayList<>();
        List<String> texts = prompts();
        for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i)));
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType);
        Dataset<Row> in = spark.createDataFrame(rows, schema);
        Map<String, String> opts = Map.of("model", model, "modelCacheDir", cache, "temperature", "0", "maxTokens", "4",
                "kvCacheBytes", String.valueOf(32 << 20), "maxSeqs", "16");

        in.repartition(4).mapPartitions(new FailFirstAttempt(1, 4, 0), Encoders.row(schema))
                .write().format("tokenmill").options(opts).save(out + "/retry");
        int failedAfterRetryJob = failed.get();
        in.repartition(2).mapPartitions(new FailFirstAttempt(0, 3, 120_000), Encoders.row(schema))
                .write().format("tokenmill").options(opts).option("outputFormat", "arrow").save(out + "/speculation");

        in.filter("id < " + STRUCTURED_ROWS).repartition(2).write().format("tokenmill").options(opts).option("maxTokens", "300")
                .option("seed", "9").option("temperature", "0.8").option("jsonSchema", SCHEMA).option("parseJson", "true")
                .save(out + "/structured");

        // the SQL function, on the same engine as the writes (same engine options): the model comes from the session
        in.repartition(2).createOrReplaceTempView("prompts");
        Dataset<Row> sql = spark.sql("SELECT id, tokenmill_generate(prompt, map('modelCacheDir', '" + cache + "', 'temperature', '0', "
                + "'maxTokens', '4', 'kvCacheBytes', '" + (32 << 20) + "', 'maxSeqs', '16')).text AS text FROM prompts");
        Map<String, String> sqlTexts = new LinkedHashMap<>();
        for (Row row : sql.collectAsList()) sqlTexts.put(String.valueOf(row.getInt(0)), row.getString(1));
        boolean batched = sql.queryExecution().sparkPlan().toString().contains("TokenmillEval");

        // every executor JVM says who it is and how many engines it loaded
        List<String> probes = spark.range(0, 8, 1, 8).toDF().mapPartitions((MapPartitionsFunction<Row, String>) it -> {
            Thread.sleep(500); // long enough that both executors take probe tasks
            return List.of(SparkEnv.get().executorId() + "," + ProcessHandle.current().pid() + "," + EngineHolder.loads() + ","
                    + ModelCache.COPIES.get()).iterator();
        }, Encoders.STRING()).collectAsList();

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("failed_tasks_in_retry_job", failedAfterRetryJob);
        r.put("speculative_tasks", speculative.get());
        r.put("killed_tasks", killed.get());
        r.put("probes", probes);
        r.put("sql_texts", sqlTexts);
        r.put("sql_batched", batched);
        new ObjectMapper().writeValue(new File(report), r);
        spark.stop();
    }
}
