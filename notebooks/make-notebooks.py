#!/usr/bin/env python3
"""Writes the three notebooks' cells (without outputs) into the current directory; notebooks/run-notebooks.sh then
executes them in place, so the committed notebooks carry their outputs. Run from notebooks/ with /usr/bin/python3."""
import nbformat
def nb(cells):
    n = nbformat.v4.new_notebook()
    n.metadata["kernelspec"] = {"name": "tokenmill-java", "display_name": "Java (Tokenmill, JShell)", "language": "java"}
    n.metadata["language_info"] = {"name": "Java", "mimetype": "text/x-java-source", "file_extension": ".jshell"}
    n.cells = [nbformat.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbformat.v4.new_code_cell(c.strip("\n")) for c in cells]
    return n

setup = '''import org.apache.spark.sql.*;
import org.apache.spark.sql.types.*;
import dev.tokenmill.spark.Tokenmill;

// the repository root (the kernel sets TOKENMILL_HOME; from a notebook opened in notebooks/, "..")
Path home = Path.of(System.getenv().getOrDefault("TOKENMILL_HOME", "..")).toAbsolutePath().normalize();
String model = home.resolve("demo/stories260K-f32.gguf").toString();   // Karpathy's stories260K, MIT (demo/MODEL-LICENSE.md)
Path work = Files.createDirectories(home.resolve("target/notebooks"));
SparkSession spark = SparkSession.builder().master("local[2]").appName("tokenmill notebook")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
spark.version()'''

quick = nb([
"md:# Tokenmill quickstart\n\nLocal Spark in this kernel's JVM, the bundled `stories260K` model, generation over a small DataFrame, then the "
"same written through the `tokenmill` DataSource as Parquet and as Arrow and read back. Plain Java: it runs in JJava too "
"(add the connector jar and Spark with `%maven` / `%jars`).",
setup,
'''StructType schema = new StructType().add("id", "long").add("prompt", "string");
List<Row> rows = List.of(
        RowFactory.create(1L, "Once upon a time, there was a little fox"),
        RowFactory.create(2L, "Tom and his dog went to the park."),
        RowFactory.create(3L, "Lily found a red ball under the tree."),
        RowFactory.create(4L, "The sun was hot and the birds were singing."));
Dataset<Row> prompts = spark.createDataFrame(rows, schema);
Map<String, String> options = Map.of("model", model, "maxTokens", "48", "temperature", "0", "threads", "2");
prompts.count()''',
"md:`Tokenmill.generate` keeps every input column and adds the `result` struct (text, finish reason, token counts, error, latency).",
'''Dataset<Row> stories = Tokenmill.generate(prompts, options);
for (Row r : stories.select("id", "prompt", "result.text", "result.completion_tokens", "result.finish_reason").orderBy("id").collectAsList()) {
    System.out.printf("%d | %s %s%n    (%d tokens, %s)%n", r.getLong(0), r.getString(1), r.getString(2).replaceAll("\\\\s+", " "), r.getInt(3), r.getString(4));
}''',
"md:## Write Parquet and Arrow through the DataSource\n\nInference runs in the write tasks; the job commit moves the committed attempts' files into place.",
'''String parquetOut = work.resolve("quickstart-parquet").toString(), arrowOut = work.resolve("quickstart-arrow").toString();
prompts.write().format("tokenmill").options(options).option("outputFormat", "parquet").mode("overwrite").save(parquetOut);
prompts.write().format("tokenmill").options(options).option("outputFormat", "arrow").mode("overwrite").save(arrowOut);
Dataset<Row> back = spark.read().parquet(parquetOut);
System.out.println("Parquet rows: " + back.count() + ", columns: " + String.join(", ", back.columns()));''',
'''// the Arrow IPC files, read with Arrow Java (pyarrow, Arrow JS and DuckDB read them as well)
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
long arrowRows = 0;
String firstText = null;
try (var files = Files.list(Path.of(arrowOut)); var alloc = new RootAllocator()) {
    for (Path f : files.filter(p -> p.toString().endsWith(".arrow")).sorted().toList()) {
        try (var reader = new ArrowFileReader(Files.newByteChannel(f), alloc)) {
            while (reader.loadNextBatch()) {
                var root = reader.getVectorSchemaRoot();
                arrowRows += root.getRowCount();
                if (firstText == null && root.getRowCount() > 0) firstText = String.valueOf(((org.apache.arrow.vector.complex.StructVector) root.getVector("result")).getChild("text").getObject(0));
            }
        }
    }
}
System.out.println("Arrow rows: " + arrowRows + "; a story: " + firstText.replaceAll("\\\\s+", " "));''',
])

