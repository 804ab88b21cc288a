package dev.tokenmill.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SQLContext;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.sources.BaseRelation;
import org.apache.spark.sql.sources.CreatableRelationProvider;
import org.apache.spark.sql.sources.DataSourceRegister;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

import java.util.Map;

/**
 * The {@code tokenmill} data source.
 *
 * <pre>{@code
 * df.write().format("tokenmill").option("model", M).option("outputFormat", "parquet").mode("overwrite").save(out);
 * spark.read().format("tokenmill").option("model", M).option("inputFormat", "json").load(in);
 * spark.sql("CREATE TABLE t USING tokenmill OPTIONS (model 'M', path 'out')"); spark.sql("INSERT INTO t SELECT ...");
 * }</pre>
 *
 * Reads are DataSource V2 scans. {@code DataFrameWriter.save} reaches {@link #createRelation}, which applies the
 * save mode (a V2 table cannot see {@code errorifexists} or {@code ignore}) and then runs the V2 batch write with
 * its commit protocol.
 */
public final class TokenmillDataSource implements TableProvider, DataSourceRegister, CreatableRelationProvider {
    @Override
    public String shortName() {
        return "tokenmill";
    }

    @Override
    public StructType inferSchema(CaseInsensitiveStringMap options) {
        // a table created only to be written to has no input to read; its columns come with the inserted rows
        if (!options.containsKey("inputFormat")) return new StructType();
        return TokenmillScan.schema(SparkSession.active(), options.asCaseSensitiveMap());
    }

    @Override
    public boolean supportsExternalMetadata() {
        return true;
    }

    @Override
    public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
        return new TokenmillTable(schema, properties);
    }

    @Override
    public BaseRelation createRelation(SQLContext sqlContext, SaveMode mode, scala.collection.immutable.Map<String, String> parameters,
                                       Dataset<Row> data) {
        TokenmillWrites.write(data, ScalaMaps.java(parameters), mode);
        StructType schema = data.schema();
        return new BaseRelation() {
            @Override public SQLContext sqlContext() { return sqlContext; }

            @Override public StructType schema() { return schema; }
        };
    }
}
