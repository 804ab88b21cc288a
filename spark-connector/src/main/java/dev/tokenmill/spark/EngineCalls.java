package dev.tokenmill.spark;

import dev.tokenmill.Engine;
import dev.tokenmill.Request;
import dev.tokenmill.RequestException;
import dev.tokenmill.Result;

import java.util.concurrent.CompletableFuture;

/**
 * The connector's one door into {@link Engine#submit}, so that the engine contract can change in one place: a
 * request the engine refuses becomes an error result for its row whether the engine throws
 * {@link RequestException} from {@code submit} or completes the future with {@link Result.FinishReason#ERROR}.
 */
final class EngineCalls {
    private EngineCalls() {}

    static CompletableFuture<Result> submit(Engine engine, Request request) {
        try {
            return engine.submit(request);
        } catch (RequestException e) {
            return CompletableFuture.completedFuture(error(request.id(), e.getMessage()));
        }
    }

    /** Aborts a request the task no longer waits for; the engine stops it (partial output is dropped). */
    static void cancel(CompletableFuture<Result> future) {
        future.cancel(true);
    }

    static Result error(String id, String message) {
        return new Result(id, "", new int[0], Result.FinishReason.ERROR, 0, 0, 0, null, null, null, message);
    }
}
