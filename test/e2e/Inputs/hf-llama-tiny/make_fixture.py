"""Writes this directory's fixture with Hugging Face `transformers` (run by
hand, not by the tests; see README.md for the command and the environment).

A tiny LlamaForCausalLM (tied head, grouped-query attention, theta and eps
other than lmc's defaults) with weights drawn so that its logits are far from
uniform, saved with save_pretrained (config.json + model.safetensors), and
expected.safetensors: token ids `tokens` [2, 16] (I32) and the model's
logits on them, `logits` [2, 16, 256], computed by LlamaForCausalLM itself
in float64.
"""

import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import LlamaConfig, LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))


def main(out_dir: str = HERE) -> int:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=256, max_position_embeddings=64, num_hidden_layers=2,
        hidden_size=32, intermediate_size=64, num_attention_heads=4,
        num_key_value_heads=2, rope_theta=50000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=True, hidden_act="silu", attention_bias=False,
        mlp_bias=False, rope_scaling=None, torch_dtype="float32")
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # RMSNorm weights: around one
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name == "model.embed_tokens.weight":
                p.normal_(0.0, 1.0)
            else:  # nn.Linear [out, in]
                p.normal_(0.0, 1.0 / p.shape[1] ** 0.5)
    model.save_pretrained(out_dir, safe_serialization=True)
    gen = np.random.default_rng(7)
    tokens = gen.integers(0, config.vocab_size, size=(2, 16)).astype(np.int32)
    with torch.no_grad():
        logits = model.double()(torch.from_numpy(tokens.astype(np.int64))).logits
    save_file({"tokens": tokens, "logits": logits.numpy().astype(np.float64)},
              os.path.join(out_dir, "expected.safetensors"),
              metadata={"format": "lmc-test"})
    print(f"wrote {out_dir}: logits[0, -1, :4] = {logits[0, -1, :4].tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