nightly = nb([
"md:# Nightly scoring walkthrough\n\n`NightlyScoringJob` reads one YAML config: model, input, template, task, output table. Here: `classify` over a fixed "
"label set, where each label is scored as a continuation of the prompt (the prompt's KV blocks shared through the prefix "
"cache) and every label gets a probability; then an incremental run after a few input rows change.",
setup,
'''import dev.tokenmill.jobs.NightlyScoringJob;
Path dir = Files.createDirectories(work.resolve("nightly"));
String[] pets = {"cat", "dog", "bird", "fish"};
// twenty rows of input; `changed` rows get a different text
void writeInput(Path file, Set<Integer> changed) throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
        String text = "Tom had a " + pets[i % 4] + (changed.contains(i) ? " and it ran away" : " and they played all day");
        lines.add("{\\"id\\": " + i + ", \\"text\\": \\"" + text + ".\\"}");
    }
    Files.write(file, lines);
}
writeInput(dir.resolve("day1.json"), Set.of());
String config(String input) {
    return String.join("\\n",
        "model: " + model,
        "input: {path: " + input + ", format: json}",
        "key: id",
        "task: classify",
        "template: \\"{text} Tom was very\\"",
        "labels: [\\" happy\\", \\" sad\\"]",
        "output: " + dir.resolve("table"),
        "incremental: true",
        "options: {threads: \\"2\\"}");
}
Files.writeString(dir.resolve("day1.yaml"), config(dir.resolve("day1.json").toString()));
System.out.println(Files.readString(dir.resolve("day1.yaml")));''',
'''int run(String configFile, String date) {
    return new picocli.CommandLine(new NightlyScoringJob()).execute("--config", configFile, "--date", date);
}
run(dir.resolve("day1.yaml").toString(), "2026-12-01")''',
"md:Each row has its label and every label's probability (normalised over the label set):",
'''Dataset<Row> table = spark.read().parquet(dir.resolve("table").toString());
for (Row r : table.orderBy("id").limit(6).select("id", "text", "label", "label_probs").collectAsList()) {
    Map<String, Double> p = r.getJavaMap(3);
    System.out.printf("%2d  %-40s -> %-6s  happy %.3f  sad %.3f%n", r.getLong(0), r.getString(1), r.getString(2), p.get(" happy"), p.get(" sad"));
}''',
"md:Running the same date again replaces exactly that partition (one `dt=` directory, the same rows):",
'''run(dir.resolve("day1.yaml").toString(), "2026-12-01");
spark.read().parquet(dir.resolve("table").toString()).groupBy("dt").count().collectAsList()''',
"md:## Incremental rerun\n\nThe next day three rows change. Only rows whose hash of (key, rendered prompt, model fingerprint, parameters) is new are computed; the other 17 are carried over from the previous partition. The job's line shows the counters.",
'''writeInput(dir.resolve("day2.json"), Set.of(3, 7, 11));
Files.writeString(dir.resolve("day2.yaml"), config(dir.resolve("day2.json").toString()));
run(dir.resolve("day2.yaml").toString(), "2026-12-02");
spark.read().parquet(dir.resolve("table").toString()).groupBy("dt").count().orderBy("dt").collectAsList()''',
])

