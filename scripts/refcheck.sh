#!/usr/bin/env bash
# Compares ./tokenmill against llama.cpp's reference outputs and tokenizer vectors in ../shared (not part of the
# tests: CI's tests never read ../shared). Usage: scripts/refcheck.sh [SHARED_DIR]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${1:-$here/../shared}"
[ -d "$shared/reference" ] || { echo "refcheck: no reference outputs at $shared/reference" >&2; exit 2; }
"$here/tokenmill" --version >/dev/null || exit 3   # builds once before the timed loops
status=0
echo "== tokenizer vectors (tokenize --no-special)"
python3 "$shared/tools/tokcheck.py" "$here" "$shared/tokenizer-tests" || status=1
echo "== reference cases (tokenize, score, generate)"
python3 "$shared/tools/refcheck.py" "$here" "$shared/reference" || status=1
echo "== stories260K: 200 greedy tokens"
python3 - "$here" "$shared" <<'PY' || status=1
import json, subprocess, sys
here, shared = sys.argv[1], sys.argv[2]
ref = json.load(open(f"{shared}/reference/stories260K-f32.greedy200.json"))
p = subprocess.run([f"{here}/tokenmill", "generate", "--model", f"{shared}/reference/models/stories260K-f32.gguf",
                    "--prompt", ref["prompt"], "--max-tokens", str(len(ref["greedy_ids"])), "--temperature", "0"],
                   capture_output=True, text=True)
out = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
ok = out["prompt_ids"] == ref["prompt_ids"] and out["token_ids"] == ref["greedy_ids"]
print(f"stories260K greedy200: {'identical' if ok else 'DIFFERENT'} ({len(out['token_ids'])} tokens)")
print(f"text identical: {out['text'] == ref['text']}")
sys.exit(0 if ok else 1)
PY
exit $status
