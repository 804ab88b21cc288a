package dev.tokenmill.gguf;

import dev.tokenmill.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GgufFileTest {
    @TempDir
    Path dir;

    private Path writeSample(String name) throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putUint32("llama.block_count", 2);
        w.putInt32("some.int", -7);
        w.putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.put("u8", new GgufValue(GgufValueType.UINT8, null, 200));
        w.put("i16", new GgufValue(GgufValueType.INT16, null, -300));
        w.put("u64", GgufValue.ofUint64(1L << 40));
        w.put("f64", new GgufValue(GgufValueType.FLOAT64, null, 2.5));
        w.put("tokens", GgufValue.ofStrings(new String[] {"<s>", "▁hello", "日本"}));
        w.put("scores", GgufValue.ofFloats(new float[] {0f, -1.5f, -2f}));
        w.put("types", GgufValue.ofInt32s(new int[] {3, 1, 1}));
        w.put("bytes", new GgufValue(GgufValueType.ARRAY, GgufValueType.UINT8, new byte[] {1, 2, (byte) 255}));
        w.put("bools", new GgufValue(GgufValueType.ARRAY, GgufValueType.BOOL, new boolean[] {true, false}));
        w.put("nested", new GgufValue(GgufValueType.ARRAY, GgufValueType.ARRAY, new GgufValue[] {
                GgufValue.ofInt32s(new int[] {1, 2}), GgufValue.ofStrings(new String[] {"a"})}));
        float[] a = new float[6];
        for (int i = 0; i < a.length; i++) a[i] = i * 0.25f;
        w.addF32("a.weight", new long[] {3, 2}, a);
        w.addF32("b.weight", new long[] {5}, new float[] {1, 2, 3, 4, 5});
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    @Test
    void writtenFileReadsBackWithEveryValueTypeAndAlignedTensors() throws IOException {
        Path p = writeSample("ok.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.getString("general.architecture")).isEqualTo("llama");
            assertThat(f.getInt("llama.block_count")).isEqualTo(2);
            assertThat(f.getInt("some.int")).isEqualTo(-7);
            assertThat(f.getInt("u8")).isEqualTo(200);
            assertThat(f.getInt("i16")).isEqualTo(-300);
            assertThat(f.getLong("u64")).isEqualTo(1L << 40);
            assertThat(f.getDouble("f64")).isEqualTo(2.5);
            assertThat(f.getFloat("llama.attention.layer_norm_rms_epsilon", 0)).isEqualTo(1e-5f);
            assertThat(f.getBool("tokenizer.ggml.add_bos_token", false)).isTrue();
            assertThat(f.getStringArray("tokens")).containsExactly("<s>", "▁hello", "日本");
            assertThat(f.getFloatArray("scores")).containsExactly(0f, -1.5f, -2f);
            assertThat(f.getIntArray("types")).containsExactly(3, 1, 1);
            assertThat(f.getIntArray("bytes")).containsExactly(1, 2, -1);
            assertThat((boolean[]) f.value("bools").value()).containsExactly(true, false);
            GgufValue[] nested = (GgufValue[]) f.value("nested").value();
            assertThat((int[]) nested[0].value()).containsExactly(1, 2);
            assertThat((String[]) nested[1].value()).containsExactly("a");
            assertThat(f.metadata().keySet()).startsWith("general.architecture", "llama.block_count");

            TensorInfo t = f.tensor("a.weight");
            assertThat(t.type()).isEqualTo(GgmlType.F32);
            assertThat(t.shape()).containsExactly(3, 2);
            assertThat(t.cols()).isEqualTo(3);
            assertThat(t.rows()).isEqualTo(2);
            assertThat(f.dataStart() % 32).isZero();
            assertThat(f.tensor("b.weight").offset() % 32).isZero();
            float[] back = new float[6];
            java.lang.foreign.MemorySegment.copy(f.tensorData(t),
                    ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, back, 0, 6);
            assertThat(back).containsExactly(0f, 0.25f, 0.5f, 0.75f, 1f, 1.25f);
        }
    }

    @Test
    void rewritingMetadataKeepsTypesAndBytes() throws IOException {
        Path p = writeSample("one.gguf");
        Path q = dir.resolve("two.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            GgufWriter w = new GgufWriter().putAll(f.metadata());
            for (TensorInfo t : f.tensorList()) w.addTensor(t.name(), t.type(), t.shape(), f.tensorData(t));
            w.write(q);
        }
        assertThat(Files.readAllBytes(q)).isEqualTo(Files.readAllBytes(p));
    }

    @Test
    void missingRequiredKeyIsNamed() throws IOException {
        try (GgufFile f = GgufFile.open(writeSample("k.gguf"))) {
            assertThatThrownBy(() -> f.getInt("llama.embedding_length"))
                    .isInstanceOf(GgufFormatException.class)
                    .hasMessageContaining("k.gguf").hasMessageContaining("llama.embedding_length");
            assertThatThrownBy(() -> f.getString("llama.block_count"))
                    .hasMessageContaining("should be STRING").hasMessageContaining("UINT32");
            assertThatThrownBy(() -> f.tensor("output.weight")).hasMessageContaining("output.weight");
        }
    }

    @Test
    void everyTruncationIsAFormatErrorNeverACrash() throws IOException {
        byte[] full = Files.readAllBytes(writeSample("t.gguf"));
        long dataStart;
        long dataEnd; // the padding after the last tensor is optional
        try (GgufFile f = GgufFile.open(dir.resolve("t.gguf"))) {
            dataStart = f.dataStart();
            TensorInfo last = f.tensor("b.weight");
            dataEnd = dataStart + last.offset() + last.byteSize();
        }
        for (int len = 0; len < dataEnd; len += (len < dataStart ? 1 : 7)) {
            Path cut = dir.resolve("cut.gguf");
            Files.write(cut, Arrays.copyOf(full, len));
            assertThatThrownBy(() -> GgufFile.open(cut).close())
                    .as("truncated to %d bytes", len)
                    .isInstanceOf(GgufFormatException.class)
                    .hasMessageContaining("cut.gguf");
        }
    }

    @Test
    void badMagicAndVersionAreExplained() throws IOException {
        byte[] b = Files.readAllBytes(writeSample("m.gguf"));
        byte[] magic = b.clone();
        magic[0] = 'X';
        Path p1 = dir.resolve("magic.gguf");
        Files.write(p1, magic);
        assertThatThrownBy(() -> GgufFile.open(p1)).isInstanceOf(GgufFormatException.class).hasMessageContaining("not a GGUF file");
        byte[] version = b.clone();
        version[4] = 9;
        Path p2 = dir.resolve("version.gguf");
        Files.write(p2, version);
        assertThatThrownBy(() -> GgufFile.open(p2)).hasMessageContaining("version 9");
    }

    @Test
    void unknownTensorTypeAndTensorPastEndAreNamed() throws IOException {
        Path p = writeSample("tt.gguf");
        byte[] b = Files.readAllBytes(p);
        int typePos = indexOfTensorType(b, "a.weight");
        byte[] badType = b.clone();
        ByteBuffer.wrap(badType).order(ByteOrder.LITTLE_ENDIAN).putInt(typePos, 16);
        Path p1 = dir.resolve("type.gguf");
        Files.write(p1, badType);
        assertThatThrownBy(() -> GgufFile.open(p1)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("a.weight").hasMessageContaining("IQ");

        byte[] badOffset = b.clone();
        ByteBuffer.wrap(badOffset).order(ByteOrder.LITTLE_ENDIAN).putLong(typePos + 4, 1L << 20);
        Path p2 = dir.resolve("offset.gguf");
        Files.write(p2, badOffset);
        assertThatThrownBy(() -> GgufFile.open(p2)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("a.weight").hasMessageContaining("past the end");

        byte[] hugeDim = b.clone();
        ByteBuffer.wrap(hugeDim).order(ByteOrder.LITTLE_ENDIAN).putLong(typePos - 16, 1L << 39);
        Path p3 = dir.resolve("dim.gguf");
        Files.write(p3, hugeDim);
        assertThatThrownBy(() -> GgufFile.open(p3)).isInstanceOf(GgufFormatException.class).hasMessageContaining("a.weight");
    }

    @Test
    void aTensorWhoseDataOverlapsAnothersIsRefusedNamingBoth() throws IOException {
        Path p = writeSample("ov.gguf");
        byte[] b = Files.readAllBytes(p);
        // b.weight (5 floats) moved onto a.weight's bytes (offset 0): it would read a.weight's values
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(indexOfTensorType(b, "b.weight") + 4, 0);
        Path bad = dir.resolve("overlap.gguf");
        Files.write(bad, b);
        assertThatThrownBy(() -> GgufFile.open(bad)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("overlap.gguf").hasMessageContaining("overlaps")
                .hasMessageContaining("a.weight").hasMessageContaining("b.weight");
    }

    @Test
    void aMisalignedTensorOffsetIsRefused() throws IOException {
        Path p = writeSample("al.gguf");
        byte[] b = Files.readAllBytes(p);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(indexOfTensorType(b, "b.weight") + 4, 36);
        Path bad = dir.resolve("misaligned.gguf");
        Files.write(bad, b);
        assertThatThrownBy(() -> GgufFile.open(bad)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("misaligned.gguf").hasMessageContaining("b.weight").hasMessageContaining("alignment 32");
    }

    @Test
    void aDirectoryIsRefusedNamingIt() {
        assertThatThrownBy(() -> GgufFile.open(dir)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining(dir.toString()).hasMessageContaining("directory");
    }

    @Test
    void aPipeIsRefusedWithoutBlocking() throws Exception {
        Path fifo = dir.resolve("model.fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mkfifo.waitFor() == 0, "mkfifo is not available");
        assertThatThrownBy(() -> GgufFile.open(fifo)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining(fifo.toString()).hasMessageContaining("not a regular file");
    }

    @Test
    void corruptKeyNamesArePrintedEscaped() throws IOException {
        byte[] b = Files.readAllBytes(writeSample("esc.gguf"));
        byte[] key = "some.int".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int at = indexOf(b, key);
        b[at + 1] = 0;           // NUL
        b[at + 2] = (byte) 0xC3; // a lone UTF-8 lead byte
        b[at + 3] = 0x1b;        // ESC
        // the value type of the key becomes unknown, so the error names the key
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + key.length, 99);
        Path bad = dir.resolve("esc-bad.gguf");
        Files.write(bad, b);
        assertThatThrownBy(() -> GgufFile.open(bad)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("'s\\x00\\ufffd\\x1b.int'").hasMessageContaining("unknown value type 99")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\u0000").doesNotContain("\u001b").doesNotContain("\ufffd"));
    }

    @Test
    void aKeyThatAppearsTwiceIsRefused() throws IOException {
        byte[] b = Files.readAllBytes(writeSample("dup.gguf"));
        b[indexOf(b, "f64".getBytes(java.nio.charset.StandardCharsets.UTF_8))] = 'u'; // key f64 renamed u64: u64 twice
        Path bad = dir.resolve("dup-bad.gguf");
        Files.write(bad, b);
        assertThatThrownBy(() -> GgufFile.open(bad)).isInstanceOf(GgufFormatException.class)
                .hasMessageContaining("dup-bad.gguf").hasMessageContaining("'u64' appears twice");
    }

    @Test
    void printableEscapesControlsAndReplacementCharactersOnly() {
        assertThat(GgufFile.printable("llama.block_count")).isEqualTo("llama.block_count");
        assertThat(GgufFile.printable("日本 ▁x 😀")).isEqualTo("日本 ▁x 😀");
        assertThat(GgufFile.printable("a\u0000b\nc\ufffd\ud800")).isEqualTo("a\\x00b\\x0ac\\ufffd\\ud800");
    }

    @Test
    void absurdCountsAreRejectedBeforeAllocating() throws IOException {
        byte[] b = Files.readAllBytes(writeSample("c.gguf"));
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(16, Long.MAX_VALUE); // metadata count
        Path p = dir.resolve("count.gguf");
        Files.write(p, b);
        assertThatThrownBy(() -> GgufFile.open(p)).isInstanceOf(GgufFormatException.class).hasMessageContaining("absurd");
    }

    @Test
    void customAlignmentIsHonoured() throws IOException {
        GgufWriter w = new GgufWriter().putUint32("general.alignment", 64);
        w.addF32("x", new long[] {3}, new float[] {1, 2, 3});
        w.addF32("y", new long[] {3}, new float[] {4, 5, 6});
        Path p = dir.resolve("align.gguf");
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.alignment()).isEqualTo(64);
            assertThat(f.dataStart() % 64).isZero();
            assertThat(f.tensor("y").offset()).isEqualTo(64);
            assertThat(f.tensorData("y").get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8)).isEqualTo(6f);
        }
    }

    private static int indexOf(byte[] b, byte[] n) {
        outer:
        for (int i = 0; i + n.length < b.length; i++) {
            for (int j = 0; j < n.length; j++) if (b[i + j] != n[j]) continue outer;
            return i;
        }
        throw new AssertionError(new String(n, java.nio.charset.StandardCharsets.UTF_8) + " not found");
    }

    /** Position of the type field of a tensor info: after the name, n_dims and dims. */
    private static int indexOfTensorType(byte[] b, String name) {
        byte[] n = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        outer:
        for (int i = 0; i + n.length < b.length; i++) {
            for (int j = 0; j < n.length; j++) if (b[i + j] != n[j]) continue outer;
            int p = i + n.length;
            int nDims = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(p);
            return p + 4 + 8 * nDims;
        }
        throw new AssertionError(name + " not found");
    }
}
