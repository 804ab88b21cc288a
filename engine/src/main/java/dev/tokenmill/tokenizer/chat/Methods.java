package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Values.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The Python methods templates call on strings, dicts and lists ({@code s.strip()}, {@code d.items()}, ...).
 * Mutating methods of lists and dicts fail with jinja's {@code ImmutableSandboxedEnvironment} SecurityError.
 */
final class Methods {
    private Methods() { }

    private static final Set<String> DICT_MUTATORS = Set.of("clear", "pop", "popitem", "setdefault", "update");
    private static final Set<String> LIST_MUTATORS =
            Set.of("append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort");

    /** Positional-or-keyword argument {@code i}/{@code name}, or {@code dflt} when absent. */
    static Object arg(List<Object> args, Map<String, Object> kw, int i, String name, Object dflt) {
        if (i < args.size()) return args.get(i);
        if (name != null && kw.containsKey(name)) return kw.get(name);
        return dflt;
    }

    private static String strArg(List<Object> args, Map<String, Object> kw, int i, String name, String method) {
        Object v = arg(args, kw, i, name, null);
        if (v == null) return null;
        if (!Py.isString(v)) {
            throw JinjaException.type(method + " arg must be None or str");
        }
        return Py.text(v);
    }

    private static Callable unsafe(Object self, String name) {
        return (a, k) -> {
            throw new JinjaException("SecurityError", "access to attribute '" + name + "' of '" + Py.typeName(self)
                    + "' object is unsafe.");
        };
    }

    static Object dictMethod(Map<?, ?> m, String name) {
        Callable impl = switch (name) {
            case "items" -> (a, k) -> {
                List<Object> out = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(new Tuple(e.getKey(), e.getValue()));
                return out;
            };
            case "keys" -> (a, k) -> new ArrayList<Object>(m.keySet());
            case "values" -> (a, k) -> new ArrayList<Object>(m.values());
            case "get" -> (a, k) -> {
                if (a.isEmpty()) throw JinjaException.type("get expected at least 1 argument, got 0");
                Object key = Py.findKey(m, a.get(0));
                return key != Py.MISSING ? m.get(key) : a.size() > 1 ? a.get(1) : null;
            };
            case "copy" -> (a, k) -> new java.util.LinkedHashMap<Object, Object>(m);
            default -> DICT_MUTATORS.contains(name) ? unsafe(m, name) : null;
        };
        return impl == null ? null : new BoundMethod(m, name, impl);
    }

