"""Tests for the NumPy reference forward pass against direct loops."""

import math
from dataclasses import replace

import numpy as np
import pytest

from lmc import reference as ref
from lmc.models.gpt2 import PRESETS, emit_model, param_specs
from lmc.testing.interpret import run_forward

TINY = PRESETS["tiny"]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_layer_norm_matches_loop(rng):
    x, w, b = rng.normal(size=(3, 4, 7)), rng.normal(size=7), rng.normal(size=7)
    got = ref.layer_norm(x, w, b, eps=1e-5)
    for idx in np.ndindex(3, 4):
        row = list(x[idx])
        mean = sum(row) / len(row)
        var = sum((v - mean) ** 2 for v in row) / len(row)
        want = [(v - mean) / math.sqrt(var + 1e-5) * w[c] + b[c]
                for c, v in enumerate(row)]
        np.testing.assert_allclose(got[idx], want, rtol=1e-12, atol=1e-12)


def test_softmax_matches_loop(rng):
    x = rng.normal(size=(4, 6)) * 10
    got = ref.softmax(x)
    for r in range(4):
        e = [math.exp(v) for v in x[r]]
        np.testing.assert_allclose(got[r], [v / sum(e) for v in e], rtol=1e-12)
    big = ref.softmax(np.array([1000.0, 1000.0, -np.inf]))
    np.testing.assert_allclose(big, [0.5, 0.5, 0.0])


def test_gelu_matches_formulas(rng):
    x = rng.normal(size=50) * 3
    tanh = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
            for v in x]
    exact = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x]
    np.testing.assert_allclose(ref.gelu(x), tanh, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ref.gelu(x, "none"), exact, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(ref.gelu(x) - ref.gelu(x, "none"))) < 1e-2
    with pytest.raises(ValueError):
        ref.gelu(x, "fast")


def test_causal_attention_matches_loop(rng):
    B, T, H, D = 2, 5, 3, 4
    C = H * D
    q, k, v = (rng.normal(size=(B, T, C)) for _ in range(3))
    got = ref.causal_attention(q, k, v, H)
    want = np.zeros((B, T, C))
    for b in range(B):
        for h in range(H):
            s = slice(h * D, (h + 1) * D)
            for i in range(T):
                scores = [float(q[b, i, s] @ k[b, j, s]) / math.sqrt(D)
                          for j in range(i + 1)]
                m = max(scores)
                e = [math.exp(x - m) for x in scores]
                for j in range(i + 1):
                    want[b, i, s] += e[j] / sum(e) * v[b, j, s]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_cross_entropy_matches_loop(rng):
    logits = rng.normal(size=(2, 3, 5))
    targets = rng.integers(0, 5, size=(2, 3))
    total = 0.0
    for b in range(2):
        for t in range(3):
            row = logits[b, t]
            total += math.log(sum(math.exp(v) for v in row)) - row[targets[b, t]]
    assert ref.cross_entropy(logits, targets) == pytest.approx(total / 6, rel=1e-12)


def test_init_params():
    p = ref.init_params(TINY, seed=0)
    assert list(p) == [s[0] for s in param_specs(TINY)]
    assert all(a.dtype == np.float32 for a in p.values())
    assert np.all(p["h.0.ln_1.weight"] == 1) and np.all(p["h.0.ln_1.bias"] == 0)
    assert np.all(p["h.1.mlp.c_fc.bias"] == 0)
    assert p["wte.weight"].std() == pytest.approx(0.02, rel=0.05)
    assert p["h.0.mlp.c_proj.weight"].std() == pytest.approx(0.01, rel=0.05)
    again = ref.init_params(TINY, seed=0)
    assert all(np.array_equal(p[k], again[k]) for k in p)
    other = ref.init_params(TINY, seed=1)
    assert not np.array_equal(p["wte.weight"], other["wte.weight"])
    p64 = ref.init_params(replace(TINY, dtype="f64"), seed=0)
    assert p64["wte.weight"].dtype == np.float64
    np.testing.assert_allclose(p64["wte.weight"], p["wte.weight"], rtol=1e-6)


