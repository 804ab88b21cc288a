package dev.tokenmill.tokenizer.chat;

import java.util.AbstractList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runtime value types that have no direct Java equivalent. The rest of the Python value model: None is
 * {@code null}, bool {@link Boolean}, int {@link Long}, float {@link Double}, str {@link String}, list a mutable
 * {@link List}, dict a {@link LinkedHashMap} (insertion order, like Python).
 */
final class Values {
    private Values() { }

    /** jinja2.Undefined: prints as "", is falsy and empty, but fails on arithmetic, attributes and calls. */
    record Undefined(String message) {
        static Undefined named(String name) {
            return new Undefined("'" + name + "' is undefined");
        }

        static Undefined attr(Object owner, String attr) {
            return new Undefined(Py.objectDescription(owner) + " has no attribute '" + attr + "'");
        }

        static Undefined item(Object owner, Object key) {
            return new Undefined(Py.objectDescription(owner) + " has no element " + Py.repr(key));
        }

        JinjaException error() {
            return JinjaException.undefined(message);
        }
    }

    /** markupsafe.Markup: a str that HTML-escapes plain strings concatenated to it with {@code +}. */
    record Markup(String text) {
        @Override
        public String toString() { return text; }
    }

    /** jinja2's namespace(): the only object whose attributes templates may assign. */
    static final class Namespace {
        final Map<String, Object> attrs = new LinkedHashMap<>();
    }

    /** A Python tuple: an immutable list that prints with parentheses. */
    static final class Tuple extends AbstractList<Object> {
        private final Object[] items;

        Tuple(Object... items) {
            this.items = items;
        }

        Tuple(List<?> items) {
            this.items = items.toArray();
        }

        @Override
        public Object get(int index) { return items[index]; }

        @Override
        public int size() { return items.length; }
    }

    /**
     * A Python generator (what {@code |map}, {@code |select}, {@code |items} ... return): iterable, always truthy,
     * but without a length and not JSON serialisable.
     */
    record Generator(List<Object> items) { }

    /** A Python {@code range} object. */
    record Range(long start, long stop, long step) { }

    /** Anything callable from a template: globals, bound methods, macros. */
    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    /** A method looked up on a value ({@code s.strip}), called later. */
    record BoundMethod(Object self, String name, Callable impl) implements Callable {
        @Override
        public Object call(List<Object> args, Map<String, Object> kwargs) {
            return impl.call(args, kwargs);
        }
    }

    /** A builtin function (global). */
    record Builtin(String name, Callable impl) implements Callable {
        @Override
        public Object call(List<Object> args, Map<String, Object> kwargs) {
            return impl.call(args, kwargs);
        }
    }

    /** A {@code {% macro %}}, callable like a function; returns the rendered body. */
    record Macro(String name, Callable impl) implements Callable {
        @Override
        public Object call(List<Object> args, Map<String, Object> kwargs) {
            return impl.call(args, kwargs);
        }
    }

    /** jinja2's LoopContext over an already materialised sequence. */
    static final class Loop {
        final List<Object> items;
        int index0;

        Loop(List<Object> items) {
            this.items = items;
        }

        Object attr(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) index0 + 1;
                case "index0" -> (long) index0;
                case "revindex" -> (long) (n - index0);
                case "revindex0" -> (long) (n - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> index0 > 0 ? items.get(index0 - 1)
                        : new Undefined("there is no previous item");
                case "nextitem" -> index0 + 1 < n ? items.get(index0 + 1)
                        : new Undefined("there is no next item");
                case "cycle" -> new BoundMethod(this, "cycle", (args, kw) -> {
                    if (args.isEmpty()) throw JinjaException.type("no items for cycling given");
                    return args.get(index0 % args.size());
                });
                default -> Undefined.attr(this, name);
            };
        }
    }
}
