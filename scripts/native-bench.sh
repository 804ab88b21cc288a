#!/usr/bin/env bash
# Native int8 kernels vs the Java kernels on llama-1b's matrix shapes, side by side in one run.
# Usage: scripts/native-bench.sh [MB=384] [TYPES... e.g. Q8_0 Q4_0] [b=1,32] [t=1,2]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/find-jdk.sh"
java_home="$(tokenmill_find_jdk)"
"$here/mvnw" -q -B -pl engine test-compile
cpfile="$here/engine/target/bench.classpath"
"$here/mvnw" -q -B -pl engine dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test >/dev/null
exec "$java_home/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g \
  -cp "$here/engine/target/classes:$here/engine/target/test-classes:$(cat "$cpfile")" \
  dev.tokenmill.tensor.nativ.NativeBench "$@"
