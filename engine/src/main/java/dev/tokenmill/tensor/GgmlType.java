package dev.tokenmill.tensor;

/**
 * The ggml tensor types Tokenmill reads and writes, with their GGUF type ids and block layouts.
 * A block holds {@link #blockSize()} elements in {@link #blockBytes()} bytes; rows are whole blocks.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),   // f16 d, 16 bytes of nibbles
    Q4_1(3, 32, 20),   // f16 d, f16 m, 16 bytes of nibbles
    Q5_0(6, 32, 22),   // f16 d, 4 bytes high bits, 16 bytes of nibbles
    Q5_1(7, 32, 24),   // f16 d, f16 m, 4 bytes high bits, 16 bytes of nibbles
    Q8_0(8, 32, 34),   // f16 d, 32 int8
    Q4_K(12, 256, 144), // f16 d, f16 dmin, 12 bytes scales, 128 bytes nibbles
    Q5_K(13, 256, 176), // f16 d, f16 dmin, 12 bytes scales, 32 bytes high bits, 128 bytes nibbles
    Q6_K(14, 256, 210), // 128 bytes low nibbles, 64 bytes high 2 bits, 16 int8 scales, f16 d
    BF16(30, 1, 2);

    private final int id;
    private final int blockSize;
    private final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The GGUF/ggml type id stored in tensor infos. */
    public int id() { return id; }

    /** Elements per block. */
    public int blockSize() { return blockSize; }

    /** Bytes per block. */
    public int blockBytes() { return blockBytes; }

    public boolean isQuantized() { return blockSize > 1; }

    /** Bytes taken by {@code elements} values; {@code elements} must be a multiple of the block size. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs a multiple of " + blockSize + " elements, got " + elements);
        }
        return elements / blockSize * blockBytes;
    }

    /** The type with this ggml id, or null when Tokenmill does not know it. */
    public static GgmlType byId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) return t;
        }
        return null;
    }

    /** Parses llama.cpp's spelling ("q8_0", "Q4_K", "f16"). */
    public static GgmlType parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown tensor type '" + name + "'; known: " + java.util.Arrays.toString(values()), e);
        }
    }

    /** Names of ggml types Tokenmill cannot compute with, for clear errors. */
    public static String describeUnknown(int id) {
        return switch (id) {
            case 4, 5 -> "Q4_2/Q4_3 (removed from ggml)";
            case 9 -> "Q8_1";
            case 10 -> "Q2_K";
            case 11 -> "Q3_K";
            case 15 -> "Q8_K";
            case 16, 17, 18, 19, 20, 21, 22, 23, 29 -> "an IQ type";
            case 24 -> "I8";
            case 25 -> "I16";
            case 26 -> "I32";
            case 27 -> "I64";
            case 28 -> "F64";
            default -> "unknown type id " + id;
        };
    }
}
