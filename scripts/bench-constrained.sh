#!/usr/bin/env bash
# JSON-schema-constrained generation against unconstrained, interleaved (the machine is noisy): ROUNDS runs of each on
# the batching issue's workload, then the median of each figure.
# usage: scripts/bench-constrained.sh MODEL.gguf [ROUNDS] [SCHEMA_FILE]
set -euo pipefail
model=${1:?model}; rounds=${2:-3}; schema=${3:-scripts/bench-schema.json}
out=$(mktemp -d)
for i in $(seq 1 "$rounds"); do
  ./tokenmill bench --model "$model" --prompts 32 --prompt-tokens 64 --gen-tokens 64 > "$out/plain-$i.json" 2>/dev/null
  ./tokenmill bench --model "$model" --prompts 32 --prompt-tokens 64 --gen-tokens 64 --json-schema "$schema" > "$out/json-$i.json" 2>/dev/null
  echo "round $i: plain $(cat "$out/plain-$i.json")"
  echo "round $i: json  $(cat "$out/json-$i.json")"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
for key in ("decode_tok_s", "overall_tok_s", "prefill_tok_s"):
    p = [json.load(open(f"{d}/plain-{i}.json"))[key] for i in range(1, n + 1)]
    j = [json.load(open(f"{d}/json-{i}.json"))[key] for i in range(1, n + 1)]
    print(f"{key}: plain median {statistics.median(p):.1f} {sorted(p)}  json-schema median {statistics.median(j):.1f} {sorted(j)}"
          f"  ratio {statistics.median(j) / statistics.median(p):.3f}")
PY
