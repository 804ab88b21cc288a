package dev.tokenmill.jobs;

/** A job that cannot run as asked (a missing input, column or option); its message names what is wrong. */
public final class JobException extends RuntimeException {
    public JobException(String message) {
        super(message);
    }

    public JobException(String message, Throwable cause) {
        super(message, cause);
    }
}
