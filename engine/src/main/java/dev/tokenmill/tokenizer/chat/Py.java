package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Values.*;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics as jinja2 exposes them: truthiness, {@code str()}/{@code repr()}, equality and ordering,
 * arithmetic, iteration, {@code len()}, indexing and slicing by code point, and jinja's sandboxed attribute and
 * item lookup.
 */
final class Py {
    private Py() { }

    // ---- whitespace and strings ----

    /** Python {@code str.isspace()} for one code point. */
    static boolean isSpace(int c) {
        return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f
                || c == 0x3000;
    }

    private static boolean stripMatch(int cp, String chars) {
        return chars == null ? isSpace(cp) : chars.indexOf(cp) >= 0 || (cp > 0xffff && chars.contains(Character.toString(cp)));
    }

    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (!stripMatch(cp, chars)) break;
            i += Character.charCount(cp);
        }
        return s.substring(i);
    }

    static String rstrip(String s, String chars) {
        int j = s.length();
        while (j > 0) {
            int cp = s.codePointBefore(j);
            if (!stripMatch(cp, chars)) break;
            j -= Character.charCount(cp);
        }
        return s.substring(0, j);
    }

    static String strip(String s, String chars) {
        return lstrip(rstrip(s, chars), chars);
    }

    static int cpLen(String s) {
        return s.codePointCount(0, s.length());
    }

    /** Code points of s, so that indexing and slicing count like Python. */
    static int[] cps(String s) {
        return s.codePoints().toArray();
    }

    static String htmlEscape(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&#34;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    // ---- type predicates ----

    static boolean isString(Object v) { return v instanceof String || v instanceof Markup; }

    /** The text of a str or Markup; null when v is neither. */
    static String text(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Markup m) return m.text();
        return null;
    }

    static boolean isInt(Object v) { return v instanceof Long || v instanceof Boolean; }

    static boolean isNumber(Object v) { return v instanceof Long || v instanceof Double || v instanceof Boolean; }

    static boolean isList(Object v) { return v instanceof List<?> && !(v instanceof Tuple); }

    static long toLong(Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Boolean b) return b ? 1 : 0;
        throw JinjaException.type("'" + typeName(v) + "' object cannot be interpreted as an integer");
    }

    static double toDouble(Object v) {
        if (v instanceof Double d) return d;
        return toLong(v);
    }

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof String) return "str";
        if (v instanceof Markup) return "Markup";
        if (v instanceof Tuple) return "tuple";
        if (v instanceof List<?>) return "list";
        if (v instanceof Map<?, ?>) return "dict";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Namespace) return "Namespace";
        if (v instanceof Generator) return "generator";
        if (v instanceof Range) return "range";
        if (v instanceof Loop) return "LoopContext";
        if (v instanceof Macro) return "Macro";
        if (v instanceof Callable) return "builtin_function_or_method";
        return v.getClass().getSimpleName();
    }

    /** jinja2's {@code object_type_repr}, quoted, as used in undefined-attribute messages. */
    static String objectDescription(Object v) {
        if (v == null) return "'None'";
        String n = typeName(v);
        return "'" + (v instanceof Markup ? "markupsafe.Markup" : v instanceof Namespace ? "jinja2.utils.Namespace"
                : v instanceof Loop ? "jinja2.runtime.LoopContext" : n) + " object'";
    }

    // ---- truthiness, str, repr ----

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0.0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof Markup m) return !m.text().isEmpty();
        if (v instanceof Collection<?> c) return !c.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        if (v instanceof Range r) return rangeLen(r) > 0;
        return true;
    }

    /** Python {@code str(v)}, with jinja's Undefined printing as the empty string. */
    static String str(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Markup m) return m.text();
        if (v instanceof Undefined) return "";
        return repr(v);
    }

    static String repr(Object v) {
        StringBuilder sb = new StringBuilder();
        repr(v, sb);
        return sb.toString();
    }

    private static void repr(Object v, StringBuilder sb) {
        if (v == null) sb.append("None");
        else if (v instanceof Boolean b) sb.append(b ? "True" : "False");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) sb.append(floatRepr(d));
        else if (v instanceof String s) reprString(s, sb);
        else if (v instanceof Markup m) {
            sb.append("Markup(");
            reprString(m.text(), sb);
            sb.append(')');
        } else if (v instanceof Tuple t) {
            sb.append('(');
            for (int i = 0; i < t.size(); i++) {
                if (i > 0) sb.append(", ");
                repr(t.get(i), sb);
            }
            if (t.size() == 1) sb.append(',');
            sb.append(')');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(", ");
                repr(l.get(i), sb);
            }
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                repr(e.getKey(), sb);
                sb.append(": ");
                repr(e.getValue(), sb);
            }
            sb.append('}');
        } else if (v instanceof Undefined) sb.append("Undefined");
        else if (v instanceof Namespace ns) {
            sb.append("<Namespace ");
            repr(ns.attrs, sb);
            sb.append('>');
        } else if (v instanceof Range r) {
            sb.append("range(").append(r.start()).append(", ").append(r.stop());
            if (r.step() != 1) sb.append(", ").append(r.step());
            sb.append(')');
        } else if (v instanceof Generator) sb.append("<generator object sync_do_map at 0x7f0000000000>");
        else if (v instanceof Loop l) sb.append("<LoopContext ").append(l.index0 + 1).append('/').append(l.items.size()).append('>');
        else if (v instanceof Macro m) sb.append("<Macro '").append(m.name()).append("'>");
        else if (v instanceof BoundMethod bm) sb.append("<built-in method ").append(bm.name()).append(" of ")
                .append(typeName(bm.self())).append(" object at 0x7f0000000000>");
        else if (v instanceof Builtin b) sb.append("<function ").append(b.name()).append(" at 0x7f0000000000>");
        else sb.append(v);
    }

    private static void reprString(String s, StringBuilder sb) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        sb.append(quote);
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == quote || cp == '\\') sb.append('\\').appendCodePoint(cp);
            else if (cp == '\t') sb.append("\\t");
            else if (cp == '\n') sb.append("\\n");
            else if (cp == '\r') sb.append("\\r");
            else if (cp < 0x20 || cp == 0x7f) sb.append(String.format("\\x%02x", cp));
            else if (cp < 0x7f || isPrintable(cp)) sb.appendCodePoint(cp);
            else if (cp <= 0xff) sb.append(String.format("\\x%02x", cp));
            else if (cp <= 0xffff) sb.append(String.format("\\u%04x", cp));
            else sb.append(String.format("\\U%08x", cp));
        }
        sb.append(quote);
    }

    /** Python {@code str.isprintable()} for one code point. */
    private static boolean isPrintable(int cp) {
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> false;
            case Character.SPACE_SEPARATOR -> cp == ' ';
            default -> true;
        };
    }

    /** Python's shortest round-trip {@code repr(float)}. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        StringBuilder sb = new StringBuilder();
        if (d < 0) sb.append('-');
        if (exp < -4 || exp >= 16) {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            sb.append('e').append(exp < 0 ? '-' : '+');
            int ae = Math.abs(exp);
            if (ae < 10) sb.append('0');
            sb.append(ae);
        } else if (exp < 0) {
            sb.append("0.");
            sb.append("0".repeat(-exp - 1)).append(digits);
        } else if (digits.length() <= exp + 1) {
            sb.append(digits).append("0".repeat(exp + 1 - digits.length())).append(".0");
        } else {
            sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length());
        }
        return sb.toString();
    }

    // ---- equality and ordering ----

    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return toDouble(a) == toDouble(b);
            return toLong(a) == toLong(b);
        }
        if (isString(a) && isString(b)) return text(a).equals(text(b));
        if (a instanceof Undefined && b instanceof Undefined) return true;
        if (a instanceof Tuple != b instanceof Tuple) return false;
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if (la.size() != lb.size()) return false;
            for (int i = 0; i < la.size(); i++) if (!eq(la.get(i), lb.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) return false;
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                Object k = findKey(mb, e.getKey());
                if (k == MISSING || !eq(e.getValue(), mb.get(k))) return false;
            }
            return true;
        }
        if (a instanceof Range ra && b instanceof Range rb) return ra.equals(rb);
        return a.equals(b);
    }

    static int compare(Object a, Object b, String op) {
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return Double.compare(toDouble(a), toDouble(b));
            return Long.compare(toLong(a), toLong(b));
        }
        if (isString(a) && isString(b)) return compareCodePoints(text(a), text(b));
        if (a instanceof List<?> la && b instanceof List<?> lb && (a instanceof Tuple) == (b instanceof Tuple)) {
            for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
                if (!eq(la.get(i), lb.get(i))) return compare(la.get(i), lb.get(i), op);
            }
            return Integer.compare(la.size(), lb.size());
        }
        if (a instanceof Undefined u) throw u.error();
        if (b instanceof Undefined u) throw u.error();
        throw JinjaException.type("'" + op + "' not supported between instances of '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    static final Object MISSING = new Object();

    /** The key of m equal to key in Python's sense (1 == 1.0 == True), or {@link #MISSING}. */
    static Object findKey(Map<?, ?> m, Object key) {
        if (m.containsKey(key)) return key;
        if (key instanceof Markup mk && m.containsKey(mk.text())) return mk.text();
        if (isNumber(key) || key instanceof Markup) {
            for (Object k : m.keySet()) if (eq(k, key)) return k;
        }
        return MISSING;
    }

    // ---- containers ----

    static long rangeLen(Range r) {
        if (r.step() > 0) return Math.max(0, (r.stop() - r.start() + r.step() - 1) / r.step());
        return Math.max(0, (r.start() - r.stop() - r.step() - 1) / -r.step());
    }

    /** Python {@code list(iter(v))}; Undefined iterates as empty, None and numbers are not iterable. */
    static List<Object> iterate(Object v) {
        if (v instanceof List<?> l) return new ArrayList<>(l);
        if (v instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (v instanceof String || v instanceof Markup) {
            String s = text(v);
            List<Object> out = new ArrayList<>(s.length());
            s.codePoints().forEach(cp -> out.add(Character.toString(cp)));
            return out;
        }
        if (v instanceof Generator g) return new ArrayList<>(g.items());
        if (v instanceof Range r) {
            long n = rangeLen(r);
            List<Object> out = new ArrayList<>((int) n);
            for (long i = 0; i < n; i++) out.add(r.start() + i * r.step());
            return out;
        }
        if (v instanceof Undefined) return new ArrayList<>();
        throw JinjaException.type("'" + typeName(v) + "' object is not iterable");
    }

    static boolean isIterable(Object v) {
        return v instanceof List<?> || v instanceof Map<?, ?> || isString(v) || v instanceof Generator
                || v instanceof Range || v instanceof Undefined;
    }

    static long len(Object v) {
        if (v instanceof String s) return cpLen(s);
        if (v instanceof Markup m) return cpLen(m.text());
        if (v instanceof Collection<?> c) return c.size();
        if (v instanceof Map<?, ?> m) return m.size();
        if (v instanceof Range r) return rangeLen(r);
        if (v instanceof Undefined) return 0;
        if (v instanceof Namespace) throw JinjaException.type("object of type 'Namespace' has no len()");
        throw JinjaException.type("object of type '" + typeName(v) + "' has no len()");
    }

    static boolean contains(Object container, Object item) {
        if (isString(container)) {
            if (!isString(item)) {
                throw JinjaException.type("'in <string>' requires string as left operand, not " + typeName(item));
            }
            return text(container).contains(text(item));
        }
        if (container instanceof Map<?, ?> m) return findKey(m, item) != MISSING;
        if (container instanceof List<?> l) {
            for (Object o : l) if (eq(o, item)) return true;
            return false;
        }
        if (container instanceof Undefined) return false;
        if (container instanceof Generator || container instanceof Range) {
            for (Object o : iterate(container)) if (eq(o, item)) return true;
            return false;
        }
        throw JinjaException.type("argument of type '" + typeName(container) + "' is not iterable");
    }

    // ---- attribute and item access (jinja2 sandbox getattr/getitem) ----

    /** {@code obj.name}: Python attribute first (methods), then the item; missing gives Undefined. */
    static Object getattr(Object obj, String name) {
        if (obj instanceof Undefined u) throw u.error();
        if (obj instanceof Map<?, ?> m) {
            Object method = Methods.dictMethod(m, name);
            if (method != null) return method;
            Object k = findKey(m, name);
            return k == MISSING ? Undefined.attr(obj, name) : m.get(k);
        }
        if (isString(obj)) {
            Object method = Methods.strMethod(obj, name);
            return method != null ? method : Undefined.attr(obj, name);
        }
        if (obj instanceof List<?> l) {
            Object method = Methods.listMethod(l, name);
            return method != null ? method : Undefined.attr(obj, name);
        }
        if (obj instanceof Namespace ns) {
            return ns.attrs.containsKey(name) ? ns.attrs.get(name) : Undefined.attr(obj, name);
        }
        if (obj instanceof Loop loop) return loop.attr(name);
        if (obj instanceof Macro m && name.equals("name")) return m.name();
        return Undefined.attr(obj, name);
    }

    /** {@code obj[key]}: the item first, then (for string keys) the attribute; missing gives Undefined. */
    static Object getitem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw u.error();
        if (obj instanceof Map<?, ?> m) {
            Object k = findKey(m, key);
            if (k != MISSING) return m.get(k);
        } else if (obj instanceof List<?> l) {
            if (isInt(key)) {
                long i = toLong(key);
                if (i < 0) i += l.size();
                if (i >= 0 && i < l.size()) return l.get((int) i);
                return Undefined.item(obj, key);
            }
        } else if (isString(obj)) {
            if (isInt(key)) {
                int[] cps = cps(text(obj));
                long i = toLong(key);
                if (i < 0) i += cps.length;
                if (i >= 0 && i < cps.length) return Character.toString(cps[(int) i]);
                return Undefined.item(obj, key);
            }
        } else if (obj instanceof Range || obj instanceof Generator) {
            if (obj instanceof Range && isInt(key)) return getitem(iterate(obj), key);
        }
        if (key instanceof String s) return getattr(obj, s);
        return Undefined.item(obj, key);
    }

    /** Python slicing {@code obj[start:stop:step]} on lists, tuples and strings (by code point). */
    static Object slice(Object obj, Object start, Object stop, Object step) {
        if (obj instanceof Undefined u) throw u.error();
        long st = step == null ? 1 : toLong(step);
        if (st == 0) throw JinjaException.value("slice step cannot be zero");
        if (isString(obj)) {
            int[] cps = cps(text(obj));
            StringBuilder sb = new StringBuilder();
            for (int i : sliceIndices(cps.length, start, stop, st)) sb.appendCodePoint(cps[i]);
            return sb.toString();
        }
        if (obj instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            for (int i : sliceIndices(l.size(), start, stop, st)) out.add(l.get(i));
            return obj instanceof Tuple ? new Tuple(out) : out;
        }
        if (obj instanceof Range) return slice(iterate(obj), start, stop, step);
        throw JinjaException.type("'" + typeName(obj) + "' object is not subscriptable");
    }

    private static int[] sliceIndices(int len, Object startV, Object stopV, long step) {
        long start;
        long stop;
        if (step > 0) {
            start = startV == null ? 0 : clampIndex(toLong(startV), len, 0, len);
            stop = stopV == null ? len : clampIndex(toLong(stopV), len, 0, len);
        } else {
            start = startV == null ? len - 1 : clampIndex(toLong(startV), len, -1, len - 1);
            stop = stopV == null ? -1 : clampIndex(toLong(stopV), len, -1, len - 1);
        }
        List<Integer> idx = new ArrayList<>();
        if (step > 0) for (long i = start; i < stop; i += step) idx.add((int) i);
        else for (long i = start; i > stop; i += step) idx.add((int) i);
        return idx.stream().mapToInt(Integer::intValue).toArray();
    }

    private static long clampIndex(long i, int len, long lo, long hi) {
        if (i < 0) i += len;
        return Math.max(lo, Math.min(hi, i));
    }

    // ---- arithmetic ----

    static Object add(Object a, Object b) {
        checkDefined(a, b);
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return toDouble(a) + toDouble(b);
            return toLong(a) + toLong(b);
        }
        if (a instanceof Markup ma && isString(b)) {
            return new Markup(ma.text() + (b instanceof Markup mb ? mb.text() : htmlEscape((String) b)));
        }
        if (b instanceof Markup mb && a instanceof String sa) return new Markup(htmlEscape(sa) + mb.text());
        if (a instanceof String sa && b instanceof String sb) return sa + sb;
        if (a instanceof Tuple ta && b instanceof Tuple tb) {
            List<Object> out = new ArrayList<>(ta);
            out.addAll(tb);
            return new Tuple(out);
        }
        if (isList(a) && isList(b)) {
            List<Object> out = new ArrayList<>((List<?>) a);
            out.addAll((List<?>) b);
            return out;
        }
        if (a instanceof String) {
            throw JinjaException.type("can only concatenate str (not \"" + typeName(b) + "\") to str");
        }
        if (isList(a)) throw JinjaException.type("can only concatenate list (not \"" + typeName(b) + "\") to list");
        throw unsupported("+", a, b);
    }

    static Object arith(String op, Object a, Object b) {
        if (op.equals("+")) return add(a, b);
        checkDefined(a, b);
        if (op.equals("*")) {
            if (isInt(b) && (isString(a) || a instanceof List<?>)) return repeat(a, toLong(b));
            if (isInt(a) && (isString(b) || b instanceof List<?>)) return repeat(b, toLong(a));
        }
        if (op.equals("%") && isString(a)) return Methods.percentFormat(text(a), b);
        if (!isNumber(a) || !isNumber(b)) throw unsupported(op, a, b);
        boolean floats = a instanceof Double || b instanceof Double;
        switch (op) {
            case "-" -> {
                return floats ? (Object) (toDouble(a) - toDouble(b)) : (Object) (toLong(a) - toLong(b));
            }
            case "*" -> {
                return floats ? (Object) (toDouble(a) * toDouble(b)) : (Object) (toLong(a) * toLong(b));
            }
            case "/" -> {
                if (toDouble(b) == 0) throw new JinjaException("ZeroDivisionError", "division by zero");
                return toDouble(a) / toDouble(b);
            }
            case "//" -> {
                if (toDouble(b) == 0) {
                    throw new JinjaException("ZeroDivisionError", "integer division or modulo by zero");
                }
                if (floats) return Math.floor(toDouble(a) / toDouble(b));
                return Math.floorDiv(toLong(a), toLong(b));
            }
            case "%" -> {
                if (toDouble(b) == 0) {
                    throw new JinjaException("ZeroDivisionError", "integer division or modulo by zero");
                }
                if (floats) {
                    double x = toDouble(a);
                    double y = toDouble(b);
                    double r = x % y;
                    return r != 0 && (r < 0) != (y < 0) ? r + y : r;
                }
                return Math.floorMod(toLong(a), toLong(b));
            }
            case "**" -> {
                if (!floats && toLong(b) >= 0) {
                    long base = toLong(a);
                    long r = 1;
                    for (long i = 0; i < toLong(b); i++) r *= base;
                    return r;
                }
                return Math.pow(toDouble(a), toDouble(b));
            }
            default -> throw JinjaException.runtime("unknown operator " + op);
        }
    }

    private static Object repeat(Object seq, long n) {
        if (isString(seq)) return text(seq).repeat((int) Math.max(0, n));
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < n; i++) out.addAll((List<?>) seq);
        return seq instanceof Tuple ? new Tuple(out) : out;
    }

    static Object negate(Object v) {
        if (v instanceof Undefined u) throw u.error();
        if (v instanceof Double d) return -d;
        if (isInt(v)) return -toLong(v);
        throw JinjaException.type("bad operand type for unary -: '" + typeName(v) + "'");
    }

    private static void checkDefined(Object a, Object b) {
        if (a instanceof Undefined u) throw u.error();
        if (b instanceof Undefined u) throw u.error();
    }

    private static JinjaException unsupported(String op, Object a, Object b) {
        return JinjaException.type("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    // ---- conversion from Java ----

    /** Converts caller-supplied Java values (records aside) into the runtime's Python value model. */
    static Object fromJava(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double
                || v instanceof Markup || v instanceof Undefined || v instanceof Namespace || v instanceof Callable) {
            return v;
        }
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof java.math.BigInteger bi) return bi.longValueExact();
        if (v instanceof Float || v instanceof BigDecimal) return ((Number) v).doubleValue();
        if (v instanceof CharSequence cs) return cs.toString();
        if (v instanceof Character c) return c.toString();
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) out.put(fromJava(e.getKey()), fromJava(e.getValue()));
            return out;
        }
        if (v instanceof Collection<?> c) {
            List<Object> out = new ArrayList<>(c.size());
            for (Object o : c) out.add(fromJava(o));
            return out;
        }
        if (v instanceof Object[] arr) return fromJava(java.util.Arrays.asList(arr));
        if (v instanceof java.util.Optional<?> o) return fromJava(o.orElse(null));
        throw JinjaException.type("cannot pass a " + v.getClass().getName() + " to a template");
    }
}
