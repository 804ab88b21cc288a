package dev.tokenmill.fuzz;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A mutated GGUF file as a recipe over a seed file the tests write: byte overwrites, then a cut to
 * {@code length} bytes. A recipe is one line of text ({@link #toLine()}), which is what the committed corpus
 * holds: it stays small, and replays the same input as long as the seed models are written the same way.
 *
 * @param seed   name of the seed model ({@link GgufFuzzSeeds})
 * @param length bytes kept after the edits (the seed's length: no cut)
 * @param edits  overwrites, applied in order
 */
record GgufMutation(String seed, int length, List<Edit> edits) {

    record Edit(int pos, byte[] bytes) {}

    private static final HexFormat HEX = HexFormat.of();
    private static final long[] INTERESTING = {0, 1, 2, 3, 7, 8, 12, 13, 16, 30, 31, 32, 33, 63, 64, 255, 256, 4095, 65535,
            65536, (1L << 31) - 1, 1L << 31, (1L << 32) - 1, 1L << 32, 1L << 40, (1L << 40) + 1, Long.MAX_VALUE, Long.MIN_VALUE, -1, -2};
    /** NaN, infinities, the largest float and F16 NaN / infinity (in the low half): what breaks arithmetic. */
    private static final int[] SPECIAL_FLOAT_BITS = {0x7fc00000, 0x7f800000, 0xff800000, 0x7f7fffff, 0x7e007e00, 0x7c007c00, 0xfc00fc00};

    byte[] apply(byte[] seedBytes) {
        byte[] b = seedBytes.clone();
        for (Edit e : edits) System.arraycopy(e.bytes(), 0, b, e.pos(), e.bytes().length);
        return Arrays.copyOf(b, length);
    }

    /** {@code seed length pos:hex pos:hex ...} */
    String toLine() {
        StringBuilder sb = new StringBuilder(seed).append(' ').append(length);
        for (Edit e : edits) sb.append(' ').append(e.pos()).append(':').append(HEX.formatHex(e.bytes()));
        return sb.toString();
    }

    /** Parses {@link #toLine()}; text after {@code #} is a comment. */
    static GgufMutation parse(String line) {
        String body = line.contains("#") ? line.substring(0, line.indexOf('#')) : line;
        String[] parts = body.trim().split("\\s+");
        List<Edit> edits = new ArrayList<>();
        for (int i = 2; i < parts.length; i++) {
            int colon = parts[i].indexOf(':');
            edits.add(new Edit(Integer.parseInt(parts[i].substring(0, colon)), HEX.parseHex(parts[i].substring(colon + 1))));
        }
        return new GgufMutation(parts[0], Integer.parseInt(parts[1]), List.copyOf(edits));
    }

    /** One to three stacked random mutations of {@code seedBytes}, aimed mostly at the header's fields. */
    static GgufMutation random(String seed, byte[] seedBytes, GgufLayout layout, SplittableRandom r) {
        List<Edit> edits = new ArrayList<>();
        int length = seedBytes.length;
        int header = layout.dataStart();
        int n = 1 + r.nextInt(3);
        for (int k = 0; k < n; k++) {
            int kind = r.nextInt(100);
            if (kind < 40) {
                GgufLayout.Field f = layout.fields().get(r.nextInt(layout.fields().size()));
                edits.add(new Edit(f.pos(), littleEndian(fieldValue(f, seedBytes, layout, r), f.width())));
            } else if (kind < 55) {
                int pos = r.nextInt(header);
                edits.add(new Edit(pos, new byte[] {(byte) (seedBytes[pos] ^ (1 << r.nextInt(8)))}));
            } else if (kind < 63) {
                byte[] bytes = new byte[1 + r.nextInt(8)];
                r.nextBytes(bytes);
                edits.add(new Edit(r.nextInt(header - bytes.length), bytes));
            } else if (kind < 75) {
                int pos = (header + r.nextInt(seedBytes.length - header - 4)) & ~1; // 2-aligned: hits F16 values and scales
                edits.add(new Edit(pos, littleEndian(SPECIAL_FLOAT_BITS[r.nextInt(SPECIAL_FLOAT_BITS.length)], 4)));
            } else if (kind < 85) {
                length = r.nextBoolean() ? r.nextInt(header + 1) : r.nextInt(seedBytes.length);
            } else if (kind < 95) {
                int len = 1 + r.nextInt(32);
                int from = r.nextInt(header - len), to = r.nextInt(header - len);
                edits.add(new Edit(to, Arrays.copyOfRange(seedBytes, from, from + len)));
            } else {
                int pos = r.nextInt(seedBytes.length);
                edits.add(new Edit(pos, new byte[] {(byte) (seedBytes[pos] ^ (1 << r.nextInt(8)))}));
            }
        }
        return new GgufMutation(seed, length, List.copyOf(edits));
    }

    /** An interesting value for a field: a boundary, a neighbour of its own value, or another field's value. */
    private static long fieldValue(GgufLayout.Field f, byte[] seedBytes, GgufLayout layout, SplittableRandom r) {
        long own = read(seedBytes, f.pos(), f.width());
        return switch (r.nextInt(4)) {
            case 0 -> INTERESTING[r.nextInt(INTERESTING.length)];
            case 1 -> own + r.nextInt(-64, 65);
            case 2 -> {
                // e.g. a tensor offset set to another tensor's: overlapping data
                List<GgufLayout.Field> same = layout.fields().stream().filter(g -> g.width() == f.width()).toList();
                GgufLayout.Field g = same.get(r.nextInt(same.size()));
                yield read(seedBytes, g.pos(), g.width());
            }
            default -> r.nextLong();
        };
    }

    private static long read(byte[] b, int pos, int width) {
        long v = 0;
        for (int i = width - 1; i >= 0; i--) v = (v << 8) | (b[pos + i] & 0xff);
        return v;
    }

    private static byte[] littleEndian(long v, int width) {
        byte[] out = new byte[width];
        for (int i = 0; i < width; i++) out[i] = (byte) (v >>> (8 * i));
        return out;
    }
}
