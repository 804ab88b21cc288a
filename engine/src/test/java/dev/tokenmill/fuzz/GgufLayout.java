package dev.tokenmill.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the integer fields of a well-formed GGUF header are: counts, lengths, value types, scalar values, tensor
 * dimensions, types and offsets. The mutator aims at these, which reaches the checks behind them far more often
 * than random bytes do. Walks only files the tests wrote (no bounds checks: a bad seed is a test bug).
 */
record GgufLayout(List<Field> fields, int dataStart) {

    /** An integer field of {@code width} bytes (1, 2, 4 or 8) at {@code pos}; {@code what} names it for the report. */
    record Field(int pos, int width, String what) {}

    private static final int ARRAY = 9, STRING = 8;

    static GgufLayout of(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        List<Field> fields = new ArrayList<>();
        int pos = 4; // magic
        fields.add(new Field(pos, 4, "version"));
        pos += 4;
        fields.add(new Field(pos, 8, "tensor count"));
        long tensors = b.getLong(pos);
        pos += 8;
        fields.add(new Field(pos, 8, "metadata count"));
        long kvs = b.getLong(pos);
        pos += 8;
        for (long i = 0; i < kvs; i++) {
            int keyPos = pos;
            pos = string(b, pos, fields, "key length");
            String key = new String(file, keyPos + 8, pos - keyPos - 8, java.nio.charset.StandardCharsets.UTF_8);
            fields.add(new Field(pos, 4, "type of " + key));
            int type = b.getInt(pos);
            pos += 4;
            pos = value(b, pos, type, fields, key);
        }
        int alignment = 32;
        for (long i = 0; i < tensors; i++) {
            int namePos = pos;
            pos = string(b, pos, fields, "tensor name length");
            String name = new String(file, namePos + 8, pos - namePos - 8, java.nio.charset.StandardCharsets.UTF_8);
            fields.add(new Field(pos, 4, "dimension count of " + name));
            int nDims = b.getInt(pos);
            pos += 4;
            for (int d = 0; d < nDims; d++) {
                fields.add(new Field(pos, 8, "dimension " + d + " of " + name));
                pos += 8;
            }
            fields.add(new Field(pos, 4, "type of " + name));
            pos += 4;
            fields.add(new Field(pos, 8, "offset of " + name));
            pos += 8;
        }
        int dataStart = (pos + alignment - 1) / alignment * alignment;
        return new GgufLayout(List.copyOf(fields), dataStart);
    }

    private static int string(ByteBuffer b, int pos, List<Field> fields, String what) {
        fields.add(new Field(pos, 8, what));
        return pos + 8 + (int) b.getLong(pos);
    }

    private static int value(ByteBuffer b, int pos, int type, List<Field> fields, String key) {
        return switch (type) {
            case 0, 1, 7 -> { fields.add(new Field(pos, 1, key)); yield pos + 1; }
            case 2, 3 -> { fields.add(new Field(pos, 2, key)); yield pos + 2; }
            case 4, 5, 6 -> { fields.add(new Field(pos, 4, key)); yield pos + 4; }
            case 10, 11, 12 -> { fields.add(new Field(pos, 8, key)); yield pos + 8; }
            case STRING -> string(b, pos, fields, "length of " + key);
            case ARRAY -> {
                fields.add(new Field(pos, 4, "element type of " + key));
                int et = b.getInt(pos);
                fields.add(new Field(pos + 4, 8, "length of " + key));
                long n = b.getLong(pos + 4);
                int p = pos + 12;
                for (long i = 0; i < n; i++) {
                    // every element is a target, but only the first few of a long array are worth listing
                    if (i < 4 || et == STRING || et == ARRAY) p = value(b, p, et, fields, key + "[" + i + "]");
                    else p += width(et);
                }
                yield p;
            }
            default -> throw new IllegalStateException("seed file has value type " + type + " at " + pos);
        };
    }

    private static int width(int type) {
        return switch (type) {
            case 0, 1, 7 -> 1;
            case 2, 3 -> 2;
            case 4, 5, 6 -> 4;
            default -> 8;
        };
    }
}
