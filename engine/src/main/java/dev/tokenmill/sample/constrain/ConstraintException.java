package dev.tokenmill.sample.constrain;

/** A constraint that cannot be compiled: a bad or unsupported JSON Schema, regex or grammar; the message says where. */
public final class ConstraintException extends IllegalArgumentException {
    public ConstraintException(String message) {
        super(message);
    }
}
