package dev.tokenmill.tokenizer.chat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Splits template source into text and tag tokens the way jinja2 3.1's {@code Lexer.tokeniter} does with
 * {@code trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False}: newlines normalised to {@code \n},
 * one trailing newline dropped, {@code -} / {@code +} whitespace markers, the first newline after a block or
 * comment tag removed, and blank line prefixes before block and comment tags removed.
 */
final class Lexer {
    enum Type { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Token(Type type, String text, Object value, int line) {
        boolean is(Type t, String s) { return type == t && text.equals(s); }

        boolean isName(String s) { return type == Type.NAME && text.equals(s); }

        boolean isOp(String s) { return type == Type.OP && text.equals(s); }
    }

    private static final String[] OPERATORS = {
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;

    private Lexer(String src) {
        this.src = src;
    }

    static List<Token> tokenize(String source) {
        String s = source.replace("\r\n", "\n").replace('\r', '\n');
        if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        Lexer lx = new Lexer(s);
        lx.run();
        return lx.out;
    }

    private void run() {
        boolean lineStarting = true;
        int n = src.length();
        while (pos < n) {
            int idx = nextTagStart(pos);
            if (idx < 0) {
                emitData(src.substring(pos));
                pos = n;
                break;
            }
            String text = src.substring(pos, idx);
            char kind = src.charAt(idx + 1);
            char sign = idx + 2 < n ? src.charAt(idx + 2) : 0;
            boolean hasSign = sign == '-' || sign == '+';
            if (sign == '-') {
                text = Py.rstrip(text, null);
            } else if (sign != '+' && kind != '{') {
                // lstrip_blocks: drop spaces between the line start and a block or comment tag
                int lpos = text.lastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && lpos < text.length() && allSpace(text, lpos)) {
                    text = text.substring(0, lpos);
                }
            }
            emitData(text);
            line += countNewlines(src, pos, idx);
            pos = idx + 2 + (hasSign ? 1 : 0);
            String consumedEnd;
            if (kind == '#') {
                consumedEnd = comment();
            } else {
                consumedEnd = tag(kind == '%');
            }
            lineStarting = consumedEnd.endsWith("\n");
        }
        out.add(new Token(Type.EOF, "", null, line));
    }

    private int nextTagStart(int from) {
        int i = from;
        while (true) {
            i = src.indexOf('{', i);
            if (i < 0 || i + 1 >= src.length()) return -1;
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
            i++;
        }
    }

    private void emitData(String text) {
        if (!text.isEmpty()) out.add(new Token(Type.DATA, text, null, line));
    }

    /** Skips a comment; returns the text of the end marker including what it trimmed. */
    private String comment() {
        int n = src.length();
        for (int j = pos; j < n; j++) {
            if (src.startsWith("+#}", j)) return finish(j, j + 3);
            if (src.startsWith("-#}", j)) return finish(j, skipSpace(j + 3));
            if (src.startsWith("#}", j)) {
                int e = j + 2;
                if (e < n && src.charAt(e) == '\n') e++;
                return finish(j, e);
            }
        }
        throw JinjaException.syntax("Missing end of comment tag", line);
    }

    private String finish(int endStart, int end) {
        line += countNewlines(src, pos, end);
        String s = src.substring(pos, end);
        pos = end;
        return s;
    }

    /** Lexes the inside of a {@code {% %}} or {@code {{ }}} tag up to and including its end marker. */
    private String tag(boolean block) {
        out.add(new Token(block ? Type.BLOCK_BEGIN : Type.VAR_BEGIN, block ? "{%" : "{{", null, line));
        Deque<Character> balance = new ArrayDeque<>();
        int n = src.length();
        while (true) {
            if (pos >= n) throw JinjaException.syntax("unexpected end of template, expected end of tag", line);
            if (balance.isEmpty()) {
                int start = pos;
                int end = -1;
                if (block) {
                    if (src.startsWith("+%}", pos)) end = pos + 3;
                    else if (src.startsWith("-%}", pos)) end = skipSpace(pos + 3);
                    else if (src.startsWith("%}", pos)) {
                        end = pos + 2;
                        if (end < n && src.charAt(end) == '\n') end++;
                    }
                } else {
                    if (src.startsWith("-}}", pos)) end = skipSpace(pos + 3);
                    else if (src.startsWith("}}", pos)) end = pos + 2;
                }
                if (end >= 0) {
                    out.add(new Token(block ? Type.BLOCK_END : Type.VAR_END, block ? "%}" : "}}", null, line));
                    line += countNewlines(src, start, end);
                    pos = end;
                    return src.substring(start, end);
                }
            }
            char c = src.charAt(pos);
            if (Py.isSpace(c)) {
                if (c == '\n') line++;
                pos++;
                continue;
            }
            if (Character.isDigit(c)) {
                number();
                continue;
            }
            if (c == '_' || Character.isLetter(c)) {
                int s = pos;
                while (pos < n && (src.charAt(pos) == '_' || Character.isLetterOrDigit(src.charAt(pos)))) pos++;
                out.add(new Token(Type.NAME, src.substring(s, pos), null, line));
                continue;
            }
            if (c == '\'' || c == '"') {
                string(c);
                continue;
            }
            String op = null;
            for (String o : OPERATORS) {
                if (src.startsWith(o, pos)) {
                    op = o;
                    break;
                }
            }
            if (op == null) throw JinjaException.syntax("unexpected char '" + c + "'", line);
            switch (op) {
                case "{" -> balance.push('}');
                case "(" -> balance.push(')');
                case "[" -> balance.push(']');
                case "}", ")", "]" -> {
                    if (balance.isEmpty()) throw JinjaException.syntax("unexpected '" + op + "'", line);
                    char want = balance.pop();
                    if (want != op.charAt(0)) {
                        throw JinjaException.syntax("unexpected '" + op + "', expected '" + want + "'", line);
                    }
                }
                default -> { }
            }
            out.add(new Token(Type.OP, op, null, line));
            pos += op.length();
        }
    }

