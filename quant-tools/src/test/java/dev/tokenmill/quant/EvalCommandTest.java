package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.cli.Cli;
import dev.tokenmill.cli.Main;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class EvalCommandTest {
    static final int CTX = 64;

    @TempDir
    static Path dir;
    static Path master, text;

    @BeforeAll
    static void writeModelAndText() throws Exception {
        master = TinyLlama.write(dir.resolve("tiny-f32.gguf"), 7, null);
        text = dir.resolve("text.txt");
        Files.writeString(text, TinyLlama.text(3, 160));
    }

    private record Run(int code, String out, String err) {
        JsonNode json() throws Exception {
            assertThat(code).as(err).isZero();
            assertThat(out.lines().count()).as("one JSON line on stdout").isEqualTo(1);
            return Cli.JSON.readTree(out);
        }
    }

    private static Run run(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void perplexityIsExpOfMeanNllOfTheSecondHalfOfEachChunkAsScoreComputesIt() throws Exception {
        JsonNode r = run("eval", "--model", master.toString(), "--text", text.toString(), "--ctx", String.valueOf(CTX),
                "--threads", "2").json();

        double sum = 0, sum2 = 0;
        int count = 0, chunks;
        try (Model m = ModelLoader.load(master);
             Engine runner = Engine.open(master, EngineConfig.singleSequence(CTX).threads(1).build())) {
            String s = Files.readString(text);
            int[] tokens = Tokenizer.fromGguf(m.gguf()).encode(s.substring(0, s.length() - 1), true, false);
            assertThat(tokens[0]).isEqualTo(1); // BOS
            chunks = tokens.length / CTX;
            for (int c = 0; c < chunks; c++) {
                int[] ids = Arrays.copyOfRange(tokens, c * CTX, (c + 1) * CTX);
                ids[0] = 1;
                var res = runner.submit(Request.tokens("c", ids).greedy(1).ignoreEos(true).promptLogprobs(0).build()).join();
                double[] lp = res.promptLogprobs().stream().mapToDouble(t -> t.logprob()).toArray(); // ln P(ids[i+1] | ids[0..i])
                for (int i = CTX / 2; i < CTX - 1; i++) {
                    sum -= lp[i];
                    sum2 += lp[i] * lp[i];
                    count++;
                }
            }
            assertThat(r.get("tokens").asInt()).isEqualTo(tokens.length);
        }
        assertThat(chunks).isGreaterThanOrEqualTo(4);
        assertThat(r.get("chunks").asInt()).isEqualTo(chunks);
        assertThat(r.get("scored").asInt()).isEqualTo(count).isEqualTo(chunks * (CTX - 1 - CTX / 2));
        double mean = sum / count;
        double ppl = Math.exp(mean);
        double se = Math.sqrt((sum2 / count - mean * mean) / (count - 1));
        // 1e-6 relative: the engine's float sums may be reduced in another order by cold (not yet JIT-compiled)
        // Vector API code than by warm code, which moves the PPL by ~1e-8; a wrong token or offset moves it by far more
        assertThat(r.get("ppl").asDouble()).isCloseTo(ppl, within(ppl * 1e-6));
        assertThat(r.get("ppl_err").asDouble()).isCloseTo(ppl * se, within(ppl * se * 1e-5));
        assertThat(r.has("kld")).isFalse();
    }

    @Test
    void progressAndFinalEstimateArePrintedAsLlamaPerplexityPrintsThem() throws Exception {
        Run r = run("eval", "--model", master.toString(), "--text", text.toString(), "--ctx", "64", "--chunks", "2",
                "--threads", "1");
        JsonNode json = r.json();
        assertThat(json.get("chunks").asInt()).isEqualTo(2);
        assertThat(r.err()).containsPattern("\\[1\\]\\d+\\.\\d{4},\\[2\\]\\d+\\.\\d{4},");
        assertThat(r.err()).contains(String.format(java.util.Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f",
                json.get("ppl").asDouble(), json.get("ppl_err").asDouble()));
    }

    @Test
    void modelAgainstItselfHasZeroKlDivergenceAndFullTopOneAgreement() throws Exception {
        Run run = run("eval", "--model", master.toString(), "--base", master.toString(), "--text", text.toString(),
                "--ctx", String.valueOf(CTX), "--threads", "2");
        JsonNode r = run.json();
        assertThat(r.get("kld").asDouble()).isZero();
        assertThat(r.get("kld_percentiles").get("max").asDouble()).isZero();
        assertThat(r.get("same_top_p").asDouble()).isEqualTo(1.0);
        assertThat(r.get("delta_p_rms").asDouble()).isZero();
        assertThat(r.get("ppl_base").asDouble()).isEqualTo(r.get("ppl").asDouble());
        assertThat(r.get("ln_ppl_ratio").asDouble()).isZero();
        assertThat(r.get("ppl_ratio").asDouble()).isEqualTo(1.0);
        assertThat(run.err()).contains("====== KL divergence statistics ======").contains("Same top p: 100.000 ± 0.000 %");
    }

    @Test
    void quantizedCopyHasSmallPositiveKlDivergenceGrowingWithFewerBits() throws Exception {
        double[] kld = new double[2];
        String[] types = {"Q8_0", "Q4_0"};
        for (int i = 0; i < types.length; i++) {
            Path q = dir.resolve("tiny-" + types[i] + ".gguf");
            assertThat(run("quantize", master.toString(), q.toString(), types[i], "--threads", "2", "-q").code()).isZero();
            JsonNode r = run("eval", "--model", q.toString(), "--base", master.toString(), "--text", text.toString(),
                    "--ctx", String.valueOf(CTX), "--threads", "2").json();
            kld[i] = r.get("kld").asDouble();
            assertThat(r.get("kld_err").asDouble()).isPositive().isLessThan(kld[i]);
            assertThat(r.get("kld_percentiles").get("min").asDouble()).isGreaterThanOrEqualTo(0);
            assertThat(r.get("same_top_p").asDouble()).isGreaterThan(i == 0 ? 0.9 : 0.5).isLessThanOrEqualTo(1.0);
            assertThat(r.get("ppl_ratio").asDouble()).isCloseTo(1.0, within(0.3));
            assertThat(r.get("delta_p_rms").asDouble()).isPositive().isLessThan(0.1);
        }
        // this tiny model's 64-wide rows quantize coarsely: Q8_0 ~0.001, Q4_0 ~0.17 nats
        assertThat(kld[0]).as("Q8_0").isPositive().isLessThan(0.01);
        assertThat(kld[1]).as("Q4_0").isGreaterThan(kld[0] * 10).isLessThan(0.5);
    }

    @Test
    void textShorterThanOneChunkIsAClearError() throws Exception {
        Path small = dir.resolve("short.txt");
        Files.writeString(small, "the cat sat on the mat");
        Run r = run("eval", "--model", master.toString(), "--text", small.toString(), "--ctx", "64");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains(small.toString()).contains("fewer than one chunk of 64").doesNotContain("Exception");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void absurdContextSizesAreRejectedNamingTheLimit() {
        Run tooBig = run("eval", "--model", master.toString(), "--text", text.toString(), "--ctx", "100000");
        assertThat(tooBig.code()).isEqualTo(1);
        assertThat(tooBig.err()).contains("--ctx 100000").contains("context length " + TinyLlama.CTX).contains(master.toString());
        Run tooSmall = run("eval", "--model", master.toString(), "--text", text.toString(), "--ctx", "2");
        assertThat(tooSmall.code()).isEqualTo(1);
        assertThat(tooSmall.err()).contains("--ctx 2 is too small");
        Run noChunks = run("eval", "--model", master.toString(), "--text", text.toString(), "--chunks", "0");
        assertThat(noChunks.code()).isEqualTo(1);
        assertThat(noChunks.err()).contains("--chunks must be at least 1");
    }

    @Test
    void defaultChunkSizeIsCappedByTheModelContext() throws Exception {
        Path longText = dir.resolve("long.txt");
        Files.writeString(longText, TinyLlama.text(5, 700));
        JsonNode r = run("eval", "--model", master.toString(), "--text", longText.toString(), "--chunks", "1",
                "--threads", "2").json();
        assertThat(r.get("ctx").asInt()).isEqualTo(TinyLlama.CTX); // 512 by default, but the model has 256
        assertThat(r.get("scored").asInt()).isEqualTo(TinyLlama.CTX - 1 - TinyLlama.CTX / 2);
    }

    @Test
    void baseWithADifferentVocabularyIsRefused() throws Exception {
        Path other = TinyLlama.write(dir.resolve("other-vocab.gguf"), 7, "\u2581zebra");
        Run r = run("eval", "--model", master.toString(), "--base", other.toString(), "--text", text.toString(), "--ctx", "64");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains(other.toString()).contains("vocabulary").contains("tokens");
    }

    @Test
    void hadoopUrisWorkForModelAndText() throws Exception {
        JsonNode r = run("eval", "--model", master.toUri().toString(), "--text", text.toUri().toString(),
                "--ctx", "64", "--chunks", "1", "--threads", "1").json();
        JsonNode local = run("eval", "--model", master.toString(), "--text", text.toString(),
                "--ctx", "64", "--chunks", "1", "--threads", "1").json();
        assertThat(r.get("ppl").asDouble()).isEqualTo(local.get("ppl").asDouble());
        assertThat(r.get("model").asText()).startsWith("file:");
    }
}
