package dev.tokenmill.spark;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.execution.datasources.FilePartition;
import org.apache.spark.sql.execution.datasources.PartitionedFile;
import org.apache.spark.sql.types.StructType;

import java.util.Iterator;
import java.util.Map;

/**
 * A {@code tokenmill} read: inference over an input read by Spark's file source, lazily, one task per input split,
 * returning the input columns plus the result struct (and the parsed JSON column with {@code parseJson}).
 */
final class TokenmillScan implements ScanBuilder, Scan, Batch {
    private final Map<String, String> options;
    private final TokenmillOptions opts;
    private InputFiles input;
    private PromptPlan plan;

    TokenmillScan(Map<String, String> options) {
        this.options = options;
        this.opts = TokenmillOptions.parse(options);
    }

    /** The input's schema plus the result column, without planning the input's splits. */
    static StructType schema(SparkSession spark, Map<String, String> options) {
        StructType in = InputFiles.schema(spark, options);
        return new PromptPlan(in, TokenmillOptions.parse(options)).columns().appendTo(in);
    }

    private InputFiles input() {
        if (input == null) {
            input = InputFiles.plan(SparkSession.active(), options);
            plan = new PromptPlan(input.schema, opts);
        }
        return input;
    }

    @Override public Scan build() { return this; }

    @Override
    public StructType readSchema() {
        return plan.columns().appendTo(input().schema);
    }

    @Override public Batch toBatch() { return this; }

    @Override
    public InputPartition[] planInputPartitions() {
        return input().splits;
    }

    @Override
    public PartitionReaderFactory createReaderFactory() {
        return new ReaderFactory(input(), plan, TokenmillMetrics.register(SparkSession.active().sparkContext()));
    }

    @Override
    public String description() {
        return "tokenmill[model=" + opts.model() + ", inputFormat=" + options.get("inputFormat") + "]";
    }

    private record ReaderFactory(InputFiles input, PromptPlan plan, TokenmillMetrics metrics) implements PartitionReaderFactory {
        @Override
        public PartitionReader<InternalRow> createReader(InputPartition partition) {
            FilePartition split = (FilePartition) partition;
            Iterator<InternalRow> rows = new Iterator<>() {
                private int file;
                private scala.collection.Iterator<InternalRow> current = scala.collection.Iterator.empty();

                @Override public boolean hasNext() {
                    while (!current.hasNext() && file < split.files().length) {
                        PartitionedFile f = split.files()[file++];
                        current = input.readFile.apply(f);
                    }
                    return current.hasNext();
                }

                @Override public InternalRow next() {
                    if (!hasNext()) throw new java.util.NoSuchElementException();
                    return current.next();
                }
            };
            StructType schema = input.schema;
            InferenceWindow<InternalRow> window = TaskRun.open(plan, r -> SparkRows.of(r, schema), metrics);
            var done = InferenceWindow.iterate(rows, window, InternalRow::copy);
            ResultColumns columns = plan.columns();
            return new PartitionReader<>() {
                private InternalRow row;

                @Override
                public boolean next() {
                    if (!done.hasNext()) return false;
                    var c = done.next();
                    row = new JoinedRow(c.input(), new GenericInternalRow(columns.internal(c.result())));
                    return true;
                }

                @Override public InternalRow get() { return row; }

                @Override public void close() { window.close(); }
            };
        }
    }
}