thr = nb([
"md:# Throughput study\n\nGenerated tokens per second of the engine the connector runs on each executor, against the batch size "
"(`maxSeqs`: how many sequences decode together) and against prefix sharing (64 prompts that start with the same long "
"system text, with and without the prefix cache). `stories260K` on the CPU threads of this machine: the numbers are "
"small-model numbers, the shape of the curves is the point. Plotted with XChart.",
'''import dev.tokenmill.*;
Path home = Path.of(System.getenv().getOrDefault("TOKENMILL_HOME", "..")).toAbsolutePath().normalize();
Path model = home.resolve("demo/stories260K-f32.gguf");
List<String> openings = Files.readAllLines(home.resolve("demo/prompts.jsonl")).stream()
        .map(l -> l.replaceAll(".*\\"prompt\\": \\"(.*)\\"}$", "$1")).limit(64).toList();
String shared = "Once upon a time, in a small town near a big green forest, there lived many animals and children who liked to play together every day. ";
record Point(String label, double tokPerS, long cached) {}
Point measure(String label, EngineConfig config, List<String> prompts) throws Exception {
    try (Engine engine = Engine.open(model, config)) {
        engine.generate(List.of(Request.text("warm", prompts.get(0)).greedy(8).build()));   // JIT warm-up
        List<Request> reqs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) reqs.add(Request.text("r" + i, prompts.get(i)).greedy(48).ignoreEos(true).build());
        long t0 = System.nanoTime();
        List<Result> results = engine.generate(reqs);
        double s = (System.nanoTime() - t0) / 1e9;
        long generated = results.stream().mapToLong(Result::completionTokens).sum();
        long cached = results.stream().mapToLong(Result::cachedPromptTokens).sum();
        return new Point(label, generated / s, cached);
    }
}''',
'''List<Integer> batchSizes = List.of(1, 2, 4, 8, 16, 32, 64);
List<Double> tokPerS = new ArrayList<>();
for (int b : batchSizes) {
    Point p = measure("maxSeqs " + b, EngineConfig.builder().threads(2).maxSeqs(b).build(), openings);
    tokPerS.add(p.tokPerS());
    System.out.printf("maxSeqs %2d: %,8.0f generated tok/s%n", b, p.tokPerS());
}''',
'''List<String> withShared = openings.stream().map(o -> shared + o).toList();
Point noCache = measure("shared prefix, no prefix cache", EngineConfig.builder().threads(2).maxSeqs(64).prefixCaching(false).build(), withShared);
Point cache = measure("shared prefix, prefix cache", EngineConfig.builder().threads(2).maxSeqs(64).build(), withShared);
for (Point p : List.of(noCache, cache)) System.out.printf("%-32s %,8.0f generated tok/s, %,d prompt tokens from the cache%n", p.label(), p.tokPerS(), p.cached());''',
'''import org.knowm.xchart.*;
XYChart batch = new XYChartBuilder().width(560).height(340).title("Throughput vs batch size (stories260K, 2 threads)")
        .xAxisTitle("maxSeqs (sequences decoded together)").yAxisTitle("generated tokens/s").build();
batch.getStyler().setXAxisLogarithmic(true);
batch.getStyler().setLegendVisible(false);
batch.getStyler().setMarkerSize(7);
batch.addSeries("tok/s", batchSizes.stream().map(Integer::doubleValue).toList(), tokPerS);
CategoryChart prefix = new CategoryChartBuilder().width(420).height(340).title("64 prompts sharing a long prefix")
        .yAxisTitle("generated tokens/s").build();
prefix.getStyler().setLegendVisible(false);
prefix.getStyler().setYAxisMin(0.0);
prefix.addSeries("tok/s", List.of("no prefix cache", "prefix cache"), List.of(noCache.tokPerS(), cache.tokPerS()));
display(BitmapEncoder.getBufferedImage(batch));
display(BitmapEncoder.getBufferedImage(prefix));''',
])
nbformat.write(quick, "quickstart.ipynb")
nbformat.write(nightly, "nightly-scoring.ipynb")
nbformat.write(thr, "throughput.ipynb")
