package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.SparkStrategy;
import scala.collection.immutable.Seq;

/** Plans a {@link TokenmillEval} as a {@link TokenmillEvalExec}; rejects a tokenmill call left anywhere else. */
final class TokenmillStrategy extends SparkStrategy {
    static final TokenmillStrategy INSTANCE = new TokenmillStrategy();

    private TokenmillStrategy() {}

    @Override
    public Seq<SparkPlan> apply(LogicalPlan plan) {
        if (plan instanceof TokenmillEval e) return ScalaSeqs.of(new TokenmillEvalExec(e.calls(), e.resultAttrs(), planLater(e.child())));
        if (plan.expressions().exists(ExtractTokenmillCalls::hasCall)) {
            throw new IllegalArgumentException("tokenmill functions can only read one input: use them in SELECT, WHERE, GROUP BY "
                    + "or ORDER BY over one table or subquery, not in a join condition; found in " + plan.nodeName() + ": "
                    + plan.simpleString(200));
        }
        return ScalaSeqs.of();
    }
}
