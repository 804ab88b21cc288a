package dev.tokenmill.gguf;

import dev.tokenmill.tensor.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (v2 or v3), memory-mapped read-only. The header is parsed eagerly with every offset and size
 * checked against the file size; tensor data stays in the mapping and is handed out as {@link MemorySegment}
 * slices. Closing the file unmaps it: segments obtained from it must not be used afterwards.
 */
public final class GgufFile implements AutoCloseable {
    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    public static final int DEFAULT_ALIGNMENT = 32;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Upper bound on any single string or array length, far above real files, to reject garbage early. */
    private static final long MAX_COUNT = 1L << 31;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, GgufValue> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long dataStart;
    private final int alignment;

    private GgufFile(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        Cursor c = new Cursor();
        if (file.byteSize() < 8) throw error("file is " + file.byteSize() + " bytes, too short for a GGUF header");
        int magic = c.i32("magic");
        if (magic != MAGIC) {
            throw error(String.format("not a GGUF file: magic 0x%08x, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        version = c.i32("version");
        if (version != 2 && version != 3) {
            throw error("GGUF version " + version + " is not supported (expected 2 or 3)");
        }
        long tensorCount = c.count("tensor count");
        long kvCount = c.count("metadata count");
        Map<String, GgufValue> md = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = c.string("metadata key #" + i);
            int typeId = c.i32("type of " + key);
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) throw error("metadata key '" + key + "' has unknown value type " + typeId);
            if (md.put(key, c.value(key, type)) != null) throw error("metadata key '" + key + "' appears twice");
        }
        metadata = Collections.unmodifiableMap(md);
        alignment = readAlignment();
        Map<String, TensorInfo> ts = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = c.string("name of tensor #" + i);
            int nDims = c.i32("dimension count of tensor '" + name + "'");
            if (nDims < 1 || nDims > 4) throw error("tensor '" + name + "' has " + nDims + " dimensions, expected 1..4");
            long[] shape = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                shape[d] = c.i64("dimension " + d + " of tensor '" + name + "'");
                if (shape[d] <= 0 || shape[d] > (1L << 40)) throw error("tensor '" + name + "' has dimension " + d + " = " + shape[d]);
            }
            int typeId = c.i32("type of tensor '" + name + "'");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw error("tensor '" + name + "' has type " + GgmlType.describeUnknown(typeId)
                        + ", which Tokenmill does not support (supported: " + Arrays.toString(GgmlType.values()) + ")");
            }
            long offset = c.i64("offset of tensor '" + name + "'");
            if (shape[0] % type.blockSize() != 0) {
                throw error("tensor '" + name + "' of type " + type + " has rows of " + shape[0]
                        + " elements, not a multiple of the block size " + type.blockSize());
            }
            TensorInfo info = new TensorInfo(name, type, shape, offset);
            try {
                info.byteSize();
            } catch (ArithmeticException e) {
                throw error("tensor '" + name + "' has an absurd shape " + Arrays.toString(shape));
            }
            if (ts.put(name, info) != null) throw error("tensor '" + name + "' appears twice");
        }
        tensors = Collections.unmodifiableMap(ts);
        dataStart = alignUp(c.pos, alignment);
        checkTensorRanges();
    }

    /**
     * Every tensor's bytes (size from its type and shape) lie inside the data section, start at a multiple of the
     * alignment and share no byte with another tensor's: a tensor that overlaps another would load and compute
     * garbage from the other's bytes.
     */
    private void checkTensorRanges() {
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        for (TensorInfo t : byOffset) {
            if (t.offset() < 0 || t.offset() % alignment != 0) {
                throw error("tensor '" + t.name() + "' has data offset " + t.offset() + ", expected a multiple of the alignment "
                        + alignment + " that is >= 0");
            }
            long end = dataStart + t.offset() + t.byteSize();
            if (end > file.byteSize() || end < 0) {
                throw error("tensor '" + t.name() + "' (" + t.type() + " " + Arrays.toString(t.shape()) + ", "
                        + t.byteSize() + " bytes at data offset " + t.offset() + ") runs past the end of the file: needs "
                        + end + " bytes, file has " + file.byteSize());
            }
        }
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo prev = byOffset.get(i - 1), t = byOffset.get(i);
            long prevEnd = prev.offset() + prev.byteSize();
            if (t.offset() < prevEnd) {
                throw error("tensor '" + t.name() + "' (data offset " + t.offset() + ") overlaps tensor '" + prev.name() + "' ("
                        + prev.type() + " " + Arrays.toString(prev.shape()) + ", data bytes " + prev.offset() + ".." + prevEnd
                        + "): expected an offset >= " + prevEnd);
            }
        }
    }

    /** Opens and maps a GGUF file; throws {@link GgufFormatException} for a malformed one, naming what is wrong. */
    public static GgufFile open(Path path) throws IOException {
        if (Files.isDirectory(path)) throw new GgufFormatException(path + ": is a directory, expected a GGUF file");
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            // a pipe would block the open until something writes to it, and cannot be mapped anyway
            throw new GgufFormatException(path + ": is not a regular file (a pipe or a device?), expected a GGUF file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg;
            try {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (IOException e) {
                // the JDK's message is the bare errno text ("No such device" for a pipe or a device)
                throw new IOException(path + ": cannot memory-map it (" + e.getMessage() + "); expected a regular GGUF file", e);
            }
            return new GgufFile(path, arena, seg);
        } catch (RuntimeException | IOException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }

    public int version() { return version; }

    public int alignment() { return alignment; }

    public long fileSize() { return file.byteSize(); }

    /** Start of the tensor data section, in bytes from the start of the file. */
    public long dataStart() { return dataStart; }

    public Map<String, GgufValue> metadata() { return metadata; }

    public Map<String, TensorInfo> tensors() { return tensors; }

    public List<TensorInfo> tensorList() { return List.copyOf(tensors.values()); }

    public boolean hasTensor(String name) { return tensors.containsKey(name); }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw error("required tensor '" + name + "' is missing");
        return t;
    }

    /** The tensor's bytes, a slice of the mapping. */
    public MemorySegment tensorData(TensorInfo t) {
        return file.asSlice(dataStart + t.offset(), t.byteSize());
    }

    public MemorySegment tensorData(String name) {
        return tensorData(tensor(name));
    }

    // ---- metadata accessors: required ones throw naming the file and key ----

    public boolean has(String key) { return metadata.containsKey(key); }

    public GgufValue value(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) throw error("required metadata key '" + key + "' is missing");
        return v;
    }

    public String getString(String key) {
        GgufValue v = value(key);
        if (v.value() instanceof String s) return s;
        throw wrongType(key, "STRING", v);
    }

    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    public long getLong(String key) {
        GgufValue v = value(key);
        return switch (v.value()) {
            case Long l -> l;
            case Integer i -> i;
            case Short s -> s;
            case Byte b -> b;
            default -> throw wrongType(key, "an integer", v);
        };
    }

    public int getInt(String key) {
        long l = getLong(key);
        if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw error("metadata key '" + key + "' = " + l + " is out of the int range");
        }
        return (int) l;
    }

    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    public double getDouble(String key) {
        GgufValue v = value(key);
        return switch (v.value()) {
            case Float f -> f;
            case Double d -> d;
            case Long l -> l;
            case Integer i -> i;
            default -> throw wrongType(key, "a number", v);
        };
    }

    public float getFloat(String key, float fallback) {
        return has(key) ? (float) getDouble(key) : fallback;
    }

    public boolean getBool(String key, boolean fallback) {
        if (!has(key)) return fallback;
        GgufValue v = value(key);
        if (v.value() instanceof Boolean b) return b;
        throw wrongType(key, "BOOL", v);
    }

    public String[] getStringArray(String key) {
        GgufValue v = value(key);
        if (v.value() instanceof String[] a) return a;
        throw wrongType(key, "array of STRING", v);
    }

    public float[] getFloatArray(String key) {
        GgufValue v = value(key);
        if (v.value() instanceof float[] a) return a;
        throw wrongType(key, "array of FLOAT32", v);
    }

    /** An integer array of any element width, widened to int. */
    public int[] getIntArray(String key) {
        GgufValue v = value(key);
        return switch (v.value()) {
            case int[] a -> a;
            case byte[] a -> { int[] r = new int[a.length]; for (int i = 0; i < a.length; i++) r[i] = a[i]; yield r; }
            case short[] a -> { int[] r = new int[a.length]; for (int i = 0; i < a.length; i++) r[i] = a[i]; yield r; }
            case long[] a -> {
                int[] r = new int[a.length];
                for (int i = 0; i < a.length; i++) {
                    if (a[i] != (int) a[i]) throw error("element " + i + " of metadata key '" + key + "' = " + a[i] + " is out of the int range");
                    r[i] = (int) a[i];
                }
                yield r;
            }
            default -> throw wrongType(key, "array of integers", v);
        };
    }

    private GgufFormatException wrongType(String key, String expected, GgufValue v) {
        return error("metadata key '" + key + "' should be " + expected + ", found " + v.type()
                + (v.isArray() ? " of " + v.elementType() : ""));
    }

    /**
     * An error about this file. Names from the file (keys, tensors) are printed escaped, so that it stays one clean
     * line, and a message over {@value #MAX_MESSAGE} characters (a corrupt length can make a key megabytes long)
     * keeps its start and end.
     */
    public GgufFormatException error(String what) {
        String m = printable(what);
        if (m.length() > MAX_MESSAGE) {
            m = m.substring(0, MAX_MESSAGE / 2) + " [... " + (m.length() - MAX_MESSAGE) + " characters left out ...] "
                    + m.substring(m.length() - MAX_MESSAGE / 2);
        }
        return new GgufFormatException(path + ": " + m);
    }

    private static final int MAX_MESSAGE = 600;

    /**
     * {@code s} with control characters, U+FFFD (what invalid UTF-8 in the file decoded to) and lone surrogates
     * written as backslash escapes (backslash x00, backslash ufffd): a corrupt key name must not put NUL or terminal escapes into an
     * error line.
     */
    public static String printable(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
            boolean escape = c < 0x20 || (c >= 0x7f && c < 0xa0) || c == '\uFFFD' || (Character.isSurrogate(c) && !pair);
            if (escape && sb == null) sb = new StringBuilder(s.length() + 16).append(s, 0, i);
            if (sb != null) {
                if (!escape) sb.append(c);
                else if (c < 0x100) sb.append(String.format("\\x%02x", (int) c));
                else sb.append(String.format("\\u%04x", (int) c));
            }
            if (pair) {
                if (sb != null) sb.append(s.charAt(i + 1));
                i++;
            }
        }
        return sb == null ? s : sb.toString();
    }

    private int readAlignment() {
        if (!metadata.containsKey("general.alignment")) return DEFAULT_ALIGNMENT;
        long a = getLong("general.alignment");
        if (a <= 0 || a > (1 << 20) || (a & (a - 1)) != 0) {
            throw error("general.alignment = " + a + ", expected a power of two");
        }
        return (int) a;
    }

    static long alignUp(long v, long alignment) {
        return (v + alignment - 1) / alignment * alignment;
    }

    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    /** Bounds-checked little-endian reader over the header. */
    private final class Cursor {
        long pos;

        private void need(long n, String what) {
            if (n < 0 || pos + n > file.byteSize()) {
                throw error("truncated while reading " + what + ": needs " + n + " bytes at offset " + pos
                        + ", file has " + file.byteSize());
            }
        }

        int i32(String what) { need(4, what); int v = file.get(I32, pos); pos += 4; return v; }

        long i64(String what) { need(8, what); long v = file.get(I64, pos); pos += 8; return v; }

        long count(String what) {
            long n = i64(what);
            if (n < 0 || n > MAX_COUNT) throw error(what + " = " + n + " is absurd (corrupt header?)");
            return n;
        }

        String string(String what) {
            return string(what, -1);
        }

        /**
         * A length-prefixed UTF-8 string. {@code what}, or element {@code index} of array {@code what} when index >= 0,
         * names it in errors; the description is only built on failure (vocabularies hold 10^5 strings).
         */
        String string(String what, int index) {
            long len = pos + 8 <= file.byteSize() ? file.get(I64, pos) : -1;
            if (len < 0 || len > MAX_COUNT || pos + 8 + len > file.byteSize()) {
                String name = index < 0 ? what : "element " + index + " of '" + what + "'";
                count("length of " + name);
                need(len, name);
            }
            pos += 8;
            byte[] b = new byte[(int) len];
            MemorySegment.copy(file, ValueLayout.JAVA_BYTE, pos, b, 0, (int) len);
            pos += len;
            // vocabularies are UTF-8; invalid sequences (never seen in llama.cpp files) become U+FFFD
            return new String(b, StandardCharsets.UTF_8);
        }

        GgufValue value(String key, GgufValueType type) {
            return switch (type) {
                case ARRAY -> array(key, 0);
                default -> new GgufValue(type, null, scalar(key, type));
            };
        }

        Object scalar(String key, GgufValueType type) {
            String what = "value of '" + key + "'";
            return switch (type) {
                case UINT8 -> { need(1, what); int v = file.get(ValueLayout.JAVA_BYTE, pos) & 0xff; pos += 1; yield v; }
                case INT8 -> { need(1, what); int v = file.get(ValueLayout.JAVA_BYTE, pos); pos += 1; yield v; }
                case BOOL -> {
                    need(1, what);
                    byte v = file.get(ValueLayout.JAVA_BYTE, pos);
                    pos += 1;
                    if (v != 0 && v != 1) throw error("metadata key '" + key + "' is a BOOL with byte value " + v);
                    yield v == 1;
                }
                case UINT16 -> { need(2, what); int v = file.get(I16, pos) & 0xffff; pos += 2; yield v; }
                case INT16 -> { need(2, what); int v = file.get(I16, pos); pos += 2; yield v; }
                case UINT32 -> Integer.toUnsignedLong(i32(what));
                case INT32 -> i32(what);
                case UINT64, INT64 -> i64(what);
                case FLOAT32 -> { need(4, what); float v = file.get(F32, pos); pos += 4; yield v; }
                case FLOAT64 -> { need(8, what); double v = file.get(F64, pos); pos += 8; yield v; }
                case STRING -> string(what);
                case ARRAY -> throw new IllegalStateException();
            };
        }

        GgufValue array(String key, int depth) {
            if (depth > 8) throw error("metadata key '" + key + "' nests arrays deeper than 8 levels");
            int typeId = i32("element type of '" + key + "'");
            GgufValueType et = GgufValueType.byId(typeId);
            if (et == null) throw error("metadata key '" + key + "' is an array of unknown type " + typeId);
            long n = count("length of array '" + key + "'");
            if (et.scalarBytes() > 0) need(n * et.scalarBytes(), "array '" + key + "'");
            else need(n * 8, "array '" + key + "'"); // every string or nested array takes at least 8 bytes
            int len = (int) n;
            Object arr = switch (et) {
                case UINT8, INT8 -> {
                    byte[] a = new byte[len];
                    MemorySegment.copy(file, ValueLayout.JAVA_BYTE, pos, a, 0, len);
                    pos += len;
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) a[i] = file.get(ValueLayout.JAVA_BYTE, pos + i) != 0;
                    pos += len;
                    yield a;
                }
                case UINT16, INT16 -> {
                    short[] a = new short[len];
                    MemorySegment.copy(file, I16, pos, a, 0, len);
                    pos += 2L * len;
                    yield a;
                }
                case UINT32, INT32 -> {
                    int[] a = new int[len];
                    MemorySegment.copy(file, I32, pos, a, 0, len);
                    pos += 4L * len;
                    yield a;
                }
                case UINT64, INT64 -> {
                    long[] a = new long[len];
                    MemorySegment.copy(file, I64, pos, a, 0, len);
                    pos += 8L * len;
                    yield a;
                }
                case FLOAT32 -> {
                    float[] a = new float[len];
                    MemorySegment.copy(file, F32, pos, a, 0, len);
                    pos += 4L * len;
                    yield a;
                }
                case FLOAT64 -> {
                    double[] a = new double[len];
                    MemorySegment.copy(file, F64, pos, a, 0, len);
                    pos += 8L * len;
                    yield a;
                }
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) a[i] = string(key, i);
                    yield a;
                }
                case ARRAY -> {
                    GgufValue[] a = new GgufValue[len];
                    for (int i = 0; i < len; i++) a[i] = array(key, depth + 1);
                    yield a;
                }
            };
            return new GgufValue(GgufValueType.ARRAY, et, arr);
        }
    }
}
