package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufFile;

/**
 * A vocabulary that cannot be turned into a tokenizer (unknown {@code tokenizer.ggml.model} or
 * {@code tokenizer.ggml.pre}, missing or malformed keys), or an input it cannot encode. The message names the file,
 * the key and what was expected versus found; text from the file in it is escaped ({@link GgufFile#printable}), so it
 * prints as one line.
 */
public final class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(GgufFile.printable(message));
    }

    public TokenizerException(String message, Throwable cause) {
        super(GgufFile.printable(message), cause);
    }
}
