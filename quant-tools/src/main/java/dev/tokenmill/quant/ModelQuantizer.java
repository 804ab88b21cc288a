package dev.tokenmill.quant;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.quant.FileType;
import dev.tokenmill.tensor.quant.Quantizer;
import dev.tokenmill.tensor.quant.RowEncoder;
import dev.tokenmill.tensor.quant.TensorTypePolicy;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Re-encodes a GGUF model to a {@link FileType}, as llama-quantize does without an importance matrix: every tensor
 * gets the type {@link TensorTypePolicy} chooses, its rows are quantized on several threads and streamed to the new
 * file, the metadata is copied with {@code general.file_type} and {@code general.quantization_version} set.
 */
public final class ModelQuantizer {

    /** What happened to one tensor. */
    public record TensorResult(String name, GgmlType from, GgmlType to, long[] shape, long bytesIn, long bytesOut) {}

    /** The whole run. */
    public record Report(Path in, Path out, FileType fileType, List<TensorResult> tensors, List<String> fallbacks) {
        public long bytesIn() { return tensors.stream().mapToLong(TensorResult::bytesIn).sum(); }

        public long bytesOut() { return tensors.stream().mapToLong(TensorResult::bytesOut).sum(); }
    }

    /**
     * @param allowRequantize accept already quantized input tensors (their error adds to the new one's), as
     *                        llama-quantize's {@code --allow-requantize}
     * @param progress        receives source tensor bytes as they are consumed (may be null)
     */
    public static Report quantize(Path in, Path out, FileType fileType, int threads, boolean allowRequantize,
                                  LongConsumer progress) throws IOException {
        checkOutput(in, out);
        try (GgufFile src = GgufFile.open(in)) {
            List<TensorInfo> tensors = src.tensorList();
            String arch = src.getString("general.architecture", "llama");
            int nLayer = src.getInt(arch + ".block_count", 0);
            boolean is70B = arch.equals("llama") && nLayer == 80
                    && src.getInt(arch + ".attention.head_count", 0) != src.getInt(arch + ".attention.head_count_kv", 0);
            TensorTypePolicy.Choice choice = TensorTypePolicy.choose(fileType, tensors.stream()
                    .map(t -> new TensorTypePolicy.Tensor(t.name(), t.shape(), t.type())).toList(), nLayer, is70B);

            GgufWriter w = new GgufWriter();
            w.putAll(src.metadata());
            w.put("general.quantization_version", GgufValue.ofUint32(2));
            w.put("general.file_type", GgufValue.ofUint32(fileType.id()));
            w.remove("split.no").remove("split.count").remove("split.tensors.count");

            List<TensorResult> results = new ArrayList<>();
            Path target = out.toAbsolutePath();
            Path tmp = target.resolveSibling(target.getFileName() + ".part");
            try (RowEncoder encoder = new RowEncoder(threads)) {
                for (TensorInfo t : tensors) {
                    GgmlType to = choice.types().get(t.name());
                    MemorySegment data = src.tensorData(t);
                    results.add(new TensorResult(t.name(), t.type(), to, t.shape(), t.byteSize(), to.bytesFor(t.elementCount())));
                    if (to == t.type()) {
                        // nothing to convert: the bytes go over as they are
                        w.addTensor(t.name(), to, t.shape(), os -> {
                            copy(data, os);
                            if (progress != null) progress.accept(t.byteSize());
                        });
                        continue;
                    }
                    if (t.type().isQuantized() && !allowRequantize) {
                        throw new QuantizeException(in + ": tensor '" + t.name() + "' is already " + t.type()
                                + "; requantizing to " + to + " compounds the error (pass --allow-requantize to do it anyway)");
                    }
                    TensorRows rows = new TensorRows(t, data);
                    double ratio = (double) t.byteSize() / to.bytesFor(t.elementCount());
                    w.addTensor(t.name(), to, t.shape(), os -> encoder.encode(rows, rows.rowCount(), rows.rowLength(),
                            Quantizer.forType(to), os, progress == null ? null : b -> progress.accept(Math.round(b * ratio))));
                }
                w.write(tmp);
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            return new Report(in, out, fileType, results, choice.fallbacks());
        }
    }

    /**
     * The output must go into an existing directory (a typo in it should not silently create a tree) and must not
     * be the input under another name: a symbolic or hard link to the input is the same file, and replacing it
     * would destroy the input while it is still being read.
     */
    private static void checkOutput(Path in, Path out) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new QuantizeException("output directory " + parent + (Files.exists(parent) ? " is not a directory" : " does not exist")
                    + "; create it first");
        }
        boolean same = in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())
                || (Files.exists(in) && Files.exists(out) && Files.isSameFile(in, out));
        if (same) throw new QuantizeException("output " + out + " is the input file " + in + " (the same file, maybe through a link); write to another path");
    }

    private static void copy(MemorySegment segment, OutputStream os) throws IOException {
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < segment.byteSize(); off += buf.length) {
            int len = (int) Math.min(buf.length, segment.byteSize() - off);
            MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, off, buf, 0, len);
            os.write(buf, 0, len);
        }
    }
}
