package dev.tokenmill.backend.cpu;

import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.nativ.NativeKernels;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Repacked weights written once per host into a cache file and mapped by every backend that serves the model. */
class PackedWeightsCacheTest {
    @TempDir Path dir;
    private Path cache;

    @BeforeEach
    void needNativeKernels() {
        assumeTrue(NativeKernels.available(), "native kernels are not available here: " + NativeKernels.unavailableReason());
        cache = dir.resolve("cache");
    }

    private static CpuBackendConfig config(Path cacheDir) {
        return new CpuBackendConfig(4, 8, 16, 1, 32, 16, GgmlType.F32, 2, true, true).withPackCacheDir(cacheDir);
    }

    /** Logits of every position of a fixed 12-token prompt. */
    private static float[][] logits(Path model, Path cacheDir) throws IOException {
        try (Model m = ModelLoader.load(model); CpuBackend backend = new CpuBackend(m, config(cacheDir))) {
            return logits(backend);
        }
    }

    private static float[][] logits(CpuBackend backend) {
        ForwardBatch b = new ForwardBatch(12, 1, 3);
        b.nSeqs = 1;
        b.contextLens[0] = 12;
        for (int i = 0; i < 3; i++) b.blockTables[0][i] = i;
        for (int i = 0; i < 12; i++) b.addToken(0, (5 + 11 * i) % 96, i, true);
        Logits l = backend.forward(b);
        float[][] out = new float[12][];
        for (int i = 0; i < 12; i++) out[i] = l.copyRow(i);
        return out;
    }

    private List<Path> files(String glob) throws IOException {
        if (!Files.isDirectory(cache)) return List.of();
        List<Path> out = new ArrayList<>();
        try (var s = Files.newDirectoryStream(cache, glob)) {
            s.forEach(out::add);
        }
        return out;
    }

    private Path theCacheFile() throws IOException {
        List<Path> f = files("*.tmpack");
        assertThat(f).as("cache files").hasSize(1);
        assertThat(files("*.tmp")).as("temporary files left behind").isEmpty();
        return f.get(0);
    }

    private static void assertSameBits(float[][] got, float[][] want) {
        for (int t = 0; t < want.length; t++) assertThat(got[t]).as("position %d", t).containsExactly(want[t]);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void mappedWeightsGiveTheBitsOfWeightsRepackedInMemory(GgmlType type) throws Exception {
        Path model = TinyModel.llamaQuantizable(51).writeQuantized(dir, type);
        float[][] inMemory = logits(model, null);
        assertThat(files("*")).isEmpty();
        assertSameBits(logits(model, cache), inMemory); // written, then mapped
        assertSameBits(logits(model, cache), inMemory); // mapped as found
    }

    @Test
    void theFileIsWrittenOnceAndReused() throws Exception {
        Path model = TinyModel.llamaQuantizable(52).writeQuantized(dir, GgmlType.Q8_0);
        float[][] first = logits(model, cache);
        Path file = theCacheFile();
        assertThat(file.getFileName().toString()).startsWith("tiny-llama-Q8_0-");
        Object inode = Files.getAttribute(file, "unix:ino");
        FileTime written = FileTime.fromMillis(0);
        Files.setLastModifiedTime(file, written); // a rewrite would move it
        assertSameBits(logits(model, cache), first);
        assertThat(theCacheFile()).isEqualTo(file);
        assertThat(Files.getAttribute(file, "unix:ino")).isEqualTo(inode);
        assertThat(Files.getLastModifiedTime(file)).isEqualTo(written);
    }

    @Test
    void aTruncatedOrCorruptFileIsRebuilt() throws Exception {
        Path model = TinyModel.llamaQuantizable(53).writeQuantized(dir, GgmlType.Q4_0);
        float[][] want = logits(model, null);
        logits(model, cache);
        Path file = theCacheFile();
        long size = Files.size(file);
        byte[] intact = Files.readAllBytes(file);

        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size - 100);
        }
        assertSameBits(logits(model, cache), want);
        assertThat(Files.readAllBytes(theCacheFile())).as("rebuilt file").isEqualTo(intact);

