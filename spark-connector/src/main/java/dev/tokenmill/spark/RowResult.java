package dev.tokenmill.spark;

import dev.tokenmill.FinishReason;
import dev.tokenmill.Result;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The {@code result} struct of one row: {@code text}, {@code finish_reason}, {@code prompt_tokens},
 * {@code completion_tokens}, {@code cached_tokens}, {@code error} (null when the row succeeded; set for {@code error},
 * {@code abort} and {@code timeout}), {@code latency_ms}, then {@code logprobs} when asked for, then
 * {@code choice_probabilities} (each choice and its probability; null for a row without choices) when the options or
 * a column give {@code choices}. New fields go at the end.
 *
 * @param incomplete the row had a constraint and its text does not satisfy it (cut short); not in the struct
 */
record RowResult(String text, String finishReason, int promptTokens, int completionTokens, int cachedTokens,
                 String error, long latencyMs, List<Result.TokenLogprobs> logprobs, boolean incomplete,
                 Map<String, Double> choiceProbabilities) {

    private static final StructType ALTERNATIVE = new StructType(new StructField[] {
            DataTypes.createStructField("token", DataTypes.IntegerType, false),
            DataTypes.createStructField("logprob", DataTypes.DoubleType, false)});
    private static final StructType TOKEN_LOGPROBS = new StructType(new StructField[] {
            DataTypes.createStructField("token", DataTypes.IntegerType, false),
            DataTypes.createStructField("logprob", DataTypes.DoubleType, false),
            DataTypes.createStructField("top", DataTypes.createArrayType(ALTERNATIVE, false), false)});

    /** The struct type of the result column. */
    static StructType schema(boolean withLogprobs, boolean withChoices) {
        StructType t = new StructType()
                .add("text", DataTypes.StringType, true)
                .add("finish_reason", DataTypes.StringType, false)
                .add("prompt_tokens", DataTypes.IntegerType, false)
                .add("completion_tokens", DataTypes.IntegerType, false)
                .add("cached_tokens", DataTypes.IntegerType, false)
                .add("error", DataTypes.StringType, true)
                .add("latency_ms", DataTypes.LongType, false);
        if (withLogprobs) t = t.add("logprobs", DataTypes.createArrayType(TOKEN_LOGPROBS, false), true);
        if (withChoices) t = t.add("choice_probabilities", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true);
        return t;
    }

    static RowResult of(Result r, long measuredMs) {
        long ms = r.timings() == null ? measuredMs
                : Math.round(r.timings().queueMs() + r.timings().prefillMs() + r.timings().decodeMs());
        boolean failed = r.error() != null || r.finishReason() == FinishReason.ERROR || r.finishReason() == FinishReason.ABORT
                || r.finishReason() == FinishReason.TIMEOUT;
        // a request the engine refused (bad constraint, prompt too long) has no text, as a row that never reached it
        String text = r.finishReason() == FinishReason.ERROR && r.completionTokens() == 0 ? null : r.text();
        return new RowResult(text, r.finishReason().wireName(), r.promptTokens(), r.completionTokens(),
                r.cachedPromptTokens(), failed ? (r.error() == null ? r.finishReason().wireName() : r.error()) : null, ms, r.logprobs(),
                r.incomplete(), r.choiceProbabilities());
    }

    /** A row that never reached the engine. */
    static RowResult failed(String error) {
        return new RowResult(null, FinishReason.ERROR.wireName(), 0, 0, 0, error, 0, null, false, null);
    }

    boolean failed() {
        return error != null;
    }

    Row toRow(boolean withLogprobs, boolean withChoices) {
        List<Object> v = new ArrayList<>(Arrays.asList(text, finishReason, promptTokens, completionTokens, cachedTokens, error, latencyMs));
        if (withLogprobs) {
            v.add(logprobs == null ? null : CollectionConverters.asScala(logprobs.stream().map(t -> RowFactory.create(t.token(), t.logprob(),
                    CollectionConverters.asScala(t.top().stream().map(a -> RowFactory.create(a.token(), a.logprob())).toList()).toSeq()))
                    .toList()).toSeq());
        }
        if (withChoices) {
            v.add(choiceProbabilities == null ? null : scala.collection.immutable.Map$.MODULE$.from(CollectionConverters.asScala(choiceProbabilities)));
        }
        return RowFactory.create(v.toArray());
    }

    InternalRow toInternalRow(boolean withLogprobs, boolean withChoices) {
        Object[] v = new Object[7 + (withLogprobs ? 1 : 0) + (withChoices ? 1 : 0)];
        v[0] = text == null ? null : UTF8String.fromString(text);
        v[1] = UTF8String.fromString(finishReason);
        v[2] = promptTokens;
        v[3] = completionTokens;
        v[4] = cachedTokens;
        v[5] = error == null ? null : UTF8String.fromString(error);
        v[6] = latencyMs;
        int k = 7;
        if (withLogprobs) {
            if (logprobs != null) {
                v[k] = new GenericArrayData(logprobs.stream().map(t -> (Object) new GenericInternalRow(new Object[] {t.token(), t.logprob(),
                        new GenericArrayData(t.top().stream().map(a -> (Object) new GenericInternalRow(new Object[] {a.token(), a.logprob()}))
                                .toArray())})).toArray());
            }
            k++;
        }
        if (withChoices && choiceProbabilities != null) {
            v[k] = new ArrayBasedMapData(
                    new GenericArrayData(choiceProbabilities.keySet().stream().map(c -> (Object) UTF8String.fromString(c)).toArray()),
                    new GenericArrayData(choiceProbabilities.values().toArray()));
        }
        return new GenericInternalRow(v);
    }
}
