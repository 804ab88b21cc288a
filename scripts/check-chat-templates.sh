#!/usr/bin/env bash
# Renders every chat template x conversation in shared/chat-templates with Tokenmill's ChatTemplate and compares
# with what Hugging Face transformers rendered (exact text, or the same raise_exception message).
# Prints "TEMPLATE n/N" per template and a total; exits 1 on any mismatch.
# Usage: scripts/check-chat-templates.sh [DIR] [--verbose] [--core] [--only SUBSTRING] [--show-errors]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/../shared/chat-templates"
[ -d "$dir" ] || dir=/work/shared/chat-templates
if [ $# -gt 0 ] && [ -d "$1" ]; then dir="$1"; shift; fi
out="$here/target/check-chat-templates"
mkdir -p "$out"
source "$here/scripts/find-jdk.sh"
JAVA_HOME="$(tokenmill_find_jdk)"
export JAVA_HOME
"$here/mvnw" -q -B -f "$here/pom.xml" -pl engine -DskipTests \
  -Dmdep.outputFile="$out/deps" -Dmdep.includeScope=test -DexcludeGroupIds=dev.tokenmill \
  test-compile dependency:build-classpath >"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log"; exit 3; }
cp="$here/engine/target/test-classes:$here/engine/target/classes:$(cat "$out/deps")"
exec "$JAVA_HOME/bin/java" -cp "$cp" dev.tokenmill.tokenizer.ChatTemplateCheck "$dir" "$@"
