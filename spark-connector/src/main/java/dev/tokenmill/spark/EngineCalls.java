package dev.tokenmill.spark;

import dev.tokenmill.Engine;
import dev.tokenmill.FinishReason;
import dev.tokenmill.Request;
import dev.tokenmill.RequestException;
import dev.tokenmill.Result;
import org.apache.spark.TaskContext;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The connector's one door into the engine. A bad request comes back as a future completed with an error result
 * (the engine's contract; a {@link RequestException} thrown by the builder or an older engine is turned into the
 * same). When the engine's queue is full ({@code maxQueuedRequests}) the task waits for room in short slices, so
 * that a task Spark kills meanwhile stops at once.
 */
final class EngineCalls {
    private static final Duration QUEUE_SLICE = Duration.ofMillis(100);

    private EngineCalls() {}

    static CompletableFuture<Result> submit(Engine engine, Request request) {
        TaskContext task = TaskContext.get();
        while (true) {
            Optional<CompletableFuture<Result>> f;
            try {
                f = engine.trySubmit(request, QUEUE_SLICE);
            } catch (RequestException e) {
                return CompletableFuture.completedFuture(error(request.id(), e.getMessage()));
            }
            if (f.isPresent()) return f.get();
            if (task != null) task.killTaskIfInterrupted();
            if (Thread.currentThread().isInterrupted()) {
                throw new IllegalStateException("tokenmill: interrupted while waiting for room in the engine's queue");
            }
        }
    }

    /** Aborts a request the task no longer waits for: the engine stops it at its next step and frees its KV blocks. */
    static void cancel(CompletableFuture<Result> future) {
        future.cancel(true);
    }

    static Result error(String id, String message) {
        return new Result(id, "", new int[0], FinishReason.ERROR, 0, 0, 0, null, null, null, message);
    }
}
