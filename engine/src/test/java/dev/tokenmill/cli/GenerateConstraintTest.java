package dev.tokenmill.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.synth.ModelSynthesizer;
import dev.tokenmill.synth.SynthPreset;
import dev.tokenmill.tensor.quant.FileType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** {@code generate} and {@code bench} with structured output, on the synthetic tiny model with both vocabulary kinds. */
class GenerateConstraintTest {
    @TempDir static Path dir;
    static Path spm, bpe;

    @BeforeAll
    static void writeModels() throws Exception {
        spm = dir.resolve("tiny-spm.gguf");
        bpe = dir.resolve("tiny-bpe.gguf");
        ModelSynthesizer.write(new ModelSynthesizer.Options(SynthPreset.byName("tiny"), FileType.Q8_0, 1, 2, false), spm, null);
        ModelSynthesizer.write(new ModelSynthesizer.Options(SynthPreset.byName("tiny"), FileType.Q8_0, 1, 2, true), bpe, null);
    }

    private record Run(int exit, String out, String err) {
        JsonNode json() throws Exception {
            return Cli.JSON.readTree(out.lines().toList().getLast());
        }
    }

    private static Run run(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void jsonSchemaOutputParsesOnBothVocabularyKinds() throws Exception {
        Path schema = dir.resolve("schema.json");
        Files.writeString(schema, "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":6},"
                + "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":99}},\"required\":[\"name\",\"n\"]}");
        for (Path model : List.of(spm, bpe)) {
            for (String seed : List.of("1", "2", "3")) {
                Run r = run("generate", "--model", model.toString(), "--prompt", "Tell me", "--max-tokens", "48", "--seed", seed,
                        "--threads", "1", "--json-schema", schema.toString());
                assertThat(r.exit()).as(r.err()).isZero();
                JsonNode j = r.json();
                if (j.get("finish_reason").asText().equals("stop")) {
                    assertThat(j.get("incomplete").asBoolean()).isFalse();
                    JsonNode v = Cli.JSON.readTree(j.get("text").asText());
                    assertThat(v.get("name").isTextual()).isTrue();
                    assertThat(v.get("n").asInt()).isBetween(1, 99);
                } else {
                    assertThat(j.get("incomplete").asBoolean()).isTrue();
                }
            }
        }
    }

    @Test
    void choicesComeWithTheirProbabilities() throws Exception {
        Run r = run("generate", "--model", bpe.toString(), "--prompt", "Is it", "--threads", "1", "--choice", "yes", "--choice", "no",
                "--choice", "perhaps");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = r.json();
        JsonNode p = j.get("choice_probabilities");
        assertThat(p.get("yes").asDouble() + p.get("no").asDouble() + p.get("perhaps").asDouble()).isCloseTo(1.0, within(1e-9));
        assertThat(j.get("text").asText()).isIn("yes", "no", "perhaps");
        assertThat(j.get("finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void regexAndGrammarOptions() throws Exception {
        Run r = run("generate", "--model", spm.toString(), "--prompt", "Call", "--max-tokens", "30", "--seed", "4", "--threads", "1",
                "--regex", "\\d{3}-\\d{4}");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.json().get("text").asText()).matches("\\d{3}-\\d{4}");
        Path g = dir.resolve("list.gbnf");
        Files.writeString(g, "root ::= \"[\" item (\",\" item)* \"]\"\nitem ::= [a-z]{1,5}\n");
        r = run("generate", "--model", bpe.toString(), "--prompt", "List", "--max-tokens", "30", "--seed", "4", "--threads", "1",
                "--grammar", g.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = r.json();
        if (j.get("finish_reason").asText().equals("stop")) assertThat(j.get("text").asText()).matches("\\[[a-z]{1,5}(,[a-z]{1,5})*]");
    }

    @Test
    void twoConstraintsOrABadSchemaAreOneLineErrors() {
        Run r = run("generate", "--model", spm.toString(), "--prompt", "x", "--json-object", "--regex", "a");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("exclude each other").doesNotContain("Exception");
        r = run("generate", "--model", spm.toString(), "--prompt", "x", "--json-schema", "{\"type\":\"string\",\"pattern\":\"a\"}");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("unsupported JSON Schema keyword 'pattern' at #").doesNotContain("Exception");
    }

    @Test
    void benchRunsTheConstrainedWorkload() throws Exception {
        Run r = run("bench", "--model", bpe.toString(), "--prompts", "4", "--prompt-tokens", "8", "--gen-tokens", "6", "--threads", "1",
                "--warmup", "1", "--json-schema", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("json_schema").asBoolean()).isTrue();
        assertThat(j.get("generated_tokens").asLong()).isPositive();
    }
}
