package dev.tokenmill.spark;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.mapreduce.Job;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connector.catalog.SupportsWrite;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.connector.write.BatchWrite;
import org.apache.spark.sql.connector.write.LogicalWriteInfo;
import org.apache.spark.sql.connector.write.Write;
import org.apache.spark.sql.connector.write.WriteBuilder;
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;
import org.apache.spark.util.SerializableConfiguration;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The DataSource V2 batch write underneath {@code tokenmill}: inference in the write tasks, files through
 * {@link FileCommit}. Not registered under a short name: {@link TokenmillWrites} runs it after it has applied the
 * save mode, which a V2 table cannot see.
 */
public final class TokenmillFileSink implements TableProvider {
    /** Internal option: the {@code partitionBy} columns as a JSON array. */
    static final String PARTITION_COLUMNS = "tokenmill.partitionColumns";
    /** Internal option: replace what is at the path when the job commits. */
    static final String TRUNCATE = "tokenmill.truncate";

    @Override
    public StructType inferSchema(CaseInsensitiveStringMap options) {
        throw new UnsupportedOperationException("the tokenmill file sink only writes");
    }

    @Override
    public boolean supportsExternalMetadata() {
        return true;
    }

    @Override
    public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
        return new SinkTable(schema);
    }

    private record SinkTable(StructType schema) implements SupportsWrite {
        @Override public String name() { return "tokenmill-sink"; }

        @Override public Set<TableCapability> capabilities() { return Set.of(TableCapability.BATCH_WRITE); }

        @Override
        public WriteBuilder newWriteBuilder(LogicalWriteInfo info) {
            return new WriteBuilder() {
                @Override
                public Write build() {
                    return new Write() {
                        @Override public BatchWrite toBatch() { return commitProtocol(info); }
                    };
                }
            };
        }
    }

    static FileCommit commitProtocol(LogicalWriteInfo info) {
        Map<String, String> o = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        o.putAll(info.options().asCaseSensitiveMap());
        SparkSession spark = SparkSession.active();
        TokenmillOptions opts = TokenmillOptions.parse(o);
        StructType input = info.schema();
        PromptPlan plan = new PromptPlan(input, opts);
        StructType output = plan.columns().appendTo(input);
        List<String> partitionColumns = partitionColumns(o.get(PARTITION_COLUMNS), input);
        StructType fileSchema = WriteJob.fileSchema(output, partitionColumns);
        OutputFormat format = OutputFormat.parse(o.get("outputFormat"));
        String path = o.get("path");
        if (path == null) throw new IllegalArgumentException("tokenmill: writing needs a path: .save(path) or option 'path'");
        Configuration hadoopConf = new Configuration(spark.sparkContext().hadoopConfiguration());
        var parquet = format == OutputFormat.PARQUET ? parquetFactory(spark, hadoopConf, o, fileSchema) : null;
        String jobId = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMddHHmmss")) + "-"
                + UUID.randomUUID().toString().substring(0, 8);
        String staging = new org.apache.hadoop.fs.Path(path, WriteJob.STAGING + "/" + jobId).toString();
        var job = new WriteJob(jobId, path, staging, format, plan, input, fileSchema, partitionColumns, parquet,
                new SerializableConfiguration(hadoopConf), spark.conf().get("spark.sql.session.timeZone"),
                Boolean.parseBoolean(o.getOrDefault(TRUNCATE, "false")), TokenmillMetrics.register(spark.sparkContext()),
                System.currentTimeMillis());
        return new FileCommit(job, o);
    }

    private static org.apache.spark.sql.execution.datasources.OutputWriterFactory parquetFactory(
            SparkSession spark, Configuration conf, Map<String, String> o, StructType schema) {
        try {
            Job job = Job.getInstance(conf);
            var f = new ParquetFileFormat().prepareWrite(spark, job, ScalaMaps.immutable(o), schema);
            // the factory reads its settings (write support schema, compression) from the job's configuration
            job.getConfiguration().forEach(e -> conf.set(e.getKey(), e.getValue()));
            return f;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<String> partitionColumns(String json, StructType input) {
        if (json == null || json.isEmpty()) return List.of();
        List<String> cols;
        try {
            cols = new ObjectMapper().readValue(json, new TypeReference<List<String>>() {});
        } catch (Exception e) {
            throw new IllegalArgumentException("tokenmill: bad partition columns " + json, e);
        }
        List<String> names = List.of(input.fieldNames());
        for (String c : cols) {
            if (!names.contains(c)) throw new IllegalArgumentException("tokenmill: partitionBy column '" + c + "' is not in the input " + names);
        }
        return List.copyOf(cols);
    }
}
