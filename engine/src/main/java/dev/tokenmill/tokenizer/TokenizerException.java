package dev.tokenmill.tokenizer;

/**
 * A vocabulary that cannot be turned into a tokenizer (unknown {@code tokenizer.ggml.model} or
 * {@code tokenizer.ggml.pre}, missing or malformed keys), or an input it cannot encode. The message names the file,
 * the key and what was expected versus found.
 */
public final class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
