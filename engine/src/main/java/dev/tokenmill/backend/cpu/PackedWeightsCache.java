package dev.tokenmill.backend.cpu;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.model.Weight;
import dev.tokenmill.tensor.nativ.NativeKernels;
import dev.tokenmill.tensor.nativ.PackedWeights;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The native kernels' repacked weights of a whole model, written once per host into one file of a cache directory and
 * memory-mapped read-only, so that every JVM on the host that serves the model reads one copy through the page cache
 * instead of holding a private one.
 *
 * <p>The file is named after the model and a key: the model file's size and modification time, a SHA-256 of its
 * header (metadata and tensor table) and of 4 KiB of each packed tensor (its first and last 2 KiB), the packed layout
 * version ({@link NativeKernels#PACK_LAYOUT_VERSION}) and the ISA. It holds a header (magic, the key, a table of
 * every matrix: name, type, rows, columns, offset, bytes), then each packed matrix at a page-aligned offset. A file is
 * used only if its size and its header bytes are exactly what this model and build expect; otherwise it is rebuilt.
 *
 * <p>Writing is safe when several JVMs start together: each packs into a temporary file of the same directory, forces
 * it to disk and links it to the final name, which fails if another got there first; then all map whatever the final
 * name holds, so they share one inode. A directory that cannot be used costs one warning, and the caller repacks in
 * memory.
 */
final class PackedWeightsCache {
    private static final Logger LOG = LoggerFactory.getLogger(PackedWeightsCache.class);
    /** System property naming the cache directory; {@code off} keeps the packed weights in memory. */
    static final String DIR_PROPERTY = "tokenmill.cache.dir";
    private static final byte[] MAGIC = "TMPACK\u0001\n".getBytes(StandardCharsets.US_ASCII);
    private static final long ALIGN = 4096;
    private static final int SAMPLE = 2048;

    private PackedWeightsCache() {}

    /**
     * The cache directory: {@code -Dtokenmill.cache.dir}, else {@code $XDG_CACHE_HOME/tokenmill}, else
     * {@code ${java.io.tmpdir}/tokenmill-cache}; null when the property is {@code off}.
     */
    static Path defaultDir() {
        String dir = System.getProperty(DIR_PROPERTY);
        if (dir != null && !dir.isBlank()) return dir.trim().equalsIgnoreCase("off") ? null : Path.of(dir.trim());
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "tokenmill");
        return Path.of(System.getProperty("java.io.tmpdir"), "tokenmill-cache");
    }

    /**
     * The packed forms of {@code matrices} (each of a type the native kernels handle, none twice), in order, mapped
     * from the cache file of {@code gguf} in {@code dir}, which is written first if it is missing or does not match.
     * {@code donePacking} receives the parts of the model's weights read while writing. Returns null after one warning
     * when the directory cannot be used; the caller then repacks in memory.
     */
    static List<PackedWeights> load(GgufFile gguf, List<Weight> matrices, Path dir, Consumer<MemorySegment> donePacking) {
        List<Entry> plan = new ArrayList<>();
        long offset = 0;
        for (Weight w : matrices) {
            long bytes = NativeKernels.packedBytes(w.type(), w.rows(), w.cols());
            plan.add(new Entry(w, offset, bytes));
            offset += (bytes + ALIGN - 1) / ALIGN * ALIGN;
        }
        Path target = null;
        try {
            String key = key(gguf, matrices);
            byte[] header = header(key, plan);
            long dataStart = (header.length + ALIGN - 1) / ALIGN * ALIGN;
            long size = dataStart + offset;
            String model = gguf.path().getFileName().toString().replaceFirst("\\.gguf$", "");
            target = dir.resolve(model + "-" + HexFormat.of().formatHex(sha256(key.getBytes(StandardCharsets.UTF_8)), 0, 8) + ".tmpack");
            MemorySegment mapped = mapIfValid(target, header, size);
            if (mapped == null) {
                if (Files.exists(target)) {
                    LOG.warn("{} does not match {} (truncated or corrupt); rebuilding it", target, gguf.path());
                    Files.deleteIfExists(target);
                }
                long t0 = System.nanoTime();
                write(target, header, dataStart, size, plan, donePacking);
                mapped = mapIfValid(target, header, size);
                if (mapped == null) throw new IOException(target + " was written but does not read back as written");
                LOG.info("packed weights of {} written to {} ({} MB) in {} ms", gguf.path(), target, size >> 20,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            } else {
                LOG.info("packed weights of {} mapped from {} ({} MB)", gguf.path(), target, size >> 20);
            }
            List<PackedWeights> out = new ArrayList<>(plan.size());
            for (Entry e : plan) {
                out.add(new PackedWeights(e.w.type(), e.w.rows(), e.w.cols(), mapped.asSlice(dataStart + e.offset, e.bytes)));
            }
            return out;
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            LOG.warn("cannot use the packed-weights cache {} ({}); repacking {} in memory",
                    target != null ? target : dir, e.toString(), gguf.path());
            return null;
        }
    }

    private record Entry(Weight w, long offset, long bytes) {}

    /** The file's exact header: magic, key, the matrix table; offsets are relative to the page after the header. */
    private static byte[] header(String key, List<Entry> plan) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(MAGIC);
        out.writeUTF(key);
        out.writeInt(plan.size());
        for (Entry e : plan) {
            out.writeUTF(e.w.name());
            out.writeInt(e.w.type().id());
            out.writeInt(e.w.rows());
            out.writeInt(e.w.cols());
            out.writeLong(e.offset);
            out.writeLong(e.bytes);
        }
        out.flush();
        return bytes.toByteArray();
    }

    /**
     * What identifies the packed bytes: the model file (size, modification time, a hash of its header and samples of
     * its packed tensors), the layout version and the ISA.
     */
    private static String key(GgufFile gguf, List<Weight> matrices) throws IOException {
        MessageDigest sha = digest();
        try (FileChannel ch = FileChannel.open(gguf.path(), StandardOpenOption.READ)) {
            sha.update(read(ch, 0, gguf.dataStart()));
            for (Weight w : matrices) {
                if (!gguf.hasTensor(w.name())) continue;
                TensorInfo t = gguf.tensor(w.name());
                long start = gguf.dataStart() + t.offset(), n = t.byteSize();
                sha.update(read(ch, start, Math.min(n, SAMPLE)));
                sha.update(read(ch, start + Math.max(0, n - SAMPLE), Math.min(n, SAMPLE)));
            }
        }
        long mtime = Files.getLastModifiedTime(gguf.path()).to(TimeUnit.NANOSECONDS);
        return "model " + HexFormat.of().formatHex(sha.digest()) + " size " + Files.size(gguf.path()) + " mtime " + mtime
                + " layout " + NativeKernels.PACK_LAYOUT_VERSION + " isa " + NativeKernels.describe();
    }

    private static ByteBuffer read(FileChannel ch, long position, long length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(length));
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) throw new IOException("unexpected end of file at " + (position + b.position()));
        }
        return b.flip();
    }

    /** The file mapped read-only if it exists with exactly this size and header; else null. */
    private static MemorySegment mapIfValid(Path file, byte[] header, long size) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
        try (ch) {
            if (ch.size() != size || !read(ch, 0, header.length).equals(ByteBuffer.wrap(header))) return null;
            // an automatic arena: downcalls on its segments skip the acquire/release of a shared arena's (see CpuBackend);
            // the mapping lives as long as the backend holding its slices
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, size, Arena.ofAuto());
        }
    }

    /**
     * Packs every matrix into a temporary file of the target's directory (through the channel, so a full disk is an
     * IOException rather than a fault on a mapped page), header last, forces it to disk, and publishes it under the
     * target name unless another process already did.
     */
    private static void write(Path target, byte[] header, long dataStart, long size, List<Entry> plan,
                              Consumer<MemorySegment> donePacking) throws IOException {
        Files.createDirectories(target.getParent());
        deleteAbandoned(target);
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                for (Entry e : plan) {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment buf = arena.allocate(e.bytes, 64);
                        NativeKernels.pack(e.w.type(), e.w.data(), e.w.rows(), e.w.cols(), buf, donePacking);
                        writeFully(ch, buf.asByteBuffer(), dataStart + e.offset);
                    }
                }
                if (ch.size() < size) writeFully(ch, ByteBuffer.allocate(1), size - 1); // the last matrix's page padding
                writeFully(ch, ByteBuffer.wrap(header), 0);
                ch.force(true);
            }
            try {
                // a hard link fails if the target exists: the first writer wins and everyone maps its file
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                LOG.debug("{} was written by another process meanwhile", target);
            } catch (UnsupportedOperationException | IOException e) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Temporary files of this target older than an hour: left by a process that died while writing. */
    private static void deleteAbandoned(Path target) {
        long cutoff = System.currentTimeMillis() - TimeUnit.HOURS.toMillis(1);
        try (var stale = Files.newDirectoryStream(target.getParent(), target.getFileName() + ".*.tmp")) {
            for (Path p : stale) {
                if (Files.getLastModifiedTime(p).toMillis() < cutoff && Files.deleteIfExists(p)) LOG.info("deleted abandoned {}", p);
            }
        } catch (IOException e) {
            LOG.debug("cannot clean up abandoned temporary files of {}", target, e);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        while (b.hasRemaining()) ch.write(b, position + b.position());
    }

    private static byte[] sha256(byte[] b) {
        return digest().digest(b);
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
