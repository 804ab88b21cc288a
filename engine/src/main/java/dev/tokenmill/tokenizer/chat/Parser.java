package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Lexer.Token;
import dev.tokenmill.tokenizer.chat.Lexer.Type;
import dev.tokenmill.tokenizer.chat.Node.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Recursive-descent parser following jinja2 3.1's {@code Parser} (same precedence, same places where filters,
 * tests and conditional expressions may appear). Unknown filters and tests are not checked here: like jinja2
 * inside branches, they fail only when evaluated.
 */
final class Parser {
    private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", ">", "<=", ">=");

    private final List<Token> tokens;
    private int p;

    private Parser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<Stmt> parse(String source) {
        Parser ps = new Parser(Lexer.tokenize(source));
        List<Stmt> body = ps.subparse(Set.of());
        if (ps.cur().type() != Type.EOF) throw ps.fail("unexpected '" + ps.cur().text() + "'");
        return body;
    }

    private Token cur() { return tokens.get(p); }

    private Token look() { return tokens.get(Math.min(p + 1, tokens.size() - 1)); }

    private Token next() { return tokens.get(p++); }

    private JinjaException fail(String msg) { return JinjaException.syntax(msg, cur().line()); }

    private boolean skipName(String n) {
        if (cur().isName(n)) {
            p++;
            return true;
        }
        return false;
    }

    private boolean skipOp(String o) {
        if (cur().isOp(o)) {
            p++;
            return true;
        }
        return false;
    }

    private Token expect(Type t) {
        if (cur().type() != t) throw fail("expected " + t + ", got '" + cur().text() + "'");
        return next();
    }

    private void expectOp(String o) {
        if (!cur().isOp(o)) throw fail("expected '" + o + "', got '" + cur().text() + "'");
        p++;
    }

    private String expectName() {
        return expect(Type.NAME).text();
    }

    // ---- statements ----

    private List<Stmt> subparse(Set<String> endTokens) {
        List<Stmt> body = new ArrayList<>();
        while (true) {
            Token t = cur();
            switch (t.type()) {
                case EOF -> {
                    if (!endTokens.isEmpty()) throw fail("unexpected end of template, expected one of " + endTokens);
                    return body;
                }
                case DATA -> {
                    next();
                    body.add(new Text(t.text(), t.line()));
                }
                case VAR_BEGIN -> {
                    next();
                    Expr e = parseTuple(false, true, Set.of(), false);
                    expect(Type.VAR_END);
                    body.add(new Print(e, t.line()));
                }
                case BLOCK_BEGIN -> {
                    next();
                    if (cur().type() == Type.NAME && endTokens.contains(cur().text())) return body;
                    body.add(parseStatement());
                    expect(Type.BLOCK_END);
                }
                default -> throw fail("unexpected '" + t.text() + "'");
            }
        }
    }

    /** Parses the body after a statement header up to one of {@code endTokens}, leaving the end name current. */
    private List<Stmt> statements(Set<String> endTokens, boolean dropNeedle) {
        skipOp(":");
        expect(Type.BLOCK_END);
        List<Stmt> body = subparse(endTokens);
        if (dropNeedle) next();
        return body;
    }

    private Stmt parseStatement() {
        Token t = cur();
        if (t.type() != Type.NAME) throw fail("tag name expected");
        int line = t.line();
        next();
        return switch (t.text()) {
            case "if" -> parseIf(line);
            case "for" -> parseFor(line);
            case "set" -> parseSet(line);
            case "macro" -> parseMacro(line);
            case "filter" -> {
                Expr f = parseFilter(new BodyRef(), true);
                yield new FilterBlock(f, statements(Set.of("endfilter"), true), line);
            }
            case "generation" -> new Group(statements(Set.of("endgeneration"), true), line);
            case "break" -> new Break(line);
            case "continue" -> new Continue(line);
            default -> throw JinjaException.syntax("Encountered unknown tag '" + t.text() + "'.", line);
        };
    }

