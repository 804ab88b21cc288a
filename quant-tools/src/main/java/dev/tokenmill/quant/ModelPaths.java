package dev.tokenmill.quant;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Resolves the file arguments of the quant-tools commands: a plain path is used as it is; a URI with a scheme
 * ({@code hdfs://}, {@code s3a://}, {@code file:/}, ...) goes through Hadoop's FileSystem. GGUF files are
 * memory-mapped, so a remote input is first copied to a local temporary file, and an output is written locally and
 * then copied up under a temporary name and renamed, so readers never see half a file.
 */
final class ModelPaths {
    private ModelPaths() {}

    /** True for a URI with a scheme of two or more letters (not a Windows drive letter). */
    static boolean isUri(String arg) {
        int colon = arg.indexOf(':');
        if (colon < 2) return false;
        for (int i = 0; i < colon; i++) {
            char c = arg.charAt(i);
            if (!Character.isLetterOrDigit(c) && c != '+' && c != '-' && c != '.') return false;
        }
        return true;
    }

    /** A local copy of an input file or directory, deleted on close when it was fetched. */
    record Input(Path path, boolean temporary) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            if (temporary) deleteTree(path.getParent());
        }
    }

    static Input input(String arg) throws IOException {
        if (!isUri(arg)) return new Input(Path.of(arg), false);
        org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(uri(arg));
        FileSystem fs = src.getFileSystem(new Configuration());
        if (!fs.exists(src)) throw new java.nio.file.NoSuchFileException(arg);
        Path dir = Files.createTempDirectory("tokenmill-fetch");
        Path local = dir.resolve(src.getName().isEmpty() ? "input" : src.getName());
        try {
            fs.copyToLocalFile(false, src, new org.apache.hadoop.fs.Path(local.toUri()), true);
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
        return new Input(local, true);
    }

    /** Where a command writes its result, and how it reaches the destination. */
    record Output(String destination, Path local, boolean remote) implements AutoCloseable {
        /** Copies a remote output up (as name.part, then renamed); a local one is already in place. */
        void publish() throws IOException {
            if (!remote) return;
            org.apache.hadoop.fs.Path dst = new org.apache.hadoop.fs.Path(uri(destination));
            FileSystem fs = dst.getFileSystem(new Configuration());
            org.apache.hadoop.fs.Path part = dst.suffix(".part");
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), part);
            if (fs.exists(dst)) fs.delete(dst, false);
            if (!fs.rename(part, dst)) throw new IOException("could not rename " + part + " to " + dst);
        }

        @Override
        public void close() throws IOException {
            if (remote) deleteTree(local.getParent());
        }
    }

    static Output output(String arg) throws IOException {
        if (!isUri(arg)) return new Output(arg, Path.of(arg), false);
        String name = new org.apache.hadoop.fs.Path(uri(arg)).getName();
        return new Output(arg, Files.createTempDirectory("tokenmill-out").resolve(name.isEmpty() ? "output" : name), true);
    }

    private static URI uri(String arg) {
        try {
            return new URI(arg);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("'" + arg + "' is not a valid URI: " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
