package dev.tokenmill.gguf;

/** A GGUF file that is malformed, truncated, or lacks what the engine needs. The message names the file and the key or tensor. */
public class GgufFormatException extends RuntimeException {
    public GgufFormatException(String message) {
        super(message);
    }

    public GgufFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
