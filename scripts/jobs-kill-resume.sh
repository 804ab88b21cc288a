#!/usr/bin/env bash
# The batch job's kill-and-resume check: 10,000 rows (the demo's openings cycled, ids 0..9999), the job killed with
# kill -9 once half the rows are done, rerun with --resume; DuckDB then counts rows and distinct ids of the output.
#   scripts/jobs-kill-resume.sh [ROWS] [MAX_TOKENS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rows="${1:-10000}"; max_tokens="${2:-32}"
work="$root/target/kill-resume"; rm -rf "$work"; mkdir -p "$work"
/usr/bin/python3 - "$rows" "$work/in.jsonl" <<'PY'
import json, sys
ps = [json.loads(l)["prompt"] for l in open("demo/prompts.jsonl")]
with open(sys.argv[2], "w") as f:
    for i in range(int(sys.argv[1])): f.write(json.dumps({"id": i, "prompt": ps[i % len(ps)]}) + "\n")
PY
args=(--input "$work/in.jsonl" --model demo/stories260K-f32.gguf --output "$work/out" --maxTokens "$max_tokens"
      --temperature 0 --commit-rows $((rows / 10)) --progress-seconds 5)
./tokenmill run-job "${args[@]}" > "$work/run1.log" 2>&1 &
until grep -qE "\(([5-9][0-9])%\)" "$work/run1.log" 2>/dev/null; do sleep 1; done
pid="$(pgrep -f "BatchGenerateJob --input $work/in.jsonl" | head -1)"
kill -9 "$pid"; wait || true
echo "killed the job JVM ($pid) at: $(grep -E '%\)' "$work/run1.log" | tail -1)"
./tokenmill run-job "${args[@]}" --resume | tee "$work/run2.log"
source scripts/find-jdk.sh
duckdb="$(find ~/.m2/repository/org/duckdb/duckdb_jdbc -name 'duckdb_jdbc-*.jar' | head -1)"
"$(tokenmill_find_jdk)/bin/java" --enable-native-access=ALL-UNNAMED -cp "$duckdb" scripts/jobs/CountIds.java "$work/out"
