package dev.tokenmill.model;

/**
 * The forward pass gave a NaN or infinite logit: the model's weights are corrupt (or overflow their type), and
 * nothing computed from them is output. The message names the file, the position and the token of the logit.
 */
public class NonFiniteLogitsException extends RuntimeException {
    public NonFiniteLogitsException(String message) {
        super(message);
    }
}
