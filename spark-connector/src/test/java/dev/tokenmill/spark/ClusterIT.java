package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real standalone cluster: a master and two workers (on 127.0.0.1 and 127.0.0.2, so that speculation may race
 * a task on the other "host") as separate JVMs started from Spark's Maven jars, a job submitted through
 * SparkSubmit's code path with the shaded connector jar in {@code --jars}, the model read from an in-process HDFS.
 * Runs after {@code package} (failsafe), since it needs the shaded jar.
 */
@Tag("cluster")
class ClusterIT {
    private static final Path WORK = Path.of("target", "cluster-it").toAbsolutePath();
    private static final String OPTS = System.getProperty("tokenmill.sparkJvmOpts", "");

    private final List<Process> started = new ArrayList<>();

    @Test
    void aJobOnAStandaloneClusterLoadsOneEnginePerExecutorAndWritesExactlyOnce() throws Exception {
        deleteRecursively(WORK);
        Files.createDirectories(WORK);
        Path sparkHome = sparkHome();
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, WORK.resolve("dfs").toString());
        MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        try {
            dfs.waitActive();
            dfs.getFileSystem().copyFromLocalFile(new org.apache.hadoop.fs.Path(TestModels.tiny().toString()),
                    new org.apache.hadoop.fs.Path("/models/tiny.gguf"));
            String model = dfs.getURI() + "/models/tiny.gguf";

            int masterPort = freePort(), webPort = freePort();
            start("master", sparkHome, "127.0.0.1", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", String.valueOf(masterPort), "--webui-port", String.valueOf(webPort));
            waitForWorkers(webPort, 0);
            for (int i = 1; i <= 2; i++) {
                String host = "127.0.0." + i;
                start("worker" + i, sparkHome, host, "org.apache.spark.deploy.worker.Worker", "spark://127.0.0.1:" + masterPort,
                        "--host", host, "--cores", "1", "--memory", "1g", "--webui-port", String.valueOf(freePort()),
                        "--work-dir", WORK.resolve("work" + i).toString());
            }
            waitForWorkers(webPort, 2);

            Path out = WORK.resolve("out"), report = WORK.resolve("report.json");
            List<String> submit = new ArrayList<>(List.of("org.apache.spark.deploy.SparkSubmit",
                    "--master", "spark://127.0.0.1:" + masterPort, "--deploy-mode", "client",
                    "--class", ClusterJob.class.getName(),
                    "--jars", System.getProperty("tokenmill.connectorJar"),
                    "--conf", "spark.executor.memory=512m",
                    "--conf", "spark.executor.extraJavaOptions=-Dlog4j2.configurationFile=" + log4jConfig(),
                    "--conf", "spark.task.maxFailures=4",
                    "--conf", "spark.speculation=true",
                    "--conf", "spark.speculation.interval=200ms",
                    "--conf", "spark.speculation.quantile=0.5",
                    "--conf", "spark.speculation.multiplier=1.5",
                    "--conf", "spark.speculation.minTaskRuntime=1s",
                    "--conf", "spark.sql.extensions=" + TokenmillExtensions.class.getName(),
                    "--conf", "spark.tokenmill.model=" + model,
                    appJar().toString(), model, out.toUri().toString(), WORK.resolve("model-cache").toString(), report.toString()));
            Process job = start("submit", sparkHome, "127.0.0.1", submit.toArray(String[]::new));
            assertThat(job.waitFor(8, TimeUnit.MINUTES)).as("job finished; see %s", WORK.resolve("submit.log")).isTrue();
            assertThat(job.exitValue()).as("job exit status; see %s", WORK.resolve("submit.log")).isZero();

            JsonNode r = new ObjectMapper().readTree(report.toFile());
            // two executor JVMs, each loaded the engine once; the model was copied from HDFS once for the host
            Map<String, String[]> byPid = new HashMap<>();
            for (JsonNode p : r.get("probes")) byPid.put(p.asText().split(",")[1], p.asText().split(","));
            assertThat(byPid).as("probes %s", r.get("probes")).hasSize(2);
            Set<String> executors = new HashSet<>();
            long copies = 0;
            for (String[] p : byPid.values()) {
                executors.add(p[0]);
                assertThat(p[2]).as("engine loads in executor %s (pid %s)", p[0], p[1]).isEqualTo("1");
                copies += Long.parseLong(p[3]);
            }
            assertThat(executors).hasSize(2);
            assertThat(copies).isEqualTo(1);
            assertThat(r.get("failed_tasks_in_retry_job").asInt()).isGreaterThanOrEqualTo(1);
            assertThat(r.get("speculative_tasks").asInt()).isGreaterThanOrEqualTo(1);

            Map<Integer, String> expected = engineAlone();
            assertThat(parquetTexts(out.resolve("retry"))).isEqualTo(expected);
            assertThat(arrowTexts(out.resolve("speculation"))).isEqualTo(expected);
            Map<Integer, String> fromSql = new HashMap<>();
            r.get("sql_texts").properties().forEach(e -> fromSql.put(Integer.parseInt(e.getKey()), e.getValue().asText()));
            assertThat(fromSql).as("tokenmill_generate from SQL").isEqualTo(expected);
            assertThat(r.get("sql_batched").asBoolean()).as("the SQL plan's TokenmillEval").isTrue();
            assertThat(out.resolve("retry/" + FileCommit.SUCCESS)).exists();
            assertThat(out.resolve("speculation/" + WriteJob.STAGING)).doesNotExist();
            assertStructured(out.resolve("structured"));
        } finally {
            for (Process p : started.reversed()) {
                p.destroy();
                if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            }
            dfs.shutdown(true);
        }
    }

