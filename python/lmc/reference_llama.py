"""NumPy reference for the Llama family: forward, loss and training step
(computed in float64).

Ground truth for lmc's Llama models (lmc.models.llama), written independently
of the compiler in the semantics of Hugging Face's LlamaForCausalLM:

    RMSNorm      y = x / sqrt(mean(x^2) + eps) * w
    RoPE         rotate-half: for position p and channel i < D/2 of a head,
                 a = p * theta^(-2i/D),
                 r[i] = x[i] cos a - x[i+D/2] sin a,
                 r[i+D/2] = x[i+D/2] cos a + x[i] sin a
    attention    causal, softmax(q k^T / sqrt(D)) v, query head h reading
                 key/value head h // (heads / kv_heads) (repeat_kv)
    MLP          down(silu(gate(h)) * up(h))
    linear       y = x W^T, W [out, in], no bias

The training step is a hand-written reverse mode of that forward and the
AdamW / clipping / schedule of lmc.reference_train (shared, as it is the
same optimizer for every family).
"""

from __future__ import annotations

import math

import numpy as np

from lmc import reference as ref
from lmc import reference_train as rt
from lmc.models.llama import LlamaConfig, param_specs

NUMPY_DTYPES = {"f32": np.float32, "f64": np.float64}
HParams = rt.HParams


# ---------------------------------------------------------------------------
# Forward pieces
# ---------------------------------------------------------------------------

def rms_norm(x, w, eps: float):
    """x / sqrt(mean(x^2 over the last dim) + eps) * w."""
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def rope_angles(T: int, head_dim: int, theta: float, offset: int = 0):
    """cos and sin of the angles [T, D/2]: (offset + t) * theta^(-2i/D)."""
    half = head_dim // 2
    inv_freq = 1.0 / (float(theta) ** (np.arange(0, head_dim, 2, dtype=np.float64)
                                       / head_dim))
    pos = np.arange(offset, offset + T, dtype=np.float64)
    a = pos[:, None] * inv_freq[None, :half]
    return np.cos(a), np.sin(a)


