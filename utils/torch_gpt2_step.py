#!/usr/bin/env python3
"""Times the training step of a GPT-2 model in PyTorch (eager, CPU).

The peer that utils/bench.py measures lmc against: the model lmc.models.gpt2
builds (learned positions, pre-LayerNorm blocks, causal attention, tanh GELU
MLP, biases, the head tied to the token embedding), the same shapes and the
trainer's default optimizer (AdamW lr 3e-4, betas 0.9/0.95, eps 1e-8, no
weight decay, gradient clipping at 1), on random tokens. It prints one JSON
line per step: {"step": i, "ms": ..., "loss": ...}.

  python3 utils/torch_gpt2_step.py --config '{"vocab": 50257, ...}' \
      --batch 4 --seq 64 --steps 12 --threads 2

Runs on the interpreter that has PyTorch (Debian's python3-torch 1.13 for
/usr/bin/python3, which has no fused attention: scores, mask and softmax as
separate ops); it imports nothing from lmc.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F

from torch_step_loop import run


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.h, self.hd = c["n_head"], d // c["n_head"]
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.h, self.hd).transpose(1, 2)
                   for z in (q, k, v))
        s = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        y = (p @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.attn_proj(y)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.mlp_proj(h)


class GPT2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d_model"])
        self.wpe = nn.Embedding(c["ctx"], c["d_model"])
        self.h = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(c["d_model"], eps=1e-5)
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, std=0.02)
            if isinstance(mod, nn.Linear):
                nn.init.zeros_(mod.bias)

    def forward(self, tokens, targets):
        t = tokens.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = self.wte(tokens) + self.wpe(torch.arange(t))
        for block in self.h:
            x = block(x, mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]),
                               targets.reshape(-1))


def main():
    run(__doc__.split("\n")[0], GPT2,
        lambda params: torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95),
                                       eps=1e-8, weight_decay=0.0))


if __name__ == "__main__":
    main()
