#!/usr/bin/env bash
# Side-by-side throughput of ./tokenmill bench against llama.cpp (and optionally ik_llama.cpp) on the same GGUF files,
# same machine, same run, interleaved (the machine is noisy: only ratios measured together mean anything).
# The comparators are not built here: point at the bin/ folders of CPU Release builds made outside this repository.
#
# usage: LLAMA_BIN=/path/llama.cpp/build/bin [IK_BIN=/path/ik_llama.cpp/build/bin] [ISA=avx2] [THREADS=2] [ROUNDS=1] \
#          scripts/bench-vs-llamacpp.sh MODEL.gguf... [--big MODEL.gguf...]
#
# Per model (tok/s; with ROUNDS=N each figure is the median of N interleaved rounds):
#   single prefill 128 / decode 32: llama-bench -p 128 -n 32 -r 3 -fa 1 | tokenmill bench --single
#   32 x (64+64) overall:           llama-batched-bench -npp 64 -ntg 64 -npl 32 | tokenmill bench --prompts 32
# Models after --big get one case instead (the larger models): 16 x (128+64) overall and the peak RSS of each engine
# (/usr/bin/time -f %M, the whole process).
#
# IK_BIN adds an ik_llama.cpp column, with its run-time repacking on (llama-bench -rtr 1, batched-bench -rtr); its
# batched-bench prints its table on stderr. ik's defaults differ (flash attention on), so both llama-benches get -fa 1;
# both batched-benches run with flash attention as their defaults choose it (on for the CPU), F16 KV, -c of exactly
# the workload.
#
# On a busy machine (more runnable threads than cores) export OMP_WAIT_POLICY=passive: the comparators' OpenMP threads
# otherwise spin at every barrier while their partner thread is descheduled (measured here with a run queue of ~10 on
# 2 cores: llama-bench tg16 2.6 tok/s active against 23.4 passive). The script passes the environment through.
#
# ISA=avx2 caps tokenmill at its AVX2 path (TOKENMILL_JAVA_OPTS="-XX:UseAVX=2 -Dtokenmill.isa=avx2": the native
# kernels and the JIT's Vector API width); point LLAMA_BIN / IK_BIN at AVX2-only builds (-DGGML_NATIVE=OFF, AVX2/FMA/
# F16C on, AVX512*, AVX_VNNI and AMX off). The script refuses comparator binaries holding AVX-512 (zmm) code.
# Caveat: this is AVX2 code on an AVX-512 core (Zen 4), not an AVX2-only server: Zen 2/3 EPYCs differ in clocks,
# caches, memory bandwidth and per-instruction costs; it compares the engines' AVX2 code paths, nothing more.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
llama="${LLAMA_BIN:?set LLAMA_BIN to llama.cpp build/bin}"
ik="${IK_BIN:-}"
t="${THREADS:-2}"
rounds="${ROUNDS:-1}"
isa="${ISA:-native}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
log() { echo "$*" >&2; }

case "$isa" in
  native) ;;
  avx2)
    export TOKENMILL_JAVA_OPTS="${TOKENMILL_JAVA_OPTS:-} -XX:UseAVX=2 -Dtokenmill.isa=avx2"
    for b in "$llama" ${ik:+"$ik"}; do
      if objdump -d --no-show-raw-insn "$b/llama-bench" | grep -q -m1 '%zmm'; then
        echo "ISA=avx2: $b/llama-bench holds AVX-512 code; point at an AVX2-only build" >&2; exit 2
      fi
    done
    log "ISA=avx2: AVX2 code paths on this AVX-512 CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)):" \
        "an emulation of an AVX2 server's code, not of its clocks, caches or memory"
    ;;
  *) echo "ISA must be native or avx2" >&2; exit 2 ;;
esac
"$here/tokenmill" --version >/dev/null

# --- one measurement each; every function prints its figures on one line ---
llama_bench() { # BIN EXTRA_ARGS MODEL -> "pp128 tg32"
  "$1/llama-bench" -m "$3" -t "$t" -p 128 -n 32 -r 3 -fa 1 $2 -o json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(*[x["avg_ts"] for x in r])'
}
batched_bench() { # BIN EXTRA_ARGS MODEL NPP NTG NPL -> "overall_tok_s peak_rss_mb" (table on stdout or stderr)
  local c=$(( $6 * ($4 + $5) ))
  /usr/bin/time -f %M -o "$tmp/rss" "$1/llama-batched-bench" -m "$3" -t "$t" -c "$c" -b 2048 -ub 512 \
    -npp "$4" -ntg "$5" -npl "$6" $2 > "$tmp/bb" 2>&1
  awk -F'|' -v npl="$6" -v rss="$(cat "$tmp/rss")" \
    '/^\|/ && $4+0 == npl {gsub(/ /, "", $11); s=$11} END {printf "%s %.0f\n", s, rss/1024}' "$tmp/bb"
}
tm_bench() { # MODEL BENCH_ARGS... -> the JSON's figures, then peak RSS (MB) from /usr/bin/time
  local m="$1"; shift
  /usr/bin/time -f %M -o "$tmp/rss" "$here/tokenmill" bench --model "$m" --threads "$t" "$@" 2>/dev/null |
    tail -n 1 > "$tmp/tm.json"
  python3 - "$tmp/tm.json" "$(cat "$tmp/rss")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(d["prefill_tok_s"], d["decode_tok_s"], d["overall_tok_s"], round(int(sys.argv[2]) / 1024), d.get("kernel_path", "?"))
PY
}

