package dev.tokenmill.sample.constrain;

import java.util.ArrayList;
import java.util.List;

/**
 * Regular expressions (the common subset of Java, ECMAScript and Python syntax) to {@link Expr}: literals, {@code .},
 * classes with ranges and negation, {@code \d \w \s} and their negations, groups (capturing, {@code (?:)}, named),
 * alternation, {@code * + ? {n} {n,} {n,m}} (lazy and possessive forms match the same strings). The whole output must
 * match: {@code ^} at the start and {@code $} at the end are accepted and change nothing. Back-references,
 * look-around, word boundaries and inline flags are refused with a {@link ConstraintException} naming them.
 */
final class RegexParser {
    private final String src;
    private int pos;

    private RegexParser(String src) {
        this.src = src;
    }

    /** The grammar whose root matches exactly the strings {@code pattern} matches. */
    static Grammar grammar(String pattern) {
        Grammar.Builder b = new Grammar.Builder();
        b.define("root", parse(pattern));
        return b.build("root");
    }

    static Expr parse(String pattern) {
        RegexParser p = new RegexParser(pattern);
        if (p.peekIs('^')) p.pos++;
        Expr e = p.alternation();
        if (p.pos < p.src.length()) throw p.error("unexpected '" + p.src.charAt(p.pos) + "'");
        return e;
    }

    private Expr alternation() {
        List<Expr> options = new ArrayList<>();
        options.add(concat());
        while (peekIs('|')) {
            pos++;
            options.add(concat());
        }
        return Expr.alt(options);
    }

    private Expr concat() {
        List<Expr> items = new ArrayList<>();
        while (pos < src.length() && !peekIs('|') && !peekIs(')')) {
            if (peekIs('$') && pos == src.length() - 1) {
                pos++;
                break;
            }
            items.add(quantified(atom()));
        }
        return items.isEmpty() ? Expr.empty() : Expr.seq(items);
    }

