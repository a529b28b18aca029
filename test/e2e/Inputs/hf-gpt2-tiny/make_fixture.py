"""Writes this directory's fixture with Hugging Face `transformers` (run by
hand, not by the tests; see README.md for the command and the environment).

A tiny GPT2LMHeadModel (tied head, gelu_new, transformers' default dropout
settings) with weights drawn so that its logits are far from uniform, saved
with save_pretrained (config.json + model.safetensors, names prefixed
`transformer.`); legacy.safetensors, the same weights as transformers
before 4.31 saved a GPT-2 (the attention's causal-mask buffers `attn.bias`
and `attn.masked_bias` persistent, so in the file); and expected.safetensors:
token ids `tokens` [2, 16] (I32) and the model's logits on them, `logits`
[2, 16, 256], computed by GPT2LMHeadModel itself in float64.
"""

import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import GPT2Config, GPT2LMHeadModel

HERE = os.path.dirname(os.path.abspath(__file__))


def main(out_dir: str = HERE) -> int:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=256, n_positions=32, n_embd=32, n_layer=2,
                        n_head=4, activation_function="gelu_new",
                        layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                        bos_token_id=None, eos_token_id=None,
                        torch_dtype="float32")
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("wte.weight", "wpe.weight")):
                p.normal_(0.0, 1.0)
            elif p.dim() == 2:  # Conv1D [in, out]
                p.normal_(0.0, 1.0 / p.shape[0] ** 0.5)
            elif ".ln_" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:  # biases, LayerNorm shifts
                p.copy_(0.1 * torch.randn_like(p))
    model.save_pretrained(out_dir, safe_serialization=True)
    legacy = {k: v.detach().numpy().copy()
              for k, v in model.state_dict().items() if k != "lm_head.weight"}
    for i, block in enumerate(model.transformer.h):
        legacy[f"transformer.h.{i}.attn.bias"] = block.attn.bias.numpy().copy()
        legacy[f"transformer.h.{i}.attn.masked_bias"] = \
            block.attn.masked_bias.numpy().copy()
    save_file(legacy, os.path.join(out_dir, "legacy.safetensors"),
              metadata={"format": "pt"})
    gen = np.random.default_rng(7)
    tokens = gen.integers(0, config.vocab_size, size=(2, 16)).astype(np.int32)
    with torch.no_grad():
        logits = model.double()(torch.from_numpy(tokens.astype(np.int64))).logits
    save_file({"tokens": tokens, "logits": logits.numpy().astype(np.float64)},
              os.path.join(out_dir, "expected.safetensors"),
              metadata={"format": "lmc-test"})
    print(f"wrote {out_dir}: logits[0, -1, :4] = {logits[0, -1, :4].tolist()}, "
          f"max |logit| {logits.abs().max().item():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
