package dev.tokenmill.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufFormatException;
import dev.tokenmill.model.NonFiniteLogitsException;
import dev.tokenmill.tokenizer.ChatTemplateException;
import dev.tokenmill.tokenizer.TokenizerException;
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

    /**
     * The {@code --threads} option: {@code fallback} when absent; refused below 1 and above four threads per
     * available processor (the same bound as {@code EngineConfig}): compute threads far beyond the cores only
     * contend, and 1000 of them on 2 cores made a run take minutes instead of seconds.
     */
    public static int threads(Integer requested, int fallback) {
        int n = requested == null ? fallback : requested;
        int processors = Runtime.getRuntime().availableProcessors();
        int max = 4 * processors;
        if (n < 1 || n > max) {
            throw new UserException("--threads must be in 1.." + max + " (4 per available processor, " + processors
                    + " here), got " + n);
        }
        return n;
    }

    static int handleError(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        // a bad model file, option or prompt: the message says everything, a stack trace would only bury it
        boolean userError = e instanceof GgufFormatException || e instanceof TokenizerException
                || e instanceof ChatTemplateException || e instanceof NonFiniteLogitsException
                || e instanceof IllegalArgumentException || e instanceof java.io.IOException || e instanceof UserException;
        String message = switch (e) {
            case java.nio.file.NoSuchFileException n -> "no such file: " + n.getFile();
            case java.nio.file.AccessDeniedException a -> "permission denied: " + a.getFile();
            default -> e.getMessage() == null ? e.toString() : e.getMessage();
        };
        err.println("tokenmill " + cli.getCommandName() + ": error: " + GgufFile.printable(message));
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
