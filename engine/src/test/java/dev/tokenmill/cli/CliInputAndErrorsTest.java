package dev.tokenmill.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.TinyModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What the tokenize / score / generate commands take as text, and how they report a bad model or option. */
class CliInputAndErrorsTest {
    @TempDir static Path dir;
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = dir.resolve("tiny.gguf");
        withVocabulary(TinyModel.llama(5).writer(null)).write(model);
    }

    /** {@code <unk> <s> </s> ▁}, then a..z and ▁a..▁z, padded with "x0".. to the tiny llama's 64 rows. */
    static GgufWriter withVocabulary(GgufWriter w) {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>", "\u2581"));
        for (char c = 'a'; c <= 'z'; c++) tokens.add(String.valueOf(c));
        for (char c = 'a'; c <= 'z'; c++) tokens.add("\u2581" + c);
        while (tokens.size() < 64) tokens.add("x" + tokens.size());
        int[] types = new int[tokens.size()];
        float[] scores = new float[tokens.size()];
        for (int i = 0; i < types.length; i++) {
            types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
            scores[i] = -i;
        }
        return w.putString("tokenizer.ggml.model", "llama")
                .put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)))
                .put("tokenizer.ggml.scores", GgufValue.ofFloats(scores))
                .put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
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

    private static Run runWithStdin(byte[] stdin, String... args) {
        InputStream before = System.in;
        System.setIn(new ByteArrayInputStream(stdin));
        try {
            return run(args);
        } finally {
            System.setIn(before);
        }
    }

    /** One line on stderr, naming what it must, and no stack trace. */
    private static void assertOneLineError(Run r, String... parts) {
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).contains(parts).doesNotContain("\tat ");
    }

    @Test
    void textFromAFileOrStandardInputTokenizesAsTheSameTextGivenInline() throws Exception {
        String text = "hello world";
        Path f = dir.resolve("prompt.txt");
        Files.writeString(f, text);
        JsonNode inline = run("tokenize", "--model", model.toString(), "--text", text).json();
        assertThat(inline.get("ids").size()).isGreaterThan(3);
        assertThat(run("tokenize", "--model", model.toString(), "--prompt-file", f.toString()).json()).isEqualTo(inline);
        assertThat(run("tokenize", "--model", model.toString(), "--text-file", f.toString()).json()).isEqualTo(inline);
        assertThat(runWithStdin(text.getBytes(StandardCharsets.UTF_8), "tokenize", "--model", model.toString(), "--prompt", "-").json())
                .isEqualTo(inline);

        JsonNode scored = run("score", "--model", model.toString(), "--text", text, "--threads", "1").json();
        assertThat(run("score", "--model", model.toString(), "--prompt-file", f.toString(), "--threads", "1").json()).isEqualTo(scored);
        assertThat(runWithStdin(text.getBytes(StandardCharsets.UTF_8), "score", "--model", model.toString(), "--prompt", "-",
                "--threads", "1").json()).isEqualTo(scored);

        String[] greedy = {"--temperature", "0", "--max-tokens", "4", "--threads", "1"};
        JsonNode generated = run(concat(new String[] {"generate", "--model", model.toString(), "--prompt", text}, greedy)).json();
        assertThat(run(concat(new String[] {"generate", "--model", model.toString(), "--prompt-file", f.toString()}, greedy)).json())
                .isEqualTo(generated);
        assertThat(runWithStdin(text.getBytes(StandardCharsets.UTF_8),
                concat(new String[] {"generate", "--model", model.toString(), "--prompt", "-"}, greedy)).json()).isEqualTo(generated);
    }

    @Test
    void aPromptFarAboveTheArgumentLimitGoesInThroughAFile() throws Exception {
        Path f = dir.resolve("long.txt");
        Files.writeString(f, "ab ".repeat(100_000)); // 300 KB: more than execve accepts as one argument
        JsonNode j = run("tokenize", "--model", model.toString(), "--prompt-file", f.toString()).json();
        assertThat(j.get("ids").size()).isGreaterThan(100_000);
    }

    @Test
    void invalidUtf8InAPromptFileBecomesTheReplacementCharacterAsHelpSays() throws Exception {
        Path f = dir.resolve("bad-utf8.txt");
        Files.write(f, new byte[] {'a', (byte) 0xC3, 'b'});
        Path g = dir.resolve("fffd.txt");
        Files.writeString(g, "a\uFFFDb");
        assertThat(run("tokenize", "--model", model.toString(), "--prompt-file", f.toString()).json())
                .isEqualTo(run("tokenize", "--model", model.toString(), "--prompt-file", g.toString()).json());
        for (String command : List.of("tokenize", "score", "generate")) {
            StringWriter help = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(help));
            cli.execute(command, "--help");
            assertThat(help.toString()).as(command).contains("Invalid UTF-8", "U+FFFD", "--prompt-file", "standard");
        }
    }

    @Test
    void bothAPromptAndAPromptFileIsAUsageError() {
        Run r = run("tokenize", "--model", model.toString(), "--text", "a", "--prompt-file", "x.txt");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("mutually exclusive");
    }

    @Test
    void aMissingPromptFileIsOneLineNamingIt() {
        assertOneLineError(run("tokenize", "--model", model.toString(), "--prompt-file", dir.resolve("nope.txt").toString()),
                "no such file", "nope.txt");
    }

    @Test
    void aDirectoryAsTheModelIsOneLineNamingIt() {
        for (String command : List.of("tokenize", "score", "generate")) {
            assertOneLineError(run(command, "--model", dir.toString(), "--prompt", "a"), dir.toString(), "directory");
        }
    }

    @Test
    void aModelWithoutATokenizerIsOneLineNamingTheFileAndKeyNotAStackTrace() throws Exception {
        Path bare = TinyModel.llama(6).write(dir.resolve("bare"));
        for (String command : List.of("tokenize", "score", "generate")) {
            assertOneLineError(run(command, "--model", bare.toString(), "--prompt", "a b"), bare.toString(),
                    "tokenizer.ggml.model", "missing");
        }
    }

    @Test
    void threadCountsFarAboveTheProcessorsAreRefused() {
        int tooMany = 4 * Runtime.getRuntime().availableProcessors() + 1;
        for (String command : List.of("score", "generate")) {
            assertOneLineError(run(command, "--model", model.toString(), "--prompt", "a", "--threads", String.valueOf(tooMany)),
                    "--threads must be in 1..", "got " + tooMany);
        }
        assertOneLineError(run("score", "--model", model.toString(), "--prompt", "a", "--threads", "0"), "--threads", "got 0");
    }

    @Test
    void nonFiniteLogitsAreAnErrorNamingTheFileNotNaNOutput() throws Exception {
        TinyModel tiny = TinyModel.llama(7);
        float[] norm = tiny.get("output_norm.weight");
        norm[3] = Float.NaN;
        Path nan = dir.resolve("nan.gguf");
        withVocabulary(tiny.writer(null)).write(nan);
        assertOneLineError(run("score", "--model", nan.toString(), "--text", "hello", "--threads", "1"), nan.toString(), "NaN", "corrupt");
        assertOneLineError(run("generate", "--model", nan.toString(), "--prompt", "hello", "--threads", "1"), nan.toString(), "NaN");
    }

    @Test
    void overlappingTensorDataIsRefusedAtOpenNamingTheFile() throws Exception {
        byte[] b = Files.readAllBytes(model);
        // the second tensor's data offset (the first's is 0) set to 0: it would read the first one's bytes
        String name = "output_norm.weight";
        int at = indexOf(b, name.getBytes(StandardCharsets.UTF_8)) + name.length();
        int nDims = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at + 4 + 8 * nDims + 4, 0);
        Path bad = dir.resolve("overlap.gguf");
        Files.write(bad, b);
        assertOneLineError(run("score", "--model", bad.toString(), "--text", "hello", "--threads", "1"), bad.toString(), "overlaps");
    }

    private static int indexOf(byte[] b, byte[] n) {
        outer:
        for (int i = 0; i + n.length < b.length; i++) {
            for (int j = 0; j < n.length; j++) if (b[i + j] != n[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
