package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeReference;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.types.Metadata;
import scala.Function1;
import scala.runtime.AbstractPartialFunction;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The optimizer rule that takes tokenmill calls out of an operator's expressions (a Project, a Filter, an Aggregate's
 * grouping...) and evaluates them below it in a {@link TokenmillEval}, whose extra output columns replace the calls.
 * As Spark's {@code ExtractPythonUDFs}: equal calls are run once; a call whose arguments hold another call waits for
 * the inner one, which gets its own node below; the operator's output is kept (a Project drops the result columns a
 * Filter only tested).
 */
final class ExtractTokenmillCalls extends Rule<LogicalPlan> {
    static final ExtractTokenmillCalls INSTANCE = new ExtractTokenmillCalls();

    private ExtractTokenmillCalls() {}

    @Override
    public String ruleName() {
        return "ExtractTokenmillCalls";
    }

    @Override
    public LogicalPlan apply(LogicalPlan plan) {
        return plan.transformUp(new AbstractPartialFunction<>() {
            @Override
            public boolean isDefinedAt(LogicalPlan p) {
                return !(p instanceof TokenmillEval) && p.expressions().exists(ExtractTokenmillCalls::hasCall);
            }

            @Override
            public <A1 extends LogicalPlan, B1> B1 applyOrElse(A1 p, Function1<A1, B1> otherwise) {
                @SuppressWarnings("unchecked") B1 out = isDefinedAt(p) ? (B1) extract(p) : otherwise.apply(p);
                return out;
            }
        });
    }

    static boolean hasCall(Expression e) {
        return e.exists(x -> x instanceof TokenmillCall);
    }

    private static LogicalPlan extract(LogicalPlan plan) {
        // innermost calls first, each once (semantically equal calls share one result)
        Map<Expression, TokenmillCall> calls = new LinkedHashMap<>();
        for (Expression e : ScalaSeqs.java(plan.expressions())) collectInnermost(e, calls);
        calls.values().removeIf(c -> !c.references().subsetOf(plan.inputSet()));
        if (calls.isEmpty()) return plan;

        Map<Expression, Attribute> results = new HashMap<>();
        List<LogicalPlan> children = new ArrayList<>();
        for (LogicalPlan child : ScalaSeqs.java(plan.children())) {
            List<TokenmillCall> here = new ArrayList<>();
            List<Attribute> attrs = new ArrayList<>();
            calls.forEach((key, call) -> {
                if (results.containsKey(key) || !call.references().subsetOf(child.outputSet())) return;
                Attribute a = new AttributeReference(call.function(), call.dataType(), true, Metadata.empty(),
                        NamedExpression.newExprId(), ScalaSeqs.of());
                here.add(call);
                attrs.add(a);
                results.put(key, a);
            });
            children.add(here.isEmpty() ? child : new TokenmillEval(ScalaSeqs.of(here), ScalaSeqs.of(attrs), child));
        }
        if (results.isEmpty()) return plan; // calls over several children (a join condition): left for the planner to reject

        LogicalPlan rewritten = plan.withNewChildren(ScalaSeqs.of(children)).transformExpressions(new AbstractPartialFunction<>() {
            @Override
            public boolean isDefinedAt(Expression e) {
                return e instanceof TokenmillCall && results.containsKey(e.canonicalized());
            }

            @Override
            public <A1 extends Expression, B1> B1 applyOrElse(A1 e, Function1<A1, B1> otherwise) {
                @SuppressWarnings("unchecked") B1 out = isDefinedAt(e) ? (B1) results.get(e.canonicalized()) : otherwise.apply(e);
                return out;
            }
        });
        LogicalPlan out = extract(rewritten); // calls that held the ones just extracted
        return out.output().equals(plan.output()) ? out : new Project(ScalaSeqs.named(plan.output()), out);
    }

    private static void collectInnermost(Expression e, Map<Expression, TokenmillCall> out) {
        if (e instanceof TokenmillCall c && !c.children().exists(ExtractTokenmillCalls::hasCall)) {
            out.putIfAbsent(c.canonicalized(), c);
            return;
        }
        for (Expression child : ScalaSeqs.java(e.children())) collectInnermost(child, out);
    }
}
