package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import scala.collection.AbstractIterator;
import scala.collection.Iterator;
import scala.collection.immutable.Seq;
import scala.runtime.AbstractFunction2;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-partition body of {@link TokenmillEvalExec}: one {@link InferenceWindow} per call on the executor's shared
 * engine; every input row is offered to each window, and the windows give their oldest rows back together, so that
 * row {@code i} leaves with the results of row {@code i}.
 */
final class SqlPartitions extends AbstractFunction2<Object, Iterator<InternalRow>, Iterator<InternalRow>> implements Serializable {
    private final List<SqlCall> calls;
    private final Seq<Attribute> input;
    private final Seq<Attribute> output;
    private final TokenmillMetrics metrics;

    SqlPartitions(List<SqlCall> calls, Seq<Attribute> input, Seq<Attribute> output, TokenmillMetrics metrics) {
        this.calls = calls;
        this.input = input;
        this.output = output;
        this.metrics = metrics;
    }

    @Override
    public Iterator<InternalRow> apply(Object partition, Iterator<InternalRow> rows) {
        if (!rows.hasNext()) return rows;
        List<InferenceWindow<InternalRow>> windows = new ArrayList<>();
        for (SqlCall call : calls) {
            UnsafeProjection arguments = UnsafeProjection.create(ScalaSeqs.of(call.argumentColumns()), input);
            arguments.initialize((Integer) partition);
            // the projection's row is read at once, inside offer(), so its buffer can be reused for the next row
            windows.add(TaskRun.open(call.options(), call::request, (InternalRow row) -> call.values(arguments.apply(row)), metrics));
        }
        UnsafeProjection toOutput = UnsafeProjection.create(ScalaSeqs.expressions(output), output);
        JoinedRow joined = new JoinedRow();
        return new AbstractIterator<>() {
            private void fill() {
                while (rows.hasNext() && windows.stream().noneMatch(InferenceWindow::isFull)) {
                    InternalRow row = rows.next().copy(); // kept until its results are back
                    for (var w : windows) w.offer(row);
                }
            }

            @Override
            public boolean hasNext() {
                fill();
                return !windows.getFirst().isEmpty();
            }

            @Override
            public InternalRow next() {
                fill();
                Object[] results = new Object[windows.size()];
                InternalRow row = null;
                for (int k = 0; k < windows.size(); k++) {
                    var c = windows.get(k).take();
                    row = c.input();
                    results[k] = calls.get(k).result(c.result());
                }
                return toOutput.apply(joined.apply(row, new GenericInternalRow(results)));
            }
        };
    }
}
