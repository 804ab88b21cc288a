package dev.tokenmill.sample.constrain;

import dev.tokenmill.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Compiles constraints for one tokenizer, once per distinct constraint: the vocabulary's {@link TokenIndex} is built
 * on first use, and each compiled automaton (with its growing mask cache) is kept and shared. Thread-safe.
 */
public final class ConstraintCache {
    /** Distinct constraints kept before the cache starts over (a job with a schema per row must not grow the heap). */
    private static final int MAX_ENTRIES = 256;

    private final Tokenizer tokenizer;
    private final int vocabSize;
    private volatile TokenIndex index;
    private final ConcurrentHashMap<Constraint, CompiledConstraint> compiled = new ConcurrentHashMap<>();

    public ConstraintCache(Tokenizer tokenizer, int vocabSize) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
    }

    /** The compiled constraint; throws {@link ConstraintException} naming what is wrong or unsupported. */
    public CompiledConstraint compile(Constraint c) {
        CompiledConstraint hit = compiled.get(c);
        if (hit != null) return hit;
        if (compiled.size() >= MAX_ENTRIES) compiled.clear();
        return compiled.computeIfAbsent(c, k -> new CompiledConstraint(k, new Automaton(grammarOf(k), index())));
    }

    private TokenIndex index() {
        TokenIndex i = index;
        if (i == null) {
            synchronized (this) {
                if (index == null) index = new TokenIndex(tokenizer, vocabSize);
                i = index;
            }
        }
        return i;
    }

    /**
     * Checks, without a model, that a constraint can be compiled (a valid and supported JSON Schema, regex or
     * grammar), so that a caller can refuse it before any request is made.
     *
     * @throws ConstraintException naming what is wrong or unsupported
     */
    public static void check(Constraint c) {
        grammarOf(c);
    }

    /** The grammar a constraint stands for. */
    static Grammar grammarOf(Constraint c) {
        return switch (c) {
            case Constraint.JsonSchema s -> JsonSchemaGrammar.fromSchema(s.schema());
            case Constraint.JsonObject o -> JsonSchemaGrammar.anyObject();
            case Constraint.Regex r -> RegexParser.grammar(r.pattern());
            case Constraint.Grammar g -> GbnfParser.parse(g.gbnf());
            case Constraint.Choice ch -> {
                if (ch.choices().isEmpty()) throw new ConstraintException("choice needs at least one string");
                List<Expr> options = new ArrayList<>();
                for (String s : ch.choices()) options.add(Expr.literal(s));
                Grammar.Builder b = new Grammar.Builder();
                b.define("root", Expr.alt(options));
                yield b.build("root");
            }
        };
    }
}
