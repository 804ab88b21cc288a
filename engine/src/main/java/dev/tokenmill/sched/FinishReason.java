package dev.tokenmill.sched;

/** Why a sequence stopped. */
public enum FinishReason {
    /** A stop token was sampled (or the engine matched a stop string). */
    STOP,
    /** The token limit of the request, or the context / KV limit, was reached. */
    LENGTH,
    /** The request could not be served (e.g. its prompt can never fit); see {@link Sequence#errorMessage()}. */
    ERROR,
    /** Cancelled by the caller or by engine shutdown. */
    ABORTED
}
