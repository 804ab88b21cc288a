#!/usr/bin/env bash
# Runs on the GPU machine (see gpu-check.sh): tests, benchmark, Hugging Face baseline; logs and JSON under $OUT,
# a table last. Each part is time-boxed so that the whole stays under 5 minutes.
set -uo pipefail
G="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
stamp() { echo "== $(( $(date +%s) - t0 ))s: $*"; }

stamp card
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/card.csv"
tar -C /tmp -xJf "$G/jre.tar.xz"
JAVA=/tmp/jre/bin/java
JOPTS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx48g)
CP="$G/lib/*"

stamp "GPU tests"
timeout "${TEST_TIMEOUT:-90}" "$JAVA" "${JOPTS[@]}" -cp "$G/junit-console.jar:$CP" org.junit.platform.console.ConsoleLauncher \
  execute --disable-banner --details=tree --select-class dev.tokenmill.backend.cuda.CudaKernelsGpuTest --select-class dev.tokenmill.backend.cuda.CudaBackendGpuTest --select-class dev.tokenmill.backend.cuda.CudaBackendContractTest --include-tag gpu \
  > "$OUT/tests.log" 2>&1
test_rc=$?
grep -E "tests (successful|failed|aborted|skipped|found)|MethodSource|=> |Exception|expected|but was" "$OUT/tests.log" | head -60
echo "tests exit code $test_rc"

stamp "synth llama-1b bf16"
model=/tmp/llama-1b-bf16.gguf
timeout 60 "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.tokenmill.cli.Main synth --preset llama-1b --type BF16 --out "$model" --threads 16 \
  > /tmp/synth.log 2>&1 || { echo "synth failed"; tail -5 /tmp/synth.log; }

stamp "bench batch 1024 x (128 + 128)"
timeout "${BATCH_TIMEOUT:-100}" "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.tokenmill.cli.Main bench --model "$model" --device cuda \
  --prompts 1024 --prompt-tokens 128 --gen-tokens 128 --max-seqs 1024 --max-batch-tokens "${MAX_BATCH_TOKENS:-16384}" \
  --warmup 64 --repeat "${BATCH_REPEAT:-3}" > "$OUT/bench-batch.json" 2> "$OUT/bench-batch.log"
echo "bench batch exit code $?"; grep -vE "^\s+at " "$OUT/bench-batch.log" | tail -12

stamp "bench single-sequence decode"
timeout 45 "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.tokenmill.cli.Main bench --model "$model" --device cuda --single \
  --prompt-tokens 128 --gen-tokens 256 --warmup 1 --repeat 5 > "$OUT/bench-single.json" 2> "$OUT/bench-single.log"
echo "bench single exit code $?"; grep -vE "^\s+at " "$OUT/bench-single.log" | tail -12

if [ "${PROFILE:-1}" = 1 ]; then
  stamp "profiled runs (CUDA events between phases)"
  timeout 30 "$JAVA" "${JOPTS[@]}" -Dtokenmill.cuda.profile=true -cp "$CP" dev.tokenmill.cli.Main bench --model "$model" \
    --device cuda --single --prompt-tokens 128 --gen-tokens 128 --warmup 0 > "$OUT/profile.log" 2>&1
  timeout 45 "$JAVA" "${JOPTS[@]}" -Dtokenmill.cuda.profile=true -cp "$CP" dev.tokenmill.cli.Main bench --model "$model" \
    --device cuda --prompts 1024 --prompt-tokens 128 --gen-tokens 128 --max-seqs 1024 \
    --max-batch-tokens "${MAX_BATCH_TOKENS:-16384}" --warmup 0 >> "$OUT/profile.log" 2>&1
  timeout 30 "$JAVA" "${JOPTS[@]}" -Dtokenmill.cuda.graphs=false -cp "$CP" dev.tokenmill.cli.Main bench --model "$model" \
    --device cuda --single --prompt-tokens 128 --gen-tokens 256 --warmup 1 --repeat 3 >> "$OUT/profile.log" 2>&1
  grep -E "CUDA backend|overall|^run " "$OUT/profile.log"
fi

if [ "${NCU:-0}" = 1 ]; then
  stamp "ncu: one attention launch of a 1024-sequence decode step"
  ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  timeout 120 "$ncu" --clock-control none --target-processes all -k regex:attention_hd --launch-skip 640 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
    "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.tokenmill.cli.Main bench --model "$model" --device cuda --prompts 1024 \
    --prompt-tokens 128 --gen-tokens 128 --max-seqs 1024 --max-batch-tokens "${MAX_BATCH_TOKENS:-16384}" --warmup 0 \
    > "$OUT/ncu.txt" 2>&1
  echo "ncu exit code $?"
  grep -E "Duration|Throughput|Achieved Occupancy|Theoretical Occupancy|Block Limit|Registers|Shared Memory Configuration|Stall|Warp Cycles|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth" "$OUT/ncu.txt" | head -40
fi

if [ "${SKIP_HF:-0}" != 1 ]; then
  stamp "HF transformers baseline"
  timeout "${HF_TIMEOUT:-80}" python3 "$G/hf_baseline.py" 256 128 128 2 > "$OUT/hf.log" 2>&1
  echo "hf exit code $?"; tail -3 "$OUT/hf.log"
fi

stamp "table"
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
            return json.loads(lines[-1]) if lines else {}
    except Exception as e:
        return {"error": str(e)}
card = open(os.path.join(out, "card.csv")).read().splitlines()[-1] if os.path.exists(os.path.join(out, "card.csv")) else "?"
b, s, h = load("bench-batch.json"), load("bench-single.json"), load("hf.log")
tests = [l for l in open(os.path.join(out, "tests.log")).read().splitlines() if "tests " in l] if os.path.exists(os.path.join(out, "tests.log")) else []
print("card:", card)
for l in tests: print("junit:", l.strip())
def spread(v): return f"{min(v):,.0f}-{max(v):,.0f}" if v else "?"
print(f"{'figure':58s} {'median':>10s} {'runs (min-max)':>20s}")
print(f"{'tokenmill batch 1024x(128+128) output tok/s':58s} {b.get('output_tok_s_median', 0):>10,.0f} {spread(b.get('output_tok_s_runs', [])):>20s}")
print(f"{'tokenmill batch overall tok/s (prompt+generated)':58s} {b.get('overall_tok_s', 0):>10,.0f} {spread(b.get('overall_tok_s_runs', [])):>20s}")
print(f"{'tokenmill single-sequence decode tok/s':58s} {s.get('decode_tok_s_median', 0):>10,.0f} {spread(s.get('decode_tok_s_runs', [])):>20s}")
print(f"{'HF generate batch 256x(128+128) output tok/s':58s} {h.get('hf_output_tok_s_median', 0):>10,.0f} {spread(h.get('hf_output_tok_s_runs', [])):>20s}")
if h.get('hf_output_tok_s_median') and b.get('output_tok_s_median'):
    print(f"{'ratio tokenmill / HF':58s} {b['output_tok_s_median'] / h['hf_output_tok_s_median']:>10.1f}x")
PY
stamp done
exit $test_rc
