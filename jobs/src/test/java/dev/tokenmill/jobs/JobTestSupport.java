package dev.tokenmill.jobs;

import org.apache.spark.sql.SparkSession;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The local[2] session, the committed demo model and small JSON inputs of the jobs tests. */
final class JobTestSupport {
    private static SparkSession spark;

    private JobTestSupport() {}

    static synchronized SparkSession spark() {
        if (spark == null) {
            spark = SparkSession.builder().master("local[2,4]").appName("tokenmill-jobs-tests")
                    .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
                    .config("spark.driver.host", "127.0.0.1").getOrCreate();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> spark.stop()));
        }
        return spark;
    }

    /** The repository's demo model (stories260K, 1.2 MB): real text, fast. */
    static String model() {
        return Path.of(System.getProperty("tokenmill.demoDir", "../demo"), "stories260K-f32.gguf").toAbsolutePath().toString();
    }

    static Path demoPrompts() {
        return Path.of(System.getProperty("tokenmill.demoDir", "../demo"), "prompts.jsonl").toAbsolutePath();
    }

    /** JSON lines {"id": i, "prompt": ...} for ids [0, n), cycling through the demo's openings. */
    static Path jsonInput(Path dir, int n) {
        try {
            List<String> openings = Files.readAllLines(demoPrompts());
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String prompt = openings.get(i % openings.size()).replaceFirst("^\\{\"id\": \\d+, ", "");
                lines.add("{\"id\": " + i + ", " + prompt);
            }
            Path p = dir.resolve("in-" + n + ".jsonl");
            Files.write(p, lines);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    record Run(int status, String out) {}

    static Run batch(String... args) {
        spark();
        var bytes = new ByteArrayOutputStream();
        int status = BatchGenerateJob.run(args, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return new Run(status, bytes.toString(StandardCharsets.UTF_8));
    }
}