    private static Map<Integer, String> engineAlone() throws IOException {
        List<String> prompts = ClusterJob.prompts();
        List<Request> reqs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) reqs.add(Request.text("r" + i, prompts.get(i)).greedy(4).build());
        Map<Integer, String> m = new HashMap<>();
        try (Engine e = Engine.open(TestModels.tiny(), EngineConfig.builder().threads(2).build())) {
            List<Result> rs = e.generate(reqs);
            for (int i = 0; i < rs.size(); i++) m.put(i, rs.get(i).text());
        }
        return m;
    }

    private static Map<Integer, String> parquetTexts(Path dir) throws Exception {
        Map<Integer, String> m = new HashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); var s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, result.text FROM read_parquet('" + dir + "/*.parquet')")) {
            while (rs.next()) assertThat(m.put(rs.getInt(1), rs.getString(2))).as("row %d written twice", rs.getInt(1)).isNull();
        }
        return m;
    }

    /** Every row finished its JSON, and the typed column holds what the JSON says. */
    private static void assertStructured(Path dir) throws Exception {
        int rows = 0;
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); var s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, result.text, result.finish_reason, result_json.word, result_json.n, "
                     + "CAST(result_json.day AS VARCHAR), result_json.mood FROM read_parquet('" + dir + "/*.parquet')")) {
            while (rs.next()) {
                rows++;
                assertThat(rs.getString(3)).as("finish reason of row %d", rs.getInt(1)).isEqualTo("stop");
                JsonNode j = new ObjectMapper().readTree(rs.getString(2));
                assertThat(rs.getString(4)).isEqualTo(j.get("word").asText());
                assertThat(rs.getLong(5)).isEqualTo(j.get("n").asLong());
                assertThat(rs.getString(6)).isEqualTo(j.get("day").asText());
                assertThat(rs.getString(7)).isEqualTo(j.get("mood").asText()).isIn("calm", "loud");
            }
        }
        assertThat(rows).isEqualTo(ClusterJob.STRUCTURED_ROWS);
    }

    private static Map<Integer, String> arrowTexts(Path dir) throws Exception {
        Map<Integer, String> m = new HashMap<>();
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".arrow")).toList();
        }
        for (Path f : files) {
            for (JsonNode r : new ObjectMapper().readTree(TokenmillDataSourceTest.ArrowJs.read(f)).get("records")) {
                assertThat(m.put(r.get("id").asInt(), r.get("result").get("text").asText())).as("row %s written twice", r.get("id")).isNull();
            }
        }
        return m;
    }

    /** A SPARK_HOME whose jars/ holds Spark's jars (the provided classpath), as the workers' launcher needs. */
    private static Path sparkHome() throws IOException {
        Path home = WORK.resolve("sparkhome");
        Path jars = Files.createDirectories(home.resolve("jars"));
        for (String j : Files.readString(Path.of(System.getProperty("tokenmill.sparkClasspath"))).trim().split(File.pathSeparator)) {
            Path src = Path.of(j);
            Files.createSymbolicLink(jars.resolve(src.getFileName()), src);
        }
        return home;
    }

    /** The job's classes (test code) in a jar of their own; the connector itself comes from the shaded jar. */
    private static Path appJar() throws IOException {
        Path jar = WORK.resolve("cluster-job.jar");
        Path classes = Path.of("target", "test-classes");
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os);
             Stream<Path> files = Files.walk(classes.resolve("dev/tokenmill/spark"))) {
            for (Path f : files.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith("ClusterJob") || n.startsWith("FailFirstAttempt") || n.startsWith("TestPrompts");
            }).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString()));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        return jar;
    }

    private static String log4jConfig() {
        return Path.of("target", "test-classes", "log4j2-test.properties").toAbsolutePath().toString();
    }

    private Process start(String name, Path sparkHome, String localIp, String... mainAndArgs) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        cmd.addAll(List.of(OPTS.trim().split("\\s+")));
        cmd.add("-Xmx512m");
        cmd.add("-Dlog4j2.configurationFile=" + log4jConfig());
        cmd.add("-cp");
        cmd.add(sparkHome.resolve("jars") + "/*");
        cmd.addAll(List.of(mainAndArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(WORK.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", localIp);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        started.add(p);
        return p;
    }

    private static void waitForWorkers(int webPort, int workers) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            try {
                String json = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + webPort + "/json/")).build(),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
                JsonNode ws = new ObjectMapper().readTree(json).get("workers");
                long alive = 0;
                for (JsonNode w : ws) if ("ALIVE".equals(w.get("state").asText())) alive++;
                if (alive >= workers) return;
            } catch (IOException notYet) {
                // the master is still starting
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the standalone cluster did not get " + workers + " workers; see " + WORK);
    }

    private static int freePort() throws IOException {
        try (var s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
        }
    }
}
