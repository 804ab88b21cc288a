package dev.tokenmill.spark;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.arrow.ArrowWriter;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;

import java.io.IOException;
import java.nio.channels.Channels;

/**
 * An Arrow IPC file (the random-access "file" format, readable by pyarrow, Arrow JS and DuckDB) written with
 * Spark's own {@link ArrowWriter} into record batches of {@link #BATCH_ROWS} rows.
 */
final class ArrowRowWriter implements RowFileWriter {
    static final int BATCH_ROWS = 4096;

    private final BufferAllocator allocator;
    private final VectorSchemaRoot root;
    private final ArrowWriter rows;
    private final FSDataOutputStream out;
    private final ArrowFileWriter file;
    private int inBatch;

    ArrowRowWriter(Path path, StructType schema, String timeZoneId, Configuration conf) throws IOException {
        allocator = ArrowUtils.rootAllocator().newChildAllocator("tokenmill-arrow-" + path.getName(), 0, Long.MAX_VALUE);
        root = VectorSchemaRoot.create(ArrowUtils.toArrowSchema(schema, timeZoneId, true, false), allocator);
        rows = ArrowWriter.create(root);
        out = path.getFileSystem(conf).create(path, false);
        file = new ArrowFileWriter(root, null, Channels.newChannel(out));
        file.start();
    }

    @Override
    public void write(InternalRow row) throws IOException {
        rows.write(row);
        if (++inBatch == BATCH_ROWS) flushBatch();
    }

    private void flushBatch() throws IOException {
        rows.finish();
        file.writeBatch();
        rows.reset();
        inBatch = 0;
    }

    @Override
    public void close() throws IOException {
        try {
            if (inBatch > 0) flushBatch();
            file.end();
            file.close();
        } finally {
            out.close();
            root.close();
            allocator.close();
        }
    }
}
