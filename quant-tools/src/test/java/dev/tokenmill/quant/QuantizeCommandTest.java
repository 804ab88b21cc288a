package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.cli.Cli;
import dev.tokenmill.cli.Main;
import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QuantizeCommandTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    /** A 2-layer llama-shaped F32 model with 256-wide rows, plus a 96-wide and a 48-wide matrix for the fallbacks. */
    private Path master() throws Exception {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putUint32("llama.block_count", 2);
        w.putUint32("llama.embedding_length", 256);
        w.putUint32("llama.attention.head_count", 4);
        w.putUint32("llama.attention.head_count_kv", 2);
        w.putUint32("general.file_type", 0);
        w.putString("tokenizer.ggml.model", "llama");
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"<unk>", "<s>", "</s>", "a"}));
        SplittableRandom r = new SplittableRandom(1);
        add(w, r, "token_embd.weight", 256, 64);
        for (int l = 0; l < 2; l++) {
            add(w, r, "blk." + l + ".attn_norm.weight", 256);
            add(w, r, "blk." + l + ".attn_q.weight", 256, 256);
            add(w, r, "blk." + l + ".attn_v.weight", 256, 128);
            add(w, r, "blk." + l + ".ffn_down.weight", 512, 256);
        }
        add(w, r, "blk.0.ffn_up.weight", 96, 32);   // 96: Q4_K falls back to Q5_0
        add(w, r, "blk.1.ffn_up.weight", 48, 32);   // 48: Q5_0 does not fit either, F16
        add(w, r, "output_norm.weight", 256);
        add(w, r, "output.weight", 256, 64);
        Path p = dir.resolve("master-f32.gguf");
        w.write(p);
        return p;
    }

    private static void add(GgufWriter w, SplittableRandom r, String name, long... shape) {
        int n = 1;
        for (long d : shape) n *= (int) d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * 0.02f;
        w.addF32(name, shape, v);
    }

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void quantizeIsReachableThroughTokenmillAndWritesLlamaQuantizesMix() throws Exception {
        Path in = master(), out = dir.resolve("q4km.gguf");
        Run r = run("quantize", in.toString(), out.toString(), "Q4_K_M", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode json = Cli.JSON.readTree(r.out());
        assertThat(json.get("type").asText()).isEqualTo("Q4_K_M");
        assertThat(json.get("fallbacks").asInt()).isEqualTo(2);
        assertThat(r.err()).contains("blk.1.ffn_up.weight: rows of 48");
        try (GgufFile q = GgufFile.open(out); GgufFile m = GgufFile.open(in)) {
            assertThat(q.getInt("general.file_type")).isEqualTo(15);
            assertThat(q.getInt("general.quantization_version")).isEqualTo(2);
            assertThat(q.getStringArray("tokenizer.ggml.tokens")).containsExactly("<unk>", "<s>", "</s>", "a");
            assertThat(q.tensor("token_embd.weight").type()).isEqualTo(GgmlType.Q4_K); // separate output: not bumped
            assertThat(q.tensor("output.weight").type()).isEqualTo(GgmlType.Q6_K);
            assertThat(q.tensor("blk.0.attn_norm.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(q.tensor("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q4_K);
            assertThat(q.tensor("blk.0.attn_v.weight").type()).isEqualTo(GgmlType.Q4_K);
            assertThat(q.tensor("blk.1.attn_v.weight").type()).isEqualTo(GgmlType.Q6_K);   // use_more_bits(1, 2)
            assertThat(q.tensor("blk.1.ffn_down.weight").type()).isEqualTo(GgmlType.Q6_K);
            assertThat(q.tensor("blk.0.ffn_up.weight").type()).isEqualTo(GgmlType.Q5_0);
            assertThat(q.tensor("blk.1.ffn_up.weight").type()).isEqualTo(GgmlType.F16);
            // the norms come over bit for bit; a Q4_K matrix decodes within its error budget
            assertThat(q.tensorData("blk.0.attn_norm.weight").toArray(F32))
                    .containsExactly(m.tensorData("blk.0.attn_norm.weight").toArray(F32));
            float[] x = m.tensorData("blk.0.attn_q.weight").toArray(F32);
            float[] y = ReferenceDequantizer.dequantize(GgmlType.Q4_K,
                    q.tensorData("blk.0.attn_q.weight").toArray(ValueLayout.JAVA_BYTE), 0, x.length);
            assertThat(CompareQuant.rmse(x, y) / 0.02).isBetween(0.05, 0.08);
        }
    }

    @Test
    void threadCountDoesNotChangeTheBytes() throws Exception {
        Path in = master();
        Path one = dir.resolve("one.gguf"), four = dir.resolve("four.gguf");
        ModelQuantizer.quantize(in, one, FileType.Q5_K_M, 1, false, null);
        ModelQuantizer.quantize(in, four, FileType.Q5_K_M, 4, false, null);
        assertThat(Files.readAllBytes(four)).isEqualTo(Files.readAllBytes(one));
    }

    @Test
    void f16KeepsNormsF32AndConvertsEveryMatrix() throws Exception {
        Path in = master(), out = dir.resolve("f16.gguf");
        ModelQuantizer.Report report = ModelQuantizer.quantize(in, out, FileType.F16, 2, false, null);
        assertThat(report.fallbacks()).isEmpty();
        try (GgufFile q = GgufFile.open(out)) {
            assertThat(q.tensorList()).allMatch(t -> t.type() == (t.shape().length == 1 ? GgmlType.F32 : GgmlType.F16));
            assertThat(q.getInt("general.file_type")).isEqualTo(1);
        }
    }

    @Test
    void alreadyQuantizedInputIsRefusedUnlessAllowed() throws Exception {
        Path q8 = dir.resolve("q8.gguf");
        ModelQuantizer.quantize(master(), q8, FileType.Q8_0, 2, false, null);
        Path out = dir.resolve("q4.gguf");
        Run r = run("quantize", q8.toString(), out.toString(), "q4_0");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("token_embd.weight").contains("already Q8_0").contains("--allow-requantize");
        assertThat(out).doesNotExist();
        assertThat(dir.resolve("q4.gguf.part")).doesNotExist();
    }

    @Test
    void unknownTypeIsAOneLineUserError() throws Exception {
        Run r = run("quantize", master().toString(), dir.resolve("x.gguf").toString(), "Q3_K_XL");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("Q3_K_XL").contains("Q4_K_M").doesNotContain("\tat ");
    }

    @Test
    void inspectPrintsSummaryMetadataAndTensors() throws Exception {
        Path in = master();
        Run text = run("inspect", in.toString());
        assertThat(text.code()).isZero();
        assertThat(text.out()).contains("architecture").contains("llama").contains("blk.1.ffn_down.weight")
                .contains("[512, 256]").contains("tokenizer.ggml.tokens");
        Run json = run("inspect", "--json", in.toString());
        JsonNode j = Cli.JSON.readTree(json.out());
        assertThat(j.get("summary").get("architecture").asText()).isEqualTo("llama");
        assertThat(j.get("summary").get("tied_embeddings").asBoolean()).isFalse();
        assertThat(j.get("tensors")).hasSize(13);
        assertThat(j.get("metadata").get("tokenizer.ggml.tokens").get("length").asInt()).isEqualTo(4);
        assertThat(j.get("metadata").get("llama.block_count").asInt()).isEqualTo(2);
    }

    @Test
    void inspectAbbreviatesLongArrays() throws Exception {
        GgufWriter w = new GgufWriter();
        String[] many = new String[1000];
        for (int i = 0; i < many.length; i++) many[i] = "t" + i;
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(many));
        Path p = dir.resolve("arr.gguf");
        w.write(p);
        Run r = run("inspect", p.toString());
        assertThat(r.out()).contains("'t7'").contains("992 more").doesNotContain("'t8'");
    }

    @Test
    void missingInputIsAUserError() {
        assertThatThrownBy(() -> ModelQuantizer.quantize(dir.resolve("none.gguf"), dir.resolve("o.gguf"), FileType.Q8_0, 1, false, null))
                .isInstanceOf(java.nio.file.NoSuchFileException.class);
        Run r = run("quantize", dir.resolve("none.gguf").toString(), dir.resolve("o.gguf").toString(), "Q8_0");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("none.gguf");
    }

    @Test
    void hadoopUrisAreFetchedAndPublishedThroughTheFileSystemApi() throws Exception {
        Path in = master();
        String out = dir.resolve("remote").resolve("q8.gguf").toUri().toString(); // file:/... goes through Hadoop
        Run r = run("quantize", in.toUri().toString(), out, "Q8_0");
        assertThat(r.code()).as(r.err()).isZero();
        Path written = dir.resolve("remote").resolve("q8.gguf");
        try (GgufFile q = GgufFile.open(written)) {
            assertThat(q.tensor("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q8_0);
        }
        assertThat(dir.resolve("remote").resolve("q8.gguf.part")).doesNotExist();
        Run inspect = run("inspect", "--json", out);
        assertThat(inspect.code()).as(inspect.err()).isZero();
        assertThat(Cli.JSON.readTree(inspect.out()).get("summary").get("file_type").asText()).isEqualTo("Q8_0");
        Run missing = run("inspect", dir.resolve("nope.gguf").toUri().toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("nope.gguf");
    }

    @Test
    void onlySchemesOfTwoOrMoreLettersAreUris() {
        assertThat(ModelPaths.isUri("hdfs://nn:8020/models/a.gguf")).isTrue();
        assertThat(ModelPaths.isUri("s3a://bucket/a.gguf")).isTrue();
        assertThat(ModelPaths.isUri("file:/tmp/a.gguf")).isTrue();
        assertThat(ModelPaths.isUri("/tmp/a.gguf")).isFalse();
        assertThat(ModelPaths.isUri("models/a:b.gguf")).isFalse();
        assertThat(ModelPaths.isUri("C:\\models\\a.gguf")).isFalse();
    }

    @Test
    void anOutputInAMissingDirectoryIsRefusedNotCreated() throws Exception {
        Path missing = dir.resolve("no-such-dir");
        Run r = run("quantize", master().toString(), missing.resolve("q8.gguf").toString(), "Q8_0");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("output directory").contains("no-such-dir").contains("does not exist").doesNotContain("\tat ");
        assertThat(missing).doesNotExist();
    }

    @Test
    void aSymbolicOrHardLinkToTheInputIsRecognisedAsTheInput() throws Exception {
        Path in = master();
        byte[] before = java.nio.file.Files.readAllBytes(in);
        Path sym = java.nio.file.Files.createSymbolicLink(dir.resolve("sym.gguf"), in);
        Path hard = java.nio.file.Files.createLink(dir.resolve("hard.gguf"), in);
        for (Path out : new Path[] {sym, hard, dir.resolve(".").resolve(in.getFileName())}) {
            Run r = run("quantize", in.toString(), out.toString(), "Q8_0");
            assertThat(r.code()).as(out.toString()).isEqualTo(1);
            assertThat(r.err()).contains("is the input file").doesNotContain("\tat ");
        }
        assertThat(java.nio.file.Files.readAllBytes(in)).isEqualTo(before);
    }
}
