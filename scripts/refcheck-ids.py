#!/usr/bin/env python3
"""Checks score/generate against the llama.cpp reference cases, feeding the cases' prompt_ids (--ids) instead of
text, so it runs without a tokenizer. Same tolerances as /work/shared/tools/refcheck.py (greedy text not checked).

usage: scripts/refcheck-ids.py [REF_DIR] [--only SUBSTR] [--limit N] [--greedy200]
Prints one line per case with the measured maxima and a summary; exit 0 iff all pass.
"""
import argparse, glob, json, os, struct, subprocess, sys, tempfile, math

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(HERE, 'tokenmill')

def run(args):
    p = subprocess.run([CLI] + args, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return json.loads([l for l in p.stdout.splitlines() if l.startswith('{')][-1])

def kind(stem):
    if stem.endswith('f32'): return 'f32'
    if stem.endswith('f16'): return 'f16'
    return 'quant'

def corr(a, b):
    n = len(a); ma = sum(a)/n; mb = sum(b)/n
    sa = math.sqrt(sum((x-ma)**2 for x in a)); sb = math.sqrt(sum((y-mb)**2 for y in b))
    return sum((x-ma)*(y-mb) for x, y in zip(a, b)) / (sa*sb)

def check(model, case, logits_path):
    k = kind(os.path.basename(model)[:-5])
    tol = {'f32': (1e-3, 1e-3), 'f16': (1e-2, 2e-2)}.get(k)
    ids = ','.join(map(str, case['prompt_ids']))
    probs, info = [], {}
    sc = run(['score', '--model', model, '--ids', ids])
    d = [abs(a-b) for a, b in zip(sc['logprobs'], case['prompt_logprobs'])]
    info['score_max'] = max(d) if d else 0.0
    if len(sc['logprobs']) != len(case['prompt_logprobs']): probs.append('logprobs length')
    elif d and tol and max(d) > tol[0]: probs.append(f"score max abs {max(d):.2e}")
    elif d and not tol and sum(d)/len(d) > 0.2: probs.append(f"score mean abs {sum(d)/len(d):.3f}")
    with tempfile.NamedTemporaryFile(suffix='.f32', delete=False) as f: out = f.name
    try:
        want = case['greedy_ids']
        g = run(['generate', '--model', model, '--ids', ids, '--max-tokens', str(len(want)), '--temperature', '0', '--logits-out', out])
        got = g['token_ids']
        eos = case.get('eos_id')
        if eos is not None and eos in want:
            want = want[:want.index(eos)+1]; got = got[:len(want)]
            if len(got) == len(want) - 1: want = want[:-1]
        same = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        info['greedy_prefix'] = same
        if tol and got != want: probs.append(f"greedy differs at {same}")
        elif not tol and case.get('top2_margin', 0) > 0.75 and got[:1] != want[:1]: probs.append('first greedy token')
        mine = struct.unpack(f"<{os.path.getsize(out)//4}f", open(out, 'rb').read())
        theirs = struct.unpack(f"<{os.path.getsize(logits_path)//4}f", open(logits_path, 'rb').read())
        m = max(abs(a-b) for a, b in zip(mine, theirs))
        info['logits_max'] = m
        if len(mine) != len(theirs): probs.append('logits length')
        elif tol and m > tol[1]: probs.append(f"logits max abs {m:.2e}")
        elif not tol:
            c = corr(mine, theirs); info['corr'] = c
            if m > 0.75 or c < 0.999: probs.append(f"logits max abs {m:.3f} corr {c:.5f}")
    finally:
        os.unlink(out)
    return probs, info

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ref', nargs='?', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'reference'))
    ap.add_argument('--only', default=''); ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--greedy200', action='store_true')
    a = ap.parse_args()
    passed = failed = 0
    cases = [c for c in sorted(glob.glob(os.path.join(a.ref, 'cases', '*', '*.json'))) if a.only in c]
    if a.limit: cases = cases[:a.limit]
    for cpath in cases:
        stem = os.path.basename(os.path.dirname(cpath))
        case = json.load(open(cpath))
        try:
            probs, info = check(os.path.join(a.ref, 'models', stem + '.gguf'), case, cpath[:-5] + '.logits0.f32')
        except Exception as e:
            probs, info = [f"error: {e}"], {}
        ok = not probs
        passed += ok; failed += not ok
        nums = ' '.join(f"{k}={v:.2e}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
        print(f"{'PASS' if ok else 'FAIL'} {stem}/{os.path.basename(cpath)} {nums} {'; '.join(probs)}", flush=True)
    if a.greedy200:
        ref = json.load(open(os.path.join(a.ref, 'stories260K-f32.greedy200.json')))
        g = run(['generate', '--model', os.path.join(a.ref, 'models', 'stories260K-f32.gguf'), '--ids',
                 ','.join(map(str, ref['prompt_ids'])), '--max-tokens', '200', '--temperature', '0'])
        ok = g['token_ids'] == ref['greedy_ids']
        passed += ok; failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} stories260K-f32.greedy200 identical={ok}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and passed > 0 else 1)

if __name__ == '__main__':
    main()
