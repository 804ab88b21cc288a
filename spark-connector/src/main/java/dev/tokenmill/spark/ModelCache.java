package dev.tokenmill.spark;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns the {@code model} option into a local file the engine can memory-map. A local path or a {@code file:} URI is
 * used in place. Any other Hadoop FileSystem URI ({@code hdfs:}, {@code s3a:}, ...) is copied once per host into
 * the cache directory: under a temporary name, checked (length against the remote file, GGUF magic), then renamed
 * atomically. An exclusive file lock per model serializes executor JVMs of one host that start together; the
 * second one finds the finished copy.
 */
final class ModelCache {
    private static final Logger log = LoggerFactory.getLogger(ModelCache.class);
    private static final byte[] GGUF_MAGIC = "GGUF".getBytes(StandardCharsets.US_ASCII);
    /** Remote copies made by this JVM (a test sees one per host). */
    static final AtomicLong COPIES = new AtomicLong();

    private ModelCache() {}

    /** The local file of {@code model}; copies it into {@code cacheDir} first when it is remote. */
    static Path localFile(String model, String cacheDir, Configuration hadoopConf) throws IOException {
        URI uri = toUri(model);
        if (uri.getScheme().equals("file")) {
            Path p = Path.of(uri);
            if (!Files.isRegularFile(p)) throw new IOException("tokenmill option 'model': no such file " + p);
            return p;
        }
        var remote = new org.apache.hadoop.fs.Path(uri);
        FileSystem fs = remote.getFileSystem(hadoopConf);
        FileStatus st = fs.getFileStatus(remote);
        // the key changes when the remote file does, so a replaced model is copied again
        String key = sha256Hex((uri + "\n" + st.getLen() + "\n" + st.getModificationTime()).getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        Path dir = Path.of(cacheDir);
        Files.createDirectories(dir);
        Path target = dir.resolve(key + "-" + remote.getName());
        if (isComplete(target, st.getLen())) return target;
        // the file lock keeps other JVMs of the host out; it is held per JVM, so threads of this one queue here first
        synchronized (ModelCache.class) {
            return copyLocked(uri, fs, remote, st, dir, key, target);
        }
    }

    private static Path copyLocked(URI uri, FileSystem fs, org.apache.hadoop.fs.Path remote, FileStatus st, Path dir, String key,
                                   Path target) throws IOException {
        try (FileChannel lockFile = FileChannel.open(dir.resolve(key + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockFile.lock()) {
            if (isComplete(target, st.getLen())) return target;
            Path tmp = Files.createTempFile(dir, key + "-", ".part");
            try {
                long t0 = System.nanoTime();
                try (InputStream in = fs.open(remote); OutputStream out = Files.newOutputStream(tmp)) {
                    in.transferTo(out);
                }
                long len = Files.size(tmp);
                if (len != st.getLen()) {
                    throw new IOException("copy of " + uri + " to " + tmp + " has " + len + " bytes, the remote file " + st.getLen());
                }
                if (!hasGgufMagic(tmp)) throw new IOException(uri + " is not a GGUF file (no GGUF magic)");
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    throw new IOException("model cache directory " + dir + " does not support atomic renames", e);
                }
                COPIES.incrementAndGet();
                log.info("tokenmill: copied model {} to {} ({} MiB in {} ms)", uri, target, len >> 20, (System.nanoTime() - t0) / 1_000_000);
                return target;
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static boolean isComplete(Path p, long len) throws IOException {
        return Files.isRegularFile(p) && Files.size(p) == len;
    }

    private static boolean hasGgufMagic(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p)) {
            ByteBuffer b = ByteBuffer.allocate(4);
            while (b.hasRemaining() && ch.read(b) >= 0) { /* read the magic */ }
            return java.util.Arrays.equals(b.array(), GGUF_MAGIC);
        }
    }

    /** The URI of {@code model}: as given when it has a scheme ({@code hdfs://nn/m.gguf}), else a file URI of the path. */
    static URI toUri(String model) {
        if (!model.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*")) return Path.of(model).toAbsolutePath().toUri();
        try {
            return new URI(model);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("tokenmill option 'model': not a path or URI: " + model, e);
        }
    }

    /**
     * A fingerprint of a model file: SHA-256 over its length, its first MiB (header, metadata, tensor table) and its
     * last MiB; cheap enough to compute on every executor for multi-GB files.
     */
    static String fingerprint(Path file) {
        try (FileChannel ch = FileChannel.open(file)) {
            long len = ch.size();
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(ByteBuffer.allocate(8).putLong(0, len));
            int chunk = 1 << 20;
            readInto(md, ch, 0, (int) Math.min(chunk, len));
            if (len > chunk) readInto(md, ch, Math.max(chunk, len - chunk), (int) Math.min(chunk, len - chunk));
            return HexFormat.of().formatHex(md.digest()).substring(0, 32);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model " + file, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void readInto(MessageDigest md, FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) break;
        }
        b.flip();
        md.update(b);
    }

    private static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
