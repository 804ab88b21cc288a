package dev.tokenmill.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;

import java.util.Iterator;

/**
 * Passes rows through, except in the first attempt of one partition: after {@code afterRows} rows it fails the task
 * ({@code stallMillis == 0}) or stalls that long (a straggler for speculation to race).
 */
public record FailFirstAttempt(int partition, int afterRows, long stallMillis) implements MapPartitionsFunction<Row, Row> {
    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        TaskContext t = TaskContext.get();
        boolean hit = t.partitionId() == partition && t.attemptNumber() == 0;
        return new Iterator<>() {
            int n;

            @Override public boolean hasNext() { return rows.hasNext(); }

            @Override public Row next() {
                if (hit && ++n == afterRows + 1) {
                    if (stallMillis == 0) throw new IllegalStateException("injected failure of the first attempt");
                    try {
                        Thread.sleep(stallMillis);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("straggler interrupted", e);
                    }
                }
                return rows.next();
            }
        };
    }
}
