package dev.tokenmill.sample.constrain;

import java.util.ArrayList;
import java.util.List;

/**
 * GBNF, llama.cpp's grammar format ({@code grammars/README.md} there): {@code name ::= alternatives} rules, string
 * literals with {@code \n \t \r \\ \" \xHH \\uHHHH \\UHHHHHHHH} escapes, character classes {@code [a-z]} /
 * {@code [^"]}, {@code .}, groups, {@code * + ?} and {@code {m} {m,} {m,n}}, {@code #} comments. As in llama.cpp a
 * rule ends at a newline outside parentheses, and generation starts at {@code root}.
 */
final class GbnfParser {
    private final String src;
    private int pos;

    private GbnfParser(String src) {
        this.src = src;
    }

    static Grammar parse(String gbnf) {
        GbnfParser p = new GbnfParser(gbnf);
        Grammar.Builder b = new Grammar.Builder();
        p.skipSpace(true);
        while (p.pos < p.src.length()) {
            String name = p.name();
            p.skipSpace(false);
            if (!p.src.startsWith("::=", p.pos)) throw p.error("expected '::=' after rule name '" + name + "'");
            p.pos += 3;
            p.skipSpace(true);
            b.define(name, p.alternates(false));
            p.skipSpace(true);
        }
        if (!b.has("root")) throw new ConstraintException("GBNF grammar has no 'root' rule");
        return b.build("root");
    }

    private Expr alternates(boolean nested) {
        List<Expr> options = new ArrayList<>();
        options.add(sequence(nested));
        while (peekIs('|')) {
            pos++;
            skipSpace(true);
            options.add(sequence(nested));
        }
        return Expr.alt(options);
    }

    private Expr sequence(boolean nested) {
        List<Expr> items = new ArrayList<>();
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '|' || c == ')' || c == '\n' || c == '\r') break;
            Expr atom;
            if (c == '"') {
                pos++;
                atom = literal();
            } else if (c == '[') {
                pos++;
                atom = charClass();
            } else if (c == '.') {
                pos++;
                atom = Expr.charsExcept(new int[0]);
            } else if (c == '(') {
                pos++;
                skipSpace(true);
                atom = alternates(true);
                if (!peekIs(')')) throw error("expected ')'");
                pos++;
            } else if (isWordChar(c)) {
                atom = Expr.ref(name());
            } else {
                throw error("unexpected '" + c + "'");
            }
            skipSpace(nested);
            atom = quantifiers(atom, nested);
            items.add(atom);
        }
        return items.isEmpty() ? Expr.empty() : Expr.seq(items);
    }

    private Expr quantifiers(Expr atom, boolean nested) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '*') atom = Expr.star(atom);
            else if (c == '+') atom = Expr.repeat(atom, 1, -1);
            else if (c == '?') atom = Expr.opt(atom);
            else if (c == '{') {
                pos++;
                skipSpace(nested);
                int min = integer();
                int max = min;
                skipSpace(nested);
                if (peekIs(',')) {
                    pos++;
                    skipSpace(nested);
                    max = peekIs('}') ? -1 : integer();
                    skipSpace(nested);
                }
                if (!peekIs('}')) throw error("expected '}'");
                atom = Expr.repeat(atom, min, max);
            } else {
                return atom;
            }
            pos++;
            skipSpace(nested);
        }
        return atom;
    }

    private int integer() {
        int start = pos;
        while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
        if (start == pos) throw error("expected a number");
        return Integer.parseInt(src.substring(start, pos));
    }

    private Expr literal() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= src.length()) throw error("unterminated string literal");
            int c = src.codePointAt(pos);
            if (c == '"') {
                pos++;
                break;
            }
            if (c == '\\') {
                pos++;
                sb.appendCodePoint(escape());
            } else {
                sb.appendCodePoint(c);
                pos += Character.charCount(c);
            }
        }
        return Expr.literal(sb.toString());
    }

    private Expr charClass() {
        boolean negated = peekIs('^');
        if (negated) pos++;
        List<Integer> ranges = new ArrayList<>();
        while (true) {
            if (pos >= src.length()) throw error("unterminated character class");
            int c = src.codePointAt(pos);
            if (c == ']') {
                pos++;
                break;
            }
            int lo = classChar();
            int hi = lo;
            if (peekIs('-') && pos + 1 < src.length() && src.charAt(pos + 1) != ']') {
                pos++;
                hi = classChar();
                if (hi < lo) throw error("range out of order");
            }
            ranges.add(lo);
            ranges.add(hi);
        }
        int[] r = ranges.stream().mapToInt(Integer::intValue).toArray();
        return negated ? Expr.charsExcept(r) : Expr.chars(r);
    }

    private int classChar() {
        int c = src.codePointAt(pos);
        if (c == '\\') {
            pos++;
            return escape();
        }
        pos += Character.charCount(c);
        return c;
    }

    private int escape() {
        if (pos >= src.length()) throw error("trailing backslash");
        char c = src.charAt(pos++);
        return switch (c) {
            case 'n' -> '\n';
            case 't' -> '\t';
            case 'r' -> '\r';
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            case 'U' -> hex(8);
            case '\\', '"', '[', ']', '-', '^', '/' -> c;
            default -> throw error("unknown escape \\" + c);
        };
    }

    private int hex(int n) {
        if (pos + n > src.length()) throw error("short hex escape");
        try {
            int v = Integer.parseUnsignedInt(src.substring(pos, pos + n), 16);
            pos += n;
            if (v > Expr.MAX_CODE_POINT) throw error("code point out of range");
            return v;
        } catch (NumberFormatException e) {
            throw error("bad hex escape");
        }
    }

    private String name() {
        int start = pos;
        while (pos < src.length() && isWordChar(src.charAt(pos))) pos++;
        if (start == pos) throw error("expected a rule name");
        return src.substring(start, pos);
    }

    private static boolean isWordChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }

    private void skipSpace(boolean newlineOk) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t') {
                pos++;
            } else if (c == '#') {
                while (pos < src.length() && src.charAt(pos) != '\n' && src.charAt(pos) != '\r') pos++;
            } else if (newlineOk && (c == '\n' || c == '\r')) {
                pos++;
            } else {
                break;
            }
        }
    }

    private boolean peekIs(char c) {
        return pos < src.length() && src.charAt(pos) == c;
    }

    private ConstraintException error(String what) {
        int line = 1, col = 1;
        for (int i = 0; i < Math.min(pos, src.length()); i++) {
            if (src.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new ConstraintException("GBNF grammar, line " + line + " column " + col + ": " + what);
    }
}
