package dev.tokenmill.jobs;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.apache.spark.sql.functions.col;

/**
 * The ids that already have a committed result under an output path: the rows of the committed files only (the
 * connector keeps uncommitted attempts under {@code _tokenmill_staging/}, which Spark's readers and this listing skip).
 */
final class CommittedIds {
    private CommittedIds() {}

    /** The committed ids as a one-column frame of {@code idType}, or null when nothing is committed there yet. */
    static Dataset<Row> read(SparkSession spark, String output, String format, String idColumn, DataType idType) {
        try {
            List<Path> files = committedFiles(spark, output, "arrow".equals(format) ? ".arrow" : ".parquet");
            if (files.isEmpty()) return null;
            if ("parquet".equals(format)) return spark.read().parquet(output).select(col(idColumn).cast(idType).as(idColumn));
            List<String> ids = new ArrayList<>();
            FileSystem fs = files.getFirst().getFileSystem(spark.sparkContext().hadoopConfiguration());
            try (BufferAllocator alloc = new RootAllocator()) {
                for (Path p : files) readArrowColumn(fs, p, idColumn, alloc, ids);
            }
            return spark.createDataset(ids, Encoders.STRING()).toDF(idColumn).select(col(idColumn).cast(idType).as(idColumn));
        } catch (IOException e) {
            throw new JobException("cannot read the committed output under " + output + ": " + e.getMessage(), e);
        }
    }

    static List<Path> committedFiles(SparkSession spark, String output, String extension) throws IOException {
        Path root = new Path(output);
        FileSystem fs = root.getFileSystem(spark.sparkContext().hadoopConfiguration());
        List<Path> out = new ArrayList<>();
        if (!fs.exists(root)) return out;
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
        while (it.hasNext()) {
            FileStatus st = it.next();
            if (st.getPath().getName().endsWith(extension) && !hidden(root, st.getPath())) out.add(st.getPath());
        }
        return out;
    }

    private static boolean hidden(Path root, Path p) {
        String rel = root.toUri().relativize(p.toUri()).getPath();
        for (String part : rel.split("/")) if (part.startsWith("_") || part.startsWith(".")) return true;
        return false;
    }

    private static void readArrowColumn(FileSystem fs, Path p, String column, BufferAllocator alloc, List<String> out) throws IOException {
        byte[] bytes;
        try (InputStream in = fs.open(p)) {
            bytes = in.readAllBytes();
        }
        try (ArrowFileReader reader = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(bytes), alloc)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            while (reader.loadNextBatch()) {
                FieldVector v = root.getVector(column);
                if (v == null) throw new JobException(p + ": no column '" + column + "' to resume by");
                for (int i = 0; i < root.getRowCount(); i++) out.add(String.valueOf(v.getObject(i)));
            }
        }
    }
}
