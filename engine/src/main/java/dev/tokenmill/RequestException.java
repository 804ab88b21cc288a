package dev.tokenmill;

/**
 * A request the engine cannot accept as given: a missing prompt, an option out of range, a token id outside the
 * vocabulary. The message names the request and the option, and says what was expected versus found. Thrown on
 * the caller's thread by {@link Request}'s builder and by {@link Engine#submit}; nothing was queued.
 */
public final class RequestException extends IllegalArgumentException {
    public RequestException(String message) {
        super(message);
    }

    public RequestException(String message, Throwable cause) {
        super(message, cause);
    }
}
