package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;

import java.io.Serializable;
import java.util.Objects;

/**
 * The logical operator that runs tokenmill calls over its child: its output is the child's plus one column per call,
 * the call's result (as {@code BatchEvalPython} is for Python UDFs). Made by {@link ExtractTokenmillCalls}, planned by
 * {@link TokenmillStrategy}.
 */
public final class TokenmillEval extends LogicalPlan implements Serializable {
    private final Seq<TokenmillCall> calls;
    private final Seq<Attribute> resultAttrs;
    private final LogicalPlan child;
    private final Seq<LogicalPlan> children;

    public TokenmillEval(Seq<TokenmillCall> calls, Seq<Attribute> resultAttrs, LogicalPlan child) {
        this.calls = calls;
        this.resultAttrs = resultAttrs;
        this.child = child;
        this.children = ScalaSeqs.of(child);
    }

    public Seq<TokenmillCall> calls() { return calls; }

    public Seq<Attribute> resultAttrs() { return resultAttrs; }

    public LogicalPlan child() { return child; }

    @Override
    public Seq<Attribute> output() {
        return ScalaSeqs.concat(child.output(), resultAttrs);
    }

    @Override
    public AttributeSet producedAttributes() {
        return ScalaSeqs.attributeSet(resultAttrs);
    }

    @Override
    public Seq<LogicalPlan> children() {
        return children;
    }

    @Override
    public LogicalPlan withNewChildrenInternal(IndexedSeq<LogicalPlan> newChildren) {
        return new TokenmillEval(calls, resultAttrs, newChildren.head());
    }

    @Override
    public int productArity() {
        return 3;
    }

    @Override
    public Object productElement(int n) {
        return switch (n) {
            case 0 -> calls;
            case 1 -> resultAttrs;
            case 2 -> child;
            default -> throw new IndexOutOfBoundsException(n);
        };
    }

    @Override
    public boolean canEqual(Object that) {
        return that instanceof TokenmillEval;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenmillEval e && calls.equals(e.calls) && resultAttrs.equals(e.resultAttrs) && child.equals(e.child);
    }

    @Override
    public int hashCode() {
        return Objects.hash(calls, resultAttrs, child);
    }
}
