package dev.tokenmill.spark;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.analysis.FunctionRegistry$;
import org.apache.spark.sql.types.StructType;

import java.util.Map;

/**
 * The plain Java entry points: run a model over a DataFrame, or get the {@code mapPartitions} function and its
 * output schema to use in a pipeline of your own.
 *
 * <pre>{@code
 * Dataset<Row> out = Tokenmill.generate(prompts, Map.of("model", "hdfs:///models/qwen.gguf", "maxTokens", "64"));
 * // or
 * var f = Tokenmill.partitionFunction(prompts.schema(), options);
 * Dataset<Row> out = prompts.mapPartitions(f, Encoders.row(Tokenmill.outputSchema(prompts.schema(), options)));
 * }</pre>
 */
public final class Tokenmill {
    private Tokenmill() {}

    /** The input columns plus the result struct, lazily, in input order; progress goes to named accumulators. */
    public static Dataset<Row> generate(Dataset<?> input, Map<String, String> options) {
        Dataset<Row> df = input.toDF();
        TokenmillOptions o = TokenmillOptions.parse(options);
        PromptPlan plan = new PromptPlan(df.schema(), o);
        StructType out = plan.columns().appendTo(df.schema());
        TokenmillMetrics metrics = TokenmillMetrics.register(df.sparkSession().sparkContext());
        return df.mapPartitions(new RowPartitionFunction(plan, metrics), Encoders.row(out));
    }

    /** The operator for {@code mapPartitions} over rows of {@code inputSchema}; validates the options now. */
    public static MapPartitionsFunction<Row, Row> partitionFunction(StructType inputSchema, Map<String, String> options) {
        return new RowPartitionFunction(new PromptPlan(inputSchema, TokenmillOptions.parse(options)), null);
    }

    /**
     * Registers the SQL functions ({@link TokenmillExtensions}) in a session already running, with the optimizer rule and
     * planner strategy that batch them; the same as starting it with
     * {@code spark.sql.extensions=dev.tokenmill.spark.TokenmillExtensions}. From PySpark:
     * {@code spark._jvm.dev.tokenmill.spark.Tokenmill.registerFunctions(spark._jsparkSession)}. Calling it again changes nothing.
     */
    public static void registerFunctions(SparkSession spark) {
        var session = (org.apache.spark.sql.classic.SparkSession) spark;
        var registry = session.sessionState().functionRegistry();
        for (var f : TokenmillExtensions.FUNCTIONS) {
            // as SparkSessionExtensions registers an injected function: a builtin
            var id = FunctionRegistry$.MODULE$.builtinFunctionIdentifier(f.name());
            if (!registry.functionExists(id)) registry.registerFunction(id, f.info(), f.builder());
        }
        var experimental = session.experimental();
        synchronized (experimental) {
            if (!experimental.extraOptimizations().contains(ExtractTokenmillCalls.INSTANCE)) {
                experimental.extraOptimizations_$eq(ScalaSeqs.concat(experimental.extraOptimizations(), ScalaSeqs.of(ExtractTokenmillCalls.INSTANCE)));
            }
            if (!experimental.extraStrategies().contains(TokenmillStrategy.INSTANCE)) {
                experimental.extraStrategies_$eq(ScalaSeqs.concat(experimental.extraStrategies(), ScalaSeqs.of(TokenmillStrategy.INSTANCE)));
            }
        }
    }

    /** The schema of {@link #partitionFunction}'s rows. */
    public static StructType outputSchema(StructType inputSchema, Map<String, String> options) {
        return new PromptPlan(inputSchema, TokenmillOptions.parse(options)).columns().appendTo(inputSchema);
    }
}
