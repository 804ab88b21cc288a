#!/usr/bin/env bash
# Issue 6 acceptance, by hand (reads ../shared, so not a test): is the engine's `score` on OUR quantized files as
# close to the F32 master's as on llama.cpp's files beside it?
#
# For Q8_0, Q4_0, Q4_K_M and Q6_K: quantize small-llama-spm-f32.gguf with `tokenmill quantize`, then
#   1. `tokenmill score` of the 8 prompts of reference/prompts.json on the master, our file and llama.cpp's file:
#      mean and max |logprob - master logprob| over all scored tokens;
#   2. `tokenmill eval --base master` of our file and llama.cpp's on a few KB of English (the prompts, README.md and
#      LICENSE): KLD, top-1 agreement, RMS Δp, PPL ratio;
#   3. if llama.cpp's llama-perplexity is there: its PPL of our file and of llama.cpp's on the same text and ctx (llama.cpp
#      runs our files), and its PPL of the F32 master next to `tokenmill eval`'s.
# Exits 1 if our mean |Δlogprob| or KLD is more than 10% (plus a small absolute slack) above llama.cpp's for any type.
# Usage: scripts/quant-score-check.sh [MODELS_DIR] [OUT_DIR]
#   env: LLAMA_PERPLEXITY (default /work/llama.cpp/build/bin/llama-perplexity), CTX (default 512), THREADS (default 2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${1:-$here/../shared/reference/models}"
[ -d "$models" ] || models=/work/shared/reference/models
out="${2:-$here/target/quant-score-check}"
mkdir -p "$out"
"$here/tokenmill" --version >/dev/null || exit 3   # builds once before the loops
exec python3 - "$here" "$models" "$out" <<'PY'
import json, os, re, statistics, subprocess, sys

here, models, out = sys.argv[1:4]
tm = f"{here}/tokenmill"
lp_bin = os.environ.get("LLAMA_PERPLEXITY", "/work/llama.cpp/build/bin/llama-perplexity")
ctx = os.environ.get("CTX", "512")
threads = os.environ.get("THREADS", "2")
master = f"{models}/small-llama-spm-f32.gguf"
shared_ref = os.path.dirname(models)
prompts = [p["text"] for p in json.load(open(f"{shared_ref}/prompts.json"))]
types = ["q8_0", "q4_0", "q4_k_m", "q6_k"]

def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(args)}\n{p.stderr[-3000:]}")
    return p

def json_line(args):
    return json.loads([l for l in run(args).stdout.splitlines() if l.startswith("{")][-1])

def score(model):
    return [json_line([tm, "score", "--model", model, "--text", t, "--threads", threads]) for t in prompts]

def same_tensors(a, b):
    """'yes' when every tensor has the same type and bytes (metadata and tensor order may differ); needs gguf-py."""
    try:
        sys.path.insert(0, os.path.join(os.path.dirname(lp_bin), "..", "..", "gguf-py"))
        from gguf import GGUFReader
    except ImportError:
        return "n/a"
    ta = {t.name: t for t in GGUFReader(a).tensors}
    tb = {t.name: t for t in GGUFReader(b).tensors}
    same = ta.keys() == tb.keys() and all(ta[n].tensor_type == tb[n].tensor_type
                                          and ta[n].data.tobytes() == tb[n].data.tobytes() for n in ta)
    return "yes" if same else "no"

text_file = f"{out}/eval-text.txt"
with open(text_file, "w") as f:
    f.write("\n\n".join(prompts) + "\n\n" + open(f"{here}/README.md").read() + "\n\n" + open(f"{here}/LICENSE").read())

print(f"master {master}; eval text {text_file} ({os.path.getsize(text_file)} bytes), ctx {ctx}", flush=True)
ref = score(master)
rows, status = [], 0
for t in types:
    ours = f"{out}/ours-{t}.gguf"
    theirs = f"{models}/small-llama-spm-{t}.gguf"
    run([tm, "quantize", "-q", master, ours, t.upper(), "--threads", threads])
    row = {"type": t.upper(), "same_tensors": same_tensors(ours, theirs)}
    for who, path in (("ours", ours), ("llama", theirs)):
        diffs = []
        for r, s in zip(ref, score(path)):
            assert r["ids"] == s["ids"], f"{path}: different token ids"
            diffs += [abs(a - b) for a, b in zip(r["logprobs"], s["logprobs"])]
        row[f"{who}_mad"] = statistics.fmean(diffs)
        row[f"{who}_maxd"] = max(diffs)
        row[f"{who}_n"] = len(diffs)
        e = json_line([tm, "eval", "--model", path, "--base", master, "--text", text_file, "--ctx", ctx, "--threads", threads])
        row[f"{who}_eval"] = e
    rows.append(row)
    print(f"{t}: done", flush=True)

