#!/usr/bin/env bash
# Single-thread kernel throughput (GB/s of weight bytes) on a matrix larger than the caches.
# Usage: scripts/kernel-bench.sh [MB=512] [TYPES... e.g. Q8_0 Q4_0 F16 batch]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/find-jdk.sh"
java_home="$(tokenmill_find_jdk)"
"$here/mvnw" -q -B -pl engine test-compile
cpfile="$here/engine/target/bench.classpath"
"$here/mvnw" -q -B -pl engine dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test >/dev/null
exec "$java_home/bin/java" --add-modules jdk.incubator.vector -Xmx2g \
  -cp "$here/engine/target/classes:$here/engine/target/test-classes:$(cat "$cpfile")" \
  dev.tokenmill.tensor.KernelBench "$@"