    static Object listMethod(List<?> l, String name) {
        Callable impl = switch (name) {
            case "index" -> (a, k) -> {
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), a.get(0))) return (long) i;
                throw JinjaException.value(Py.repr(a.get(0)) + " is not in list");
            };
            case "count" -> (a, k) -> {
                long c = 0;
                for (Object o : l) if (Py.eq(o, a.get(0))) c++;
                return c;
            };
            case "copy" -> (a, k) -> new ArrayList<Object>(l);
            default -> LIST_MUTATORS.contains(name) && !(l instanceof Tuple) ? unsafe(l, name) : null;
        };
        return impl == null ? null : new BoundMethod(l, name, impl);
    }

    static Object strMethod(Object self, String name) {
        String s = Py.text(self);
        Callable impl = switch (name) {
            case "strip" -> (a, k) -> Py.strip(s, strArg(a, k, 0, "chars", name));
            case "lstrip" -> (a, k) -> Py.lstrip(s, strArg(a, k, 0, "chars", name));
            case "rstrip" -> (a, k) -> Py.rstrip(s, strArg(a, k, 0, "chars", name));
            case "split" -> (a, k) -> split(s, strArg(a, k, 0, "sep", name), Py.toLong(arg(a, k, 1, "maxsplit", -1L)));
            case "rsplit" -> (a, k) -> rsplit(s, strArg(a, k, 0, "sep", name), Py.toLong(arg(a, k, 1, "maxsplit", -1L)));
            case "splitlines" -> (a, k) -> splitlines(s, Py.truthy(arg(a, k, 0, "keepends", false)));
            case "startswith" -> (a, k) -> affix(s, a, k, true);
            case "endswith" -> (a, k) -> affix(s, a, k, false);
            case "replace" -> (a, k) -> replace(s, Py.text(a.get(0)), Py.text(a.get(1)),
                    a.size() > 2 ? Py.toLong(a.get(2)) : Py.toLong(k.getOrDefault("count", -1L)));
            case "upper" -> (a, k) -> s.toUpperCase(Locale.ROOT);
            case "lower" -> (a, k) -> s.toLowerCase(Locale.ROOT);
            case "casefold" -> (a, k) -> s.toLowerCase(Locale.ROOT);
            case "title" -> (a, k) -> title(s);
            case "capitalize" -> (a, k) -> capitalize(s);
            case "swapcase" -> (a, k) -> swapcase(s);
            case "find" -> (a, k) -> (long) cpIndex(s, s.indexOf(Py.text(a.get(0))));
            case "rfind" -> (a, k) -> (long) cpIndex(s, s.lastIndexOf(Py.text(a.get(0))));
            case "index", "rindex" -> (a, k) -> {
                String sub = Py.text(a.get(0));
                int i = name.equals("index") ? s.indexOf(sub) : s.lastIndexOf(sub);
                if (i < 0) throw JinjaException.value("substring not found");
                return (long) cpIndex(s, i);
            };
            case "count" -> (a, k) -> (long) count(s, Py.text(a.get(0)));
            case "join" -> (a, k) -> join(s, Py.iterate(a.get(0)));
            case "format" -> (a, k) -> format(s, a, k);
            case "zfill" -> (a, k) -> zfill(s, (int) Py.toLong(a.get(0)));
            case "ljust", "rjust", "center" -> (a, k) -> pad(s, name, (int) Py.toLong(a.get(0)),
                    a.size() > 1 ? Py.text(a.get(1)) : " ");
            case "partition", "rpartition" -> (a, k) -> partition(s, Py.text(a.get(0)), name.equals("rpartition"));
            case "removeprefix" -> (a, k) -> s.startsWith(Py.text(a.get(0))) ? s.substring(Py.text(a.get(0)).length()) : s;
            case "removesuffix" -> (a, k) -> {
                String suf = Py.text(a.get(0));
                return !suf.isEmpty() && s.endsWith(suf) ? s.substring(0, s.length() - suf.length()) : s;
            };
            case "isdigit", "isdecimal", "isnumeric" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Py::isSpace);
            case "isupper" -> (a, k) -> s.codePoints().anyMatch(Character::isUpperCase)
                    && s.codePoints().noneMatch(Character::isLowerCase);
            case "islower" -> (a, k) -> s.codePoints().anyMatch(Character::isLowerCase)
                    && s.codePoints().noneMatch(Character::isUpperCase);
            default -> null;
        };
        return impl == null ? null : new BoundMethod(self, name, impl);
    }

    private static int cpIndex(String s, int charIndex) {
        return charIndex < 0 ? -1 : s.codePointCount(0, charIndex);
    }

    static List<Object> split(String s, String sep, long maxsplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int n = s.length();
            int i = 0;
            while (true) {
                while (i < n && Py.isSpace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() >= maxsplit) {
                    out.add(s.substring(i));
                    break;
                }
                int j = i;
                while (j < n && !Py.isSpace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw JinjaException.value("empty separator");
        int i = 0;
        while (true) {
            int j = s.indexOf(sep, i);
            if (j < 0 || (maxsplit >= 0 && out.size() >= maxsplit)) {
                out.add(s.substring(i));
                return out;
            }
            out.add(s.substring(i, j));
            i = j + sep.length();
        }
    }

    static List<Object> rsplit(String s, String sep, long maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && Py.isSpace(s.charAt(j - 1))) j--;
                if (j <= 0) break;
                if (out.size() >= maxsplit) {
                    out.add(s.substring(0, j));
                    break;
                }
                int i = j;
                while (i > 0 && !Py.isSpace(s.charAt(i - 1))) i--;
                out.add(s.substring(i, j));
                j = i;
            }
        } else {
            if (sep.isEmpty()) throw JinjaException.value("empty separator");
            int j = s.length();
            while (true) {
                int i = j - sep.length() < 0 ? -1 : s.lastIndexOf(sep, j - sep.length());
                if (i < 0 || out.size() >= maxsplit) {
                    out.add(s.substring(0, j));
                    break;
                }
                out.add(s.substring(i + sep.length(), j));
                j = i;
            }
        }
        Collections.reverse(out);
        return out;
    }

    private static List<Object> splitlines(String s, boolean keepends) {
        List<Object> out = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            int j = i;
            while (j < n && !isLineBreak(s.charAt(j))) j++;
            int e = j;
            if (j < n) {
                e = (s.charAt(j) == '\r' && j + 1 < n && s.charAt(j + 1) == '\n') ? j + 2 : j + 1;
            }
            out.add(s.substring(i, keepends ? e : j));
            i = e;
        }
        return out;
    }

    private static boolean isLineBreak(char c) {
        return c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e
                || c == 0x85 || c == 0x2028 || c == 0x2029;
    }

    static List<Object> splitlinesKeep(String s) {
        return splitlines(s, false);
    }

    private static boolean affix(String s, List<Object> a, Map<String, Object> k, boolean prefix) {
        Object p = a.get(0);
        String sub = s;
        if (a.size() > 1 && a.get(1) != null) {
            int[] cps = Py.cps(s);
            int start = (int) Math.max(0, Math.min(cps.length, normIndex(Py.toLong(a.get(1)), cps.length)));
            int end = a.size() > 2 && a.get(2) != null
                    ? (int) Math.max(0, Math.min(cps.length, normIndex(Py.toLong(a.get(2)), cps.length))) : cps.length;
            sub = end <= start ? "" : new String(cps, start, end - start);
        }
        List<Object> options = p instanceof Tuple t ? t : List.of(p);
        for (Object o : options) {
            if (!Py.isString(o)) {
                throw JinjaException.type((prefix ? "startswith" : "endswith")
                        + " first arg must be str or a tuple of str, not " + Py.typeName(o));
            }
            if (prefix ? sub.startsWith(Py.text(o)) : sub.endsWith(Py.text(o))) return true;
        }
        return false;
    }

    private static long normIndex(long i, int len) {
        return i < 0 ? i + len : i;
    }

    static String replace(String s, String old, String rep, long count) {
        if (count < 0 && !old.isEmpty()) return s.replace(old, rep);
        StringBuilder sb = new StringBuilder();
        if (old.isEmpty()) {
            int[] cps = Py.cps(s);
            long done = 0;
            for (int cp : cps) {
                if (count < 0 || done < count) {
                    sb.append(rep);
                    done++;
                }
                sb.appendCodePoint(cp);
            }
            if (count < 0 || done < count) sb.append(rep);
            return sb.toString();
        }
        int i = 0;
        long done = 0;
        while (done < count) {
            int j = s.indexOf(old, i);
            if (j < 0) break;
            sb.append(s, i, j).append(rep);
            i = j + old.length();
            done++;
        }
        return sb.append(s.substring(i)).toString();
    }

    private static boolean isCased(int cp) {
        return Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
    }

    /** Python {@code str.title()}: a cased character after an uncased one is title-cased, the rest lower-cased. */
    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (prevCased) sb.append(Character.toString(cp).toLowerCase(Locale.ROOT));
            else sb.appendCodePoint(Character.toTitleCase(cp));
            prevCased = isCased(cp);
        }
        return sb.toString();
    }

    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int cp = s.codePointAt(0);
        int n = Character.charCount(cp);
        return Character.toString(Character.toTitleCase(cp)) + s.substring(n).toLowerCase(Locale.ROOT);
    }

    private static String swapcase(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(cp -> sb.appendCodePoint(Character.isUpperCase(cp) ? Character.toLowerCase(cp)
                : Character.isLowerCase(cp) ? Character.toUpperCase(cp) : cp));
        return sb.toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return Py.cpLen(s) + 1;
        int c = 0;
        int i = 0;
        while ((i = s.indexOf(sub, i)) >= 0) {
            c++;
            i += sub.length();
        }
        return c;
    }

    private static String join(String sep, List<Object> items) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < items.size(); i++) {
            Object o = items.get(i);
            if (!Py.isString(o)) {
                throw JinjaException.type("sequence item " + i + ": expected str instance, " + Py.typeName(o) + " found");
            }
            if (i > 0) sb.append(sep);
            sb.append(Py.text(o));
        }
        return sb.toString();
    }

    private static String zfill(String s, int width) {
        int len = Py.cpLen(s);
        if (len >= width) return s;
        String zeros = "0".repeat(width - len);
        if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) return s.charAt(0) + zeros + s.substring(1);
        return zeros + s;
    }

    private static String pad(String s, String how, int width, String fill) {
        int len = Py.cpLen(s);
        if (len >= width) return s;
        int total = width - len;
        return switch (how) {
            case "ljust" -> s + fill.repeat(total);
            case "rjust" -> fill.repeat(total) + s;
            default -> {
                int left = total / 2 + (total & width & 1);
                yield fill.repeat(left) + s + fill.repeat(total - left);
            }
        };
    }

    private static Tuple partition(String s, String sep, boolean fromRight) {
        int i = fromRight ? s.lastIndexOf(sep) : s.indexOf(sep);
        if (i < 0) return fromRight ? new Tuple("", "", s) : new Tuple(s, "", "");
        return new Tuple(s.substring(0, i), sep, s.substring(i + sep.length()));
    }

    /** Python {@code str.format} without format specs beyond {@code !r}/{@code !s}. */
    static String format(String fmt, List<Object> args, Map<String, Object> kw) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        int n = fmt.length();
        for (int i = 0; i < n; i++) {
            char c = fmt.charAt(i);
            if (c == '{') {
                if (i + 1 < n && fmt.charAt(i + 1) == '{') {
                    sb.append('{');
                    i++;
                    continue;
                }
                int j = fmt.indexOf('}', i);
                if (j < 0) throw JinjaException.value("Single '{' encountered in format string");
                String field = fmt.substring(i + 1, j);
                String conv = null;
                String spec = null;
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    spec = field.substring(colon + 1);
                    field = field.substring(0, colon);
                }
                int bang = field.indexOf('!');
                if (bang >= 0) {
                    conv = field.substring(bang + 1);
                    field = field.substring(0, bang);
                }
                String head = field;
                String rest = "";
                int dot = field.indexOf('.');
                if (dot >= 0) {
                    head = field.substring(0, dot);
                    rest = field.substring(dot + 1);
                }
                Object v;
                if (head.isEmpty()) v = args.get(auto++);
                else if (head.chars().allMatch(Character::isDigit)) v = args.get(Integer.parseInt(head));
                else if (kw.containsKey(head)) v = kw.get(head);
                else throw new JinjaException("KeyError", "'" + head + "'");
                if (!rest.isEmpty()) for (String part : rest.split("\\.")) v = Py.getattr(v, part);
                String out = "r".equals(conv) ? Py.repr(v) : Py.str(v);
                if (spec != null && !spec.isEmpty()) out = applySpec(out, v, spec);
                sb.append(out);
                i = j;
            } else if (c == '}') {
                if (i + 1 < n && fmt.charAt(i + 1) == '}') i++;
                sb.append('}');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static String applySpec(String out, Object v, String spec) {
        if (spec.matches("\\.\\d+f") && Py.isNumber(v)) {
            return String.format(Locale.ROOT, "%." + spec.substring(1, spec.length() - 1) + "f", Py.toDouble(v));
        }
        if (spec.matches("[<>^]?\\d+")) {
            char align = Character.isDigit(spec.charAt(0)) ? (Py.isNumber(v) ? '>' : '<') : spec.charAt(0);
            int w = Integer.parseInt(Character.isDigit(spec.charAt(0)) ? spec : spec.substring(1));
            return pad(out, align == '<' ? "ljust" : align == '>' ? "rjust" : "center", w, " ");
        }
        return out;
    }

    /** Python printf-style {@code fmt % values} for the common conversions. */
    static String percentFormat(String fmt, Object values) {
        List<Object> args = values instanceof Tuple t ? t : List.of(values == null ? "None" : values);
        if (values == null) args = java.util.Arrays.asList((Object) null);
        StringBuilder sb = new StringBuilder();
        int ai = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%') {
                sb.append(c);
                continue;
            }
            int j = i + 1;
            while (j < fmt.length() && "0123456789.-+ #".indexOf(fmt.charAt(j)) >= 0) j++;
            if (j >= fmt.length()) throw JinjaException.value("incomplete format");
            char conv = fmt.charAt(j);
            String flags = fmt.substring(i + 1, j);
            if (conv == '%') {
                sb.append('%');
            } else {
                if (ai >= args.size()) throw JinjaException.type("not enough arguments for format string");
                Object v = args.get(ai++);
                switch (conv) {
                    case 's' -> sb.append(String.format("%" + flags + "s", Py.str(v)));
                    case 'r' -> sb.append(String.format("%" + flags + "s", Py.repr(v)));
                    case 'd', 'i' -> sb.append(String.format("%" + flags + "d", (long) Py.toDouble(v)));
                    case 'f', 'e', 'g' -> sb.append(String.format(Locale.ROOT, "%" + flags + conv, Py.toDouble(v)));
                    case 'x' -> sb.append(String.format("%" + flags + "x", Py.toLong(v)));
                    default -> throw JinjaException.value("unsupported format character '" + conv + "'");
                }
            }
            i = j;
        }
        if (ai < args.size() && values instanceof Tuple) {
            throw JinjaException.type("not all arguments converted during string formatting");
        }
        return sb.toString();
    }
}