    private Stmt parseIf(int line) {
        List<Expr> conds = new ArrayList<>();
        List<List<Stmt>> bodies = new ArrayList<>();
        List<Stmt> elseBody = List.of();
        while (true) {
            conds.add(parseTuple(false, false, Set.of(), false));
            bodies.add(statements(Set.of("elif", "else", "endif"), false));
            String tok = next().text();
            if (tok.equals("elif")) continue;
            if (tok.equals("else")) elseBody = statements(Set.of("endif"), true);
            break;
        }
        return new If(conds, bodies, elseBody, line);
    }

    private Stmt parseFor(int line) {
        Target target = assignTarget(false, Set.of("in"));
        if (!skipName("in")) throw fail("expected 'in'");
        Expr iter = parseTuple(false, false, Set.of("recursive"), false);
        Expr filter = null;
        if (skipName("if")) filter = parseExpression(true);
        if (skipName("recursive")) throw fail("recursive loops are not supported");
        List<Stmt> body = statements(Set.of("endfor", "else"), false);
        List<Stmt> elseBody = List.of();
        if (next().text().equals("else")) elseBody = statements(Set.of("endfor"), true);
        return new For(target, iter, filter, body, elseBody, line);
    }

    private Stmt parseSet(int line) {
        Target target = assignTarget(true, Set.of());
        if (skipOp("=")) return new Node.Set(target, parseTuple(false, true, Set.of(), false), line);
        Expr filter = cur().isOp("|") ? parseFilter(new BodyRef(), false) : null;
        return new SetBlock(target, filter, statements(Set.of("endset"), true), line);
    }

    private Stmt parseMacro(int line) {
        String name = expectName();
        expectOp("(");
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        boolean seenDefault = false;
        while (!cur().isOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            if (cur().isOp(")")) break;
            params.add(expectName());
            if (skipOp("=")) {
                defaults.add(parseExpression(true));
                seenDefault = true;
            } else {
                if (seenDefault) throw fail("non-default argument follows default argument");
                defaults.add(null);
            }
        }
        expectOp(")");
        return new Macro(name, params, defaults, statements(Set.of("endmacro"), true), line);
    }

    private Target assignTarget(boolean withNamespace, Set<String> extraEnd) {
        if (withNamespace && cur().type() == Type.NAME && look().isOp(".")) {
            String n = next().text();
            next();
            return new AttrTarget(n, expectName());
        }
        List<Target> items = new ArrayList<>();
        boolean tuple = false;
        boolean paren = skipOp("(");
        while (true) {
            if (!items.isEmpty()) {
                if (!skipOp(",")) break;
                tuple = true;
            }
            if (cur().type() != Type.NAME || extraEnd.contains(cur().text())) {
                if (items.isEmpty()) throw fail("can't assign to '" + cur().text() + "'");
                break;
            }
            items.add(new NameTarget(next().text()));
        }
        if (paren) expectOp(")");
        return tuple || paren && items.size() > 1 ? new TupleTarget(items) : items.get(0);
    }

    // ---- expressions ----