def _batch(seed, B=2, T=16, V=256):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, size=(B, T)), rng.integers(0, V, size=(B, T))


def test_untrained_loss_near_uniform():
    tokens, targets = _batch(7)
    loss = ref.forward_loss(ref.init_params(TINY, 0), tokens, targets, TINY)
    assert isinstance(loss, float)
    assert abs(loss - math.log(256)) < 0.1


def test_causality():
    params = ref.init_params(TINY, 3)
    tokens, targets = _batch(8)
    changed = tokens.copy()
    changed[:, 1:] = (changed[:, 1:] + 17) % 256
    a = ref.forward_logits(params, tokens, TINY)
    b = ref.forward_logits(params, changed, TINY)
    np.testing.assert_array_equal(a[:, 0], b[:, 0])
    assert not np.allclose(a[:, 1], b[:, 1])
    first = lambda toks: ref.forward_loss(params, toks[:, :1], targets[:, :1], TINY)
    assert first(tokens) == first(changed)


def test_f32_and_f64_agree():
    tokens, targets = _batch(9)
    l32 = ref.forward_loss(ref.init_params(TINY, 5), tokens, targets, TINY)
    cfg64 = replace(TINY, dtype="f64")
    l64 = ref.forward_loss(ref.init_params(cfg64, 5), tokens, targets, cfg64)
    assert l32 == pytest.approx(l64, rel=1e-6)


def test_input_validation():
    params = ref.init_params(TINY, 0)
    tokens, targets = _batch(1)
    with pytest.raises(ValueError, match="out of range"):
        ref.forward_loss(params, tokens + 256, targets, TINY)
    with pytest.raises(ValueError, match="ctx"):
        ref.forward_loss(params, *_batch(1, T=65), TINY)
    del params["ln_f.bias"]
    with pytest.raises(ValueError, match="missing"):
        ref.forward_loss(params, tokens, targets, TINY)


@pytest.mark.parametrize("dtype,tied,bias", [
    ("f32", True, True), ("f64", True, True), ("f64", False, True),
    ("f64", True, False), ("f32", False, False)])
def test_emitted_model_matches_reference(dtype, tied, bias):
    """Interpreting the emitted MLIR gives the reference loss (wiring check),
    for the stock model and for an untied head and no linear biases."""
    cfg = replace(TINY, dtype=dtype, n_layer=3, n_head=4, tied=tied, bias=bias)
    rng = np.random.default_rng(11)
    # Perturb every parameter so biases and LayerNorm affine terms matter.
    params = {k: v + rng.normal(0, 0.1, v.shape)
              for k, v in ref.init_params(cfg, 11).items()}
    tokens, targets = _batch(12, B=3, T=10)
    want = ref.forward_loss(params, tokens, targets, cfg)
    text = emit_model(cfg)
    assert run_forward(text, params, tokens, targets) == pytest.approx(want, rel=1e-12)
    # The check is sensitive to wiring: swapping q and k changes the loss.
    swapped = text.replace("causal_attention %h1_q, %h1_k", "causal_attention %h1_k, %h1_q")
    assert run_forward(swapped, params, tokens, targets) != pytest.approx(want, rel=1e-6)


def test_untied_head_reads_lm_head():
    """Untied, the logits are ln_f(x) @ lm_head.T: changing lm_head changes
    them and a wte row no token gathers does not; tied, that row does."""
    tokens, targets = _batch(5, B=2, T=6)
    unused = next(r for r in range(TINY.vocab) if r not in tokens)
    for tied in (True, False):
        cfg = replace(TINY, tied=tied)
        params = ref.init_params(cfg, 5)
        base = ref.forward_logits(params, tokens, cfg)
        moved = dict(params)
        moved["wte.weight"] = params["wte.weight"].copy()
        moved["wte.weight"][unused] += 1.0
        same = np.array_equal(ref.forward_logits(moved, tokens, cfg), base)
        assert same == (not tied)
        if not tied:
            moved = dict(params, **{"lm_head.weight": params["lm_head.weight"] * 2})
            assert not np.allclose(ref.forward_logits(moved, tokens, cfg), base)
