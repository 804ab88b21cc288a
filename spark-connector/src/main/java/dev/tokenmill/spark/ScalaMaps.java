package dev.tokenmill.spark;

import scala.jdk.javaapi.CollectionConverters;

import java.util.Map;

/** Java and Scala maps, both ways. */
final class ScalaMaps {
    private ScalaMaps() {}

    static scala.collection.immutable.Map<String, String> immutable(Map<String, String> m) {
        return scala.collection.immutable.Map$.MODULE$.from(CollectionConverters.asScala(m));
    }

    static Map<String, String> java(scala.collection.Map<String, String> m) {
        return new java.util.HashMap<>(CollectionConverters.asJava(m));
    }
}
