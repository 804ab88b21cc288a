package dev.tokenmill.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmill.cli.Cli;
import dev.tokenmill.tensor.Fp16;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file, memory-mapped: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw data. Tensors are read row by row as floats, never copied
 * whole into the heap. F32, F16 and BF16 are supported.
 */
final class Safetensors implements AutoCloseable {
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A tensor's entry: HF shape (outermost first), dtype, and its bytes within the mapping. */
    record Tensor(String name, String dtype, long[] shape, MemorySegment data) {
        long elements() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }

        /** Elements of the innermost dimension: a row. */
        long rowLength() { return shape.length == 0 ? 1 : shape[shape.length - 1]; }

        /** Reads {@code n} elements starting at element {@code first} as floats into {@code dst[dstOff..]}. */
        void read(long first, int n, float[] dst, int dstOff) {
            switch (dtype) {
                case "F32" -> MemorySegment.copy(data, F32, first * 4, dst, dstOff, n);
                case "F16" -> { for (int i = 0; i < n; i++) dst[dstOff + i] = Fp16.toFloat(data.get(I16, (first + i) * 2)); }
                case "BF16" -> { for (int i = 0; i < n; i++) dst[dstOff + i] = Fp16.bf16ToFloat(data.get(I16, (first + i) * 2)); }
                default -> throw new IllegalStateException(dtype);
            }
        }
    }

    private final Path path;
    private final Arena arena;
    private final Map<String, Tensor> tensors;

    private Safetensors(Path path, Arena arena, Map<String, Tensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.tensors = tensors;
    }

    static Safetensors open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (file.byteSize() < 8) throw bad(path, "file is " + file.byteSize() + " bytes, too short for a header");
            long headerLen = file.get(I64, 0);
            if (headerLen <= 0 || headerLen > file.byteSize() - 8 || headerLen > (100 << 20)) {
                throw bad(path, "header length " + headerLen + " does not fit a file of " + file.byteSize() + " bytes");
            }
            byte[] header = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            JsonNode json = Cli.JSON.readTree(new String(header, StandardCharsets.UTF_8));
            long dataStart = 8 + headerLen;
            Map<String, Tensor> ts = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = json.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (e.getKey().equals("__metadata__")) continue;
                JsonNode t = e.getValue();
                String dtype = t.path("dtype").asText();
                if (!dtype.equals("F32") && !dtype.equals("F16") && !dtype.equals("BF16")) {
                    throw bad(path, "tensor '" + e.getKey() + "' has dtype " + dtype + "; supported: F32, F16, BF16");
                }
                JsonNode shapeNode = t.path("shape");
                long[] shape = new long[shapeNode.size()];
                for (int i = 0; i < shape.length; i++) shape[i] = shapeNode.get(i).asLong();
                long begin = t.path("data_offsets").path(0).asLong(-1), end = t.path("data_offsets").path(1).asLong(-1);
                long width = dtype.equals("F32") ? 4 : 2;
                long n = 1;
                for (long d : shape) n *= d;
                if (begin < 0 || end < begin || dataStart + end > file.byteSize() || end - begin != n * width) {
                    throw bad(path, "tensor '" + e.getKey() + "' has data_offsets [" + begin + ", " + end + "] for "
                            + n + " " + dtype + " values; the data section has " + (file.byteSize() - dataStart) + " bytes");
                }
                ts.put(e.getKey(), new Tensor(e.getKey(), dtype, shape, file.asSlice(dataStart + begin, end - begin)));
            }
            return new Safetensors(path, arena, Collections.unmodifiableMap(ts));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static ConvertException bad(Path path, String what) {
        return new ConvertException(path + ": " + what);
    }

    Path path() { return path; }

    Map<String, Tensor> tensors() { return tensors; }

    @Override
    public void close() {
        arena.close();
    }
}
