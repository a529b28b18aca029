"""Writes the tensors of an lmc parameters file of a GPT-2 as Hugging Face
has written them, or with one thing wrong, for --init-from's tests.

Usage: hf_names_safetensors.py IN.safetensors MODE OUT.safetensors

MODE:
  transformer   GPT2LMHeadModel's names (prefix `transformer.`; an untied
                head stays lm_head.weight) and the attention's mask buffers
                of older transformers (h.N.attn.bias F32 [1, 1, ctx, ctx],
                h.N.attn.masked_bias F32 []), metadata {"format": "pt"}
  model         the prefix `model.`
  tied-head     lm_head.weight, equal to wte.weight, added (a tied head
                written out)
  own-head      lm_head.weight, wte.weight + 0.5, added (a head of its own)
  extra         one parameter more: h.9.mlp.c_fc.weight
  other-prefix  the prefix `gpt.`
  renamed       h.0.ln_1.weight renamed h.0.ln1.weight

Tensors keep their dtype (an F16 file stays F16).
"""

import sys

import numpy as np

from lmc import safetensors


def main() -> None:
    src, mode, out = sys.argv[1:4]
    tensors, _ = safetensors.load(src)
    meta = None
    if mode == "transformer":
        layers = sorted({int(k.split(".")[1]) for k in tensors
                         if k.startswith("h.")})
        ctx = tensors["wpe.weight"].shape[0]
        result = {}
        for k, v in tensors.items():
            result[k if k == "lm_head.weight" else "transformer." + k] = v
        for i in layers:
            result[f"transformer.h.{i}.attn.bias"] = np.tril(
                np.ones((1, 1, ctx, ctx), np.float32))
            result[f"transformer.h.{i}.attn.masked_bias"] = np.array(
                -1e4, np.float32)
        tensors, meta = result, {"format": "pt"}
    elif mode == "model":
        tensors = {"model." + k: v for k, v in tensors.items()}
    elif mode == "tied-head":
        tensors["lm_head.weight"] = tensors["wte.weight"].copy()
    elif mode == "own-head":
        tensors["lm_head.weight"] = tensors["wte.weight"] + 0.5
    elif mode == "extra":
        tensors["h.9.mlp.c_fc.weight"] = tensors["h.0.mlp.c_fc.weight"]
    elif mode == "other-prefix":
        tensors = {"gpt." + k: v for k, v in tensors.items()}
    elif mode == "renamed":
        tensors["h.0.ln1.weight"] = tensors.pop("h.0.ln_1.weight")
    else:
        raise SystemExit(f"unknown mode {mode}")
    safetensors.save(out, tensors, meta)


if __name__ == "__main__":
    main()