# --- results: "model|measure|engine" -> values of every round; the table prints medians ---
declare -A val
add() { val["$1|$2|$3"]="${val["$1|$2|$3"]:-} $4"; log "  $1 $2 $3: $4"; }

run_table_model() { # MODEL NAME
  local m="$1" n="$2" pp tg ov rss tpp ttg tov trss kp
  read -r pp tg < <(llama_bench "$llama" "" "$m"); add "$n" pp llama "$pp"; add "$n" tg llama "$tg"
  if [ -n "$ik" ]; then read -r pp tg < <(llama_bench "$ik" "-rtr 1" "$m"); add "$n" pp ik "$pp"; add "$n" tg ik "$tg"; fi
  read -r tpp ttg tov trss kp < <(tm_bench "$m" --single --prompt-tokens 128 --gen-tokens 32)
  add "$n" pp tm "$tpp"; add "$n" tg tm "$ttg"; kpath="$kp"
  read -r ov rss < <(batched_bench "$llama" "" "$m" 64 64 32); add "$n" b32 llama "$ov"
  if [ -n "$ik" ]; then read -r ov rss < <(batched_bench "$ik" "-rtr" "$m" 64 64 32); add "$n" b32 ik "$ov"; fi
  read -r tpp ttg tov trss kp < <(tm_bench "$m" --prompts 32 --prompt-tokens 64 --gen-tokens 64); add "$n" b32 tm "$tov"
}
run_big_model() { # MODEL NAME
  local m="$1" n="$2" ov rss tpp ttg tov trss kp
  read -r ov rss < <(batched_bench "$llama" "" "$m" 128 64 16); add "$n" b16 llama "$ov"; add "$n" rss16 llama "$rss"
  if [ -n "$ik" ]; then
    read -r ov rss < <(batched_bench "$ik" "-rtr" "$m" 128 64 16); add "$n" b16 ik "$ov"; add "$n" rss16 ik "$rss"
  fi
  read -r tpp ttg tov trss kp < <(tm_bench "$m" --prompts 16 --prompt-tokens 128 --gen-tokens 64)
  add "$n" b16 tm "$tov"; add "$n" rss16 tm "$trss"; kpath="$kp"
}

big=0; models=(); kinds=(); kpath="?"
for a in "$@"; do
  if [ "$a" = --big ]; then big=1; else models+=("$a"); kinds+=("$big"); fi
done
for r in $(seq 1 "$rounds"); do
  for i in "${!models[@]}"; do
    m="${models[$i]}"; n="$(basename "$m" .gguf)"
    log "round $r: $n"
    if [ "${kinds[$i]}" = 1 ]; then run_big_model "$m" "$n"; else run_table_model "$m" "$n"; fi
  done
done

# --- the table: medians, tokenmill / llama.cpp and tokenmill / ik_llama.cpp ---
med() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v) if v else "nan")' $1; }
ratio() { python3 -c 'import sys,math; a,b=float(sys.argv[1]),float(sys.argv[2]); print("-" if math.isnan(a) or math.isnan(b) or b==0 else f"{a/b:.2f}")' "$1" "$2"; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) ISA=$isa threads=$t rounds=$rounds OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default} load=$(cut -d" " -f1-3 /proc/loadavg) tokenmill kernel_path=$kpath"
printf '%-22s %-28s %10s %12s %10s %8s %8s\n' model measure llama.cpp ik_llama.cpp tokenmill tm/llama tm/ik
declare -A label=([pp]="single prefill 128 (tok/s)" [tg]="single decode 32 (tok/s)" [b32]="32 x (64+64) overall (tok/s)"
                  [b16]="16 x (128+64) overall (tok/s)" [rss16]="16 x (128+64) peak RSS (MB)")
for i in "${!models[@]}"; do
  n="$(basename "${models[$i]}" .gguf)"
  if [ "${kinds[$i]}" = 1 ]; then measures="b16 rss16"; else measures="pp tg b32"; fi
  for k in $measures; do
    l="$(med "${val["$n|$k|llama"]:-}")"; ikv="$(med "${val["$n|$k|ik"]:-}")"; tm="$(med "${val["$n|$k|tm"]:-}")"
    printf '%-22s %-28s %10.1f %12s %10.1f %8s %8s\n' "$n" "${label[$k]}" "$l" \
      "$([ "$ikv" = nan ] && echo - || printf '%.1f' "$ikv")" "$tm" "$(ratio "$tm" "$l")" "$(ratio "$tm" "$ikv")"
  done
done
