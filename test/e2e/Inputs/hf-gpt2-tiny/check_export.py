"""Loads a directory that `python3 -m lmc.hf export` wrote for a GPT-2 with
transformers' GPT2LMHeadModel.from_pretrained and compares its logits with
lmc's NumPy reference on the same weights and, given the file a compiled
trainer's `--logits` wrote, with lmc's own logits on that file's tokens (run
by hand, not by the tests; see README.md).

usage: check_export.py HF_DIR [LMC_LOGITS.safetensors | SEQ]
"""
import json
import sys

import numpy as np
import torch
from transformers import GPT2LMHeadModel

from lmc import hf_gpt2
from lmc import reference as ref
from lmc import safetensors
from lmc.models import gpt2


def main(hf_dir: str, other: str = "32") -> int:
    with open(hf_dir + "/config.json") as f:
        cfg, _ = hf_gpt2.from_hf_config(json.load(f))
    tensors, _ = safetensors.load(hf_dir + "/model.safetensors")
    params = {n: tensors[hf_gpt2.hf_name(n)] for n, _, _, _ in gpt2.param_specs(cfg)}
    model = GPT2LMHeadModel.from_pretrained(hf_dir).eval()
    lmc_logits = None
    if other.endswith(".safetensors"):
        dump, _ = safetensors.load(other)
        tokens, lmc_logits = dump["tokens"].astype(np.int64), dump["logits"]
    else:
        tokens = np.random.default_rng(11).integers(0, cfg.vocab, (2, int(other)))
    want = ref.forward_logits(params, tokens, cfg)
    with torch.no_grad():
        l32 = model(torch.from_numpy(tokens)).logits.numpy().astype(np.float64)
        l64 = model.double()(torch.from_numpy(tokens)).logits.numpy()
    print(f"{hf_dir}: tied={cfg.tied} {cfg.activation} tokens {tokens.shape} "
          f"max|logit| {np.abs(want).max():.4g}")
    print(f"  HF float32 vs NumPy f64: max abs {np.abs(l32 - want).max():.3e}")
    print(f"  HF float64 vs NumPy f64: max abs {np.abs(l64 - want).max():.3e}")
    if lmc_logits is not None:
        print(f"  HF float32 vs lmc --logits (f32): max abs "
              f"{np.abs(l32 - lmc_logits).max():.3e}")
        print(f"  HF float64 vs lmc --logits (f32): max abs "
              f"{np.abs(l64 - lmc_logits).max():.3e}")
    print(f"  same argmax: {np.mean(l32.argmax(-1) == want.argmax(-1)) * 100:.1f}%")
    return 0 if np.abs(l32 - want).max() < 1e-4 * max(1, np.abs(want).max()) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
