package dev.tokenmill.spark;

import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.expressions.SortOrder;
import org.apache.spark.sql.catalyst.plans.physical.Partitioning;
import org.apache.spark.sql.execution.SparkPlan;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;
import scala.reflect.ClassTag$;

import java.util.List;
import java.util.Objects;

/**
 * Runs the tokenmill calls of a {@link TokenmillEval} over each partition of its child: every row goes to the
 * executor's shared engine through an {@link InferenceWindow} per call (many rows in flight, batched with every other
 * task of the JVM), and comes out with the calls' results appended, in input order. Partitioning and ordering are
 * the child's.
 */
public final class TokenmillEvalExec extends SparkPlan {
    private final Seq<TokenmillCall> calls;
    private final Seq<Attribute> resultAttrs;
    private final SparkPlan child;
    private final Seq<SparkPlan> children;

    public TokenmillEvalExec(Seq<TokenmillCall> calls, Seq<Attribute> resultAttrs, SparkPlan child) {
        this.calls = calls;
        this.resultAttrs = resultAttrs;
        this.child = child;
        this.children = ScalaSeqs.of(child);
    }

    @Override
    public RDD<InternalRow> doExecute() {
        List<SqlCall> specs = ScalaSeqs.java(calls).stream().map(TokenmillCall::spec).toList();
        var f = new SqlPartitions(specs, child.output(), output(), TokenmillMetrics.register(sparkContext()));
        return child.execute().mapPartitionsWithIndexInternal(f, false, false, false, ClassTag$.MODULE$.apply(InternalRow.class));
    }

    @Override
    public Seq<Attribute> output() {
        return ScalaSeqs.concat(child.output(), resultAttrs);
    }

    @Override
    public AttributeSet producedAttributes() {
        return ScalaSeqs.attributeSet(resultAttrs);
    }

    @Override
    public Partitioning outputPartitioning() {
        return child.outputPartitioning();
    }

    @Override
    public Seq<SortOrder> outputOrdering() {
        return child.outputOrdering();
    }

    @Override
    public Seq<SparkPlan> children() {
        return children;
    }

    @Override
    public SparkPlan withNewChildrenInternal(IndexedSeq<SparkPlan> newChildren) {
        return new TokenmillEvalExec(calls, resultAttrs, newChildren.head());
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
        return that instanceof TokenmillEvalExec;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenmillEvalExec e && calls.equals(e.calls) && resultAttrs.equals(e.resultAttrs) && child.equals(e.child);
    }

    @Override
    public int hashCode() {
        return Objects.hash(calls, resultAttrs, child);
    }
}
