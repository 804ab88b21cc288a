package dev.tokenmill.spark;

import dev.tokenmill.FinishReason;
import dev.tokenmill.Result;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

import java.util.List;

/**
 * The {@code result} struct of one row: {@code text}, {@code finish_reason}, {@code prompt_tokens},
 * {@code completion_tokens}, {@code cached_tokens}, {@code error} (null when the row succeeded; set for {@code error},
 * {@code abort} and {@code timeout}), {@code latency_ms},
 * and {@code logprobs} when asked for.
 */
record RowResult(String text, String finishReason, int promptTokens, int completionTokens, int cachedTokens,
                 String error, long latencyMs, List<Result.TokenLogprobs> logprobs) {

    private static final StructType ALTERNATIVE = new StructType(new StructField[] {
            DataTypes.createStructField("token", DataTypes.IntegerType, false),
            DataTypes.createStructField("logprob", DataTypes.DoubleType, false)});
    private static final StructType TOKEN_LOGPROBS = new StructType(new StructField[] {
            DataTypes.createStructField("token", DataTypes.IntegerType, false),
            DataTypes.createStructField("logprob", DataTypes.DoubleType, false),
            DataTypes.createStructField("top", DataTypes.createArrayType(ALTERNATIVE, false), false)});

    /** The struct type of the result column. */
    static StructType schema(boolean withLogprobs) {
        StructType t = new StructType()
                .add("text", DataTypes.StringType, true)
                .add("finish_reason", DataTypes.StringType, false)
                .add("prompt_tokens", DataTypes.IntegerType, false)
                .add("completion_tokens", DataTypes.IntegerType, false)
                .add("cached_tokens", DataTypes.IntegerType, false)
                .add("error", DataTypes.StringType, true)
                .add("latency_ms", DataTypes.LongType, false);
        return withLogprobs ? t.add("logprobs", DataTypes.createArrayType(TOKEN_LOGPROBS, false), true) : t;
    }

    /** The input schema plus the result column. */
    static StructType outputSchema(StructType input, String resultColumn, boolean withLogprobs) {
        if (List.of(input.fieldNames()).contains(resultColumn)) {
            throw new IllegalArgumentException("tokenmill option 'resultColumn': the input already has a column '" + resultColumn + "'");
        }
        return input.add(resultColumn, schema(withLogprobs), false);
    }

    static RowResult of(Result r, long measuredMs) {
        long ms = r.timings() == null ? measuredMs
                : Math.round(r.timings().queueMs() + r.timings().prefillMs() + r.timings().decodeMs());
        boolean failed = r.error() != null || r.finishReason() == FinishReason.ERROR || r.finishReason() == FinishReason.ABORT
                || r.finishReason() == FinishReason.TIMEOUT;
        return new RowResult(r.text(), r.finishReason().wireName(), r.promptTokens(), r.completionTokens(),
                r.cachedPromptTokens(), failed ? (r.error() == null ? r.finishReason().wireName() : r.error()) : null, ms, r.logprobs());
    }

    /** A row that never reached the engine. */
    static RowResult failed(String error) {
        return new RowResult(null, FinishReason.ERROR.wireName(), 0, 0, 0, error, 0, null);
    }

    boolean failed() {
        return error != null;
    }

    Row toRow(boolean withLogprobs) {
        Object[] v = {text, finishReason, promptTokens, completionTokens, cachedTokens, error, latencyMs};
        if (!withLogprobs) return RowFactory.create(v);
        Object lp = null;
        if (logprobs != null) {
            lp = scala.jdk.javaapi.CollectionConverters.asScala(logprobs.stream().map(t -> RowFactory.create(t.token(), t.logprob(),
                    scala.jdk.javaapi.CollectionConverters.asScala(t.top().stream()
                            .map(a -> RowFactory.create(a.token(), a.logprob())).toList()).toSeq())).toList()).toSeq();
        }
        Object[] w = java.util.Arrays.copyOf(v, 8);
        w[7] = lp;
        return RowFactory.create(w);
    }

    InternalRow toInternalRow(boolean withLogprobs) {
        Object[] v = new Object[withLogprobs ? 8 : 7];
        v[0] = text == null ? null : UTF8String.fromString(text);
        v[1] = UTF8String.fromString(finishReason);
        v[2] = promptTokens;
        v[3] = completionTokens;
        v[4] = cachedTokens;
        v[5] = error == null ? null : UTF8String.fromString(error);
        v[6] = latencyMs;
        if (withLogprobs && logprobs != null) {
            v[7] = new GenericArrayData(logprobs.stream().map(t -> (Object) new GenericInternalRow(new Object[] {t.token(), t.logprob(),
                    new GenericArrayData(t.top().stream().map(a -> (Object) new GenericInternalRow(new Object[] {a.token(), a.logprob()}))
                            .toArray())})).toArray());
        }
        return new GenericInternalRow(v);
    }
}