    private Expr quantified(Expr atom) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            int min, max;
            if (c == '*') { min = 0; max = -1; pos++; }
            else if (c == '+') { min = 1; max = -1; pos++; }
            else if (c == '?') { min = 0; max = 1; pos++; }
            else if (c == '{' && isCounted()) {
                pos++;
                min = number();
                max = min;
                if (peekIs(',')) {
                    pos++;
                    max = peekIs('}') ? -1 : number();
                }
                expect('}');
            } else {
                return atom;
            }
            if (peekIs('?') || peekIs('+')) pos++; // lazy / possessive: same language
            atom = Expr.repeat(atom, min, max);
        }
        return atom;
    }

    private boolean isCounted() {
        int i = pos + 1;
        int start = i;
        while (i < src.length() && Character.isDigit(src.charAt(i))) i++;
        if (i == start) return false;
        if (i < src.length() && src.charAt(i) == ',') {
            i++;
            while (i < src.length() && Character.isDigit(src.charAt(i))) i++;
        }
        return i < src.length() && src.charAt(i) == '}';
    }

    private int number() {
        int start = pos;
        while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
        if (start == pos) throw error("expected a number");
        try {
            return Integer.parseInt(src.substring(start, pos));
        } catch (NumberFormatException e) {
            throw error("repetition count too large");
        }
    }

    private Expr atom() {
        int c = src.codePointAt(pos);
        switch (c) {
            case '(' -> {
                pos++;
                if (peekIs('?')) {
                    pos++;
                    if (peekIs(':')) {
                        pos++;
                    } else if (peekIs('<') && pos + 1 < src.length() && Character.isLetter(src.charAt(pos + 1))) {
                        int close = src.indexOf('>', pos);
                        if (close < 0) throw error("unterminated group name");
                        pos = close + 1;
                    } else if (peekIs('P') && pos + 1 < src.length() && src.charAt(pos + 1) == '<') {
                        int close = src.indexOf('>', pos);
                        if (close < 0) throw error("unterminated group name");
                        pos = close + 1;
                    } else {
                        throw error("look-around and inline flags (?" + (pos < src.length() ? src.charAt(pos) : "") + " are not supported");
                    }
                }
                Expr e = alternation();
                expect(')');
                return e;
            }
            case '[' -> {
                pos++;
                return charClass();
            }
            case '.' -> {
                pos++;
                return Expr.charsExcept(new int[] {'\n', '\n'});
            }
            case '\\' -> {
                pos++;
                Ranges r = new Ranges();
                int lit = escape(r, false);
                return lit >= 0 ? Expr.literal(new String(Character.toChars(lit))) : r.expr();
            }
            case '*', '+', '?' -> throw error("nothing to repeat before '" + (char) c + "'");
            case '^' -> throw error("'^' is only supported at the start");
            case '$' -> throw error("'$' is only supported at the end");
            default -> {
                pos += Character.charCount(c);
                return Expr.literal(new String(Character.toChars(c)));
            }
        }
    }

    /** Inside {@code [...]}, after the opening bracket. */
    private Expr charClass() {
        boolean negated = false;
        if (peekIs('^')) {
            negated = true;
            pos++;
        }
        Ranges r = new Ranges();
        boolean first = true;
        while (true) {
            if (pos >= src.length()) throw error("unterminated character class");
            int c = src.codePointAt(pos);
            if (c == ']' && !first) {
                pos++;
                break;
            }
            first = false;
            int lo;
            if (c == '\\') {
                pos++;
                lo = escape(r, true);
                if (lo < 0) continue;
            } else {
                if (c == '[' && pos + 1 < src.length() && src.charAt(pos + 1) == ':') throw error("POSIX classes [: :] are not supported");
                pos += Character.charCount(c);
                lo = c;
            }
            int hi = lo;
            if (peekIs('-') && pos + 1 < src.length() && src.charAt(pos + 1) != ']') {
                pos++;
                int d = src.codePointAt(pos);
                if (d == '\\') {
                    pos++;
                    hi = escape(new Ranges(), true);
                    if (hi < 0) throw error("a class escape cannot end a range");
                } else {
                    pos += Character.charCount(d);
                    hi = d;
                }
                if (hi < lo) throw error("range out of order");
            }
            r.add(lo, hi);
        }
        return negated ? Expr.charsExcept(r.toArray()) : Expr.chars(r.toArray());
    }

    /**
     * After a backslash: a single character (returned), or a class escape such as {@code \d} added to {@code into}
     * (returns -1).
     */
    private int escape(Ranges into, boolean inClass) {
        if (pos >= src.length()) throw error("trailing backslash");
        char c = src.charAt(pos++);
        switch (c) {
            case 'd' -> { into.add('0', '9'); return -1; }
            case 'w' -> { into.add('a', 'z'); into.add('A', 'Z'); into.add('0', '9'); into.add('_', '_'); return -1; }
            case 's' -> { into.add(' ', ' '); into.add('\t', '\r'); return -1; }
            case 'D' -> { into.addComplement(new int[] {'0', '9'}); return -1; }
            case 'W' -> { into.addComplement(new int[] {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}); return -1; }
            case 'S' -> { into.addComplement(new int[] {'\t', '\r', ' ', ' '}); return -1; }
            case 'n' -> { return '\n'; }
            case 't' -> { return '\t'; }
            case 'r' -> { return '\r'; }
            case 'f' -> { return '\f'; }
            case 'v' -> { return 0x0B; }
            case '0' -> { return 0; }
            case 'x' -> { return hex(2); }
            case 'u' -> {
                if (peekIs('{')) {
                    int close = src.indexOf('}', pos);
                    if (close < 0) throw error("unterminated \\u{...}");
                    int v = parseHex(src.substring(pos + 1, close));
                    pos = close + 1;
                    return v;
                }
                return hex(4);
            }
            default -> {
                if (Character.isLetterOrDigit(c)) throw error("the escape \\" + c + " is not supported");
                return c;
            }
        }
    }

    private int hex(int n) {
        if (pos + n > src.length()) throw error("short hex escape");
        int v = parseHex(src.substring(pos, pos + n));
        pos += n;
        return v;
    }

    private int parseHex(String s) {
        try {
            int v = Integer.parseInt(s, 16);
            if (v > Expr.MAX_CODE_POINT) throw error("code point out of range");
            return v;
        } catch (NumberFormatException e) {
            throw error("bad hex escape '" + s + "'");
        }
    }

    private boolean peekIs(char c) {
        return pos < src.length() && src.charAt(pos) == c;
    }

    private void expect(char c) {
        if (!peekIs(c)) throw error("expected '" + c + "'");
        pos++;
    }

    private ConstraintException error(String what) {
        return new ConstraintException("regex /" + src + "/ at offset " + pos + ": " + what);
    }

    /** Code point ranges of a class under construction. */
    static final class Ranges {
        private final List<Integer> r = new ArrayList<>();

        void add(int lo, int hi) {
            r.add(lo);
            r.add(hi);
        }

        /** Everything outside {@code sortedRanges}. */
        void addComplement(int[] sortedRanges) {
            int next = 0;
            for (int i = 0; i < sortedRanges.length; i += 2) {
                if (sortedRanges[i] > next) add(next, sortedRanges[i] - 1);
                next = sortedRanges[i + 1] + 1;
            }
            add(next, Expr.MAX_CODE_POINT);
        }

        int[] toArray() {
            return r.stream().mapToInt(Integer::intValue).toArray();
        }

        Expr expr() {
            return Expr.chars(toArray());
        }
    }
}
