package dev.tokenmill.sample.constrain;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The grammar expressions every constraint compiles to (regex, JSON Schema and GBNF alike), over bytes: character
 * classes are turned into UTF-8 byte sequences here, so the automaton and the vocabulary meet on bytes.
 */
sealed interface Expr {
    /** One byte out of a set: {@code bits} holds 4 longs, bit {@code b} set when byte {@code b} is in. */
    record Bytes(long[] bits) implements Expr {}

    record Seq(List<Expr> items) implements Expr {}

    record Alt(List<Expr> options) implements Expr {}

    /** {@code item} at least {@code min} and at most {@code max} times ({@code max == -1}: unbounded). */
    record Repeat(Expr item, int min, int max) implements Expr {}

    /** A named rule of the grammar being built. */
    record Ref(String name) implements Expr {}

    int MAX_CODE_POINT = 0x10FFFF;

    static Expr seq(Expr... items) {
        return items.length == 1 ? items[0] : new Seq(List.of(items));
    }

    static Expr seq(List<Expr> items) {
        return items.size() == 1 ? items.get(0) : new Seq(List.copyOf(items));
    }

    static Expr alt(Expr... options) {
        return options.length == 1 ? options[0] : new Alt(List.of(options));
    }

    static Expr alt(List<Expr> options) {
        return options.size() == 1 ? options.get(0) : new Alt(List.copyOf(options));
    }

    static Expr empty() {
        return new Seq(List.of());
    }

    static Expr opt(Expr e) {
        return new Repeat(e, 0, 1);
    }

    static Expr star(Expr e) {
        return new Repeat(e, 0, -1);
    }

    static Expr repeat(Expr e, int min, int max) {
        return new Repeat(e, min, max);
    }

    static Expr ref(String name) {
        return new Ref(name);
    }

    /** The UTF-8 bytes of {@code s}, in order. */
    static Expr literal(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        List<Expr> items = new ArrayList<>(b.length);
        for (byte x : b) items.add(byteRange(x & 0xff, x & 0xff));
        return seq(items);
    }

    static Bytes byteRange(int lo, int hi) {
        long[] bits = new long[4];
        for (int b = lo; b <= hi; b++) bits[b >>> 6] |= 1L << (b & 63);
        return new Bytes(bits);
    }

    /** One character whose code point lies in one of {@code ranges} ({@code [lo0, hi0, lo1, hi1, ...]}), as UTF-8. */
    static Expr chars(int[] ranges) {
        int[] norm = normalize(ranges);
        long[] ascii = new long[4];
        List<Expr> options = new ArrayList<>();
        for (int i = 0; i < norm.length; i += 2) {
            int lo = norm[i], hi = norm[i + 1];
            if (lo <= 0x7F) {
                for (int c = lo; c <= Math.min(hi, 0x7F); c++) ascii[c >>> 6] |= 1L << (c & 63);
                lo = 0x80;
            }
            if (lo <= hi) utf8(lo, hi, options);
        }
        if (ascii[0] != 0 || ascii[1] != 0) options.add(0, new Bytes(ascii));
        if (options.isEmpty()) throw new ConstraintException("an empty character class matches nothing");
        return alt(options);
    }

    /** Any character except those in {@code ranges}. */
    static Expr charsExcept(int[] ranges) {
        int[] norm = normalize(ranges);
        List<Integer> out = new ArrayList<>();
        int next = 0;
        for (int i = 0; i < norm.length; i += 2) {
            if (norm[i] > next) {
                out.add(next);
                out.add(norm[i] - 1);
            }
            next = Math.max(next, norm[i + 1] + 1);
        }
        if (next <= MAX_CODE_POINT) {
            out.add(next);
            out.add(MAX_CODE_POINT);
        }
        return chars(out.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Sorted, merged ranges without surrogates. */
    private static int[] normalize(int[] ranges) {
        List<int[]> list = new ArrayList<>();
        for (int i = 0; i < ranges.length; i += 2) {
            int lo = ranges[i], hi = ranges[i + 1];
            if (lo > hi) throw new ConstraintException("character range out of order: " + cp(lo) + "-" + cp(hi));
            // surrogates are not characters: split them out
            if (lo < 0xD800 && hi >= 0xD800) {
                list.add(new int[] {lo, 0xD7FF});
                lo = 0xE000;
            } else if (lo >= 0xD800 && lo <= 0xDFFF) {
                lo = 0xE000;
            }
            if (hi >= 0xD800 && hi <= 0xDFFF) hi = 0xD7FF;
            if (lo <= hi) list.add(new int[] {lo, hi});
        }
        list.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<int[]> merged = new ArrayList<>();
        for (int[] r : list) {
            if (!merged.isEmpty() && r[0] <= merged.getLast()[1] + 1) {
                merged.getLast()[1] = Math.max(merged.getLast()[1], r[1]);
            } else {
                merged.add(r.clone());
            }
        }
        int[] out = new int[merged.size() * 2];
        for (int i = 0; i < merged.size(); i++) {
            out[2 * i] = merged.get(i)[0];
            out[2 * i + 1] = merged.get(i)[1];
        }
        return out;
    }

    private static String cp(int c) {
        return "U+" + Integer.toHexString(c).toUpperCase();
    }

    /** Code points {@code [lo, hi]} (no surrogates, all >= 0x80) as byte-range sequences (RE2's UTF-8 splitting). */
    private static void utf8(int lo, int hi, List<Expr> out) {
        for (int boundary : new int[] {0x7F, 0x7FF, 0xFFFF}) {
            if (lo <= boundary && hi > boundary) {
                utf8(lo, boundary, out);
                utf8(boundary + 1, hi, out);
                return;
            }
        }
        for (int i = 1; i < 4; i++) {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) {
                    utf8(lo, lo | m, out);
                    utf8((lo | m) + 1, hi, out);
                    return;
                }
                if ((hi & m) != m) {
                    utf8(lo, (hi & ~m) - 1, out);
                    utf8(hi & ~m, hi, out);
                    return;
                }
            }
        }
        byte[] a = new String(Character.toChars(lo)).getBytes(StandardCharsets.UTF_8);
        byte[] b = new String(Character.toChars(hi)).getBytes(StandardCharsets.UTF_8);
        List<Expr> items = new ArrayList<>(a.length);
        for (int i = 0; i < a.length; i++) items.add(byteRange(a[i] & 0xff, b[i] & 0xff));
        out.add(seq(items));
    }
}
