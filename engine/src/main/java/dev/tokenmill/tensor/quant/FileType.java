package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;

import java.util.Arrays;
import java.util.Locale;

/**
 * llama.cpp's file types ({@code llama_ftype}, stored as {@code general.file_type}) that Tokenmill can write:
 * the main tensor type of a file, and for the K mixes which tensors get more bits (see {@link TensorTypePolicy}).
 */
public enum FileType {
    F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    Q4_0(2, GgmlType.Q4_0),
    Q4_1(3, GgmlType.Q4_1),
    Q8_0(7, GgmlType.Q8_0),
    Q5_0(8, GgmlType.Q5_0),
    Q5_1(9, GgmlType.Q5_1),
    Q4_K_S(14, GgmlType.Q4_K),
    Q4_K_M(15, GgmlType.Q4_K),
    Q5_K_S(16, GgmlType.Q5_K),
    Q5_K_M(17, GgmlType.Q5_K),
    Q6_K(18, GgmlType.Q6_K),
    BF16(32, GgmlType.BF16);

    private final int id;
    private final GgmlType defaultType;

    FileType(int id, GgmlType defaultType) {
        this.id = id;
        this.defaultType = defaultType;
    }

    /** The {@code general.file_type} value. */
    public int id() { return id; }

    /** The type most 2-D weights get (llama_ftype_get_default_type). */
    public GgmlType defaultType() { return defaultType; }

    /**
     * Parses llama-quantize's spelling, case-insensitive: {@code Q4_K_M}, {@code q8_0}, {@code F16}; {@code Q4_K}
     * and {@code Q5_K} mean the {@code _M} mixes, as in llama-quantize.
     */
    public static FileType parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT);
        switch (n) {
            case "Q4_K": return Q4_K_M;
            case "Q5_K": return Q5_K_M;
            case "FP16": return F16;
            case "FP32": return F32;
            default:
        }
        try {
            return valueOf(n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown quantization type '" + name + "'; known: "
                    + Arrays.toString(values()) + " (and Q4_K, Q5_K for the _M mixes)", e);
        }
    }

    /** The file type with this {@code general.file_type} id, or null. */
    public static FileType byId(long id) {
        for (FileType t : values()) {
            if (t.id == id) return t;
        }
        return null;
    }
}
