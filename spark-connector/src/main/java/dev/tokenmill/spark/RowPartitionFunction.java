package dev.tokenmill.spark;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

import java.util.Iterator;

/** The operator over external rows: input columns plus the result struct, in input order. */
final class RowPartitionFunction implements MapPartitionsFunction<Row, Row> {
    private final PromptPlan plan;
    private final TokenmillMetrics metrics;

    RowPartitionFunction(PromptPlan plan, TokenmillMetrics metrics) {
        this.plan = plan;
        this.metrics = metrics;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        if (!input.hasNext()) return java.util.Collections.emptyIterator();
        InferenceWindow<Row> w = TaskRun.open(plan, SparkRows::of, metrics);
        boolean logprobs = plan.wantsLogprobs();
        Iterator<InferenceWindow.Completed<Row>> done = InferenceWindow.iterate(input, w, r -> r);
        return new Iterator<>() {
            @Override public boolean hasNext() { return done.hasNext(); }

            @Override public Row next() {
                var c = done.next();
                Row in = c.input();
                Object[] v = new Object[in.length() + 1];
                for (int i = 0; i < in.length(); i++) v[i] = in.get(i);
                v[in.length()] = c.result().toRow(logprobs);
                return RowFactory.create(v);
            }
        };
    }
}
