package dev.tokenmill.spark;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.execution.datasources.DataSourceUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * A {@code tokenmill} write on the driver: applies the save mode as Spark's file sources do ({@code errorifexists}
 * fails and {@code ignore} does nothing when the path holds data; {@code overwrite} replaces it when the job commits;
 * {@code append} adds files), then runs the V2 batch write of {@link TokenmillFileSink}.
 */
final class TokenmillWrites {
    private TokenmillWrites() {}

    static void write(Dataset<Row> data, Map<String, String> options, SaveMode mode) {
        Map<String, String> o = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        o.putAll(options);
        String path = o.remove("path");
        if (path == null) throw new IllegalArgumentException("tokenmill: writing needs a path: .save(path) or option 'path'");
        TokenmillOptions.parse(o); // fail on the driver, before any task runs
        boolean exists = holdsData(data, path);
        switch (mode) {
            case ErrorIfExists -> {
                if (exists) {
                    throw new IllegalStateException("tokenmill: path " + path + " already exists (save mode errorifexists); "
                            + "use mode overwrite, append or ignore");
                }
            }
            case Ignore -> {
                if (exists) return;
            }
            case Overwrite -> o.put(TokenmillFileSink.TRUNCATE, "true");
            case Append -> { }
        }
        String partitionColumns = o.remove(DataSourceUtils.PARTITIONING_COLUMNS_KEY());
        if (partitionColumns != null) o.put(TokenmillFileSink.PARTITION_COLUMNS, partitionColumns);
        data.write().format(TokenmillFileSink.class.getName()).options(o).mode(SaveMode.Append).save(path);
    }

    /** Whether the path holds anything but an abandoned staging directory. */
    private static boolean holdsData(Dataset<Row> data, String path) {
        try {
            Path p = new Path(path);
            FileSystem fs = p.getFileSystem(data.sparkSession().sparkContext().hadoopConfiguration());
            if (!fs.exists(p)) return false;
            if (!fs.getFileStatus(p).isDirectory()) return true;
            for (FileStatus st : fs.listStatus(p)) if (!st.getPath().getName().equals(WriteJob.STAGING)) return true;
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("tokenmill: cannot look at " + path, e);
        }
    }
}
