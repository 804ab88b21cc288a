package dev.tokenmill.spark;

import org.apache.spark.sql.execution.datasources.OutputWriterFactory;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.SerializableConfiguration;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * Everything a write task needs, fixed on the driver: the prompt plan, where files go (the final directory and the
 * job's staging directory under it), the file format and its writer factory, and the job's accumulators.
 *
 * @param inputSchema      the rows the tasks receive
 * @param fileSchema       the rows in the files: input plus result, without the partition columns
 * @param partitionColumns {@code partitionBy} columns, in order; their values name the subdirectories
 * @param parquet          Spark's Parquet writer factory, or null for Arrow
 */
record WriteJob(String jobId, String path, String stagingDir, OutputFormat format, PromptPlan plan, StructType inputSchema,
                StructType fileSchema, List<String> partitionColumns, OutputWriterFactory parquet,
                SerializableConfiguration hadoopConf, String timeZoneId, boolean truncate, TokenmillMetrics metrics,
                long startMillis) implements Serializable {

    static final String STAGING = "_tokenmill_staging";

    /** Ordinals of the partition columns in the input. */
    int[] partitionOrdinals() {
        List<String> names = Arrays.asList(inputSchema.fieldNames());
        return partitionColumns.stream().mapToInt(names::indexOf).toArray();
    }

    /** The output schema (input plus result) without the partition columns. */
    static StructType fileSchema(StructType output, List<String> partitionColumns) {
        return new StructType(Arrays.stream(output.fields()).filter(f -> !partitionColumns.contains(f.name())).toArray(StructField[]::new));
    }

    String extension() {
        return format == OutputFormat.PARQUET ? ".parquet" : ".arrow";
    }
}
