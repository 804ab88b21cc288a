#!/usr/bin/env bash
# The GPU check of the CUDA backend, in two halves.
#
#   scripts/gpu-check.sh [OUT_DIR]     here (no GPU needed): builds the engine, packs into OUT_DIR (default .gpu) a
#                                      Java 25 runtime (../shared/device/pack-jre.sh), the engine jar with its PTX, its
#                                      runtime jars (JCuda with only its driver library from the natives jar), the test
#                                      classes, the JUnit console launcher, gpu-run.sh and hf_baseline.py (~35 MB).
#   bash OUT_DIR/gpu-run.sh            on the GPU machine, in one device call (under 5 minutes): the GPU-tagged tests,
#                                      the llama-1b bf16 benchmark (1024 x (128 + 128), and single-sequence decode,
#                                      repeated), the Hugging Face baseline in the same call, and a table last.
#
# OUT_DIR must be ignored by git (.git/info/exclude) and named in the device call's carry.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$here/.gpu}" && cd "${1:-$here/.gpu}" && pwd)"
source "$here/scripts/find-jdk.sh"
JAVA_HOME="$(tokenmill_find_jdk)"
export JAVA_HOME
m2="${MAVEN_REPO:-$HOME/.m2/repository}"

(cd "$here" && ./mvnw -q -B -pl engine -DskipTests package)
rm -rf "$out/lib" && mkdir -p "$out/lib"
(cd "$here" && ./mvnw -q -B -pl engine dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$out/lib" \
  -DexcludeArtifactIds=jcuda-natives,slf4j-simple \
  -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian)
# the CLI's log binding (runtime scope, optional): copy-dependencies skips it with the test scope filters above
cp "$m2/org/slf4j/slf4j-simple/2.0.17/slf4j-simple-2.0.17.jar" "$out/lib/"
cp "$here"/engine/target/tokenmill-engine-*.jar "$out/lib/"
rm -f "$out"/lib/*-sources.jar
"$JAVA_HOME/bin/jar" cf "$out/lib/tokenmill-engine-tests.jar" -C "$here/engine/target/test-classes" .
# JCuda's driver library alone (1 MB of the 26 MB natives jar), at the path JCuda's loader looks for
natives="$m2/org/jcuda/jcuda-natives/12.0.0/jcuda-natives-12.0.0-linux-x86_64.jar"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && "$JAVA_HOME/bin/jar" xf "$natives" lib/libJCudaDriver-12.0.0-linux-x86_64.so \
  && "$JAVA_HOME/bin/jar" cf "$out/lib/jcuda-natives-driver-12.0.0-linux-x86_64.jar" lib)
cp "$m2/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar" \
  "$out/junit-console.jar" 2>/dev/null || {
  (cd "$here" && ./mvnw -q -B dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1)
  cp "$m2/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar" "$out/junit-console.jar"
}
[ -f "$out/jre.tar.xz" ] || JAVA25_HOME="$JAVA_HOME" bash "$here/../shared/device/pack-jre.sh" "$out"
cp "$here/scripts/gpu-run.sh" "$here/scripts/hf_baseline.py" "$out/"
echo "gpu-check: packed $(du -sh "$out" | cut -f1) into $out; on the GPU machine: bash $(basename "$out")/gpu-run.sh"
