"""NumPy reference for the GPT-2 forward pass and loss (computed in float64).

Written independently of the compiler so it can serve as ground truth for
the lmc lowering; it only shares parameter names with lmc.models.gpt2.
"""

from __future__ import annotations

import math

import numpy as np

from lmc.models.gpt2 import LN_EPS, GPT2Config, param_specs

NUMPY_DTYPES = {"f32": np.float32, "f64": np.float64}


def layer_norm(x, w, b, eps: float = LN_EPS):
    """Normalize over the last dim with biased variance, then scale and shift."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x, approximate: str = "tanh"):
    """GELU; approximate='tanh' (GPT-2) or 'none' (exact, via erf)."""
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi)
                                        * (x + 0.044715 * x ** 3)))
    if approximate == "none":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    raise ValueError(f"unknown gelu approximation {approximate!r}")


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp(-|x|) is at most 1."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def silu(x):
    """SiLU (swish), x * sigmoid(x): lmc.silu."""
    return np.asarray(x, dtype=np.float64) * sigmoid(x)


def activation(x, cfg):
    """The MLP activation of `cfg` (GPT-2's tanh GELU unless cfg.activation
    says silu)."""
    if getattr(cfg, "activation", "gelu") == "silu":
        return silu(x)
    return gelu(x)


def softmax(x, axis: int = -1):
    """Numerically stable softmax; -inf entries get probability 0."""
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def causal_attention(q, k, v, n_head: int):
    """Multi-head causal self-attention on [B,T,C] inputs, returns [B,T,C]."""
    B, T, C = q.shape
    D = C // n_head

    def heads(a):  # [B,T,C] -> [B,H,T,D]
        return a.reshape(B, T, n_head, D).transpose(0, 2, 1, 3)

    scores = heads(q) @ heads(k).transpose(0, 1, 3, 2) / math.sqrt(D)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(future, -np.inf, scores)
    out = softmax(scores, axis=-1) @ heads(v)  # [B,H,T,D]
    return out.transpose(0, 2, 1, 3).reshape(B, T, C)


def cross_entropy(logits, targets):
    """Mean over all positions of logsumexp(logits) - logits[target]."""
    V = logits.shape[-1]
    flat = logits.reshape(-1, V)
    tgt = np.asarray(targets).reshape(-1)
    m = flat.max(axis=-1)
    lse = m + np.log(np.exp(flat - m[:, None]).sum(axis=-1))
    picked = flat[np.arange(flat.shape[0]), tgt]
    return float(np.mean(lse - picked))


def _check_inputs(params, tokens, targets, cfg: GPT2Config):
    for name, shape, _, _ in param_specs(cfg):
        if name not in params:
            raise ValueError(f"missing parameter {name!r}")
        if tuple(np.shape(params[name])) != shape:
            raise ValueError(f"parameter {name!r} has shape "
                             f"{tuple(np.shape(params[name]))}, expected {shape}")
    for what, a in (("tokens", tokens), ("targets", targets)):
        a = np.asarray(a)
        if a.ndim != 2:
            raise ValueError(f"{what} must be [B,T], got shape {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= cfg.vocab):
            raise ValueError(f"{what} out of range [0, {cfg.vocab})")
    if np.shape(tokens) != np.shape(targets):
        raise ValueError("tokens and targets shapes differ")
    if np.shape(tokens)[1] > cfg.ctx:
        raise ValueError(f"sequence length {np.shape(tokens)[1]} > ctx {cfg.ctx}")


def linear(x, p, prefix: str):
    """x @ W + b for the layer `prefix`; a model without biases has no b."""
    y = x @ p[prefix + ".weight"]
    bias = p.get(prefix + ".bias")
    return y if bias is None else y + bias


def forward_logits(params, tokens, cfg: GPT2Config):
    """Logits [B,T,V] in float64 (V the real vocabulary: the columns of a
    padded vocabulary's padding left out, as the compiled logits are)."""
    p = {name: np.asarray(params[name], dtype=np.float64)
         for name, _, _, _ in param_specs(cfg)}
    tokens = np.asarray(tokens)
    T = tokens.shape[1]
    x = p["wte.weight"][tokens] + p["wpe.weight"][:T][None, :, :]
    for i in range(cfg.n_layer):
        h = f"h.{i}."
        a = layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"])
        qkv = linear(a, p, h + "attn.c_attn")
        q, k, v = np.split(qkv, 3, axis=-1)
        att = causal_attention(q, k, v, cfg.n_head)
        x = x + linear(att, p, h + "attn.c_proj")
        m = layer_norm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"])
        m = activation(linear(m, p, h + "mlp.c_fc"), cfg)
        x = x + linear(m, p, h + "mlp.c_proj")
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
    return (x @ p[cfg.head_name].T)[..., :cfg.vocab]


def forward_loss(params, tokens, targets, cfg: GPT2Config) -> float:
    """Mean cross-entropy loss of the model on (tokens, targets)."""
    _check_inputs(params, tokens, targets, cfg)
    return cross_entropy(forward_logits(params, tokens, cfg), targets)


def init_params(cfg: GPT2Config, seed: int) -> dict[str, np.ndarray]:
    """Initial parameters drawn with default_rng(seed) in declaration order."""
    rng = np.random.default_rng(seed)
    dtype = NUMPY_DTYPES[cfg.dtype]
    out = {}
    for name, shape, kind, std in param_specs(cfg):
        if kind == "normal":
            out[name] = (rng.standard_normal(shape) * std).astype(dtype)
        elif kind == "zeros":
            out[name] = np.zeros(shape, dtype=dtype)
        elif kind == "ones":
            out[name] = np.ones(shape, dtype=dtype)
        else:
            raise ValueError(f"unknown init kind {kind!r} for {name}")
    return out
