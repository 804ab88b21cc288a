#!/usr/bin/env bash
# The sampling-side cost of a JSON-schema constraint on a model's vocabulary (no forward pass): one-off costs and the
# per-row cost of a greedy pick with and without the constraint. usage: scripts/constraint-bench.sh MODEL.gguf [SCHEMA]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/find-jdk.sh"
java_home="$(tokenmill_find_jdk)"
"$here/mvnw" -q -B -pl engine test-compile
cpfile="$here/engine/target/bench.classpath"
"$here/mvnw" -q -B -pl engine dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test >/dev/null
exec "$java_home/bin/java" --add-modules jdk.incubator.vector -Xmx2g \
  -cp "$here/engine/target/classes:$here/engine/target/test-classes:$(cat "$cpfile")" \
  dev.tokenmill.sample.constrain.ConstraintBench "$1" "${2:-$here/scripts/bench-schema.json}"