    /** jinja2 {@code parse_tuple}: comma-separated expressions become a tuple. */
    private Expr parseTuple(boolean simplified, boolean withCondExpr, Set<String> extraEnd, boolean explicitParens) {
        List<Expr> args = new ArrayList<>();
        boolean isTuple = false;
        while (true) {
            if (!args.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            args.add(simplified ? parsePrimary() : parseExpression(withCondExpr));
            if (cur().isOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple) {
            if (!args.isEmpty()) return args.get(0);
            if (!explicitParens) throw fail("Expected an expression, got '" + cur().text() + "'");
        }
        return new TupleLit(args);
    }

    private boolean isTupleEnd(Set<String> extraEnd) {
        Token t = cur();
        if (t.type() == Type.VAR_END || t.type() == Type.BLOCK_END || t.isOp(")")) return true;
        return t.type() == Type.NAME && extraEnd.contains(t.text());
    }

    private Expr parseExpression(boolean withCondExpr) {
        return withCondExpr ? parseCondExpr() : parseOr();
    }

    private Expr parseCondExpr() {
        Expr e1 = parseOr();
        while (skipName("if")) {
            Expr test = parseOr();
            Expr e3 = skipName("else") ? parseCondExpr() : null;
            e1 = new CondExpr(test, e1, e3);
        }
        return e1;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        while (skipName("or")) left = new Or(left, parseAnd());
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        while (skipName("and")) left = new And(left, parseNot());
        return left;
    }

    private Expr parseNot() {
        if (skipName("not")) return new Not(parseNot());
        return parseCompare();
    }

    private Expr parseCompare() {
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> operands = new ArrayList<>();
        while (true) {
            Token t = cur();
            if (t.type() == Type.OP && COMPARE_OPS.contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (skipName("in")) {
                ops.add("in");
            } else if (t.isName("not") && look().isName("in")) {
                p += 2;
                ops.add("notin");
            } else {
                break;
            }
            operands.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Compare(first, ops, operands);
    }

    private Expr parseMath1() {
        Expr left = parseConcat();
        while (cur().isOp("+") || cur().isOp("-")) {
            String op = next().text();
            left = new Binary(op, left, parseConcat());
        }
        return left;
    }

    private Expr parseConcat() {
        List<Expr> parts = new ArrayList<>();
        parts.add(parseMath2());
        while (skipOp("~")) parts.add(parseMath2());
        return parts.size() == 1 ? parts.get(0) : new Concat(parts);
    }

    private Expr parseMath2() {
        Expr left = parsePow();
        while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
            String op = next().text();
            left = new Binary(op, left, parsePow());
        }
        return left;
    }

    private Expr parsePow() {
        Expr left = parseUnary(true);
        while (skipOp("**")) left = new Binary("**", left, parseUnary(true));
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        Expr node;
        if (skipOp("-")) node = new Unary("-", parseUnary(false));
        else if (skipOp("+")) node = new Unary("+", parseUnary(false));
        else node = parsePrimary();
        node = parsePostfix(node);
        if (withFilter) node = parseFilterExpr(node);
        return node;
    }

    private Expr parsePrimary() {
        Token t = cur();
        switch (t.type()) {
            case NAME -> {
                next();
                return switch (t.text()) {
                    case "true", "True" -> new Const(Boolean.TRUE);
                    case "false", "False" -> new Const(Boolean.FALSE);
                    case "none", "None" -> new Const(null);
                    default -> new Name(t.text());
                };
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder();
                while (cur().type() == Type.STRING) sb.append((String) next().value());
                return new Const(sb.toString());
            }
            case INT, FLOAT -> {
                next();
                return new Const(t.value());
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        next();
                        Expr e = parseTuple(false, true, Set.of(), true);
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        next();
                        List<Expr> items = new ArrayList<>();
                        while (!cur().isOp("]")) {
                            if (!items.isEmpty()) expectOp(",");
                            if (cur().isOp("]")) break;
                            items.add(parseExpression(true));
                        }
                        expectOp("]");
                        return new ListLit(items);
                    }
                    case "{" -> {
                        next();
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!cur().isOp("}")) {
                            if (!keys.isEmpty()) expectOp(",");
                            if (cur().isOp("}")) break;
                            keys.add(parseExpression(true));
                            expectOp(":");
                            values.add(parseExpression(true));
                        }
                        expectOp("}");
                        return new DictLit(keys, values);
                    }
                    default -> throw fail("unexpected '" + t.text() + "'");
                }
            }
            default -> throw fail("unexpected '" + t.text() + "'");
        }
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            if (cur().isOp(".") || cur().isOp("[")) node = parseSubscript(node);
            else if (cur().isOp("(")) node = parseCall(node);
            else return node;
        }
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            if (cur().isOp("|")) node = parseFilter(node, false);
            else if (cur().isName("is")) node = parseTest(node);
            else if (cur().isOp("(")) node = parseCall(node);
            else return node;
        }
    }

    private Expr parseSubscript(Expr node) {
        Token t = next();
        if (t.isOp(".")) {
            Token a = next();
            if (a.type() == Type.NAME) return new GetAttr(node, a.text());
            if (a.type() == Type.INT) return new GetItem(node, new Const(a.value()));
            throw JinjaException.syntax("expected name or number", a.line());
        }
        List<Expr> args = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!args.isEmpty()) expectOp(",");
            args.add(parseSubscribed());
        }
        expectOp("]");
        return new GetItem(node, args.size() == 1 ? args.get(0) : new TupleLit(args));
    }

    private Expr parseSubscribed() {
        Expr start = null;
        if (cur().isOp(":")) {
            next();
        } else {
            Expr e = parseExpression(true);
            if (!cur().isOp(":")) return e;
            next();
            start = e;
        }
        Expr stop = null;
        if (!cur().isOp(":") && !cur().isOp("]") && !cur().isOp(",")) stop = parseExpression(true);
        Expr step = null;
        if (skipOp(":")) {
            if (!cur().isOp("]") && !cur().isOp(",")) step = parseExpression(true);
        }
        return new Slice(start, stop, step);
    }

    private record Args(List<Expr> args, List<String> kwNames, List<Expr> kwValues, Expr star, Expr starStar) { }

    private Args parseCallArgs() {
        expectOp("(");
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        Expr star = null;
        Expr starStar = null;
        boolean requireComma = false;
        while (!cur().isOp(")")) {
            if (requireComma) {
                expectOp(",");
                if (cur().isOp(")")) break;
            }
            if (skipOp("*")) {
                star = parseExpression(true);
            } else if (skipOp("**")) {
                starStar = parseExpression(true);
            } else if (cur().type() == Type.NAME && look().isOp("=")) {
                kwNames.add(next().text());
                next();
                kwValues.add(parseExpression(true));
            } else {
                if (!kwNames.isEmpty()) throw fail("invalid syntax for function call expression");
                args.add(parseExpression(true));
            }
            requireComma = true;
        }
        expectOp(")");
        return new Args(args, kwNames, kwValues, star, starStar);
    }

    private Expr parseCall(Expr node) {
        Args a = parseCallArgs();
        return new Call(node, a.args(), a.kwNames(), a.kwValues(), a.star(), a.starStar());
    }

    private String dottedName() {
        StringBuilder name = new StringBuilder(expectName());
        while (cur().isOp(".")) {
            next();
            name.append('.').append(expectName());
        }
        return name.toString();
    }

    private Expr parseFilter(Expr node, boolean startInline) {
        while (cur().isOp("|") || startInline) {
            if (!startInline) next();
            String name = dottedName();
            if (cur().isOp("(")) {
                Args a = parseCallArgs();
                node = new Filter(node, name, a.args(), a.kwNames(), a.kwValues());
            } else {
                node = new Filter(node, name, List.of(), List.of(), List.of());
            }
            startInline = false;
        }
        return node;
    }

    private Expr parseTest(Expr node) {
        next(); // "is"
        boolean negated = skipName("not");
        String name = dottedName();
        Expr test;
        Token t = cur();
        if (t.isOp("(")) {
            Args a = parseCallArgs();
            test = new Test(node, name, a.args(), a.kwNames(), a.kwValues());
        } else if ((t.type() == Type.NAME || t.type() == Type.STRING || t.type() == Type.INT
                || t.type() == Type.FLOAT || t.isOp("(") || t.isOp("[") || t.isOp("{"))
                && !(t.isName("else") || t.isName("or") || t.isName("and"))) {
            if (t.isName("is")) throw fail("You cannot chain multiple tests with is");
            Expr arg = parsePostfix(parsePrimary());
            test = new Test(node, name, List.of(arg), List.of(), List.of());
        } else {
            test = new Test(node, name, List.of(), List.of(), List.of());
        }
        return negated ? new Not(test) : test;
    }
}
