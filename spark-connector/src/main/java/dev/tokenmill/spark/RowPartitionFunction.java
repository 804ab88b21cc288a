package dev.tokenmill.spark;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

import java.util.Iterator;

/** The operator over external rows: input columns plus the appended {@link ResultColumns}, in input order. */
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
        ResultColumns columns = plan.columns();
        Iterator<InferenceWindow.Completed<Row>> done = InferenceWindow.iterate(input, w, r -> r);
        return new Iterator<>() {
            @Override public boolean hasNext() { return done.hasNext(); }

            @Override public Row next() {
                var c = done.next();
                Row in = c.input();
                Object[] added = columns.external(c.result());
                Object[] v = new Object[in.length() + added.length];
                for (int i = 0; i < in.length(); i++) v[i] = in.get(i);
                System.arraycopy(added, 0, v, in.length(), added.length);
                return RowFactory.create(v);
            }
        };
    }
}