print()
print(f"score of the 8 prompts ({rows[0]['ours_n']} tokens): mean (max) |logprob - master|, nats")
print(f"eval --base master over {rows[0]['ours_eval']['scored']} tokens ({rows[0]['ours_eval']['chunks']} chunks of {ctx})")
hdr = f"{'type':7} {'same tensors':12} | {'score ours':>20} {'score llama.cpp':>20} | {'KLD ours':>18} {'KLD llama.cpp':>18} | {'top1 ours':>9} {'top1 l.cpp':>10} | {'RMSdp ours':>10} {'RMSdp l.cpp':>11} | {'PPLratio ours':>13} {'l.cpp':>8}"
print(hdr)
print("-" * len(hdr))
for r in rows:
    o, l = r["ours_eval"], r["llama_eval"]
    print(f"{r['type']:7} {r['same_tensors']:12} | {r['ours_mad']:9.6f} ({r['ours_maxd']:8.5f}) {r['llama_mad']:9.6f} ({r['llama_maxd']:8.5f}) | "
          f"{o['kld']:.6f}±{o['kld_err']:.6f} {l['kld']:.6f}±{l['kld_err']:.6f} | "
          f"{100*o['same_top_p']:8.3f}% {100*l['same_top_p']:9.3f}% | {100*o['delta_p_rms']:9.3f}% {100*l['delta_p_rms']:10.3f}% | "
          f"{o['ppl_ratio']:13.5f} {l['ppl_ratio']:8.5f}")
    if r["ours_mad"] > 1.10 * r["llama_mad"] + 1e-4 or o["kld"] > 1.10 * l["kld"] + 1e-5:
        print(f"  {r['type']}: ours is further from the master than llama.cpp's")
        status = 1

if os.access(lp_bin, os.X_OK):
    def llama_ppl(model, tries=2):
        for attempt in range(tries):
            p = subprocess.run([lp_bin, "-m", model, "-f", text_file, "-c", ctx, "-t", threads], capture_output=True, text=True)
            m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", p.stdout + p.stderr)
            if p.returncode == 0 and m:
                return float(m.group(1)), float(m.group(2))
            print(f"  llama-perplexity on {model} failed (exit {p.returncode}, try {attempt + 1}/{tries}):\n"
                  + "\n".join((p.stdout + p.stderr).splitlines()[-5:]), flush=True)
        return None
    def our_ppl(model):
        e = json_line([tm, "eval", "--model", model, "--text", text_file, "--ctx", ctx, "--threads", threads])
        return e["ppl"], e["ppl_err"]
    print()
    print(f"llama-perplexity ({lp_bin}) vs tokenmill eval, same text, -c {ctx}:")
    print(f"{'file':34} {'llama-perplexity PPL':>26} {'tokenmill eval PPL':>26} {'ln ratio':>10}")
    files = [("master F32", master)] + [(f"ours {t.upper()}", f"{out}/ours-{t}.gguf") for t in types] \
        + [(f"llama.cpp {t.upper()}", f"{models}/small-llama-spm-{t}.gguf") for t in types]
    import math
    for name, path in files:
        lp, ours = llama_ppl(path), our_ppl(path)
        if lp is None:
            print(f"{name:34} llama-perplexity FAILED to run it")
            status = 1
            continue
        print(f"{name:34} {lp[0]:14.4f} ± {lp[1]:9.4f} {ours[0]:14.4f} ± {ours[1]:9.4f} {math.log(ours[0] / lp[0]):10.2e}")
else:
    print(f"\n(no llama-perplexity at {lp_bin}: skipped the llama.cpp runs)")
sys.exit(status)
PY
