package dev.tokenmill.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.FileSourceScanExec;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.datasources.FileFormat;
import org.apache.spark.sql.execution.datasources.FilePartition;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.PartitionedFile;
import org.apache.spark.sql.types.StructType;
import scala.Function1;
import scala.collection.Iterator;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The input of a {@code tokenmill} read, planned by Spark's own file source for {@code inputFormat} (parquet, json,
 * csv, text, with their reader options): its splits (one task each) and the function that reads a split's files
 * into rows on an executor. The input schema is known here, on the driver, before any inference runs.
 */
final class InputFiles implements Serializable {
    private static final Set<String> FORMATS = Set.of("parquet", "json", "csv", "text");

    final StructType schema;
    final transient FilePartition[] splits;
    final Function1<PartitionedFile, Iterator<InternalRow>> readFile;

    private InputFiles(StructType schema, FilePartition[] splits, Function1<PartitionedFile, Iterator<InternalRow>> readFile) {
        this.schema = schema;
        this.splits = splits;
        this.readFile = readFile;
    }

    static String format(Map<String, String> options) {
        String f = caseInsensitive(options).get("inputFormat");
        if (f == null) {
            throw new IllegalArgumentException("tokenmill: reading needs option 'inputFormat' (parquet, json, csv or text) and a path");
        }
        f = f.trim().toLowerCase(Locale.ROOT);
        if (!FORMATS.contains(f)) throw new IllegalArgumentException("tokenmill option 'inputFormat' must be one of " + FORMATS + ", got " + f);
        return f;
    }

    /** Only the input's schema, without planning its splits. */
    static StructType schema(SparkSession spark, Map<String, String> options) {
        return load(spark, options).schema();
    }

    static InputFiles plan(SparkSession spark, Map<String, String> options) {
        Dataset<Row> in = load(spark, options);
        FileSourceScanExec scan = findScan(in.queryExecution().executedPlan());
        HadoopFsRelation rel = scan.relation();
        Map<String, String> readerOptions = new HashMap<>(ScalaMaps.java(rel.options()));
        readerOptions.put(FileFormat.OPTION_RETURNING_BATCH(), "false");
        var hadoopConf = ((org.apache.spark.sql.classic.SparkSession) rel.sparkSession()).sessionState()
                .newHadoopConfWithOptions(rel.options());
        var readFile = rel.fileFormat().buildReaderWithPartitionValues(rel.sparkSession(), rel.dataSchema(), rel.partitionSchema(),
                scan.requiredSchema(), scala.jdk.javaapi.CollectionConverters.asScala(java.util.List.<org.apache.spark.sql.sources.Filter>of()).toList(), ScalaMaps.immutable(readerOptions), hadoopConf);
        var partitions = scan.inputRDD().partitions();
        FilePartition[] splits = new FilePartition[partitions.length];
        for (int i = 0; i < partitions.length; i++) splits[i] = (FilePartition) partitions[i];
        StructType schema = scan.requiredSchema().merge(rel.partitionSchema(), true);
        return new InputFiles(schema, splits, readFile);
    }

    private static Dataset<Row> load(SparkSession spark, Map<String, String> options) {
        Map<String, String> o = new HashMap<>(options);
        String format = format(o);
        String path = o.remove("path");
        if (path == null) throw new IllegalArgumentException("tokenmill: reading needs a path: .load(path) or option 'path'");
        return spark.read().format(format).options(o).load(path.split(","));
    }

    private static FileSourceScanExec findScan(SparkPlan plan) {
        if (plan instanceof FileSourceScanExec s) return s;
        var children = scala.jdk.javaapi.CollectionConverters.asJava(plan.children());
        for (SparkPlan c : children) {
            FileSourceScanExec s = findScan(c);
            if (s != null) return s;
        }
        return null;
    }

    private static Map<String, String> caseInsensitive(Map<String, String> o) {
        var m = new java.util.TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER);
        m.putAll(o);
        return m;
    }
}
