package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Spark path against the engine alone, on the same model, prompts, sampling and engine threads; one mode per
 * JVM so that each peak RSS is its own. Prints one JSON line with wall and process CPU seconds of the measured run. Not
 * a test: run by {@code scripts/bench-spark.sh}.
 *
 * <p>Args: {@code engine|spark|sql MODEL PROMPTS MAX_TOKENS THREADS}. {@code spark} is the DataFrame operator
 * ({@code Tokenmill.generate}); {@code sql} is {@code SELECT tokenmill_generate(prompt, map(...))} over the same
 * rows, in a session started with {@code spark.sql.extensions}.
 */
public final class SparkBench {
    private SparkBench() {}

    public static void main(String[] args) throws Exception {
        String mode = args[0], model = args[1];
        int n = Integer.parseInt(args[2]), maxTokens = Integer.parseInt(args[3]), threads = Integer.parseInt(args[4]);
        List<String> prompts = TestPrompts.words(n, 42).stream().map(p -> (p + " ").repeat(6).trim()).toList();
        List<String> warm = TestPrompts.words(4, 43);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mode", mode);
        out.put("prompts", n);
        long t0, cpu0;
        long generated, promptTokens;
        if (mode.equals("engine")) {
            try (Engine e = Engine.open(Path.of(model), EngineConfig.builder().threads(threads).build())) {
                e.generate(requests(warm, maxTokens));
                t0 = System.nanoTime();
                cpu0 = cpuNanos();
                List<Result> rs = e.generate(requests(prompts, maxTokens));
                generated = rs.stream().mapToLong(Result::completionTokens).sum();
                promptTokens = rs.stream().mapToLong(Result::promptTokens).sum();
            }
        } else {
            SparkSession spark = SparkSession.builder().master("local[" + threads + "]").config("spark.ui.enabled", "false")
                    .config("spark.driver.host", "127.0.0.1").config("spark.sql.extensions", TokenmillExtensions.class.getName())
                    .getOrCreate();
            Map<String, String> o = Map.of("model", model, "temperature", "0", "maxTokens", String.valueOf(maxTokens),
                    "threads", String.valueOf(threads));
            boolean sql = mode.equals("sql");
            String call = "SELECT id, prompt, tokenmill_generate(prompt, map('model', '" + model.replace("'", "\\'")
                    + "', 'temperature', '0', 'maxTokens', '" + maxTokens + "', 'threads', '" + threads + "')) AS result FROM ";
            frame(spark, warm, 1).createOrReplaceTempView("warm");
            // engine load and JIT warm-up, as the engine side does; collected, since a count() would prune the SQL call away
            (sql ? spark.sql(call + "warm") : Tokenmill.generate(spark.table("warm"), o)).collectAsList();
            Dataset<Row> in = frame(spark, prompts, threads).cache();
            in.count();
            in.createOrReplaceTempView("prompts");
            t0 = System.nanoTime();
            cpu0 = cpuNanos();
            List<Row> rows = (sql ? spark.sql(call + "prompts") : Tokenmill.generate(in, o)).collectAsList();
            generated = rows.stream().mapToLong(r -> r.getStruct(2).getInt(3)).sum();
            promptTokens = rows.stream().mapToLong(r -> r.getStruct(2).getInt(2)).sum();
            spark.stop();
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double cpu = (cpuNanos() - cpu0) / 1e9;
        out.put("prompt_tokens", promptTokens);
        out.put("generated_tokens", generated);
        out.put("wall_s", wall);
        out.put("cpu_s", cpu);
        out.put("overall_tok_s", (promptTokens + generated) / wall);
        out.put("generated_tok_s", generated / wall);
        out.put("peak_rss_mb", peakRssMb());
        System.out.println(new ObjectMapper().writeValueAsString(out));
    }

    private static List<Request> requests(List<String> prompts, int maxTokens) {
        List<Request> rs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) rs.add(Request.text("r" + i, prompts.get(i)).greedy(maxTokens).build());
        return rs;
    }

    private static Dataset<Row> frame(SparkSession spark, List<String> prompts, int partitions) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) rows.add(RowFactory.create(i, prompts.get(i)));
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType);
        return spark.createDataFrame(rows, schema).repartition(partitions);
    }

    /** CPU time of the whole JVM (every thread: the engine's, Spark's, the GC's). */
    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static double peakRssMb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        }
        return -1;
    }
}
