#!/usr/bin/env bash
# Quantizes llama.cpp's F32 master small-llama-spm-f32.gguf with `tokenmill quantize` to Q8_0, Q4_0, Q4_K_M, Q6_K
# (and Q5_K_M) and compares each tensor with llama-quantize's file beside it: reconstruction RMSE against the
# master (ours / llama.cpp's must stay within 2%), the chosen types (must be equal) and identical bytes.
# Usage: scripts/compare-quant.sh [MODELS_DIR] [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${1:-$here/../shared/reference/models}"
[ -d "$models" ] || models=/work/shared/reference/models
out="${2:-$here/target/compare-quant}"
mkdir -p "$out"
source "$here/scripts/find-jdk.sh"
JAVA_HOME="$(tokenmill_find_jdk)"
export JAVA_HOME
"$here/mvnw" -q -B -f "$here/pom.xml" -pl quant-tools -am -DskipTests \
  -Dmdep.outputFile="$out/deps" -Dmdep.includeScope=test -DexcludeGroupIds=dev.tokenmill \
  test-compile dependency:build-classpath >"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log"; exit 3; }
cp="$here/quant-tools/target/test-classes:$here/quant-tools/target/classes:$here/engine/target/classes:$(cat "$out/deps")"
status=0
for t in q8_0 q4_0 q4_k_m q6_k q5_k_m; do
  "$here/tokenmill" quantize -q "$models/small-llama-spm-f32.gguf" "$out/ours-$t.gguf" "$t" >/dev/null 2>"$out/quantize-$t.log" \
    || { cat "$out/quantize-$t.log"; exit 3; }
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" dev.tokenmill.quant.CompareQuant \
    "$models/small-llama-spm-f32.gguf" "$out/ours-$t.gguf" "$models/small-llama-spm-$t.gguf" || status=1
done
exit $status
