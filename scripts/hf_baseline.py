#!/usr/bin/env python3
"""Hugging Face transformers baseline for the GPU check: a llama-1b-shaped LlamaForCausalLM (random weights, bf16)
generating greedily, batch B x (P prompt + G generated) with min_new_tokens = max_new_tokens = G. Prints one JSON
line with output tokens/s of each timed run (after one warm-up), the median and the card."""
import json, statistics, sys, time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 256
prompt = int(sys.argv[2]) if len(sys.argv) > 2 else 128
gen = int(sys.argv[3]) if len(sys.argv) > 3 else 128
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 2

# synth preset llama-1b: 2048 embd, 16 layers, 32 heads, 8 KV heads, ffn 8192, vocab 128256, tied, rope 500000
cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                  num_key_value_heads=8, head_dim=64, vocab_size=128256, tie_word_embeddings=True,
                  rope_theta=500000.0, rms_norm_eps=1e-5, max_position_embeddings=4096)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
with torch.device("cuda"):  # initialize on the GPU: the 1.2B random weights take long on the CPU
    model = LlamaForCausalLM(cfg).to("cuda", torch.bfloat16).eval()
ids = torch.randint(3, cfg.vocab_size, (batch, prompt), device="cuda")
mask = torch.ones_like(ids)


def once():
    torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, min_new_tokens=gen, max_new_tokens=gen,
                             pad_token_id=0)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t
    assert out.shape[1] == prompt + gen, out.shape
    return batch * gen / dt


once()  # warm-up
rates = [once() for _ in range(runs)]
print(json.dumps({"hf_output_tok_s_runs": [round(r, 1) for r in rates], "hf_output_tok_s_median": round(statistics.median(rates), 1),
                  "batch": batch, "prompt": prompt, "gen": gen, "card": torch.cuda.get_device_name(0),
                  "torch": torch.__version__, "transformers": __import__("transformers").__version__}), flush=True)
