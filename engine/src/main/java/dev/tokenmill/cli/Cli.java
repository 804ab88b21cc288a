package dev.tokenmill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tokenmill.gguf.GgufFormatException;
import picocli.CommandLine;

import java.io.PrintWriter;

/** Shared CLI plumbing: JSON lines on stdout, user errors as one line on stderr. */
public final class Cli {
    public static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

    private Cli() {}

    /** Prints one JSON object on its own line on stdout. */
    public static void printJson(PrintWriter out, Object value) {
        try {
            out.println(JSON.writeValueAsString(value));
            out.flush();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise output", e);
        }
    }

    static int handleError(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        boolean userError = e instanceof GgufFormatException || e instanceof IllegalArgumentException
                || e instanceof java.io.IOException || e instanceof UserException;
        String message = switch (e) {
            case java.nio.file.NoSuchFileException n -> "no such file: " + n.getFile();
            case java.nio.file.AccessDeniedException a -> "permission denied: " + a.getFile();
            default -> e.getMessage() == null ? e.toString() : e.getMessage();
        };
        err.println("tokenmill " + cli.getCommandName() + ": error: " + message);
        if (!userError || Boolean.getBoolean("tokenmill.debug")) e.printStackTrace(err);
        err.flush();
        return userError ? 1 : 2;
    }

    /** An error in what the user asked for: printed as one line, no stack trace. */
    public static final class UserException extends RuntimeException {
        public UserException(String message) { super(message); }
        public UserException(String message, Throwable cause) { super(message, cause); }
    }
}
