package dev.tokenmill.sample.constrain;

import java.util.List;
import java.util.Objects;

/**
 * What the generated text must satisfy: one of a JSON Schema, any JSON object, a regular expression, a list of
 * choices, or a GBNF grammar (as llama.cpp writes it). Set on {@code SamplingParams}; the engine compiles each distinct
 * constraint once into an automaton over the model's vocabulary and masks every token that would leave it.
 */
public sealed interface Constraint {

    /** A JSON Schema (its JSON text); the output is one JSON value that validates against it. */
    record JsonSchema(String schema) implements Constraint {
        public JsonSchema {
            Objects.requireNonNull(schema, "schema");
        }
    }

    /** Any JSON object. */
    record JsonObject() implements Constraint {}

    /** A regular expression the whole output matches (Java / ECMAScript syntax, no look-around or back-references). */
    record Regex(String pattern) implements Constraint {
        public Regex {
            Objects.requireNonNull(pattern, "pattern");
        }
    }

    /**
     * Exactly one of these strings. Not sampled: each choice is scored as a continuation of the prompt, the result
     * holds the probability of every choice and its text is the most probable one.
     */
    record Choice(List<String> choices) implements Constraint {
        public Choice {
            choices = List.copyOf(choices);
        }
    }

    /** A GBNF grammar as llama.cpp writes it; the start rule is {@code root}. */
    record Grammar(String gbnf) implements Constraint {
        public Grammar {
            Objects.requireNonNull(gbnf, "gbnf");
        }
    }

    /** Short name for messages: {@code json_schema}, {@code json_object}, {@code regex}, {@code choice}, {@code grammar}. */
    default String kind() {
        return switch (this) {
            case JsonSchema s -> "json_schema";
            case JsonObject o -> "json_object";
            case Regex r -> "regex";
            case Choice c -> "choice";
            case Grammar g -> "grammar";
        };
    }
}
