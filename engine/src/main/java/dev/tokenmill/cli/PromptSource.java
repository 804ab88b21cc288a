package dev.tokenmill.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The text a command works on: given on the command line, read from standard input ({@code -}) or read from a
 * file ({@code --prompt-file}), which is how a prompt longer than the system's argument limit (about 128 KB)
 * gets in. The bytes are taken verbatim (a file's final newline stays) and decoded as UTF-8; invalid sequences
 * become U+FFFD, as llama.cpp's tokenizer sees them, and {@link #HELP} says so in {@code --help}.
 */
final class PromptSource {
    /** The sentence of {@code --help} about decoding. */
    static final String HELP = "Invalid UTF-8 in the text becomes U+FFFD (the replacement character).";
    /** The value of the text option that means standard input. */
    static final String STDIN = "-";

    private PromptSource() {}

    /** {@code text} itself, standard input when it is {@code -}, or the contents of {@code file} when text is null. */
    static String read(String text, Path file, InputStream stdin) throws IOException {
        if (text != null) return STDIN.equals(text) ? decode(stdin.readAllBytes()) : text;
        if (Files.isDirectory(file)) throw new Cli.UserException("prompt file " + file + " is a directory");
        return decode(Files.readAllBytes(file));
    }

    /** UTF-8, malformed sequences replaced by U+FFFD ({@code new String} replaces rather than throws). */
    static String decode(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
