package dev.tokenmill.tokenizer.chat;

import java.util.List;

/** The parsed template: statements ({@link Stmt}) and expressions ({@link Expr}), mirroring jinja2's nodes. */
sealed interface Node {

    sealed interface Stmt extends Node {
        int line();
    }

    record Text(String text, int line) implements Stmt { }

    record Print(Expr expr, int line) implements Stmt { }

    /** {@code if}/{@code elif} chain: conditions[i] guards bodies[i]; elseBody may be empty. */
    record If(List<Expr> conditions, List<List<Stmt>> bodies, List<Stmt> elseBody, int line) implements Stmt { }

    record For(Target target, Expr iter, Expr filter, List<Stmt> body, List<Stmt> elseBody, int line) implements Stmt { }

    record Set(Target target, Expr value, int line) implements Stmt { }

    /** {@code {% set x %}...{% endset %}}; {@code filter} (nullable) applies to the captured text via {@link BodyRef}. */
    record SetBlock(Target target, Expr filter, List<Stmt> body, int line) implements Stmt { }

    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body, int line) implements Stmt { }

    /** {@code {% filter f %}...{% endfilter %}}; {@code filter} is a filter chain over {@link BodyRef}. */
    record FilterBlock(Expr filter, List<Stmt> body, int line) implements Stmt { }

    /** A plain group of statements ({@code {% generation %}} bodies). */
    record Group(List<Stmt> body, int line) implements Stmt { }

    record Break(int line) implements Stmt { }

    record Continue(int line) implements Stmt { }

    /** Assignment targets: a name, {@code ns.attr}, or a tuple of names. */
    sealed interface Target { }

    record NameTarget(String name) implements Target { }

    record AttrTarget(String name, String attr) implements Target { }

    record TupleTarget(List<Target> items) implements Target { }

    sealed interface Expr extends Node { }

    record Const(Object value) implements Expr { }

    record Name(String name) implements Expr { }

    record ListLit(List<Expr> items) implements Expr { }

    record TupleLit(List<Expr> items) implements Expr { }

    record DictLit(List<Expr> keys, List<Expr> values) implements Expr { }

    record GetAttr(Expr obj, String attr) implements Expr { }

    record GetItem(Expr obj, Expr key) implements Expr { }

    /** Only valid as the key of a {@link GetItem}; each part may be null. */
    record Slice(Expr start, Expr stop, Expr step) implements Expr { }

    record Call(Expr fn, List<Expr> args, List<String> kwNames, List<Expr> kwValues, Expr starArgs, Expr starKwargs)
            implements Expr { }

    record Filter(Expr base, String name, List<Expr> args, List<String> kwNames, List<Expr> kwValues) implements Expr { }

    record Test(Expr base, String name, List<Expr> args, List<String> kwNames, List<Expr> kwValues) implements Expr { }

    /** The rendered body of a filter block or set block. */
    record BodyRef() implements Expr { }

    record Unary(String op, Expr operand) implements Expr { }

    record Binary(String op, Expr left, Expr right) implements Expr { }

    record And(Expr left, Expr right) implements Expr { }

    record Or(Expr left, Expr right) implements Expr { }

    record Not(Expr operand) implements Expr { }

    record Concat(List<Expr> parts) implements Expr { }

    record Compare(Expr first, List<String> ops, List<Expr> operands) implements Expr { }

    /** {@code then if test else otherwise}; otherwise may be null (gives Undefined). */
    record CondExpr(Expr test, Expr then, Expr otherwise) implements Expr { }
}
