#!/usr/bin/env python3
"""Checks `tokenmill tokenize` (special mode: BOS as the model asks, special-token text parsed) against the
`prompt_ids` llama.cpp recorded in ../shared/reference/cases/<model>/NN.json.

usage: scripts/check-prompt-ids.py [REFERENCE_DIR]   (default: ../shared/reference)
Prints N/N per model and exits 0 iff every case matches.
"""
import glob, json, os, subprocess, sys

def main():
    ref = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'reference')
    cli = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tokenmill')
    passed = failed = 0
    for case_dir in sorted(glob.glob(os.path.join(ref, 'cases', '*'))):
        model = os.path.join(ref, 'models', os.path.basename(case_dir) + '.gguf')
        ok = bad = 0
        first_bad = None
        for case in sorted(glob.glob(os.path.join(case_dir, '*.json'))):
            c = json.load(open(case, encoding='utf-8'))
            p = subprocess.run([cli, 'tokenize', '--model', model, '--text', c['prompt']],
                               capture_output=True, text=True, timeout=300)
            lines = [l for l in p.stdout.splitlines() if l.startswith('{')]
            got = json.loads(lines[-1])['ids'] if lines else 'error: ' + p.stderr.strip()[-200:]
            if got == c['prompt_ids']:
                ok += 1
            else:
                bad += 1
                first_bad = first_bad or (os.path.basename(case), str(got)[:80], str(c['prompt_ids'])[:80])
        passed += ok
        failed += bad
        msg = f"{os.path.basename(case_dir)}: {ok}/{ok + bad}"
        if first_bad:
            msg += f"  first miss {first_bad[0]} got {first_bad[1]} want {first_bad[2]}"
        print(msg, flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and passed > 0 else 1)

if __name__ == '__main__':
    main()
