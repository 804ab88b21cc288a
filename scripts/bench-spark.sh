#!/usr/bin/env bash
# The Spark path (local mode) against the engine alone, same model, prompts, greedy sampling and engine threads; each
# in its own JVM, so each peak RSS is its own; the modes' runs alternate, PAIRS rounds.
# MODES: engine (Engine.generate), spark (the DataFrame operator Tokenmill.generate), sql (SELECT tokenmill_generate(...)).
# Usage: scripts/bench-spark.sh MODEL.gguf [PROMPTS=64] [MAX_TOKENS=64] [THREADS=2] [PAIRS=2] [MODES="engine spark"]
#   SQL against the DataFrame operator: scripts/bench-spark.sh MODEL.gguf 64 64 2 4 "spark sql"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$1"; n="${2:-64}"; max="${3:-64}"; threads="${4:-2}"; pairs="${5:-2}"; modes="${6:-engine spark}"
cd "$here"
./mvnw -q -B -pl spark-connector -am test-compile dependency:build-classpath -Dmdep.outputFile=target/bench-cp.txt -Dmdep.includeScope=test >/dev/null
source scripts/find-jdk.sh
java="$(tokenmill_find_jdk)/bin/java"
opts="$(sed -n 's:.*<sparkJvmOpts>\(.*\)</sparkJvmOpts>.*:\1:p' spark-connector/pom.xml)"
cp="spark-connector/target/test-classes:spark-connector/target/classes:$(cat spark-connector/target/bench-cp.txt)"
for mode in $(for _ in $(seq "$pairs"); do echo $modes; done); do
  SPARK_LOCAL_IP=127.0.0.1 "$java" $opts -Dlog4j2.configurationFile="$here/spark-connector/src/test/resources/log4j2-test.properties" \
    -cp "$cp" dev.tokenmill.spark.SparkBench "$mode" "$model" "$n" "$max" "$threads" 2>/dev/null | tail -1
done
