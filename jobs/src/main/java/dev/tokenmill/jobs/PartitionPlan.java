package dev.tokenmill.jobs;

import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.ceil;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.floor;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.substring;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.xxhash64;

/**
 * Which task runs which row. Each row gets an estimated token count (prompt characters / 4 + {@code maxTokens}) and a
 * prefix key (the first {@value #PREFIX_CHARS} characters of its rendered prompt, system prompt included). Rows of one
 * prefix key are packed into as few partitions as their tokens allow (split into equal slices only when a key holds
 * more than one partition's share), so the executor's prefix cache serves the shared prefix; the pieces are then packed
 * into partitions by estimated tokens, largest first into the lightest, so that no task is a straggler. Partitions
 * are grouped into waves of about {@code commitRows} rows; each wave is written and committed on its own, which is
 * what {@code --resume} builds on.
 */
final class PartitionPlan {
    static final int PREFIX_CHARS = 48;
    /** Beyond this many prefix keys the plan falls back to hashing ids (the key table would not fit the driver). */
    static final int MAX_KEYS = 200_000;
    static final String EST = "_tm_est", PREFIX = "_tm_prefix", SLICE = "_tm_slice", SLICES = "_tm_slices", PART = "_tm_part";
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([^{}]+)}");

    final Dataset<Row> rows;    // input columns + PART
    final int partitionsPerWave;
    final int waves;
    final long rowCount;
    final long estimatedTokens;

    private PartitionPlan(Dataset<Row> rows, int partitionsPerWave, int waves, long rowCount, long estimatedTokens) {
        this.rows = rows;
        this.partitionsPerWave = partitionsPerWave;
        this.waves = waves;
        this.rowCount = rowCount;
        this.estimatedTokens = estimatedTokens;
    }

    /** The prompt text of each row as the connector will render it, close enough to estimate its length. */
    static Column renderedPrompt(Map<String, String> options) {
        String system = options.getOrDefault("systemPrompt", "");
        Column body;
        if (options.get("template") != null) {
            List<Column> parts = new ArrayList<>();
            Matcher m = PLACEHOLDER.matcher(options.get("template"));
            int last = 0;
            while (m.find()) {
                parts.add(lit(options.get("template").substring(last, m.start())));
                parts.add(coalesce(col(m.group(1)).cast("string"), lit("")));
                last = m.end();
            }
            parts.add(lit(options.get("template").substring(last)));
            body = concat(parts.toArray(Column[]::new));
        } else if (options.get("messagesColumn") != null) {
            body = coalesce(expr("concat_ws('\\n', transform(`" + options.get("messagesColumn") + "`, m -> m.content))"), lit(""));
        } else {
            body = coalesce(col(options.getOrDefault("promptColumn", "prompt")).cast("string"), lit(""));
        }
        return system.isEmpty() ? body : concat(lit(system + "\n"), body);
    }

    static PartitionPlan build(SparkSession spark, Dataset<Row> input, Map<String, String> options, String idColumn,
                               int partitionsPerWave, long commitRows) {
        int maxTokens = Integer.parseInt(options.getOrDefault("maxTokens", "128"));
        Column prompt = renderedPrompt(options);
        Dataset<Row> annotated = input
                .withColumn(EST, ceil(length(prompt).divide(4)).plus(1 + maxTokens).cast("long"))
                .withColumn(PREFIX, coalesce(substring(prompt, 1, PREFIX_CHARS), lit("")));
        List<Row> keys = annotated.groupBy(PREFIX).agg(sum(EST).as(EST), count(lit(1)).as("n")).limit(MAX_KEYS + 1).collectAsList();
        long rows = keys.stream().mapToLong(r -> r.getLong(2)).sum();
        long tokens = keys.stream().mapToLong(r -> r.getLong(1)).sum();
        int waves = (int) Math.max(1, Math.ceilDiv(rows, Math.max(1, commitRows)));
        int perWave = (int) Math.max(1, Math.min(partitionsPerWave, Math.ceilDiv(rows, waves)));
        int parts = waves * perWave;
        Dataset<Row> planned;
        if (keys.size() > MAX_KEYS) {
            planned = annotated.withColumn(PART, pmod(xxhash64(col(idColumn)), lit(parts)).cast("int"));
        } else {
            planned = pack(spark, annotated, keys, parts, tokens, idColumn);
        }
        return new PartitionPlan(planned.drop(EST, PREFIX, SLICE, SLICES), perWave, waves, rows, tokens);
    }

    private record Piece(String prefix, int slice, int slices, double tokens) {}

    private static Dataset<Row> pack(SparkSession spark, Dataset<Row> annotated, List<Row> keys, int parts, long tokens, String idColumn) {
        double target = Math.max(1.0, (double) tokens / parts);
        List<Piece> pieces = new ArrayList<>();
        List<Row> sliceRows = new ArrayList<>();
        for (Row k : keys) {
            long n = k.getLong(2);
            // a key 2% over two shares is two slices, not three small ones that leave a partition half empty
            int slices = (int) Math.max(1, Math.min(n, Math.ceil(k.getLong(1) / target - 0.02)));
            sliceRows.add(RowFactory.create(k.getString(0), slices));
            for (int s = 0; s < slices; s++) pieces.add(new Piece(k.getString(0), s, slices, (double) k.getLong(1) / slices));
        }
        pieces.sort(Comparator.comparingDouble(Piece::tokens).reversed().thenComparing(Piece::prefix).thenComparingInt(Piece::slice));
        // largest piece first into the lightest partition (ties to the lower partition): longest-processing-time packing
        PriorityQueue<double[]> bins = new PriorityQueue<>(Comparator.<double[]>comparingDouble(b -> b[0]).thenComparingDouble(b -> b[1]));
        for (int p = 0; p < parts; p++) bins.add(new double[] {0, p});
        List<Row> partRows = new ArrayList<>();
        for (Piece piece : pieces) {
            double[] bin = bins.poll();
            partRows.add(RowFactory.create(piece.prefix(), piece.slice(), (int) bin[1]));
            bin[0] += piece.tokens();
            bins.add(bin);
        }
        StructType sliceSchema = new StructType().add(PREFIX, DataTypes.StringType).add(SLICES, DataTypes.IntegerType);
        StructType partSchema = new StructType().add(PREFIX, DataTypes.StringType).add(SLICE, DataTypes.IntegerType).add(PART, DataTypes.IntegerType);
        return annotated
                .join(broadcast(spark.createDataFrame(sliceRows, sliceSchema)), PREFIX)
                .withColumn(SLICE, slice(keys, idColumn))
                .join(broadcast(spark.createDataFrame(partRows, partSchema)), scala.jdk.javaapi.CollectionConverters.asScala(List.of(PREFIX, SLICE)).toSeq());
    }

    /** Beyond this many rows in one prefix key its slices are cut by id hash rather than by rank (one task ranks a key). */
    static final long MAX_RANKED_KEY = 1_000_000;

    /**
     * The slice of a row within its prefix key: by rank of id (equal slices, for keys up to {@link #MAX_RANKED_KEY}
     * rows), else by id hash (equal in expectation).
     */
    private static Column slice(List<Row> keys, String idColumn) {
        long largest = keys.stream().mapToLong(r -> r.getLong(2)).max().orElse(0);
        if (largest > MAX_RANKED_KEY) return pmod(xxhash64(col(idColumn)), col(SLICES)).cast("int");
        var byKey = Window.partitionBy(col(PREFIX)).orderBy(col(idColumn));
        return floor(row_number().over(byKey).minus(1).multiply(col(SLICES)).divide(count(lit(1)).over(Window.partitionBy(col(PREFIX))))).cast("int");
    }

    /** The rows of one wave, partition i of the wave holding exactly the rows planned for it. */
    Dataset<Row> wave(SparkSession spark, int w) {
        Dataset<Row> inWave = rows.filter(col(PART).geq(w * partitionsPerWave).and(col(PART).lt((w + 1) * partitionsPerWave)));
        StructType schema = inWave.drop(PART).schema();
        int partIndex = java.util.Arrays.asList(inWave.columns()).indexOf(PART);
        int n = partitionsPerWave;
        JavaRDD<Row> placed = inWave.javaRDD()
                .mapToPair(r -> new Tuple2<>(r.getInt(partIndex) % n, dropAt(r, partIndex)))
                .partitionBy(new HashPartitioner(n))   // an Integer key k < n goes to partition k
                .values();
        return spark.createDataFrame(placed, schema);
    }

    private static Row dropAt(Row r, int index) {
        Object[] v = new Object[r.length() - 1];
        for (int i = 0, j = 0; i < r.length(); i++) if (i != index) v[j++] = r.get(i);
        return RowFactory.create(v);
    }
}
