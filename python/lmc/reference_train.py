"""NumPy reference for one GPT-2 training step (computed in float64).

Ground truth for the lmc training pipeline: a forward pass that keeps what the
backward pass needs, a hand-written reverse mode for every layer, and an AdamW
optimizer with gradient clipping and a warm-up / cosine learning-rate schedule.
Like lmc.reference it is written independently of the compiler and only
shares parameter names (and the forward helpers of lmc.reference) with it.

The model is the one of lmc.reference.forward_loss:

    x   = wte[tokens] + wpe[:T]
    per block:  x = x + c_proj(attn(c_attn(ln_1(x))))
                x = x + mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))
    loss = cross_entropy(ln_f(x) @ head.T, targets)     (mean over B*T)

with head = wte (tied, GPT-2's choice) or lm_head (cfg.tied False), and the
linear layers' biases left out when cfg.bias is False.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmc import reference as ref
from lmc.models.gpt2 import LN_EPS, GPT2Config, param_specs

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


# ---------------------------------------------------------------------------
# Per-layer forward (with saved values) and backward
# ---------------------------------------------------------------------------

def _ln_forward(x, w, b, eps: float = LN_EPS):
    """Layer norm over the last dim; returns (y, (xhat, rstd, w))."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    return xhat * w + b, (xhat, rstd, w)


def _ln_backward(dy, saved, grads, prefix: str):
    """Store d(weight), d(bias) under `prefix`; return dx."""
    xhat, rstd, w = saved
    lead = tuple(range(dy.ndim - 1))
    grads[prefix + ".weight"] = (dy * xhat).sum(axis=lead)
    grads[prefix + ".bias"] = dy.sum(axis=lead)
    dxhat = dy * w
    # y depends on x through xhat = (x - mean) * rstd, with mean and rstd
    # themselves functions of the whole row.
    return rstd * (dxhat
                   - dxhat.mean(axis=-1, keepdims=True)
                   - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))


def _linear_backward(dy, x, w, grads, prefix: str):
    """For y = x @ w + b: store d(weight), d(bias) under `prefix`; return dx."""
    c_in, c_out = w.shape
    x2 = x.reshape(-1, c_in)
    dy2 = dy.reshape(-1, c_out)
    grads[prefix + ".weight"] = x2.T @ dy2
    grads[prefix + ".bias"] = dy2.sum(axis=0)  # dropped when the model has none
    return dy @ w.T


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_grad(x, approximate: str = "tanh"):
    """Derivative of lmc.reference.gelu(x, approximate) with respect to x."""
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3)
        t = np.tanh(u)
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x ** 2)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
    if approximate == "none":
        cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return cdf + x * pdf
    raise ValueError(f"unknown gelu approximation {approximate!r}")


def silu_grad(x):
    """Derivative of lmc.reference.silu: s (1 + x (1 - s)), s = sigmoid(x)."""
    s = ref.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _attention_forward(q, k, v, n_head: int):
    """Causal multi-head attention on [B,T,C]; returns (out, saved)."""
    B, T, C = q.shape
    D = C // n_head

    def heads(a):  # [B,T,C] -> [B,H,T,D]
        return a.reshape(B, T, n_head, D).transpose(0, 2, 1, 3)

    qh, kh, vh = heads(q), heads(k), heads(v)
    scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(D)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # j > i
    scores = np.where(future, -np.inf, scores)
    probs = ref.softmax(scores, axis=-1)  # [B,H,T,T]; 0 where masked
    out = (probs @ vh).transpose(0, 2, 1, 3).reshape(B, T, C)
    return out, (qh, kh, vh, probs)


def _attention_backward(dout, saved):
    """Return (dq, dk, dv), each [B,T,C]."""
    qh, kh, vh, probs = saved
    B, H, T, D = qh.shape
    scale = 1.0 / math.sqrt(D)
    douth = dout.reshape(B, T, H, D).transpose(0, 2, 1, 3)
    dvh = probs.transpose(0, 1, 3, 2) @ douth
    dprobs = douth @ vh.transpose(0, 1, 3, 2)
    # Softmax backward per row; masked entries have probs == 0 and so get a
    # zero score gradient, as the constant -inf they were set to requires.
    dscores = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
    dqh = dscores @ kh * scale
    dkh = dscores.transpose(0, 1, 3, 2) @ qh * scale

    def merge(a):  # [B,H,T,D] -> [B,T,C]
        return a.transpose(0, 2, 1, 3).reshape(B, T, H * D)

    return merge(dqh), merge(dkh), merge(dvh)


def masked_cross_entropy(logits, targets, vocab):
    """_cross_entropy over the first `vocab` columns of `logits` (a padded
    vocabulary's padding is no class); dlogits has the shape of `logits`,
    exactly 0 in the padding."""
    loss, dreal = _cross_entropy(logits[..., :vocab], targets)
    dlogits = np.zeros_like(logits)
    dlogits[..., :vocab] = dreal
    return loss, dlogits


