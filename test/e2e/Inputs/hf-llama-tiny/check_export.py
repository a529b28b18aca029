"""Loads a directory that `python3 -m lmc.hf export` wrote with transformers'
LlamaForCausalLM.from_pretrained and compares its logits with lmc's NumPy
reference on the same weights (run by hand, not by the tests; see README.md).

usage: check_export.py HF_DIR [SEQ]
"""
import sys

import numpy as np
import torch
from transformers import LlamaForCausalLM

from lmc import reference_llama as rl
from lmc import safetensors
from lmc.models import llama


def main(hf_dir: str, seq: str = "32") -> int:
    cfg = llama.read_hf_config(hf_dir + "/config.json")
    params, _ = safetensors.load(hf_dir + "/model.safetensors")
    model = LlamaForCausalLM.from_pretrained(hf_dir).eval()
    tokens = np.random.default_rng(11).integers(0, cfg.vocab, (2, int(seq)))
    ref = rl.forward_logits(params, tokens, cfg)
    with torch.no_grad():
        l32 = model(torch.from_numpy(tokens)).logits.numpy().astype(np.float64)
        l64 = model.double()(torch.from_numpy(tokens)).logits.numpy()
    print(f"{hf_dir}: tied={cfg.tied} kv_heads={cfg.n_kv_head} tokens "
          f"{tokens.shape} max|logit| {np.abs(ref).max():.4g}")
    print(f"  HF float32 vs NumPy f64: max abs {np.abs(l32 - ref).max():.3e}")
    print(f"  HF float64 vs NumPy f64: max abs {np.abs(l64 - ref).max():.3e}")
    print(f"  same argmax: {np.mean(l32.argmax(-1) == ref.argmax(-1)) * 100:.1f}%")
    return 0 if np.abs(l32 - ref).max() < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