        byte[] corrupt = intact.clone();
        corrupt[20] ^= 0x55; // inside the key in the header
        Files.write(file, corrupt);
        assertSameBits(logits(model, cache), want);
        assertThat(Files.readAllBytes(theCacheFile())).as("rebuilt file").isEqualTo(intact);
    }

    @Test
    void temporaryFilesAbandonedByADeadWriterAreRemovedWhenTheFileIsNextWritten() throws Exception {
        Path model = TinyModel.llamaQuantizable(58).writeQuantized(dir, GgmlType.Q8_0);
        logits(model, cache);
        Path file = theCacheFile();
        Path abandoned = Files.writeString(cache.resolve(file.getFileName() + ".123.tmp"), "half written");
        Path recent = Files.writeString(cache.resolve(file.getFileName() + ".456.tmp"), "still being written");
        Files.setLastModifiedTime(abandoned, FileTime.fromMillis(System.currentTimeMillis() - TimeUnit.HOURS.toMillis(2)));
        Files.delete(file);
        logits(model, cache);
        assertThat(abandoned).doesNotExist();
        assertThat(recent).exists();
        assertThat(files("*.tmpack")).containsExactly(file);
    }

    @Test
    void modelsOfTheSameShapeGetTheirOwnFiles() throws Exception {
        // same metadata, tensor table and size; written within the same second: only their weights differ
        Path a = TinyModel.llamaQuantizable(54).writeQuantized(Files.createDirectory(dir.resolve("a")), GgmlType.Q8_0);
        Path b = TinyModel.llamaQuantizable(55).writeQuantized(Files.createDirectory(dir.resolve("b")), GgmlType.Q8_0);
        Files.setLastModifiedTime(b, Files.getLastModifiedTime(a));
        assertThat(Files.size(a)).isEqualTo(Files.size(b));
        float[][] wantA = logits(a, null), wantB = logits(b, null);
        assertSameBits(logits(a, cache), wantA);
        assertSameBits(logits(b, cache), wantB);
        assertThat(files("*.tmpack")).hasSize(2);
    }

    @Test
    void anUnusableDirectoryFallsBackToPackingInMemory() throws Exception {
        Path model = TinyModel.llamaQuantizable(56).writeQuantized(dir, GgmlType.Q8_0);
        Path notADirectory = Files.writeString(dir.resolve("plain-file"), "x");
        assertSameBits(logits(model, notADirectory.resolve("cache")), logits(model, null));
    }

    @Test
    void backendsOpeningTogetherShareOneFile() throws Exception {
        Path model = TinyModel.llamaQuantizable(57).writeQuantized(dir, GgmlType.Q4_0);
        float[][] want = logits(model, null);
        int n = 4;
        CountDownLatch start = new CountDownLatch(1), opened = new CountDownLatch(n), release = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(n);
        try {
            List<Future<float[][]>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                results.add(threads.submit(() -> {
                    start.await();
                    try (Model m = ModelLoader.load(model); CpuBackend backend = new CpuBackend(m, config(cache))) {
                        opened.countDown();
                        release.await(60, TimeUnit.SECONDS);
                        return logits(backend);
                    }
                }));
            }
            start.countDown();
            assertThat(opened.await(60, TimeUnit.SECONDS)).as("all backends opened").isTrue();
            Path file = theCacheFile();
            // every backend maps the one file that won (on Linux: one inode among this process's mappings of it)
            Set<String> inodes = new TreeSet<>();
            try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
                maps.filter(line -> line.endsWith(file.toString())).forEach(line -> inodes.add(line.trim().split("\\s+")[4]));
            }
            assertThat(inodes).containsExactly(String.valueOf(Files.getAttribute(file, "unix:ino")));
            release.countDown();
            for (Future<float[][]> f : results) assertSameBits(f.get(60, TimeUnit.SECONDS), want);
        } finally {
            release.countDown();
            threads.shutdownNow();
        }
    }
}
