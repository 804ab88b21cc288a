package dev.tokenmill.gguf;

import java.util.Arrays;

/**
 * One metadata value with its GGUF type. Scalars hold a boxed Java value (integers widened to {@code Long}
 * for unsigned 32/64-bit and to {@code Integer} below, floats as {@code Float}/{@code Double}, BOOL as
 * {@code Boolean}, STRING as {@code String}). Arrays hold a primitive array of the element type
 * (byte[], short[], int[], long[], float[], double[], boolean[], String[]) or, for nested arrays, a
 * {@code GgufValue[]}; unsigned elements are stored in the signed Java type of the same width.
 */
public record GgufValue(GgufValueType type, GgufValueType elementType, Object value) {

    public static GgufValue ofString(String s) { return new GgufValue(GgufValueType.STRING, null, s); }
    public static GgufValue ofUint32(long v) { return new GgufValue(GgufValueType.UINT32, null, v); }
    public static GgufValue ofInt32(int v) { return new GgufValue(GgufValueType.INT32, null, v); }
    public static GgufValue ofUint64(long v) { return new GgufValue(GgufValueType.UINT64, null, v); }
    public static GgufValue ofFloat32(float v) { return new GgufValue(GgufValueType.FLOAT32, null, v); }
    public static GgufValue ofBool(boolean v) { return new GgufValue(GgufValueType.BOOL, null, v); }
    public static GgufValue ofStrings(String[] v) { return new GgufValue(GgufValueType.ARRAY, GgufValueType.STRING, v); }
    public static GgufValue ofFloats(float[] v) { return new GgufValue(GgufValueType.ARRAY, GgufValueType.FLOAT32, v); }
    public static GgufValue ofInt32s(int[] v) { return new GgufValue(GgufValueType.ARRAY, GgufValueType.INT32, v); }

    public boolean isArray() { return type == GgufValueType.ARRAY; }

    /** Number of elements of an array value. */
    public int length() {
        return switch (value) {
            case byte[] a -> a.length;
            case short[] a -> a.length;
            case int[] a -> a.length;
            case long[] a -> a.length;
            case float[] a -> a.length;
            case double[] a -> a.length;
            case boolean[] a -> a.length;
            case Object[] a -> a.length;
            default -> throw new IllegalStateException("not an array: " + type);
        };
    }

    @Override
    public String toString() {
        if (!isArray()) return String.valueOf(value);
        int n = length();
        String head = switch (value) {
            case String[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(n, 5)));
            case float[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(n, 5)));
            case int[] a -> Arrays.toString(Arrays.copyOf(a, Math.min(n, 5)));
            default -> "";
        };
        return "array<" + elementType + ">[" + n + "]" + (head.isEmpty() ? "" : " " + head + (n > 5 ? "..." : ""));
    }
}
