#!/usr/bin/env bash
# Side-by-side throughput of ./tokenmill bench and llama.cpp's benchmarks on the same GGUF files, same machine, same
# run (the machine is noisy: only ratios measured together mean anything). llama.cpp is not built here: point
# LLAMA_BIN at the bin/ folder of a CPU Release build (llama-bench, llama-batched-bench).
# Usage: LLAMA_BIN=/path/to/llama.cpp/build/bin scripts/bench-vs-llamacpp.sh MODEL.gguf... (threads: $THREADS, default 2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LLAMA_BIN:?set LLAMA_BIN to llama.cpp build/bin}"
t="${THREADS:-2}"
"$here/tokenmill" --version >/dev/null
json() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(" ".join(str(round(d[k],2)) for k in sys.argv[1:]))' "$@"; }
printf '%-28s %-34s %10s %10s %7s\n' model measure llama.cpp tokenmill ratio
for m in "$@"; do
  name="$(basename "$m" .gguf)"
  # single sequence: llama-bench pp128 / tg32 against bench --single (prefill 128, decode 32)
  read -r lpp ltg < <("$bin/llama-bench" -m "$m" -t "$t" -p 128 -n 32 -r 3 -o json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(*[x["avg_ts"] for x in r])')
  read -r tpp ttg < <("$here/tokenmill" bench --model "$m" --single --prompt-tokens 128 --gen-tokens 32 --threads "$t" 2>/dev/null |
    json prefill_tok_s decode_tok_s)
  printf '%-28s %-34s %10.1f %10.1f %7.2f\n' "$name" "single prefill 128 (tok/s)" "$lpp" "$tpp" "$(python3 -c "print($tpp/$lpp)")"
  printf '%-28s %-34s %10.1f %10.1f %7.2f\n' "$name" "single decode 32 (tok/s)" "$ltg" "$ttg" "$(python3 -c "print($ttg/$ltg)")"
  # batch: 32 sequences x (64 prompt + 64 generated), overall tokens / wall time
  lov="$("$bin/llama-batched-bench" -m "$m" -t "$t" -c 8192 -b 2048 -ub 512 -npp 64 -ntg 64 -npl 32 2>/dev/null |
    awk -F'|' '/^\|/ && $4+0 == 32 {gsub(/ /, "", $11); print $11}')"
  tov="$("$here/tokenmill" bench --model "$m" --prompts 32 --prompt-tokens 64 --gen-tokens 64 --threads "$t" 2>/dev/null |
    json overall_tok_s)"
  printf '%-28s %-34s %10.1f %10.1f %7.2f\n' "$name" "32 x (64+64) overall (tok/s)" "$lov" "$tov" "$(python3 -c "print($tov/$lov)")"
done
