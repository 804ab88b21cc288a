#!/usr/bin/env bash
# Decode/prefill speed of the CPU backend on a random llama-shaped model.
# usage: scripts/bench-decode.sh [nEmbd layers ffn vocab type tokens threads...]   (default: 1024 4 4096 16000 F16 32 1 2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/tokenmill" --version >/dev/null   # builds the classpath if needed
source "$here/scripts/find-jdk.sh"
JAVA_HOME="$(tokenmill_find_jdk)"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(1024 4 4096 16000 F16 32 1 2)
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g \
  -cp "$(cat "$here/target/launcher/classpath")" "$here/scripts/BenchDecode.java" "${args[@]}" 2> >(grep -v 'incubator' >&2)
