package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Values.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} as transformers' {@code tojson} filter calls it: {@code ensure_ascii=False} by
 * default, no HTML escaping, insertion-ordered keys unless {@code sort_keys}, separators {@code ", "}/{@code ": "}
 * (item separator {@code ","} once {@code indent} is set).
 */
final class Json {
    private final boolean ensureAscii;
    private final String indent; // null: single line
    private final String itemSep;
    private final String keySep;
    private final boolean sortKeys;

    private Json(boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys) {
        this.ensureAscii = ensureAscii;
        this.indent = indent;
        this.itemSep = itemSep;
        this.keySep = keySep;
        this.sortKeys = sortKeys;
    }

    /** The {@code tojson} filter: {@code (x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}. */
    static String tojson(Object value, List<Object> args, Map<String, Object> kw) {
        boolean ensureAscii = Py.truthy(Methods.arg(args, kw, 0, "ensure_ascii", false));
        Object ind = Methods.arg(args, kw, 1, "indent", null);
        Object seps = Methods.arg(args, kw, 2, "separators", null);
        boolean sortKeys = Py.truthy(Methods.arg(args, kw, 3, "sort_keys", false));
        String indent = null;
        if (ind != null) indent = Py.isString(ind) ? Py.text(ind) : " ".repeat((int) Math.max(0, Py.toLong(ind)));
        String itemSep = indent == null ? ", " : ",";
        String keySep = ": ";
        if (seps != null) {
            List<Object> sl = Py.iterate(seps);
            if (sl.size() != 2) throw JinjaException.value("separators must be a (item_separator, key_separator) pair");
            itemSep = Py.text(sl.get(0));
            keySep = Py.text(sl.get(1));
        }
        StringBuilder sb = new StringBuilder();
        new Json(ensureAscii, indent, itemSep, keySep, sortKeys).write(value, sb, 0);
        return sb.toString();
    }

    private void newline(StringBuilder sb, int level) {
        sb.append('\n');
        for (int i = 0; i < level; i++) sb.append(indent);
    }

    private void write(Object v, StringBuilder sb, int level) {
        if (v == null) sb.append("null");
        else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) sb.append(floatText(d));
        else if (Py.isString(v)) string(Py.text(v), sb);
        else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(itemSep);
                if (indent != null) newline(sb, level + 1);
                write(l.get(i), sb, level + 1);
            }
            if (indent != null) newline(sb, level);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : m.entrySet()) entries.add(Map.entry(keyText(e.getKey()), nullSafe(e.getValue())));
            if (sortKeys) entries.sort((x, y) -> Py.compareCodePoints(x.getKey(), y.getKey()));
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : entries) {
                if (!first) sb.append(itemSep);
                first = false;
                if (indent != null) newline(sb, level + 1);
                string(e.getKey(), sb);
                sb.append(keySep);
                write(e.getValue() == NULL ? null : e.getValue(), sb, level + 1);
            }
            if (indent != null) newline(sb, level);
            sb.append('}');
        } else {
            throw JinjaException.type("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
    }

    private static final Object NULL = new Object();

    private static Object nullSafe(Object v) {
        return v == null ? NULL : v; // Map.entry rejects null values
    }

    private static String keyText(Object k) {
        if (Py.isString(k)) return Py.text(k);
        if (k == null) return "null";
        if (k instanceof Boolean b) return b ? "true" : "false";
        if (k instanceof Long l) return l.toString();
        if (k instanceof Double d) return floatText(d);
        throw JinjaException.type("keys must be str, int, float, bool or None, not " + Py.typeName(k));
    }

    private static String floatText(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        return Py.floatRepr(d);
    }

    private void string(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