    private void number() {
        int n = src.length();
        int s = pos;
        while (pos < n && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        boolean isFloat = false;
        // a fraction needs a digit after the dot: "1.foo" stays integer + attribute
        if (pos + 1 < n && src.charAt(pos) == '.' && Character.isDigit(src.charAt(pos + 1))
                && (s == 0 || src.charAt(s - 1) != '.')) {
            isFloat = true;
            pos++;
            while (pos < n && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        }
        if (pos < n && (src.charAt(pos) == 'e' || src.charAt(pos) == 'E') && (s == 0 || src.charAt(s - 1) != '.')) {
            int p = pos + 1;
            if (p < n && (src.charAt(p) == '+' || src.charAt(p) == '-')) p++;
            if (p < n && Character.isDigit(src.charAt(p))) {
                isFloat = true;
                pos = p;
                while (pos < n && Character.isDigit(src.charAt(pos))) pos++;
            }
        }
        String text = src.substring(s, pos).replace("_", "");
        if (isFloat) out.add(new Token(Type.FLOAT, text, Double.parseDouble(text), line));
        else out.add(new Token(Type.INT, text, Long.parseLong(text), line));
    }

    private void string(char quote) {
        int n = src.length();
        int s = pos;
        StringBuilder sb = new StringBuilder();
        int p = pos + 1;
        while (true) {
            if (p >= n) throw JinjaException.syntax("unterminated string", line);
            char c = src.charAt(p);
            if (c == quote) break;
            if (c == '\\' && p + 1 < n) {
                p = unescape(p + 1, sb);
                continue;
            }
            sb.append(c);
            p++;
        }
        pos = p + 1;
        out.add(new Token(Type.STRING, src.substring(s, pos), sb.toString(), line));
        line += countNewlines(src, s, pos);
    }

    /** Python "unicode-escape" decoding of one escape sequence starting after the backslash at {@code p - 1}. */
    private int unescape(int p, StringBuilder sb) {
        char c = src.charAt(p);
        switch (c) {
            case '\n' -> { return p + 1; }
            case '\\' -> sb.append('\\');
            case '\'' -> sb.append('\'');
            case '"' -> sb.append('"');
            case 'a' -> sb.append('\u0007');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'v' -> sb.append('\u000b');
            case 'x', 'u', 'U' -> {
                int len = c == 'x' ? 2 : c == 'u' ? 4 : 8;
                if (p + 1 + len > src.length()) throw JinjaException.syntax("truncated \\" + c + " escape", line);
                int cp = Integer.parseInt(src.substring(p + 1, p + 1 + len), 16);
                sb.appendCodePoint(cp);
                return p + 1 + len;
            }
            default -> {
                if (c >= '0' && c <= '7') {
                    int e = p;
                    while (e < src.length() && e < p + 3 && src.charAt(e) >= '0' && src.charAt(e) <= '7') e++;
                    sb.appendCodePoint(Integer.parseInt(src.substring(p, e), 8));
                    return e;
                }
                sb.append('\\').append(c);
            }
        }
        return p + 1;
    }

    private int skipSpace(int p) {
        while (p < src.length() && Py.isSpace(src.charAt(p))) p++;
        return p;
    }

    private static boolean allSpace(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (!Py.isSpace(s.charAt(i))) return false;
        }
        return true;
    }

    private static int countNewlines(String s, int from, int to) {
        int c = 0;
        for (int i = from; i < to; i++) {
            if (s.charAt(i) == '\n') c++;
        }
        return c;
    }
}