def rope(x, head_dim: int, theta: float, *, offset: int = 0,
         inverse: bool = False):
    """Rotary embedding of [B, T, C] (C whole heads of head_dim channels) in
    the rotate-half convention; `inverse` rotates by minus the angle."""
    B, T, C = x.shape
    if C % head_dim or head_dim % 2:
        raise ValueError(f"rope: head_dim {head_dim} must be even and divide {C}")
    cos, sin = rope_angles(T, head_dim, theta, offset)
    if inverse:
        sin = -sin
    h = x.reshape(B, T, C // head_dim, head_dim)
    half = head_dim // 2
    x1, x2 = h[..., :half], h[..., half:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out = np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)
    return out.reshape(B, T, C)


def _heads(a, n: int):
    """[B, T, n*D] -> [B, n, T, D]."""
    B, T, C = a.shape
    return a.reshape(B, T, n, C // n).transpose(0, 2, 1, 3)


def _merge(a):
    """[B, n, T, D] -> [B, T, n*D]."""
    B, n, T, D = a.shape
    return a.transpose(0, 2, 1, 3).reshape(B, T, n * D)


def _attention_forward(q, k, v, n_head: int, n_kv_head: int):
    """Causal grouped-query attention; returns (out [B,T,C], saved)."""
    group = n_head // n_kv_head
    qh = _heads(q, n_head)
    # repeat_kv: query head h reads key/value head h // group.
    kh = np.repeat(_heads(k, n_kv_head), group, axis=1)
    vh = np.repeat(_heads(v, n_kv_head), group, axis=1)
    T, D = qh.shape[2], qh.shape[3]
    scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(D)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(future, -np.inf, scores)
    probs = ref.softmax(scores, axis=-1)
    return _merge(probs @ vh), (qh, kh, vh, probs, group)


def causal_attention(q, k, v, n_head: int, n_kv_head: int):
    """Causal grouped-query attention on [B,T,C] q and [B,T,Ckv] k, v."""
    return _attention_forward(q, k, v, n_head, n_kv_head)[0]


def _params64(params, cfg: LlamaConfig):
    return {name: np.asarray(params[name], dtype=np.float64)
            for name, _, _, _ in param_specs(cfg)}


def check_inputs(params, tokens, targets, cfg: LlamaConfig):
    """Raise ValueError for missing or misshapen parameters or bad ids."""
    for name, shape, _, _ in param_specs(cfg):
        if name not in params:
            raise ValueError(f"missing parameter {name!r}")
        if tuple(np.shape(params[name])) != shape:
            raise ValueError(f"parameter {name!r} has shape "
                             f"{tuple(np.shape(params[name]))}, expected {shape}")
    pairs = [("tokens", tokens)] + ([("targets", targets)]
                                    if targets is not None else [])
    for what, a in pairs:
        a = np.asarray(a)
        if a.ndim != 2:
            raise ValueError(f"{what} must be [B,T], got shape {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= cfg.vocab):
            raise ValueError(f"{what} out of range [0, {cfg.vocab})")
    if targets is not None and np.shape(tokens) != np.shape(targets):
        raise ValueError("tokens and targets shapes differ")
    if np.shape(tokens)[1] > cfg.ctx:
        raise ValueError(f"sequence length {np.shape(tokens)[1]} > ctx {cfg.ctx}")


def forward_logits(params, tokens, cfg: LlamaConfig):
    """Logits [B,T,V] in float64."""
    check_inputs(params, tokens, None, cfg)
    p = _params64(params, cfg)
    tokens = np.asarray(tokens)
    D, theta, eps = cfg.head_dim, cfg.rope_theta, cfg.rms_eps
    x = p["model.embed_tokens.weight"][tokens]
    for i in range(cfg.n_layer):
        pre = f"model.layers.{i}."
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = rope(h @ p[pre + "self_attn.q_proj.weight"].T, D, theta)
        k = rope(h @ p[pre + "self_attn.k_proj.weight"].T, D, theta)
        v = h @ p[pre + "self_attn.v_proj.weight"].T
        att = causal_attention(q, k, v, cfg.n_head, cfg.n_kv_head)
        x = x + att @ p[pre + "self_attn.o_proj.weight"].T
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = ref.silu(h @ p[pre + "mlp.gate_proj.weight"].T)
        u = h @ p[pre + "mlp.up_proj.weight"].T
        x = x + (g * u) @ p[pre + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    # The real vocabulary's columns (a padded vocabulary's padding left out).
    return (x @ p[cfg.head_name].T)[..., :cfg.vocab]


def forward_loss(params, tokens, targets, cfg: LlamaConfig) -> float:
    """Mean cross-entropy loss of the model on (tokens, targets)."""
    check_inputs(params, tokens, targets, cfg)
    return ref.cross_entropy(forward_logits(params, tokens, cfg), targets)


def init_params(cfg: LlamaConfig, seed: int) -> dict[str, np.ndarray]:
    """Initial parameters drawn with default_rng(seed) in declaration order
    (normal(0, std) for matrices, ones for the RMSNorm weights)."""
    rng = np.random.default_rng(seed)
    dtype = NUMPY_DTYPES[cfg.dtype]
    out = {}
    for name, shape, kind, std in param_specs(cfg):
        if kind == "normal":
            out[name] = (rng.standard_normal(shape) * std).astype(dtype)
        elif kind == "ones":
            out[name] = np.ones(shape, dtype=dtype)
        elif kind == "zeros":
            out[name] = np.zeros(shape, dtype=dtype)
        else:
            raise ValueError(f"unknown init kind {kind!r} for {name}")
    return out


# ---------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------

def _rms_forward(x, w, eps: float):
    r = 1.0 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)
    return x * r * w, (x, r, w)


def _rms_backward(dy, saved, grads, name: str):
    """Store d(weight) under `name`; return dx."""
    x, r, w = saved
    lead = tuple(range(dy.ndim - 1))
    grads[name] = (dy * x * r).sum(axis=lead)
    g = dy * w
    # r = (mean(x^2) + eps)^(-1/2): dr/dx_j = -r^3 x_j / C.
    return r * g - x * r ** 3 * (g * x).mean(axis=-1, keepdims=True)


def _linear_backward(dy, x, w, grads, name: str):
    """For y = x @ w.T (w [out, in]): store d(w) under `name`; return dx."""
    c_out, c_in = w.shape
    grads[name] = dy.reshape(-1, c_out).T @ x.reshape(-1, c_in)
    return dy @ w


def _attention_backward(dout, saved):
    """Return (dq [B,T,C], dk, dv [B,T,Ckv]) of _attention_forward."""
    qh, kh, vh, probs, group = saved
    B, H, T, D = qh.shape
    scale = 1.0 / math.sqrt(D)
    douth = _heads(dout, H)
    dvh = probs.transpose(0, 1, 3, 2) @ douth
    dprobs = douth @ vh.transpose(0, 1, 3, 2)
    dscores = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
    dqh = dscores @ kh * scale
    dkh = dscores.transpose(0, 1, 3, 2) @ qh * scale

    def fold(a):  # [B,H,T,D] -> [B,Hkv,T,D]: sum the query heads of a group
        return a.reshape(B, H // group, group, T, D).sum(axis=2)

    return _merge(dqh), _merge(fold(dkh)), _merge(fold(dvh))


def forward_backward(params, tokens, targets, cfg: LlamaConfig):
    """Mean cross-entropy loss and its gradient for every parameter.

    Returns (loss, grads), grads a dict name -> float64 array of the
    parameter's shape, in declaration order.
    """
    check_inputs(params, tokens, targets, cfg)
    p = _params64(params, cfg)
    tokens = np.asarray(tokens)
    targets = np.asarray(targets)
    D, theta, eps = cfg.head_dim, cfg.rope_theta, cfg.rms_eps
    embed = p["model.embed_tokens.weight"]

    x = embed[tokens]
    saved = []
    for i in range(cfg.n_layer):
        pre = f"model.layers.{i}."
        s = {}
        h, s["ln1"] = _rms_forward(x, p[pre + "input_layernorm.weight"], eps)
        s["ln1.out"] = h
        q = rope(h @ p[pre + "self_attn.q_proj.weight"].T, D, theta)
        k = rope(h @ p[pre + "self_attn.k_proj.weight"].T, D, theta)
        v = h @ p[pre + "self_attn.v_proj.weight"].T
        att, s["attn"] = _attention_forward(q, k, v, cfg.n_head, cfg.n_kv_head)
        s["attn.out"] = att
        x = x + att @ p[pre + "self_attn.o_proj.weight"].T
        h, s["ln2"] = _rms_forward(x, p[pre + "post_attention_layernorm.weight"],
                                   eps)
        s["ln2.out"] = h
        gate = h @ p[pre + "mlp.gate_proj.weight"].T
        up = h @ p[pre + "mlp.up_proj.weight"].T
        act = ref.silu(gate)
        s["gate"], s["up"], s["silu"] = gate, up, act
        s["glu"] = act * up
        x = x + s["glu"] @ p[pre + "mlp.down_proj.weight"].T
        saved.append(s)
    xf, norm_saved = _rms_forward(x, p["model.norm.weight"], eps)
    head = p[cfg.head_name]
    logits = xf @ head.T
    loss, dlogits = rt.masked_cross_entropy(logits, targets, cfg.vocab)

    grads: dict[str, np.ndarray] = {}
    C = cfg.d_model
    dhead = dlogits.reshape(-1, cfg.rows).T @ xf.reshape(-1, C)
    dx = dlogits @ head
    if cfg.tied:
        dembed = dhead
    else:
        grads["lm_head.weight"] = dhead
        dembed = np.zeros_like(embed)
    dx = _rms_backward(dx, norm_saved, grads, "model.norm.weight")
    for i in reversed(range(cfg.n_layer)):
        pre = f"model.layers.{i}."
        s = saved[i]
        # MLP residual.
        dglu = _linear_backward(dx, s["glu"], p[pre + "mlp.down_proj.weight"],
                                grads, pre + "mlp.down_proj.weight")
        dgate = dglu * s["up"] * rt.silu_grad(s["gate"])
        dup = dglu * s["silu"]
        dh = _linear_backward(dgate, s["ln2.out"], p[pre + "mlp.gate_proj.weight"],
                              grads, pre + "mlp.gate_proj.weight")
        dh = dh + _linear_backward(dup, s["ln2.out"], p[pre + "mlp.up_proj.weight"],
                                   grads, pre + "mlp.up_proj.weight")
        dx = dx + _rms_backward(dh, s["ln2"], grads,
                                pre + "post_attention_layernorm.weight")
        # Attention residual.
        datt = _linear_backward(dx, s["attn.out"], p[pre + "self_attn.o_proj.weight"],
                                grads, pre + "self_attn.o_proj.weight")
        dq, dk, dv = _attention_backward(datt, s["attn"])
        # The rotation is orthogonal: its gradient rotates back.
        dq = rope(dq, D, theta, inverse=True)
        dk = rope(dk, D, theta, inverse=True)
        h = s["ln1.out"]
        dh = _linear_backward(dq, h, p[pre + "self_attn.q_proj.weight"], grads,
                              pre + "self_attn.q_proj.weight")
        dh = dh + _linear_backward(dk, h, p[pre + "self_attn.k_proj.weight"],
                                   grads, pre + "self_attn.k_proj.weight")
        dh = dh + _linear_backward(dv, h, p[pre + "self_attn.v_proj.weight"],
                                   grads, pre + "self_attn.v_proj.weight")
        dx = dx + _rms_backward(dh, s["ln1"], grads, pre + "input_layernorm.weight")
    np.add.at(dembed, tokens, dx)
    grads["model.embed_tokens.weight"] = dembed
    return loss, {name: grads[name] for name, _, _, _ in param_specs(cfg)}


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def decay_mask(cfg: LlamaConfig) -> dict[str, bool]:
    """Weight decay on matrices (rank >= 2) only, not on RMSNorm weights."""
    return {name: len(shape) >= 2 for name, shape, _, _ in param_specs(cfg)}


def train(params, batches, cfg: LlamaConfig, hp: rt.HParams, steps: int):
    """Run `steps` AdamW steps; step i trains on batches[i % len(batches)].

    Returns (history, params, m, v) as lmc.reference_train.train does.
    """
    if not batches:
        raise ValueError("batches must not be empty")
    p = {k: np.array(val, dtype=np.float64) for k, val in params.items()}
    m, v = rt.init_moments(p)
    mask = decay_mask(cfg)
    history = []
    for step in range(steps):
        tokens, targets = batches[step % len(batches)]
        loss, grads = forward_backward(p, tokens, targets, cfg)
        p, m, v, grad_norm, lr = rt.adamw_step(p, grads, m, v, step, hp, mask)
        history.append((loss, grad_norm, lr))
    return history, p, m, v
