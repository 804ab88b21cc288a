package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.List;

/** Java lists as Scala's immutable {@code Seq}, the collection type of Catalyst's tree nodes. */
final class ScalaSeqs {
    private ScalaSeqs() {}

    static <T> scala.collection.immutable.Seq<T> of(List<T> list) {
        return CollectionConverters.asScala(list).toList();
    }

    @SafeVarargs
    static <T> scala.collection.immutable.Seq<T> of(T... items) {
        return of(List.of(items));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static AttributeSet attributeSet(scala.collection.immutable.Seq<Attribute> attrs) {
        return AttributeSet.apply((scala.collection.Iterable) attrs);
    }

    /** A sequence of attributes (or any expressions) typed as expressions, as Catalyst's projections take them. */
    @SuppressWarnings("unchecked")
    static scala.collection.immutable.Seq<Expression> expressions(scala.collection.immutable.Seq<? extends Expression> seq) {
        return (scala.collection.immutable.Seq<Expression>) seq;
    }

    /** {@code a} then {@code b}. */
    static <T> scala.collection.immutable.Seq<T> concat(scala.collection.Seq<? extends T> a, scala.collection.Seq<? extends T> b) {
        List<T> out = new ArrayList<>(java(a));
        out.addAll(java(b));
        return of(out);
    }

    /** Attributes as the named expressions of a {@code Project}. */
    @SuppressWarnings("unchecked")
    static scala.collection.immutable.Seq<NamedExpression> named(scala.collection.immutable.Seq<? extends NamedExpression> seq) {
        return (scala.collection.immutable.Seq<NamedExpression>) seq;
    }

    static <T> List<T> java(scala.collection.Seq<? extends T> seq) {
        return List.copyOf(CollectionConverters.asJava(seq));
    }
}
