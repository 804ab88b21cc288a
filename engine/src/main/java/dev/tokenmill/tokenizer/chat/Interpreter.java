package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Node.*;
import dev.tokenmill.tokenizer.chat.Values.*;

import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Executes a parsed template with jinja2's scoping: {@code for} bodies and macros get their own scope (so a
 * {@code set} inside a loop does not leak out; {@code namespace()} is the way out), {@code if} does not.
 * One instance renders one template once; it is not thread-safe.
 */
final class Interpreter {
    private static final long MAX_RANGE = 100_000;

    private final Map<String, Object> globals = new HashMap<>();
    private final Supplier<LocalDateTime> now;
    private final ArrayList<Object> bodyStack = new ArrayList<>();

    private static final class BreakSignal extends RuntimeException {
        BreakSignal() { super(null, null, false, false); }
    }

    private static final class ContinueSignal extends RuntimeException {
        ContinueSignal() { super(null, null, false, false); }
    }

    private static final BreakSignal BREAK = new BreakSignal();
    private static final ContinueSignal CONTINUE = new ContinueSignal();

    static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }
    }

    Interpreter(Supplier<LocalDateTime> now) {
        this.now = now;
        globals.put("range", new Builtin("range", this::range));
        globals.put("namespace", new Builtin("namespace", (a, k) -> {
            Namespace ns = new Namespace();
            for (Map.Entry<Object, Object> e : Filters.dictFrom(a, k).entrySet()) ns.attrs.put(Py.str(e.getKey()), e.getValue());
            return ns;
        }));
        globals.put("dict", new Builtin("dict", (a, k) -> new LinkedHashMap<>(Filters.dictFrom(a, k))));
        globals.put("raise_exception", new Builtin("raise_exception", (a, k) -> {
            throw new JinjaException("TemplateError", a.isEmpty() ? Py.str(k.get("message")) : Py.str(a.get(0)));
        }));
        globals.put("strftime_now", new Builtin("strftime_now",
                (a, k) -> Strftime.format(this.now.get(), Py.str(a.get(0)))));
    }

    private Object range(List<Object> a, Map<String, Object> k) {
        long start = 0;
        long stop;
        long step = 1;
        if (a.size() == 1) stop = Py.toLong(a.get(0));
        else {
            start = Py.toLong(a.get(0));
            stop = Py.toLong(a.get(1));
            if (a.size() > 2) step = Py.toLong(a.get(2));
        }
        if (step == 0) throw JinjaException.value("range() arg 3 must not be zero");
        Range r = new Range(start, stop, step);
        if (Py.rangeLen(r) > MAX_RANGE) {
            throw new JinjaException("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        }
        return r;
    }

    String render(List<Stmt> body, Map<String, Object> context) {
        Scope root = new Scope(null);
        root.vars.putAll(context);
        StringBuilder out = new StringBuilder();
        exec(body, root, out);
        return out.toString();
    }

    // ---- statements ----

    private void exec(List<Stmt> body, Scope sc, StringBuilder out) {
        for (Stmt s : body) {
            try {
                execOne(s, sc, out);
            } catch (JinjaException e) {
                throw e.atLine(s.line());
            }
        }
    }

    private void execOne(Stmt s, Scope sc, StringBuilder out) {
        switch (s) {
            case Text t -> out.append(t.text());
            case Print p -> out.append(Py.str(eval(p.expr(), sc)));
            case If i -> {
                for (int c = 0; c < i.conditions().size(); c++) {
                    if (Py.truthy(eval(i.conditions().get(c), sc))) {
                        exec(i.bodies().get(c), sc, out);
                        return;
                    }
                }
                exec(i.elseBody(), sc, out);
            }
            case For f -> execFor(f, sc, out);
            case Node.Set st -> assign(st.target(), eval(st.value(), sc), sc);
            case SetBlock sb -> {
                StringBuilder buf = new StringBuilder();
                exec(sb.body(), sc, buf);
                Object v = buf.toString();
                if (sb.filter() != null) v = withBody(v, sb.filter(), sc);
                assign(sb.target(), v, sc);
            }
            case FilterBlock fb -> {
                StringBuilder buf = new StringBuilder();
                exec(fb.body(), sc, buf);
                out.append(Py.str(withBody(buf.toString(), fb.filter(), sc)));
            }
            case Node.Macro m -> sc.vars.put(m.name(), new Values.Macro(m.name(), (a, k) -> callMacro(m, sc, a, k)));
            case Group g -> exec(g.body(), sc, out);
            case Break b -> throw BREAK;
            case Continue c -> throw CONTINUE;
        }
    }

    private Object withBody(Object body, Expr filter, Scope sc) {
        bodyStack.add(body);
        try {
            return eval(filter, sc);
        } finally {
            bodyStack.remove(bodyStack.size() - 1);
        }
    }

    private void execFor(For f, Scope sc, StringBuilder out) {
        List<Object> items = Py.iterate(eval(f.iter(), sc));
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Scope fs = new Scope(sc);
                assign(f.target(), item, fs);
                if (Py.truthy(eval(f.filter(), fs))) kept.add(item);
            }
            items = kept;
        }
        Scope ls = new Scope(sc);
        if (items.isEmpty()) {
            exec(f.elseBody(), ls, out);
            return;
        }
        Loop loop = new Loop(items);
        for (int i = 0; i < items.size(); i++) {
            loop.index0 = i;
            assign(f.target(), items.get(i), ls);
            ls.vars.put("loop", loop);
            try {
                exec(f.body(), ls, out);
            } catch (BreakSignal b) {
                break;
            } catch (ContinueSignal c) {
                // next item
            }
        }
    }

    private void assign(Target t, Object v, Scope sc) {
        switch (t) {
            case NameTarget n -> sc.vars.put(n.name(), v);
            case AttrTarget a -> {
                Object ns = lookup(a.name(), sc);
                if (!(ns instanceof Namespace namespace)) {
                    throw JinjaException.runtime("cannot assign attribute on non-namespace object");
                }
                namespace.attrs.put(a.attr(), v);
            }
            case TupleTarget tt -> {
                List<Object> vals = Py.iterate(v);
                if (vals.size() != tt.items().size()) {
                    throw JinjaException.value(vals.size() < tt.items().size()
                            ? "not enough values to unpack (expected " + tt.items().size() + ", got " + vals.size() + ")"
                            : "too many values to unpack (expected " + tt.items().size() + ")");
                }
                for (int i = 0; i < vals.size(); i++) assign(tt.items().get(i), vals.get(i), sc);
            }
        }
    }

    private Object callMacro(Node.Macro m, Scope defScope, List<Object> args, Map<String, Object> kwargs) {
        Scope ms = new Scope(defScope);
        Map<String, Object> kw = new LinkedHashMap<>(kwargs);
        List<String> params = m.params();
        for (int i = 0; i < params.size(); i++) {
            String p = params.get(i);
            Object v;
            if (i < args.size()) v = args.get(i);
            else if (kw.containsKey(p)) v = kw.remove(p);
            else if (m.defaults().get(i) != null) v = eval(m.defaults().get(i), ms);
            else v = new Undefined("parameter '" + p + "' was not provided");
            ms.vars.put(p, v);
        }
        ms.vars.put("varargs", args.size() > params.size() ? new ArrayList<>(args.subList(params.size(), args.size()))
                : new ArrayList<>());
        ms.vars.put("kwargs", new LinkedHashMap<Object, Object>(kw));
        StringBuilder buf = new StringBuilder();
        exec(m.body(), ms, buf);
        return buf.toString();
    }

    // ---- expressions ----

    private Object lookup(String name, Scope sc) {
        for (Scope s = sc; s != null; s = s.parent) {
            if (s.vars.containsKey(name)) return s.vars.get(name);
        }
        if (globals.containsKey(name)) return globals.get(name);
        return Undefined.named(name);
    }

    Object eval(Expr e, Scope sc) {
        return switch (e) {
            case Const c -> c.value();
            case Name n -> lookup(n.name(), sc);
            case ListLit l -> {
                List<Object> out = new ArrayList<>(l.items().size());
                for (Expr x : l.items()) out.add(eval(x, sc));
                yield out;
            }
            case TupleLit t -> {
                Object[] out = new Object[t.items().size()];
                for (int i = 0; i < out.length; i++) out[i] = eval(t.items().get(i), sc);
                yield new Tuple(out);
            }
            case DictLit d -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Object k = eval(d.keys().get(i), sc);
                    if (k instanceof Markup m) k = m.text();
                    Object existing = Py.findKey(out, k);
                    out.put(existing == Py.MISSING ? k : existing, eval(d.values().get(i), sc));
                }
                yield out;
            }
            case GetAttr g -> Py.getattr(eval(g.obj(), sc), g.attr());
            case GetItem g -> {
                Object obj = eval(g.obj(), sc);
                if (g.key() instanceof Slice s) {
                    yield Py.slice(obj, s.start() == null ? null : eval(s.start(), sc),
                            s.stop() == null ? null : eval(s.stop(), sc), s.step() == null ? null : eval(s.step(), sc));
                }
                yield Py.getitem(obj, eval(g.key(), sc));
            }
            case Slice s -> throw JinjaException.syntax("slice outside of a subscript", 0);
            case Call c -> call(c, sc);
            case Filter f -> {
                Object base = eval(f.base(), sc);
                List<Object> args = evalAll(f.args(), sc);
                yield Filters.filter(f.name(), base, args, evalKw(f.kwNames(), f.kwValues(), sc));
            }
            case Test t -> Filters.test(t.name(), eval(t.base(), sc), evalAll(t.args(), sc),
                    evalKw(t.kwNames(), t.kwValues(), sc));
            case BodyRef b -> bodyStack.get(bodyStack.size() - 1);
            case Unary u -> {
                Object v = eval(u.operand(), sc);
                if (u.op().equals("-")) yield Py.negate(v);
                if (v instanceof Undefined un) throw un.error();
                if (!Py.isNumber(v)) throw JinjaException.type("bad operand type for unary +: '" + Py.typeName(v) + "'");
                yield v instanceof Boolean ? Py.toLong(v) : v;
            }
            case Binary b -> Py.arith(b.op(), eval(b.left(), sc), eval(b.right(), sc));
            case And a -> {
                Object l = eval(a.left(), sc);
                yield Py.truthy(l) ? eval(a.right(), sc) : l;
            }
            case Or o -> {
                Object l = eval(o.left(), sc);
                yield Py.truthy(l) ? l : eval(o.right(), sc);
            }
            case Not n -> !Py.truthy(eval(n.operand(), sc));
            case Concat c -> {
                StringBuilder sb = new StringBuilder();
                for (Expr x : c.parts()) sb.append(Py.str(eval(x, sc)));
                yield sb.toString();
            }
            case Compare c -> compare(c, sc);
            case CondExpr c -> {
                if (Py.truthy(eval(c.test(), sc))) yield eval(c.then(), sc);
                if (c.otherwise() != null) yield eval(c.otherwise(), sc);
                yield new Undefined("the inline if-expression evaluated to false and no else section was defined.");
            }
        };
    }

    private List<Object> evalAll(List<Expr> xs, Scope sc) {
        List<Object> out = new ArrayList<>(xs.size());
        for (Expr x : xs) out.add(eval(x, sc));
        return out;
    }

    private Map<String, Object> evalKw(List<String> names, List<Expr> values, Scope sc) {
        if (names.isEmpty()) return Map.of();
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) out.put(names.get(i), eval(values.get(i), sc));
        return out;
    }

    private Object call(Call c, Scope sc) {
        Object fn = eval(c.fn(), sc);
        List<Object> args = evalAll(c.args(), sc);
        Map<String, Object> kw = new LinkedHashMap<>(evalKw(c.kwNames(), c.kwValues(), sc));
        if (c.starArgs() != null) args.addAll(Py.iterate(eval(c.starArgs(), sc)));
        if (c.starKwargs() != null) {
            Object m = eval(c.starKwargs(), sc);
            if (!(m instanceof Map<?, ?> map)) throw JinjaException.type("argument after ** must be a mapping");
            for (Map.Entry<?, ?> e : map.entrySet()) kw.put(Py.str(e.getKey()), e.getValue());
        }
        if (fn instanceof Callable callable) return callable.call(args, kw);
        if (fn instanceof Undefined u) throw u.error();
        throw JinjaException.type("'" + Py.typeName(fn) + "' object is not callable");
    }

    private Object compare(Compare c, Scope sc) {
        Object left = eval(c.first(), sc);
        for (int i = 0; i < c.ops().size(); i++) {
            Object right = eval(c.operands().get(i), sc);
            String op = c.ops().get(i);
            boolean ok = switch (op) {
                case "==" -> Py.eq(left, right);
                case "!=" -> !Py.eq(left, right);
                case "<" -> Py.compare(left, right, op) < 0;
                case "<=" -> Py.compare(left, right, op) <= 0;
                case ">" -> Py.compare(left, right, op) > 0;
                case ">=" -> Py.compare(left, right, op) >= 0;
                case "in" -> Py.contains(right, left);
                case "notin" -> !Py.contains(right, left);
                default -> throw JinjaException.runtime("unknown comparison " + op);
            };
            if (!ok) return false;
            left = right;
        }
        return true;
    }
}
