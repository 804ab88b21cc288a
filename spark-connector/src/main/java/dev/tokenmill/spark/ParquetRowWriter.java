package dev.tokenmill.spark;

import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.datasources.OutputWriter;
import org.apache.spark.sql.execution.datasources.OutputWriterFactory;
import org.apache.spark.sql.types.StructType;

/** A Parquet file written by Spark's own Parquet writer (the factory {@code ParquetFileFormat.prepareWrite} made). */
final class ParquetRowWriter implements RowFileWriter {
    private final OutputWriter writer;

    ParquetRowWriter(OutputWriterFactory factory, String path, StructType schema, TaskAttemptContext context) {
        writer = factory.newInstance(path, schema, context);
    }

    @Override
    public void write(InternalRow row) {
        writer.write(row);
    }

    @Override
    public void close() {
        writer.close();
    }
}
