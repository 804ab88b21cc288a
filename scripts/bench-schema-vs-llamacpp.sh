#!/usr/bin/env bash
# The cost of JSON-schema-constrained generation in llama.cpp and in tokenmill, each against its own unconstrained run,
# interleaved (the machine is noisy), ROUNDS rounds, medians.
#   llama.cpp: llama-completion (llama-cli in older trees) -n GEN, one sequence, with and without --json-schema-file;
#     figures from its perf printout: eval tok/s (decode only), sampling ms per token (where the grammar's cost
#     lands) and generated tok/s end to end = generated / (eval + sampling time).
#   tokenmill: bench --json-schema against plain on the 32 x (64+64) workload (as scripts/bench-constrained.sh), and
#     bench --single (one sequence, GEN tokens) with and without it.
# A random-weight model stops under the schema when its JSON closes: the token counts are printed with the rates.
# usage: LLAMA_BIN=/path/llama.cpp/build/bin scripts/bench-schema-vs-llamacpp.sh MODEL.gguf [ROUNDS] [SCHEMA] [GEN]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LLAMA_BIN:?set LLAMA_BIN to llama.cpp build/bin}"
model=${1:?model}; rounds=${2:-3}; schema=${3:-$here/scripts/bench-schema.json}; gen=${4:-64}
t="${THREADS:-2}"
cli="$bin/llama-completion"; [ -x "$cli" ] || cli="$bin/llama-cli"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
prompt="Write the record of one user as JSON:"

llama_run() { # OUTFILE [EXTRA...] -> the perf printout in OUTFILE
  local f="$1"; shift
  "$cli" -m "$model" -t "$t" -p "$prompt" -n "$gen" -no-cnv --temp 0 -s 1 --no-display-prompt "$@" \
    < /dev/null > "$f.out" 2> "$f"
}
for i in $(seq 1 "$rounds"); do
  llama_run "$out/lplain-$i"
  llama_run "$out/ljson-$i" --json-schema-file "$schema"
  "$here/tokenmill" bench --model "$model" --threads "$t" --prompts 32 --prompt-tokens 64 --gen-tokens 64 2>/dev/null | tail -n 1 > "$out/tplain-$i"
  "$here/tokenmill" bench --model "$model" --threads "$t" --prompts 32 --prompt-tokens 64 --gen-tokens 64 \
    --json-schema "$schema" 2>/dev/null | tail -n 1 > "$out/tjson-$i"
  "$here/tokenmill" bench --model "$model" --threads "$t" --single --prompt-tokens 16 --gen-tokens "$gen" 2>/dev/null | tail -n 1 > "$out/splain-$i"
  "$here/tokenmill" bench --model "$model" --threads "$t" --single --prompt-tokens 16 --gen-tokens "$gen" \
    --json-schema "$schema" 2>/dev/null | tail -n 1 > "$out/sjson-$i"
  echo "round $i done" >&2
done
python3 - "$out" "$rounds" <<'PY'
import json, re, statistics as st, sys
d, n = sys.argv[1], int(sys.argv[2])
def perf(f):
    s = open(f).read()
    ev = re.search(r"(?:llama_perf_context_print|common_perf_print):\s+eval time =\s+([\d.]+) ms /\s+(\d+) runs", s)
    sm = re.search(r"(?:llama_perf_sampler_print|common_perf_print):\s+sampling time =\s+([\d.]+) ms(?: /\s+(\d+) runs)?", s)
    ev_ms, n_ev = float(ev.group(1)), int(ev.group(2))
    # newer trees print the sampling total without a count: one sampling per generated token
    sm_ms, n_sm = (float(sm.group(1)), int(sm.group(2) or n_ev + 1)) if sm else (float("nan"), 0)
    return {"eval_tok_s": 1e3 * n_ev / ev_ms, "sampling_ms_per_tok": sm_ms / max(n_sm, 1),
            "gen_tok_s": 1e3 * n_ev / (ev_ms + sm_ms), "tokens": n_ev}
print(f"llama.cpp llama-completion, one sequence (median of {n}):")
print(f"  {'':10} {'eval tok/s':>11} {'sampling ms/tok':>16} {'gen tok/s':>10} {'tokens':>7}")
res = {}
for k in ("lplain", "ljson"):
    rs = [perf(f"{d}/{k}-{i}") for i in range(1, n + 1)]
    res[k] = {m: st.median(r[m] for r in rs) for m in rs[0]}
    r = res[k]
    print(f"  {('plain' if k == 'lplain' else 'json'):10} {r['eval_tok_s']:11.1f} {r['sampling_ms_per_tok']:16.2f} "
          f"{r['gen_tok_s']:10.1f} {r['tokens']:7.0f}   runs: {[round(x['gen_tok_s'], 1) for x in rs]}")
print(f"  json / plain gen tok/s: {res['ljson']['gen_tok_s'] / res['lplain']['gen_tok_s']:.3f}"
      f"  (eval only: {res['ljson']['eval_tok_s'] / res['lplain']['eval_tok_s']:.3f})")
for pre, what in (("t", "tokenmill bench, 32 x (64+64)"), ("s", "tokenmill bench --single, 16 + GEN")):
    print(f"{what} (median of {n}):")
    med = {}
    for k in ("plain", "json"):
        js = [json.load(open(f"{d}/{pre}{k}-{i}")) for i in range(1, n + 1)]
        med[k] = {m: st.median(j[m] for j in js) for m in ("decode_tok_s", "overall_tok_s", "output_tok_s", "generated_tokens")}
        print(f"  {k:6} decode {med[k]['decode_tok_s']:7.1f}  overall {med[k]['overall_tok_s']:7.1f}  output "
              f"{med[k]['output_tok_s']:7.1f} tok/s  generated {med[k]['generated_tokens']:.0f}"
              f"   decode runs: {sorted(j['decode_tok_s'] for j in js)}")
    print(f"  json / plain decode tok/s: {med['json']['decode_tok_s'] / med['plain']['decode_tok_s']:.3f}")
PY
