package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.InternalRow;

import java.io.IOException;

/** Writes rows of one schema to one file. */
interface RowFileWriter extends AutoCloseable {
    void write(InternalRow row) throws IOException;

    /** Flushes and closes the file; it is complete afterwards. */
    @Override
    void close() throws IOException;
}
