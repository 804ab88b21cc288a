#!/usr/bin/env bash
# Memory of two engine JVMs serving the same model at once: RSS, PSS and the shared / private split of each, from
# /proc/PID/smaps_rollup, once both have run a request. Usage: scripts/rss-two-jvms.sh models/llama-1b-q4_0.gguf
# (TOKENMILL_CP overrides the class path, e.g. to measure an older build; TOKENMILL_JAVA_OPTS adds JVM options).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$1"
"$here/tokenmill" --help >/dev/null 2>&1 || true   # builds the launcher's class path when stale
source "$here/scripts/find-jdk.sh"
java="$(tokenmill_find_jdk)/bin/java"
cp="${TOKENMILL_CP:-$(cat "$here/target/launcher/classpath")}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
pids=()
for i in 1 2; do
  mkfifo "$dir/in$i"
  "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xms64m -Xmn32m \
      -XX:MaxDirectMemorySize=1t ${TOKENMILL_JAVA_OPTS:-} -Dorg.slf4j.simpleLogger.logFile=System.err \
      -cp "$cp" "$here/scripts/RssDriver.java" "$model" <"$dir/in$i" >"$dir/out$i" 2>"$dir/err$i" &
  pids+=($!)
  exec {fd}>"$dir/in$i"; eval "fd$i=$fd"
done
for i in 1 2; do
  until grep -q ready "$dir/out$i" 2>/dev/null; do
    kill -0 "${pids[$((i-1))]}" 2>/dev/null || { cat "$dir/err$i" >&2; exit 1; }
    sleep 0.5
  done
done
for i in 1 2; do
  pid="${pids[$((i-1))]}"
  awk -v jvm="$i" '/^(Rss|Pss|Shared_Clean|Shared_Dirty|Private_Clean|Private_Dirty|Anonymous):/ {printf "%s%s %.0f MB", (n++ ? ", " : "jvm " jvm ": "), $1, $2/1024} END {print ""}' \
      "/proc/$pid/smaps_rollup"
done
grep -h -e "engine on" -e "packed weights" "$dir/err1" "$dir/err2" >&2 || true
eval "exec $fd1>&- $fd2>&-"
wait
