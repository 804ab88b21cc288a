package dev.tokenmill.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.SupportsWrite;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.write.LogicalWriteInfo;
import org.apache.spark.sql.connector.write.SupportsTruncate;
import org.apache.spark.sql.connector.write.V1Write;
import org.apache.spark.sql.connector.write.Write;
import org.apache.spark.sql.connector.write.WriteBuilder;
import org.apache.spark.sql.sources.InsertableRelation;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The {@code tokenmill} table: read runs inference over an input ({@link TokenmillScan}); SQL {@code INSERT} runs
 * it over the inserted rows and writes files ({@link TokenmillWrites}). Its writes report
 * {@link TableCapability#V1_BATCH_WRITE}, so that {@code DataFrameWriter.save} goes through
 * {@link TokenmillDataSource#createRelation} and honours every save mode.
 */
final class TokenmillTable implements SupportsRead, SupportsWrite {
    private final StructType schema;
    private final Map<String, String> properties;

    TokenmillTable(StructType schema, Map<String, String> properties) {
        this.schema = schema;
        this.properties = properties;
    }

    @Override public String name() { return "tokenmill"; }

    @Override public StructType schema() { return schema; }

    @Override
    public Set<TableCapability> capabilities() {
        return Set.of(TableCapability.BATCH_READ, TableCapability.V1_BATCH_WRITE, TableCapability.TRUNCATE,
                TableCapability.ACCEPT_ANY_SCHEMA);
    }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
        return new TokenmillScan(merged(options.asCaseSensitiveMap()));
    }

    @Override
    public WriteBuilder newWriteBuilder(LogicalWriteInfo info) {
        Map<String, String> options = merged(info.options().asCaseSensitiveMap());
        return new Insert(options);
    }

    private Map<String, String> merged(Map<String, String> options) {
        Map<String, String> m = new HashMap<>(properties);
        m.putAll(options);
        return m;
    }

    private static final class Insert implements WriteBuilder, SupportsTruncate {
        private final Map<String, String> options;
        private boolean truncate;

        Insert(Map<String, String> options) {
            this.options = options;
        }

        @Override
        public WriteBuilder truncate() {
            truncate = true;
            return this;
        }

        @Override
        public Write build() {
            boolean overwrite = truncate;
            return new V1Write() {
                @Override
                public InsertableRelation toInsertableRelation() {
                    return (Dataset<Row> data, boolean ow) ->
                            TokenmillWrites.write(data, options, overwrite || ow ? SaveMode.Overwrite : SaveMode.Append);
                }
            };
        }
    }
}
