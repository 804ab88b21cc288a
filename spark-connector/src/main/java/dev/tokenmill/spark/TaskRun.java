package dev.tokenmill.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.util.TaskCompletionListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Function;

/** Opens a task's {@link InferenceWindow} on the executor's shared engine and ties both to the task's end. */
final class TaskRun {
    private TaskRun() {}

    static <I> InferenceWindow<I> open(PromptPlan plan, Function<I, RowValues> values, TokenmillMetrics metrics) {
        return open(plan.options(), plan::request, values, metrics);
    }

    /** A window whose rows become requests through {@code requests} (the SQL functions), on the engine of {@code options}. */
    static <I> InferenceWindow<I> open(TokenmillOptions options, InferenceWindow.Requests requests, Function<I, RowValues> values,
                                       TokenmillMetrics metrics) {
        EngineHolder.Lease lease;
        try {
            lease = EngineHolder.acquire(options);
        } catch (IOException e) {
            throw new UncheckedIOException("tokenmill: cannot open model " + options.model() + ": " + e.getMessage(), e);
        }
        TaskContext task = TaskContext.get();
        String prefix = task == null ? "row-" : "p" + task.partitionId() + "-t" + task.taskAttemptId() + "-";
        InferenceWindow<I> w = new InferenceWindow<>(lease.engine(), lease.fingerprint(), requests, options.maxInFlight(), values, prefix, metrics);
        if (task != null) {
            task.addTaskCompletionListener((TaskCompletionListener) ctx -> {
                w.close();
                lease.close();
            });
        }
        return w;
    }
}
