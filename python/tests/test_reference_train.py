"""Tests for the NumPy reference training step: gradients against finite
differences, the learning-rate schedule, AdamW against scalar loops, the
weight-decay mask and a short training run."""

import math

import numpy as np
import pytest

from lmc import reference as ref
from lmc import reference_train as rt
from lmc.models.gpt2 import PRESETS, GPT2Config, param_specs

MICRO = GPT2Config(vocab=11, ctx=8, n_layer=2, n_head=2, d_model=8,
                   dtype="f64", name="micro")

# [B=2, T=5]. Token 3 occurs three times (scatter-add accumulates), tokens
# 1, 2, 4, 8 and 10 never occur (their wte rows only get the LM-head part).
TOKENS = np.array([[3, 7, 3, 0, 5], [9, 3, 6, 0, 7]])
TARGETS = np.array([[7, 3, 0, 5, 1], [3, 6, 0, 7, 10]])
USED_ROW, UNUSED_ROW = 3, 2


def random_params(cfg, seed):
    """Parameters well away from the initialization, so every path (LN
    scale and shift, biases, attention mixing) carries a sizable gradient."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, kind, _ in param_specs(cfg):
        base = 1.0 if kind == "ones" else 0.0
        out[name] = base + 0.5 * rng.standard_normal(shape)
    return out


def numeric_grad(loss_fn, a, idx, h=1e-3):
    """Fourth-order central difference of loss_fn() in coordinate a[idx]."""
    old = a[idx]

    def at(delta):
        a[idx] = old + delta
        try:
            return loss_fn()
        finally:
            a[idx] = old

    return (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h)


def coords_to_check(name, shape, rng, n=12):
    """A random subset of coordinates; for wte also a whole row that is both
    gathered and used by the head, and a whole row used by the head only;
    for wpe a row past the sequence length (gradient exactly zero)."""
    flat = rng.choice(math.prod(shape), size=min(n, math.prod(shape)),
                      replace=False)
    coords = [np.unravel_index(i, shape) for i in flat]
    if name == "wte.weight":
        coords += [(USED_ROW, c) for c in range(shape[1])]
        coords += [(UNUSED_ROW, c) for c in range(shape[1])]
    if name == "wpe.weight":
        coords += [(TOKENS.shape[1] + 1, 0), (TOKENS.shape[1] - 1, 1)]
    return coords


def rel_err(a, b, floor=1e-6):
    return abs(a - b) / max(abs(a), abs(b), floor)


# Not the stock model: an untied LM head, no linear biases, 3 heads.
MICRO_UNTIED = GPT2Config(vocab=11, ctx=8, n_layer=2, n_head=3, d_model=9,
                          dtype="f64", name="micro_untied", tied=False,
                          bias=False)


@pytest.mark.parametrize("cfg,approx", [(MICRO, "tanh"), (MICRO, "none"),
                                        (MICRO_UNTIED, "tanh")])
def test_gradients_match_finite_differences(cfg, approx):
    params = random_params(cfg, seed=7)
    loss, grads = rt.forward_backward(params, TOKENS, TARGETS, cfg,
                                      gelu=approx)
    assert list(grads) == [n for n, _, _, _ in param_specs(cfg)]

    def loss_fn():
        return rt.forward_backward(params, TOKENS, TARGETS, cfg,
                                   gelu=approx)[0]

    rng = np.random.default_rng(11)
    for name, shape, _, _ in param_specs(cfg):
        assert grads[name].shape == shape and grads[name].dtype == np.float64
        for idx in coords_to_check(name, shape, rng):
            fd = numeric_grad(loss_fn, params[name], idx)
            err = rel_err(fd, grads[name][idx])
            assert err < 1e-6, (name, idx, fd, grads[name][idx], err)


def test_wte_gradient_has_both_parts():
    params = random_params(MICRO, seed=3)
    _, grads = rt.forward_backward(params, TOKENS, TARGETS, MICRO)
    g = grads["wte.weight"]
    # Rows never gathered still get the LM-head gradient.
    assert np.all(np.abs(g[UNUSED_ROW]) > 0)
    # Positions past T get nothing.
    assert np.all(grads["wpe.weight"][TOKENS.shape[1]:] == 0)


def test_untied_wte_gradient_is_the_embedding_part_only():
    params = random_params(MICRO_UNTIED, seed=3)
    _, grads = rt.forward_backward(params, TOKENS, TARGETS, MICRO_UNTIED)
    # Rows never gathered get nothing: the head's gradient is lm_head's.
    assert np.all(grads["wte.weight"][UNUSED_ROW] == 0)
    assert np.all(np.abs(grads["wte.weight"][USED_ROW]) > 0)
    assert np.all(np.abs(grads["lm_head.weight"][UNUSED_ROW]) > 0)


def test_loss_matches_reference_forward():
    params = random_params(MICRO, seed=5)
    loss, _ = rt.forward_backward(params, TOKENS, TARGETS, MICRO)
    assert loss == pytest.approx(ref.forward_loss(params, TOKENS, TARGETS, MICRO),
                                 rel=1e-12)
    tiny = PRESETS["tiny"]
    p = ref.init_params(tiny, seed=0)
    rng = np.random.default_rng(0)
    tok = rng.integers(0, tiny.vocab, size=(2, 16))
    tgt = rng.integers(0, tiny.vocab, size=(2, 16))
    loss, grads = rt.forward_backward(p, tok, tgt, tiny)
    assert loss == pytest.approx(ref.forward_loss(p, tok, tgt, tiny), rel=1e-12)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_forward_backward_rejects_bad_input():
    params = random_params(MICRO, seed=0)
    with pytest.raises(ValueError):
        rt.forward_backward(params, TOKENS, TARGETS, MICRO, gelu="fast")
    with pytest.raises(ValueError):
        rt.forward_backward(params, TOKENS + 20, TARGETS, MICRO)


@pytest.mark.parametrize("approx", ["tanh", "none"])
def test_gelu_grad_matches_finite_differences(approx):
    x = np.linspace(-5.0, 5.0, 41)
    fd = np.array([numeric_grad(lambda: float(ref.gelu(x, approx)[i]), x, i)
                   for i in range(x.size)])
    np.testing.assert_allclose(rt.gelu_grad(x, approx), fd, rtol=1e-9, atol=1e-12)


def test_lr_schedule():
    hp = rt.HParams(lr=1e-3, min_lr=1e-4, warmup=10, decay_steps=110)
    assert rt.lr_at(0, hp) == pytest.approx(1e-4)
    assert rt.lr_at(4, hp) == pytest.approx(5e-4)
    assert rt.lr_at(9, hp) == pytest.approx(1e-3)
    assert rt.lr_at(10, hp) == pytest.approx(1e-3)
    assert rt.lr_at(60, hp) == pytest.approx(1e-4 + 0.5 * 9e-4)  # middle
    assert rt.lr_at(35, hp) == pytest.approx(
        1e-4 + 0.5 * (1 + math.cos(math.pi * 0.25)) * 9e-4)
    assert rt.lr_at(110, hp) == pytest.approx(1e-4)  # end
    assert rt.lr_at(1000, hp) == pytest.approx(1e-4)
    # No decay: constant after warm-up; no warm-up: lr from step 0.
    const = rt.HParams(lr=6e-4, warmup=4)
    assert [rt.lr_at(s, const) for s in range(6)] == pytest.approx(
        [1.5e-4, 3e-4, 4.5e-4, 6e-4, 6e-4, 6e-4])
    assert rt.lr_at(0, rt.HParams()) == 6e-4
    assert rt.lr_at(10 ** 6, rt.HParams()) == 6e-4


def scalar_adamw(p, g, m, v, t, lr, hp, decay, clip_scale):
    g = g * clip_scale
    m = hp.beta1 * m + (1 - hp.beta1) * g
    v = hp.beta2 * v + (1 - hp.beta2) * g * g
    mhat = m / (1 - hp.beta1 ** t)
    vhat = v / (1 - hp.beta2 ** t)
    new = p - lr * mhat / (math.sqrt(vhat) + hp.eps)
    if decay:
        new -= lr * hp.weight_decay * p
    return new, m, v


@pytest.mark.parametrize("clip", [0.0, 0.5, 1e6])
def test_adamw_step_matches_scalar_loop(clip):
    rng = np.random.default_rng(2)
    shapes = {"w": (2, 3), "b": (3,), "e": (4, 2)}
    mask = {"w": True, "b": False, "e": True}
    params = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = {k: rng.normal(size=s) for k, s in shapes.items()}
    m = {k: rng.normal(size=s) * 0.1 for k, s in shapes.items()}
    v = {k: rng.random(size=s) * 0.1 for k, s in shapes.items()}
    hp = rt.HParams(lr=1e-2, warmup=5, weight_decay=0.1, grad_clip=clip)
    step = 2
    before = {k: a.copy() for k, a in params.items()}
    new_p, new_m, new_v, norm, lr = rt.adamw_step(params, grads, m, v, step,
                                                  hp, mask)
    for k in params:  # inputs untouched
        np.testing.assert_array_equal(params[k], before[k])

    want_norm = math.sqrt(sum(float(x) ** 2 for a in grads.values()
                              for x in a.ravel()))
    assert norm == pytest.approx(want_norm, rel=1e-13)
    assert lr == pytest.approx(1e-2 * 3 / 5)
    scale = min(1.0, clip / (want_norm + 1e-6)) if clip > 0 else 1.0
    if clip == 0.5:
        assert scale < 1.0
    for k, shape in shapes.items():
        for idx in np.ndindex(shape):
            want = scalar_adamw(float(params[k][idx]), float(grads[k][idx]),
                                float(m[k][idx]), float(v[k][idx]), step + 1,
                                lr, hp, mask[k], scale)
            got = (new_p[k][idx], new_m[k][idx], new_v[k][idx])
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), (k, idx)


def test_adamw_first_step_from_zero_moments():
    # With zero moments the first bias-corrected update is g / (|g| + eps).
    params = {"w": np.array([[1.0, -2.0]]), "b": np.array([0.5])}
    grads = {"w": np.array([[0.3, -0.4]]), "b": np.array([0.0])}
    hp = rt.HParams(lr=0.1, weight_decay=0.0, grad_clip=0.0, eps=1e-12)
    new_p, _, _, norm, _ = rt.adamw_step(params, grads, None, None, 0, hp,
                                         {"w": True, "b": False})
    assert norm == pytest.approx(0.5)
    np.testing.assert_allclose(new_p["w"], [[0.9, -1.9]], rtol=1e-10)
    np.testing.assert_array_equal(new_p["b"], [0.5])


def test_decay_mask_tiny():
    mask = rt.decay_mask(PRESETS["tiny"])
    assert list(mask) == [n for n, _, _, _ in param_specs(PRESETS["tiny"])]
    for name in ("wte.weight", "wpe.weight", "h.0.attn.c_attn.weight",
                 "h.0.attn.c_proj.weight", "h.1.mlp.c_fc.weight",
                 "h.1.mlp.c_proj.weight"):
        assert mask[name] is True, name
    for name, decayed in mask.items():
        if name.endswith(".bias") or ".ln_" in name or name.startswith("ln_f"):
            assert decayed is False, name
    assert sum(mask.values()) == 2 + 4 * PRESETS["tiny"].n_layer


def test_train_reduces_loss():
    params = ref.init_params(MICRO, seed=0)
    hp = rt.HParams(lr=1e-2)
    history, final, m, v = rt.train(params, [(TOKENS, TARGETS)], MICRO, hp, 50)
    assert len(history) == 50
    losses = [h[0] for h in history]
    assert losses[0] == pytest.approx(
        ref.forward_loss(params, TOKENS, TARGETS, MICRO), rel=1e-12)
    assert all(h[2] == 1e-2 for h in history)
    assert losses[-1] < 0.2 * losses[0], losses
    assert ref.forward_loss(final, TOKENS, TARGETS, MICRO) < losses[-1]
    assert set(final) == set(m) == set(v) == set(params)


def test_train_cycles_batches_and_matches_manual_steps():
    rng = np.random.default_rng(4)
    batches = [(rng.integers(0, 11, size=(2, 5)), rng.integers(0, 11, size=(2, 5)))
               for _ in range(2)]
    params = ref.init_params(MICRO, seed=1)
    hp = rt.HParams(lr=1e-3, warmup=2, decay_steps=3)
    history, final, _, _ = rt.train(params, batches, MICRO, hp, 3)

    p, m, v = params, None, None
    mask = rt.decay_mask(MICRO)
    for step in range(3):
        tok, tgt = batches[step % 2]
        loss, grads = rt.forward_backward(p, tok, tgt, MICRO)
        p, m, v, norm, lr = rt.adamw_step(p, grads, m, v, step, hp, mask)
        assert history[step] == pytest.approx((loss, norm, lr), rel=1e-12)
    for k in final:
        np.testing.assert_allclose(final[k], p[k], rtol=1e-12)
    with pytest.raises(ValueError):
        rt.train(params, [], MICRO, hp, 1)


def test_silu_model_gradients_match_finite_differences():
    cfg = GPT2Config(vocab=11, ctx=8, n_layer=2, n_head=2, d_model=8,
                     dtype="f64", name="micro", activation="silu")
    params = random_params(cfg, seed=7)
    loss, grads = rt.forward_backward(params, TOKENS, TARGETS, cfg)
    assert loss == pytest.approx(ref.forward_loss(params, TOKENS, TARGETS, cfg),
                                 rel=1e-12)
    # Not the GELU model's loss.
    assert loss != pytest.approx(
        ref.forward_loss(params, TOKENS, TARGETS, MICRO), rel=1e-6)

    def loss_fn():
        return rt.forward_backward(params, TOKENS, TARGETS, cfg)[0]

    rng = np.random.default_rng(11)
    for name, shape, _, _ in param_specs(cfg):
        for idx in coords_to_check(name, shape, rng, n=6):
            fd = numeric_grad(loss_fn, params[name], idx)
            err = rel_err(fd, grads[name][idx])
            assert err < 1e-6, (name, idx, fd, grads[name][idx], err)


def test_silu_is_stable_and_its_grad_matches_finite_differences():
    x = np.linspace(-8.0, 8.0, 41)
    fd = np.array([numeric_grad(lambda: float(ref.silu(x)[i]), x, i)
                   for i in range(x.size)])
    np.testing.assert_allclose(rt.silu_grad(x), fd, rtol=1e-9, atol=1e-12)
    # Far tails: no overflow, no NaN; silu(x) -> 0 and x, silu' -> 0 and 1.
    tails = np.array([-1e4, -800.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y, d = ref.silu(tails), rt.silu_grad(tails)
    np.testing.assert_array_equal(y, [0.0, 0.0, 800.0, 1e4])
    np.testing.assert_array_equal(d, [0.0, 0.0, 1.0, 1.0])
