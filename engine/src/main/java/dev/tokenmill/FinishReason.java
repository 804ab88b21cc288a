package dev.tokenmill;

import java.util.Locale;

/** Why a request's generation ended: the one set of reasons the scheduler, the engine and {@link Result} share. */
public enum FinishReason {
    /** A stop token, an end-of-generation token or a stop string. */
    STOP,
    /** {@code maxTokens} generated, or the context / KV limit reached. */
    LENGTH,
    /** The request could not be served (a bad request, a prompt that can never fit, non-finite logits, ...); see
     * {@link Result#error()}. */
    ERROR,
    /** Cancelled by the caller ({@link Engine#cancel}, the future's {@code cancel}) or by {@link Engine#close()}. */
    ABORT,
    /** The request's deadline ({@code Request.Builder.timeout}) passed before it finished. */
    TIMEOUT;

    /** Lower-case name, as in OpenAI-style outputs: {@code stop}, {@code length}, {@code error}, {@code abort}, {@code timeout}. */
    public String wireName() { return name().toLowerCase(Locale.ROOT); }
}