def _cross_entropy(logits, targets):
    """Mean cross-entropy over all positions; returns (loss, dlogits)."""
    V = logits.shape[-1]
    flat = logits.reshape(-1, V)
    tgt = np.asarray(targets).reshape(-1)
    n = flat.shape[0]
    mx = flat.max(axis=-1, keepdims=True)
    lse = mx + np.log(np.exp(flat - mx).sum(axis=-1, keepdims=True))
    rows = np.arange(n)
    loss = float(np.mean(lse[:, 0] - flat[rows, tgt]))
    dflat = np.exp(flat - lse)  # softmax
    dflat[rows, tgt] -= 1.0
    return loss, (dflat / n).reshape(logits.shape)


# ---------------------------------------------------------------------------
# Whole model
# ---------------------------------------------------------------------------

def forward_backward(params, tokens, targets, cfg: GPT2Config, *,
                     gelu: str | None = None):
    """Mean cross-entropy loss and its gradient for every parameter.

    Returns (loss, grads) with grads a dict name -> float64 array of the
    parameter's shape. `gelu` is 'tanh' (the model's choice) or 'none'
    (exact); when omitted, cfg.gelu is used if cfg has one, else 'tanh'.
    """
    approx = gelu if gelu is not None else getattr(cfg, "gelu", "tanh")
    if approx not in ("tanh", "none"):
        raise ValueError(f"unknown gelu approximation {approx!r}")
    # The MLP activation: cfg.activation 'silu' replaces the GELU.
    silu = getattr(cfg, "activation", "gelu") == "silu"
    ref._check_inputs(params, tokens, targets, cfg)
    p = {name: np.asarray(params[name], dtype=np.float64)
         for name, _, _, _ in param_specs(cfg)}
    tokens = np.asarray(tokens)
    targets = np.asarray(targets)
    T = tokens.shape[1]
    wte = p["wte.weight"]

    # Forward, keeping what the backward pass needs.
    x = wte[tokens] + p["wpe.weight"][:T][None, :, :]
    saved = []
    for i in range(cfg.n_layer):
        h = f"h.{i}."
        s = {}
        a, s["ln_1"] = _ln_forward(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"])
        s["ln_1.out"] = a
        qkv = ref.linear(a, p, h + "attn.c_attn")
        q, k, v = np.split(qkv, 3, axis=-1)
        att, s["attn"] = _attention_forward(q, k, v, cfg.n_head)
        s["attn.out"] = att
        x = x + ref.linear(att, p, h + "attn.c_proj")
        m, s["ln_2"] = _ln_forward(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"])
        s["ln_2.out"] = m
        fc = ref.linear(m, p, h + "mlp.c_fc")
        s["fc.out"] = fc
        g = ref.silu(fc) if silu else ref.gelu(fc, approx)
        s["gelu.out"] = g
        x = x + ref.linear(g, p, h + "mlp.c_proj")
        saved.append(s)
    xf, lnf_saved = _ln_forward(x, p["ln_f.weight"], p["ln_f.bias"])
    head = p[cfg.head_name]
    logits = xf @ head.T
    loss, dlogits = masked_cross_entropy(logits, targets, cfg.vocab)

    # Backward.
    grads: dict[str, np.ndarray] = {}
    C = cfg.d_model
    # LM head: logits = xf @ head.T. Tied (head = wte), this is the first of
    # wte's two gradient contributions; the embedding gather adds the second
    # below.
    dhead = dlogits.reshape(-1, cfg.rows).T @ xf.reshape(-1, C)
    dx = dlogits @ head
    if cfg.tied:
        dwte = dhead
    else:
        grads["lm_head.weight"] = dhead
        dwte = np.zeros_like(wte)
    dx = _ln_backward(dx, lnf_saved, grads, "ln_f")
    for i in reversed(range(cfg.n_layer)):
        h = f"h.{i}."
        s = saved[i]
        # MLP residual: x_out = x_mid + mlp(ln_2(x_mid)).
        dg = _linear_backward(dx, s["gelu.out"], p[h + "mlp.c_proj.weight"],
                              grads, h + "mlp.c_proj")
        dfc = dg * (silu_grad(s["fc.out"]) if silu
                    else gelu_grad(s["fc.out"], approx))
        dm = _linear_backward(dfc, s["ln_2.out"], p[h + "mlp.c_fc.weight"],
                              grads, h + "mlp.c_fc")
        dx = dx + _ln_backward(dm, s["ln_2"], grads, h + "ln_2")
        # Attention residual: x_mid = x_in + c_proj(attn(c_attn(ln_1(x_in)))).
        datt = _linear_backward(dx, s["attn.out"], p[h + "attn.c_proj.weight"],
                                grads, h + "attn.c_proj")
        dq, dk, dv = _attention_backward(datt, s["attn"])
        dqkv = np.concatenate([dq, dk, dv], axis=-1)
        da = _linear_backward(dqkv, s["ln_1.out"], p[h + "attn.c_attn.weight"],
                              grads, h + "attn.c_attn")
        dx = dx + _ln_backward(da, s["ln_1"], grads, h + "ln_1")
    # Embeddings: scatter-add into the rows that were gathered (a token that
    # occurs several times accumulates), positions summed over the batch.
    np.add.at(dwte, tokens, dx)
    grads["wte.weight"] = dwte
    dwpe = np.zeros_like(p["wpe.weight"])
    dwpe[:T] = dx.sum(axis=0)
    grads["wpe.weight"] = dwpe

    ordered = {name: grads[name] for name, _, _, _ in param_specs(cfg)}
    return loss, ordered


# ---------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HParams:
    """Optimizer and schedule settings (PyTorch AdamW semantics)."""

    lr: float = 6e-4
    min_lr: float = 0.0
    warmup: int = 0
    decay_steps: int = 0  # 0: no decay, constant lr after warm-up
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # 0 disables clipping


def lr_at(step: int, hp: HParams) -> float:
    """Learning rate of 0-based `step`: linear warm-up, then cosine decay.

    During warm-up lr * (step + 1) / warmup; afterwards lr if decay_steps is
    0, else the cosine from lr down to min_lr reached at step decay_steps and
    held from then on.
    """
    if step < hp.warmup:
        return hp.lr * (step + 1) / hp.warmup
    if hp.decay_steps == 0:
        return hp.lr
    ratio = min(1.0, (step - hp.warmup) / max(1, hp.decay_steps - hp.warmup))
    return hp.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (hp.lr - hp.min_lr)


def decay_mask(cfg: GPT2Config) -> dict[str, bool]:
    """Weight decay on matrices and embeddings (rank >= 2) only; not on
    biases or LayerNorm parameters."""
    return {name: len(shape) >= 2 for name, shape, _, _ in param_specs(cfg)}


def init_moments(params) -> tuple[dict, dict]:
    """Zero first and second moments (float64) shaped like `params`."""
    m = {k: np.zeros(np.shape(v), dtype=np.float64) for k, v in params.items()}
    v = {k: np.zeros(np.shape(a), dtype=np.float64) for k, a in params.items()}
    return m, v


def adamw_step(params, grads, m, v, step: int, hp: HParams, mask):
    """One AdamW update at 0-based `step`.

    Returns (new_params, new_m, new_v, grad_norm, lr); the inputs are not
    modified. grad_norm is the global L2 norm of all gradients before
    clipping. m or v may be None for zero moments.
    """
    if m is None or v is None:
        zm, zv = init_moments(params)
        m = zm if m is None else m
        v = zv if v is None else v
    names = list(params)
    g = {n: np.asarray(grads[n], dtype=np.float64) for n in names}
    grad_norm = math.sqrt(sum(float(np.sum(g[n] * g[n])) for n in names))
    if hp.grad_clip > 0:
        scale = min(1.0, hp.grad_clip / (grad_norm + 1e-6))
        g = {n: g[n] * scale for n in names}
    lr = lr_at(step, hp)
    t = step + 1
    bc1 = 1.0 - hp.beta1 ** t
    bc2 = 1.0 - hp.beta2 ** t
    new_p, new_m, new_v = {}, {}, {}
    for n in names:
        p_old = np.asarray(params[n], dtype=np.float64)
        mn = hp.beta1 * np.asarray(m[n], dtype=np.float64) + (1.0 - hp.beta1) * g[n]
        vn = hp.beta2 * np.asarray(v[n], dtype=np.float64) + (1.0 - hp.beta2) * g[n] ** 2
        mhat = mn / bc1
        vhat = vn / bc2
        p_new = p_old - lr * (mhat / (np.sqrt(vhat) + hp.eps))
        if mask[n]:
            # Decoupled weight decay, applied with the pre-update value.
            p_new = p_new - lr * hp.weight_decay * p_old
        new_p[n], new_m[n], new_v[n] = p_new, mn, vn
    return new_p, new_m, new_v, grad_norm, lr


def train(params, batches, cfg: GPT2Config, hp: HParams, steps: int, *,
          gelu: str | None = None):
    """Run `steps` AdamW steps; step i trains on batches[i % len(batches)].

    Returns (history, params, m, v) where history[i] = (loss, grad_norm, lr)
    of step i, the loss being measured before that step's update; params, m
    and v are the float64 state after the last step.
    """
    if not batches:
        raise ValueError("batches must not be empty")
    p = {k: np.array(val, dtype=np.float64) for k, val in params.items()}
    m, v = init_moments(p)
    mask = decay_mask(cfg)
    history = []
    for step in range(steps):
        tokens, targets = batches[step % len(batches)]
        loss, grads = forward_backward(p, tokens, targets, cfg, gelu=gelu)
        p, m, v, grad_norm, lr = adamw_step(p, grads, m, v, step, hp, mask)
        history.append((loss, grad_norm, lr))
    return history, p, m, v
