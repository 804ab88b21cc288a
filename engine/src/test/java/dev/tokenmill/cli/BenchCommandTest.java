package dev.tokenmill.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.model.TinyModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class BenchCommandTest {
    @TempDir static Path dir;
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = TinyModel.llama(5).write(dir);
    }

    private record Run(int exit, String out, String err) {
        JsonNode lastJson() throws Exception {
            List<String> lines = out.lines().toList();
            return Cli.JSON.readTree(lines.getLast());
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
    void batchBenchPrintsATableAndOneJsonLineWithTheThroughputKeys() throws Exception {
        Run r = run("bench", "--model", model.toString(), "--prompts", "6", "--prompt-tokens", "20", "--gen-tokens", "5",
                "--shared-prefix", "8", "--threads", "1", "--warmup", "1", "--max-batch-tokens", "32");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = r.lastJson();
        for (String key : List.of("prefill_tok_s", "decode_tok_s", "overall_tok_s", "wall_s", "cached_prompt_tokens",
                "peak_rss_mb", "prompts", "prompt_tokens", "gen_tokens", "threads")) {
            assertThat(j.has(key)).as("key %s in %s", key, j).isTrue();
        }
        assertThat(j.get("mode").asText()).isEqualTo("batch");
        assertThat(j.get("prompts").asInt()).isEqualTo(6);
        assertThat(j.get("generated_tokens").asLong()).isEqualTo(6 * 5);
        // the 8-token shared prefix is shorter than one 16-token block, so nothing can be shared
        assertThat(j.get("cached_prompt_tokens").asLong()).isZero();
        assertThat(j.get("overall_tok_s").asDouble()).isPositive();
        assertThat(r.err()).contains("prefill/s", "decode/s", "overall/s");
    }

    @Test
    void sharedPrefixOfWholeBlocksIsCountedAsCached() throws Exception {
        Run r = run("bench", "--model", model.toString(), "--prompts", "4", "--prompt-tokens", "40", "--gen-tokens", "2",
                "--shared-prefix", "32", "--threads", "1", "--warmup", "0", "--max-batch-tokens", "40", "--max-seqs", "4");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = r.lastJson();
        // the first prompt fills a step alone; the other three each reuse its two full 16-token blocks
        assertThat(j.get("cached_prompt_tokens").asLong()).isEqualTo(3 * 32);
        assertThat(j.get("prefill_tokens").asLong()).isEqualTo(4 * 40 - 3 * 32);
    }

    @Test
    void singleBenchRunsOneSequenceWithTheSameKeys() throws Exception {
        Run r = run("bench", "--model", model.toString(), "--single", "--prompt-tokens", "16", "--gen-tokens", "4",
                "--threads", "1", "--warmup", "1");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = r.lastJson();
        assertThat(j.get("mode").asText()).isEqualTo("single");
        assertThat(j.get("prompts").asInt()).isEqualTo(1);
        assertThat(j.get("prefill_tokens").asLong()).isEqualTo(16);
        assertThat(j.get("decode_tokens").asLong()).isEqualTo(4);
        assertThat(j.get("decode_tok_s").asDouble()).isPositive();
        assertThat(j.get("prefill_tok_s").asDouble()).isPositive();
    }

    @Test
    void warmUpRoundsAreReportedAndCanBeTurnedOff() throws Exception {
        Run none = run("bench", "--model", model.toString(), "--single", "--prompt-tokens", "8", "--gen-tokens", "2",
                "--threads", "1", "--warmup", "0");
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.lastJson().get("warmup_rounds").asInt()).isZero();
        assertThat(none.err()).doesNotContain("warm-up:");

        // --warmup-seconds 0: exactly one round, however busy the JIT compiler is
        Run one = run("bench", "--model", model.toString(), "--prompts", "2", "--prompt-tokens", "8", "--gen-tokens", "2",
                "--threads", "1", "--warmup", "3", "--warmup-seconds", "0");
        assertThat(one.exit()).as(one.err()).isZero();
        assertThat(one.lastJson().get("warmup_rounds").asInt()).isEqualTo(1);
        assertThat(one.err()).contains("warm-up: 1 round(s) of 3 request(s)");

        // rounds repeat until the compiler is quiet or the limit passes; a few seconds are plenty for the tiny model
        Run more = run("bench", "--model", model.toString(), "--single", "--prompt-tokens", "8", "--gen-tokens", "2",
                "--threads", "1", "--warmup", "1", "--warmup-seconds", "3");
        assertThat(more.exit()).as(more.err()).isZero();
        assertThat(more.lastJson().get("warmup_rounds").asInt()).isGreaterThanOrEqualTo(1);
        assertThat(more.lastJson().get("warmup_s").asDouble()).isLessThan(60);
    }

    @Test
    void badOptionsAreOneLineErrors() {
        Run r = run("bench", "--model", model.toString(), "--prompt-tokens", "8", "--shared-prefix", "8");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--shared-prefix").doesNotContain("Exception");
        Run w = run("bench", "--model", model.toString(), "--warmup-seconds", "-1");
        assertThat(w.exit()).isEqualTo(1);
        assertThat(w.err()).contains("--warmup-seconds").doesNotContain("Exception");
    }
}
