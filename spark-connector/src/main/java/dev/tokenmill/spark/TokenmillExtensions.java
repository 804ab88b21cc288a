package dev.tokenmill.spark;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.execution.SparkStrategy;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import org.apache.spark.sql.internal.SQLConf;
import scala.Function1;
import scala.Tuple3;
import scala.collection.immutable.Seq;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenmill SQL functions, for {@code spark.sql.extensions=dev.tokenmill.spark.TokenmillExtensions}:
 * {@code tokenmill_generate(prompt [, options])}, {@code tokenmill_classify(text, array(labels) [, options])} and
 * {@code tokenmill_extract(text, json_schema [, options])}, where {@code options} is
 * {@code map('model', '/path.gguf', 'maxTokens', '32', ...)} with the connector's option names; an option the map
 * does not give comes from the session's {@code spark.tokenmill.<option>}. The functions are planned into a batched
 * operator ({@link ExtractTokenmillCalls}, {@link TokenmillStrategy}). For a session already running, use
 * {@link Tokenmill#registerFunctions}.
 */
public final class TokenmillExtensions extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
    private static final String PREFIX = "spark.tokenmill.";

    /** A function's name, usage and builder. */
    record Function(String name, String usage, Function1<Seq<Expression>, Expression> builder) {
        FunctionIdentifier id() {
            return FunctionIdentifier.apply(name);
        }

        ExpressionInfo info() {
            return new ExpressionInfo(TokenmillCall.class.getName(), null, name, usage, "");
        }

        Tuple3<FunctionIdentifier, ExpressionInfo, Function1<Seq<Expression>, Expression>> description() {
            return new Tuple3<>(id(), info(), builder);
        }
    }

    static final List<Function> FUNCTIONS = List.of(
            function(SqlCall.GENERATE, "_FUNC_(prompt [, options]) - the model's completion of the prompt: struct<text, "
                    + "finish_reason, prompt_tokens, completion_tokens, cached_tokens, error, latency_ms>"),
            function(SqlCall.CLASSIFY, "_FUNC_(text, array(labels) [, options]) - the most probable label after the text, scored "
                    + "not sampled: struct<label, probabilities map<string,double>, error>"),
            function(SqlCall.EXTRACT, "_FUNC_(text, json_schema [, options]) - the model's JSON answer, constrained to the schema "
                    + "and read into its typed struct; null when the row failed"));

    private static Function function(String name, String usage) {
        return new Function(name, usage, new AbstractFunction1<>() {
            @Override
            public Expression apply(Seq<Expression> args) {
                return new TokenmillCall(name, args, ScalaMaps.immutable(sessionOptions()));
            }
        });
    }

    /** The session's {@code spark.tokenmill.*} settings, prefix removed. */
    private static Map<String, String> sessionOptions() {
        Map<String, String> out = new HashMap<>();
        ScalaMaps.java(SQLConf.get().getAllConfs()).forEach((k, v) -> {
            if (k.startsWith(PREFIX)) out.put(k.substring(PREFIX.length()), v);
        });
        return out;
    }

    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
        for (Function f : FUNCTIONS) extensions.injectFunction(f.description());
        extensions.injectOptimizerRule(new AbstractFunction1<SparkSession, Rule<LogicalPlan>>() {
            @Override
            public Rule<LogicalPlan> apply(SparkSession session) {
                return ExtractTokenmillCalls.INSTANCE;
            }
        });
        extensions.injectPlannerStrategy(new AbstractFunction1<SparkSession, SparkStrategy>() {
            @Override
            public SparkStrategy apply(SparkSession session) {
                return TokenmillStrategy.INSTANCE;
            }
        });
        return BoxedUnit.UNIT;
    }
}
