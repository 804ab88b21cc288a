package dev.tokenmill.cli;

import dev.tokenmill.sample.constrain.Constraint;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The structured-output options of {@code generate}: at most one of them. */
final class ConstraintOptions {
    @Option(names = "--json-schema", paramLabel = "JSON_OR_FILE", description = "the output is JSON valid against this JSON Schema (inline JSON, or a file)")
    String jsonSchema;

    @Option(names = "--json-object", description = "the output is a JSON object")
    boolean jsonObject;

    @Option(names = "--regex", paramLabel = "R", description = "the output matches this regular expression as a whole")
    String regex;

    @Option(names = "--choice", paramLabel = "TEXT", description = "the output is one of these (repeatable); scored, with each choice's probability")
    List<String> choices = new ArrayList<>();

    @Option(names = "--grammar", paramLabel = "FILE", description = "the output follows this GBNF grammar (llama.cpp's format, rule root)")
    Path grammar;

    /** The constraint asked for, or null; a user error when more than one is given or a file cannot be read. */
    Constraint constraint() {
        int n = (jsonSchema != null ? 1 : 0) + (jsonObject ? 1 : 0) + (regex != null ? 1 : 0) + (choices.isEmpty() ? 0 : 1)
                + (grammar != null ? 1 : 0);
        if (n > 1) throw new Cli.UserException("--json-schema, --json-object, --regex, --choice and --grammar exclude each other; got " + n);
        if (jsonSchema != null) return new Constraint.JsonSchema(jsonOrFile(jsonSchema, "--json-schema"));
        if (jsonObject) return new Constraint.JsonObject();
        if (regex != null) return new Constraint.Regex(regex);
        if (!choices.isEmpty()) return new Constraint.Choice(choices);
        if (grammar != null) return new Constraint.Grammar(read(grammar, "--grammar"));
        return null;
    }

    /** Inline JSON when the text starts like a JSON value, else the contents of the file it names. */
    static String jsonOrFile(String value, String option) {
        String t = value.strip();
        if (t.startsWith("{") || t.equals("true") || t.equals("false")) return value;
        return read(Path.of(value), option);
    }

    private static String read(Path p, String option) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new Cli.UserException(option + ": cannot read " + p + ": " + e.getMessage());
        }
    }
}
