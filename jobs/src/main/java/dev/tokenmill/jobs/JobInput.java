package dev.tokenmill.jobs;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.util.Locale;
import java.util.Map;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.xxhash64;

/** Where a job's rows come from: a path read by Spark's own file sources, or a catalog table. */
record JobInput(String path, String format, String table, Map<String, String> readerOptions) {

    Dataset<Row> read(SparkSession spark) {
        if (table != null) return spark.table(table);
        if (path == null) throw new JobException("no input: give --input PATH (with --input-format) or --table NAME");
        String f = format != null ? format : guessFormat(path);
        return switch (f) {
            case "parquet", "json", "csv", "text" -> spark.read().format(f).options(readerOptions).load(path);
            default -> throw new JobException("--input-format: expected parquet, json, csv or text, found '" + f + "'");
        };
    }

    static String guessFormat(String path) {
        String p = path.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
        if (p.endsWith(".json") || p.endsWith(".jsonl") || p.endsWith(".ndjson")) return "json";
        if (p.endsWith(".csv")) return "csv";
        if (p.endsWith(".txt")) return "text";
        return "parquet";
    }

    /**
     * The rows with an id column: the named one when the input has it, else {@code idColumn} as a 64-bit hash of
     * every input column (stable across runs, so {@code --resume} works on inputs without ids; equal rows share it).
     */
    static Dataset<Row> withId(Dataset<Row> df, String idColumn) {
        if (java.util.Arrays.asList(df.columns()).contains(idColumn)) return df;
        var cols = java.util.Arrays.stream(df.columns()).map(c -> col(c).cast("string")).toArray(org.apache.spark.sql.Column[]::new);
        return df.withColumn(idColumn, xxhash64(concat_ws("\u0001", cols)));
    }
}
