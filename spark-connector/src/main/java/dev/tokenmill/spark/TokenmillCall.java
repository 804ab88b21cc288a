package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.Unevaluable;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;
import org.apache.spark.sql.types.DataType;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Map;
import scala.collection.immutable.Seq;

import java.io.Serializable;
import java.util.Objects;

/**
 * One call of {@code tokenmill_generate}, {@code tokenmill_classify} or {@code tokenmill_extract} in a query. A
 * placeholder, never evaluated row by row: {@link ExtractTokenmillCalls} moves it into a {@link TokenmillEval} node,
 * which {@link TokenmillStrategy} plans as a {@link TokenmillEvalExec} that streams each partition through the
 * executor's shared engine, many rows in flight (as Spark plans Python UDFs into {@code BatchEvalPythonExec}).
 *
 * <p>Public, with a public constructor matching its product, because Catalyst copies tree nodes by reflection.
 *
 * @param function       the SQL function name
 * @param arguments      the SQL arguments: text, then labels or JSON schema, then the options map
 * @param sessionOptions the session's {@code spark.tokenmill.*} settings when the query was analysed, prefix removed
 */
public final class TokenmillCall extends Expression implements Unevaluable, Serializable {
    private final String function;
    private final Seq<Expression> arguments;
    private final Map<String, String> sessionOptions;
    private transient volatile SqlCall spec;

    public TokenmillCall(String function, Seq<Expression> arguments, Map<String, String> sessionOptions) {
        this.function = function;
        this.arguments = arguments;
        this.sessionOptions = sessionOptions;
    }

    String function() {
        return function;
    }

    /** What this call means (options merged, arguments checked); @throws IllegalArgumentException naming the problem */
    SqlCall spec() {
        SqlCall s = spec;
        if (s == null) spec = s = SqlCall.of(function, ScalaSeqs.java(arguments), ScalaMaps.java(sessionOptions));
        return s;
    }

    @Override
    public TypeCheckResult checkInputDataTypes() {
        TypeCheckResult children = super.checkInputDataTypes();
        if (children.isFailure()) return children;
        try {
            spec();
            return TypeCheckResult.TypeCheckSuccess$.MODULE$;
        } catch (IllegalArgumentException e) {
            return new TypeCheckResult.TypeCheckFailure(e.getMessage());
        }
    }

    @Override
    public DataType dataType() {
        try {
            return spec().dataType();
        } catch (IllegalArgumentException e) {
            return SqlCall.fallbackType(function); // checkInputDataTypes reports the problem
        }
    }

    @Override
    public boolean nullable() {
        return true;
    }

    @Override
    public boolean foldable() {
        return false;
    }

    @Override
    public Object eval(InternalRow input) {
        throw new IllegalStateException(function + " is run by the TokenmillEval operator, never row by row; this query did not go "
                + "through its optimizer rule: start the session with spark.sql.extensions=" + TokenmillExtensions.class.getName()
                + " or call Tokenmill.registerFunctions(spark), and use the function in SELECT, WHERE or GROUP BY over one input");
    }

    @Override
    public ExprCode doGenCode(CodegenContext ctx, ExprCode ev) {
        throw new IllegalStateException(function + " cannot be compiled into generated code; it is run by the TokenmillEval operator");
    }

    @Override
    public Seq<Expression> children() {
        return arguments;
    }

    @Override
    public Expression withNewChildrenInternal(IndexedSeq<Expression> newChildren) {
        return new TokenmillCall(function, newChildren, sessionOptions);
    }

    @Override
    public String prettyName() {
        return function;
    }

    @Override
    public String toString() {
        return function + arguments.mkString("(", ", ", ")");
    }

    @Override
    public int productArity() {
        return 3;
    }

    @Override
    public Object productElement(int n) {
        return switch (n) {
            case 0 -> function;
            case 1 -> arguments;
            case 2 -> sessionOptions;
            default -> throw new IndexOutOfBoundsException(n);
        };
    }

    @Override
    public boolean canEqual(Object that) {
        return that instanceof TokenmillCall;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenmillCall c && function.equals(c.function) && arguments.equals(c.arguments)
                && sessionOptions.equals(c.sessionOptions);
    }

    @Override
    public int hashCode() {
        return Objects.hash(function, arguments, sessionOptions);
    }
}
