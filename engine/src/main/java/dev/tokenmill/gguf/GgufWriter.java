package dev.tokenmill.gguf;

import dev.tokenmill.tensor.GgmlType;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF v3 files that llama.cpp reads: metadata in insertion order, tensor infos, then the tensor data,
 * each tensor aligned to {@code general.alignment} (32 unless set). Tensor bytes are produced on demand by a
 * {@link TensorData}, so large models stream to disk without being held in memory.
 */
public final class GgufWriter {

    /** Produces exactly the tensor's byte size in ggml layout. */
    @FunctionalInterface
    public interface TensorData {
        void writeTo(OutputStream out) throws IOException;
    }

    private record Entry(String name, GgmlType type, long[] shape, TensorData data, long size) {}

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Entry> tensors = new ArrayList<>();

    public GgufWriter put(String key, GgufValue value) {
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String v) { return put(key, GgufValue.ofString(v)); }
    public GgufWriter putUint32(String key, long v) { return put(key, GgufValue.ofUint32(v)); }
    public GgufWriter putInt32(String key, int v) { return put(key, GgufValue.ofInt32(v)); }
    public GgufWriter putFloat32(String key, float v) { return put(key, GgufValue.ofFloat32(v)); }
    public GgufWriter putBool(String key, boolean v) { return put(key, GgufValue.ofBool(v)); }

    /** Copies every metadata entry of another file (e.g. to keep a tokenizer when re-quantizing). */
    public GgufWriter putAll(Map<String, GgufValue> values) {
        metadata.putAll(values);
        return this;
    }

    public GgufWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorData data) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        tensors.add(new Entry(name, type, shape.clone(), data, type.bytesFor(n)));
        return this;
    }

    /** A tensor from bytes already in ggml layout. */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, MemorySegment bytes) {
        return addTensor(name, type, shape, out -> {
            byte[] buf = new byte[1 << 16];
            for (long off = 0; off < bytes.byteSize(); off += buf.length) {
                int len = (int) Math.min(buf.length, bytes.byteSize() - off);
                MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, off, buf, 0, len);
                out.write(buf, 0, len);
            }
        });
    }

    /** An F32 tensor from a float array (row-major, ggml order). */
    public GgufWriter addF32(String name, long[] shape, float[] values) {
        return addTensor(name, GgmlType.F32, shape, out -> {
            ByteBuffer bb = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            bb.asFloatBuffer().put(values);
            out.write(bb.array());
        });
    }

    public void write(Path path) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        try (OutputStream out = Files.newOutputStream(path)) {
            write(out);
        }
    }

    public void write(OutputStream rawOut) throws IOException {
        int alignment = metadata.containsKey("general.alignment")
                ? ((Number) metadata.get("general.alignment").value()).intValue() : GgufFile.DEFAULT_ALIGNMENT;
        CountingOut out = new CountingOut(new BufferedOutputStream(rawOut, 1 << 20));
        out.i32(GgufFile.MAGIC);
        out.i32(3);
        out.i64(tensors.size());
        out.i64(metadata.size());
        for (var e : metadata.entrySet()) {
            out.string(e.getKey());
            out.i32(e.getValue().type().id());
            writeValue(out, e.getValue());
        }
        long offset = 0;
        for (Entry t : tensors) {
            out.string(t.name);
            out.i32(t.shape.length);
            for (long d : t.shape) out.i64(d);
            out.i32(t.type.id());
            out.i64(offset);
            offset = GgufFile.alignUp(offset + t.size, alignment);
        }
        out.pad(alignment);
        long dataStart = out.count;
        for (Entry t : tensors) {
            long before = out.count;
            t.data.writeTo(out);
            long written = out.count - before;
            if (written != t.size) {
                throw new IOException("tensor '" + t.name + "' wrote " + written + " bytes, expected " + t.size);
            }
            out.pad(alignment);
        }
        assert out.count - dataStart == offset || tensors.isEmpty();
        out.flush();
    }

    private static void writeValue(CountingOut out, GgufValue v) throws IOException {
        if (v.isArray()) {
            out.i32(v.elementType().id());
            out.i64(v.length());
            switch (v.value()) {
                case byte[] a -> out.write(a);
                case boolean[] a -> { for (boolean b : a) out.write(b ? 1 : 0); }
                case short[] a -> { for (short s : a) out.i16(s); }
                case int[] a -> { for (int i : a) out.i32(i); }
                case long[] a -> { for (long l : a) out.i64(l); }
                case float[] a -> { for (float f : a) out.i32(Float.floatToRawIntBits(f)); }
                case double[] a -> { for (double d : a) out.i64(Double.doubleToRawLongBits(d)); }
                case String[] a -> { for (String s : a) out.string(s); }
                case GgufValue[] a -> {
                    for (GgufValue inner : a) writeValue(out, inner);
                }
                default -> throw new IllegalArgumentException("unsupported array value " + v.value().getClass());
            }
            return;
        }
        Object o = v.value();
        switch (v.type()) {
            case UINT8, INT8 -> out.write(((Number) o).intValue());
            case BOOL -> out.write((Boolean) o ? 1 : 0);
            case UINT16, INT16 -> out.i16(((Number) o).intValue());
            case UINT32, INT32 -> out.i32((int) ((Number) o).longValue());
            case UINT64, INT64 -> out.i64(((Number) o).longValue());
            case FLOAT32 -> out.i32(Float.floatToRawIntBits(((Number) o).floatValue()));
            case FLOAT64 -> out.i64(Double.doubleToRawLongBits(((Number) o).doubleValue()));
            case STRING -> out.string((String) o);
            case ARRAY -> throw new IllegalStateException();
        }
    }

    private static final class CountingOut extends OutputStream {
        private final OutputStream out;
        long count;

        CountingOut(OutputStream out) { this.out = out; }

        @Override public void write(int b) throws IOException { out.write(b); count++; }

        @Override public void write(byte[] b, int off, int len) throws IOException { out.write(b, off, len); count += len; }

        @Override public void flush() throws IOException { out.flush(); }

        void i16(int v) throws IOException { write(v & 0xff); write((v >>> 8) & 0xff); }

        void i32(int v) throws IOException { i16(v); i16(v >>> 16); }

        void i64(long v) throws IOException { i32((int) v); i32((int) (v >>> 32)); }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            write(b, 0, b.length);
        }

        void pad(int alignment) throws IOException {
            while (count % alignment != 0) write(0);
        }
    }
}
