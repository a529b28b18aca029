#!/usr/bin/env python3
"""Times the training step of a Llama-family model in PyTorch (eager, CPU).

The peer that utils/bench_llama.py measures lmc against: the same model
(RMSNorm, rotary embeddings in the rotate-half convention, grouped-query
causal attention, SwiGLU MLP, untied or tied head), the same shapes and the
same optimizer (AdamW, gradient clipping at 1), on random tokens. It prints
one JSON line per step: {"step": i, "ms": ...}.

  python3 utils/torch_llama_step.py --config '{"vocab": 8192, ...}' \
      --batch 8 --seq 256 --steps 12 --threads 2

Runs on the interpreter that has PyTorch (Debian's python3-torch 1.13 for
/usr/bin/python3); it imports nothing from lmc.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F

from torch_step_loop import run


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * rms * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv, f = c["d_model"], c["n_head"], c["n_kv_head"], c["ffn"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.input_layernorm = RMSNorm(d, c["rms_eps"])
        self.q_proj = nn.Linear(d, h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, kv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, kv * self.hd, bias=False)
        self.o_proj = nn.Linear(h * self.hd, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, c["rms_eps"])
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        a = self.input_layernorm(x)
        q = self.q_proj(a).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(a).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(a).view(b, t, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = self.h // self.kv
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        s = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        y = (p @ v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o_proj(y)
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab"], c["d_model"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.norm = RMSNorm(c["d_model"], c["rms_eps"])
        self.lm_head = nn.Linear(c["d_model"], c["vocab"], bias=False)
        if c["tied"]:
            self.lm_head.weight = self.embed_tokens.weight
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, std=0.02)

    def forward(self, tokens, targets):
        t = tokens.shape[1]
        hd = self.c["d_model"] // self.c["n_head"]
        inv = 1.0 / (self.c["rope_theta"] ** (
            torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        ang = torch.outer(torch.arange(t, dtype=torch.float32), inv)
        ang = torch.cat((ang, ang), dim=-1)
        cos, sin = ang.cos(), ang.sin()
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]),
                               targets.reshape(-1))


def main():
    run(__doc__.split("\n")[0], Llama,
        lambda params: torch.optim.AdamW(params, lr=3e-4,
                                       weight_decay=0.1))


if __name__ == "__main__":
    main()
