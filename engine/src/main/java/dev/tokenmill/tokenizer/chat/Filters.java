package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Values.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

import static dev.tokenmill.tokenizer.chat.Methods.arg;

/** jinja2's builtin filters and tests (the ones chat templates use), plus transformers' {@code tojson}. */
final class Filters {
    private Filters() { }

    static Object filter(String name, Object v, List<Object> a, Map<String, Object> k) {
        switch (name) {
            case "tojson" -> {
                return Json.tojson(v, a, k);
            }
            case "safe" -> {
                return v instanceof Markup ? v : new Markup(Py.str(v));
            }
            case "e", "escape", "forceescape" -> {
                return v instanceof Markup ? v : new Markup(Py.htmlEscape(Py.str(v)));
            }
            case "string" -> {
                return v instanceof Markup ? v : Py.str(v);
            }
            case "trim" -> {
                Object chars = arg(a, k, 0, "chars", null);
                return Py.strip(Py.str(v), chars == null ? null : Py.text(chars));
            }
            case "upper" -> {
                return Py.str(v).toUpperCase(Locale.ROOT);
            }
            case "lower" -> {
                return Py.str(v).toLowerCase(Locale.ROOT);
            }
            case "capitalize" -> {
                return Methods.capitalize(Py.str(v));
            }
            case "title" -> {
                return title(Py.str(v));
            }
            case "replace" -> {
                Object count = arg(a, k, 2, "count", null);
                return Methods.replace(Py.str(v), Py.str(arg(a, k, 0, "old", "")), Py.str(arg(a, k, 1, "new", "")),
                        count == null ? -1 : Py.toLong(count));
            }
            case "length", "count" -> {
                return Py.len(v);
            }
            case "list" -> {
                return Py.iterate(v);
            }
            case "first" -> {
                List<Object> l = Py.iterate(v);
                return l.isEmpty() ? new Undefined("No first item, sequence was empty.") : l.get(0);
            }
            case "last" -> {
                if (v instanceof Generator) throw JinjaException.type("'generator' object is not reversible");
                List<Object> l = Py.iterate(v);
                return l.isEmpty() ? new Undefined("No last item, sequence was empty.") : l.get(l.size() - 1);
            }
            case "reverse" -> {
                if (Py.isString(v)) return Py.slice(v, null, null, -1L);
                List<Object> l = Py.iterate(v);
                Collections.reverse(l);
                return new Generator(l);
            }
            case "default", "d" -> {
                boolean bool = Py.truthy(arg(a, k, 1, "boolean", false));
                if (v instanceof Undefined || (bool && !Py.truthy(v))) return arg(a, k, 0, "default_value", "");
                return v;
            }
            case "join" -> {
                List<Object> items = Py.iterate(v);
                Object attr = arg(a, k, 1, "attribute", null);
                StringBuilder sb = new StringBuilder();
                String sep = Py.str(arg(a, k, 0, "d", ""));
                for (int i = 0; i < items.size(); i++) {
                    if (i > 0) sb.append(sep);
                    sb.append(Py.str(attr == null ? items.get(i) : attrGetter(attr, null).apply(items.get(i))));
                }
                return sb.toString();
            }
            case "items" -> {
                if (v instanceof Undefined) return new Generator(List.of());
                if (!(v instanceof Map<?, ?> m)) throw JinjaException.type("Can only get item pairs from a mapping.");
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(new Tuple(e.getKey(), e.getValue()));
                return new Generator(out);
            }
            case "dictsort" -> {
                if (!(v instanceof Map<?, ?> m)) throw JinjaException.type("'" + Py.typeName(v) + "' object has no attribute 'items'");
                boolean cs = Py.truthy(arg(a, k, 0, "case_sensitive", false));
                String by = Py.str(arg(a, k, 1, "by", "key"));
                boolean reverse = Py.truthy(arg(a, k, 2, "reverse", false));
                int pos = switch (by) {
                    case "key" -> 0;
                    case "value" -> 1;
                    default -> throw new JinjaException("FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
                };
                List<Object> items = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) items.add(new Tuple(e.getKey(), e.getValue()));
                return sorted(items, x -> caseKey(((Tuple) x).get(pos), cs), reverse);
            }
            case "sort" -> {
                boolean reverse = Py.truthy(arg(a, k, 0, "reverse", false));
                boolean cs = Py.truthy(arg(a, k, 1, "case_sensitive", false));
                Object attr = arg(a, k, 2, "attribute", null);
                Function<Object, Object> key = multiAttrGetter(attr, cs);
                return sorted(Py.iterate(v), key, reverse);
            }
            case "unique" -> {
                boolean cs = Py.truthy(arg(a, k, 0, "case_sensitive", false));
                Function<Object, Object> key = attrGetter(arg(a, k, 1, "attribute", null), null);
                List<Object> seen = new ArrayList<>();
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    Object kk = caseKey(key.apply(o), cs);
                    boolean dup = false;
                    for (Object s : seen) if (Py.eq(s, kk)) dup = true;
                    if (!dup) {
                        seen.add(kk);
                        out.add(o);
                    }
                }
                return new Generator(out);
            }
            case "min", "max" -> {
                boolean cs = Py.truthy(arg(a, k, 0, "case_sensitive", false));
                Function<Object, Object> key = attrGetter(arg(a, k, 1, "attribute", null), null);
                List<Object> l = Py.iterate(v);
                if (l.isEmpty()) return new Undefined("No aggregated item, sequence was empty.");
                Object best = l.get(0);
                for (Object o : l.subList(1, l.size())) {
                    int c = Py.compare(caseKey(key.apply(o), cs), caseKey(key.apply(best), cs), "<");
                    if (name.equals("min") ? c < 0 : c > 0) best = o;
                }
                return best;
            }
            case "sum" -> {
                Function<Object, Object> key = attrGetter(arg(a, k, 0, "attribute", null), null);
                Object total = arg(a, k, 1, "start", 0L);
                for (Object o : Py.iterate(v)) total = Py.add(total, key.apply(o));
                return total;
            }
            case "map" -> {
                Function<Object, Object> fn;
                if (a.isEmpty() && k.containsKey("attribute")) {
                    fn = attrGetter(k.get("attribute"), k.get("default"));
                } else {
                    if (a.isEmpty()) throw new JinjaException("FilterArgumentError", "map requires a filter argument");
                    String f = Py.str(a.get(0));
                    List<Object> rest = a.subList(1, a.size());
                    fn = x -> filter(f, x, rest, k);
                }
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(v)) out.add(fn.apply(o));
                return new Generator(out);
            }
            case "select", "reject", "selectattr", "rejectattr" -> {
                boolean attr = name.endsWith("attr");
                boolean want = name.startsWith("select");
                List<Object> out = new ArrayList<>();
                if (!Py.truthy(v)) return new Generator(out);
                Function<Object, Object> trans = attr ? attrGetter(a.get(0), null) : x -> x;
                int off = attr ? 1 : 0;
                Function<Object, Boolean> test;
                if (a.size() > off) {
                    String t = Py.str(a.get(off));
                    List<Object> rest = a.subList(off + 1, a.size());
                    test = x -> test(t, x, rest, k);
                } else {
                    test = Py::truthy;
                }
                for (Object o : Py.iterate(v)) if (test.apply(trans.apply(o)) == want) out.add(o);
                return new Generator(out);
            }
            case "indent" -> {
                return indent(Py.str(v), arg(a, k, 0, "width", 4L), Py.truthy(arg(a, k, 1, "first", false)),
                        Py.truthy(arg(a, k, 2, "blank", false)));
            }
            case "int" -> {
                return toInt(v, arg(a, k, 0, "default", 0L));
            }
            case "float" -> {
                try {
                    if (Py.isString(v)) return Double.parseDouble(Py.strip(Py.text(v), null));
                    return Py.toDouble(v);
                } catch (RuntimeException e) {
                    return arg(a, k, 0, "default", 0.0);
                }
            }
            case "abs" -> {
                if (v instanceof Double d) return Math.abs(d);
                return Math.abs(Py.toLong(v));
            }
            case "round" -> {
                long precision = Py.toLong(arg(a, k, 0, "precision", 0L));
                String method = Py.str(arg(a, k, 1, "method", "common"));
                double x = Py.toDouble(v);
                double f = Math.pow(10, precision);
                double r = switch (method) {
                    case "ceil" -> Math.ceil(x * f) / f;
                    case "floor" -> Math.floor(x * f) / f;
                    default -> new java.math.BigDecimal(x).setScale((int) precision, java.math.RoundingMode.HALF_UP).doubleValue();
                };
                return r;
            }
            case "center" -> {
                return Methods.strMethod(Py.str(v), "center") instanceof BoundMethod bm
                        ? bm.call(List.of(arg(a, k, 0, "width", 80L)), Map.of()) : v;
            }
            case "wordcount" -> {
                return (long) Methods.split(Py.str(v), null, -1).size();
            }
            case "format" -> {
                return Methods.percentFormat(Py.str(v), a.size() == 1 ? a.get(0) : new Tuple(a));
            }
            case "batch" -> {
                long size = Py.toLong(a.get(0));
                List<Object> out = new ArrayList<>();
                List<Object> cur = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    cur.add(o);
                    if (cur.size() == size) {
                        out.add(cur);
                        cur = new ArrayList<>();
                    }
                }
                if (!cur.isEmpty()) {
                    if (a.size() > 1) while (cur.size() < size) cur.add(a.get(1));
                    out.add(cur);
                }
                return new Generator(out);
            }
            case "attr" -> {
                return Py.getattr(v, Py.str(a.get(0)));
            }
            default -> throw new JinjaException("TemplateAssertionError", "No filter named '" + name + "'.");
        }
    }

    static boolean test(String name, Object v, List<Object> a, Map<String, Object> k) {
        Object arg0 = a.isEmpty() ? null : a.get(0);
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "number" -> Py.isNumber(v);
            case "string" -> Py.isString(v);
            case "mapping" -> v instanceof Map<?, ?>;
            case "iterable" -> Py.isIterable(v);
            case "sequence" -> v instanceof List<?> || v instanceof Map<?, ?> || Py.isString(v) || v instanceof Range
                    || v instanceof Undefined;
            case "callable" -> v instanceof Callable;
            case "sameas" -> v == arg0 || (v instanceof Boolean && v.equals(arg0));
            case "escaped" -> v instanceof Markup;
            case "in" -> Py.contains(arg0, v);
            case "eq", "equalto", "==" -> Py.eq(v, arg0);
            case "ne", "!=" -> !Py.eq(v, arg0);
            case "lt", "lessthan", "<" -> Py.compare(v, arg0, "<") < 0;
            case "le", "<=" -> Py.compare(v, arg0, "<=") <= 0;
            case "gt", "greaterthan", ">" -> Py.compare(v, arg0, ">") > 0;
            case "ge", ">=" -> Py.compare(v, arg0, ">=") >= 0;
            case "odd" -> Py.toLong(v) % 2 != 0;
            case "even" -> Py.toLong(v) % 2 == 0;
            case "divisibleby" -> Py.toLong(v) % Py.toLong(arg0) == 0;
            case "lower" -> Py.str(v).equals(Py.str(v).toLowerCase(Locale.ROOT));
            case "upper" -> Py.str(v).equals(Py.str(v).toUpperCase(Locale.ROOT));
            default -> throw new JinjaException("TemplateAssertionError", "No test named '" + name + "'.");
        };
    }

    // ---- helpers ----

    /** jinja2's {@code make_attrgetter}: dotted paths, integer parts as indices, optional default. */
    static Function<Object, Object> attrGetter(Object attribute, Object dflt) {
        if (attribute == null) return x -> x;
        List<Object> parts = new ArrayList<>();
        if (Py.isString(attribute)) {
            for (String p : Py.text(attribute).split("\\.", -1)) {
                parts.add(!p.isEmpty() && p.chars().allMatch(Character::isDigit) ? (Object) Long.parseLong(p) : p);
            }
        } else {
            parts.add(attribute);
        }
        return item -> {
            Object cur = item;
            for (Object p : parts) {
                cur = Py.getitem(cur, p);
                if (dflt != null && cur instanceof Undefined) cur = dflt;
            }
            return cur;
        };
    }

    private static Function<Object, Object> multiAttrGetter(Object attribute, boolean cs) {
        if (attribute == null || !Py.isString(attribute) || !Py.text(attribute).contains(",")) {
            Function<Object, Object> g = attrGetter(attribute, null);
            return x -> caseKey(g.apply(x), cs);
        }
        List<Function<Object, Object>> gs = new ArrayList<>();
        for (String p : Py.text(attribute).split(",")) gs.add(attrGetter(p, null));
        return x -> {
            List<Object> keys = new ArrayList<>();
            for (Function<Object, Object> g : gs) keys.add(caseKey(g.apply(x), cs));
            return keys;
        };
    }

    private static Object caseKey(Object v, boolean caseSensitive) {
        return !caseSensitive && Py.isString(v) ? Py.text(v).toLowerCase(Locale.ROOT) : v;
    }

    private static List<Object> sorted(List<Object> items, Function<Object, Object> key, boolean reverse) {
        List<Object> out = new ArrayList<>(items);
        Comparator<Object> c = (x, y) -> Py.compare(key.apply(x), key.apply(y), "<");
        out.sort(reverse ? c.reversed() : c);
        return out;
    }

    /** jinja2's {@code do_title}: words start after runs of {@code -}, whitespace and opening brackets. */
    private static String title(String s) {
        StringBuilder sb = new StringBuilder();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([-\\s({\\[<]+)").matcher(s);
        int last = 0;
        List<String> items = new ArrayList<>();
        while (m.find()) {
            items.add(s.substring(last, m.start()));
            items.add(m.group());
            last = m.end();
        }
        items.add(s.substring(last));
        for (String item : items) {
            if (item.isEmpty()) continue;
            int cp = item.codePointAt(0);
            int n = Character.charCount(cp);
            sb.append(Character.toString(cp).toUpperCase(Locale.ROOT)).append(item.substring(n).toLowerCase(Locale.ROOT));
        }
        return sb.toString();
    }

    private static String indent(String s, Object width, boolean first, boolean blank) {
        String ind = Py.isString(width) ? Py.text(width) : " ".repeat((int) Py.toLong(width));
        s += "\n";
        List<Object> lines = Methods.splitlinesKeep(s);
        String rv;
        if (blank) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < lines.size(); i++) {
                if (i > 0) sb.append('\n').append(ind);
                sb.append(lines.get(i));
            }
            rv = sb.toString();
        } else {
            StringBuilder sb = new StringBuilder(lines.isEmpty() ? "" : (String) lines.get(0));
            if (lines.size() > 1) {
                sb.append('\n');
                for (int i = 1; i < lines.size(); i++) {
                    if (i > 1) sb.append('\n');
                    String line = (String) lines.get(i);
                    sb.append(line.isEmpty() ? line : ind + line);
                }
            }
            rv = sb.toString();
        }
        return first ? ind + rv : rv;
    }

    private static Object toInt(Object v, Object dflt) {
        if (v instanceof Long) return v;
        if (v instanceof Boolean b) return b ? 1L : 0L;
        if (v instanceof Double d) return (long) d.doubleValue();
        if (Py.isString(v)) {
            String s = Py.strip(Py.text(v), null).replace("_", "");
            try {
                return Long.parseLong(s.startsWith("+") ? s.substring(1) : s);
            } catch (NumberFormatException e) {
                try {
                    return (long) Double.parseDouble(s);
                } catch (NumberFormatException e2) {
                    return dflt;
                }
            }
        }
        return dflt;
    }

    /** Used by {@code dict(...)} and {@code namespace(...)}: positional mapping/pairs plus keywords. */
    static Map<Object, Object> dictFrom(List<Object> a, Map<String, Object> k) {
        Map<Object, Object> out = new LinkedHashMap<>();
        if (!a.isEmpty()) {
            Object src = a.get(0);
            if (src instanceof Map<?, ?> m) out.putAll(m);
            else for (Object pair : Py.iterate(src)) {
                List<Object> kv = Py.iterate(pair);
                out.put(kv.get(0), kv.get(1));
            }
        }
        out.putAll(k);
        return out;
    }
}
