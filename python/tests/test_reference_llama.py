"""Tests for the NumPy Llama reference (forward, gradients, training step),
including agreement with Hugging Face's LlamaForCausalLM through the
committed fixture test/e2e/Inputs/hf-llama-tiny (made by transformers)."""

import json
import os
import re
from dataclasses import replace

import numpy as np
import pytest

from lmc import reference_llama as rl
from lmc import reference_train as rt
from lmc import safetensors
from lmc.models.llama import PRESETS, LlamaConfig, param_specs, read_hf_config
from lmc.testing import family, forward_case, train_case

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "test", "e2e",
                       "Inputs", "hf-llama-tiny")
SMALL = LlamaConfig(vocab=13, ctx=8, n_layer=2, n_head=4, n_kv_head=2,
                    d_model=16, ffn=12, rope_theta=500.0, rms_eps=1e-5,
                    dtype="f64", name="small")


def perturbed(cfg, seed, scale=0.3):
    """Parameters away from the init (norm weights not all one)."""
    p = rl.init_params(cfg, seed)
    rng = np.random.default_rng(seed + 100)
    return {k: v + rng.standard_normal(v.shape) * scale for k, v in p.items()}


def batch(cfg, seed, B=2, T=5):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, cfg.vocab, (B, T)), rng.integers(0, cfg.vocab, (B, T)))


def test_matches_hugging_face_llama():
    # LlamaForCausalLM's own float64 logits (its RMSNorm statistics are
    # float32, hence the tolerance) on the fixture's weights.
    cfg = read_hf_config(os.path.join(FIXTURE, "config.json"))
    params, meta = safetensors.load(os.path.join(FIXTURE, "model.safetensors"))
    assert meta == {"format": "pt"} and "lm_head.weight" not in params
    expected, _ = safetensors.load(os.path.join(FIXTURE, "expected.safetensors"))
    logits = rl.forward_logits(params, expected["tokens"], cfg)
    assert np.abs(expected["logits"]).max() > 10  # far from uniform
    np.testing.assert_allclose(logits, expected["logits"], rtol=0, atol=1e-5)


def rope_by_complex(x, head_dim, theta, offset=0):
    """RoPE as a complex rotation of the pairs (i, i + D/2): an independent
    statement of the contract."""
    B, T, C = x.shape
    h = x.reshape(B, T, C // head_dim, head_dim)
    half = head_dim // 2
    z = h[..., :half] + 1j * h[..., half:]
    i = np.arange(half)
    a = (np.arange(T) + offset)[:, None] * theta ** (-2.0 * i / head_dim)
    z = z * np.exp(1j * a)[None, :, None, :]
    return np.concatenate([z.real, z.imag], axis=-1).reshape(B, T, C)


def test_rope():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 24))
    for offset in (0, 5):
        r = rl.rope(x, 8, 100.0, offset=offset)
        np.testing.assert_allclose(r, rope_by_complex(x, 8, 100.0, offset),
                                   atol=1e-13)
        np.testing.assert_allclose(rl.rope(r, 8, 100.0, offset=offset,
                                           inverse=True), x, atol=1e-13)
    # Position 0 is not rotated; norms of pairs are kept.
    np.testing.assert_allclose(rl.rope(x, 8, 100.0)[:, 0], x[:, 0])
    with pytest.raises(ValueError):
        rl.rope(x, 7, 100.0)


def test_rms_norm():
    x = np.array([[3.0, 4.0]])
    y = rl.rms_norm(x, np.array([1.0, 2.0]), 0.0)
    np.testing.assert_allclose(y, [[3 / np.sqrt(12.5), 8 / np.sqrt(12.5)]])


def test_gqa_is_mha_with_repeated_kv():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 5, 24))
    k = rng.standard_normal((2, 5, 12))
    v = rng.standard_normal((2, 5, 12))

    def repeat(a, group):  # [B,T,Hkv*D] -> [B,T,Hkv*group*D] per head
        B, T, C = a.shape
        h = a.reshape(B, T, C // 6, 6)
        return np.repeat(h, group, axis=2).reshape(B, T, -1)

    got = rl.causal_attention(q, k, v, 4, 2)
    want = rl.causal_attention(q, repeat(k, 2), repeat(v, 2), 4, 4)
    np.testing.assert_allclose(got, want, atol=1e-14)
    # MQA: every query head reads the one key/value head.
    got = rl.causal_attention(q, k[..., :6], v[..., :6], 4, 1)
    want = rl.causal_attention(q, repeat(k[..., :6], 4), repeat(v[..., :6], 4),
                               4, 4)
    np.testing.assert_allclose(got, want, atol=1e-14)


@pytest.mark.parametrize("cfg", [
    SMALL,
    replace(SMALL, tied=True),
    replace(SMALL, n_kv_head=1),   # MQA
    replace(SMALL, n_kv_head=4),   # MHA
], ids=["gqa-untied", "gqa-tied", "mqa", "mha"])
def test_gradients_match_finite_differences(cfg):
    params = perturbed(cfg, 0)
    tokens, targets = batch(cfg, 1)
    loss, grads = rl.forward_backward(params, tokens, targets, cfg)
    assert loss == pytest.approx(rl.forward_loss(params, tokens, targets, cfg),
                                 rel=1e-13)
    assert list(grads) == [s[0] for s in param_specs(cfg)]
    rng = np.random.default_rng(2)
    eps = 1e-6
    for name, value in params.items():
        assert grads[name].shape == value.shape
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in value.shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd = (rl.forward_loss(plus, tokens, targets, cfg)
                  - rl.forward_loss(minus, tokens, targets, cfg)) / (2 * eps)
            assert grads[name][idx] == pytest.approx(fd, rel=1e-5, abs=1e-8), \
                (name, idx)


def test_repeated_tokens_accumulate_embedding_gradient():
    cfg = replace(SMALL, tied=True)
    params = perturbed(cfg, 3)
    tokens = np.array([[1, 1, 1, 2]])
    targets = np.array([[2, 3, 1, 1]])
    _, grads = rl.forward_backward(params, tokens, targets, cfg)
    eps = 1e-6
    for row in (1, 2, 5):
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus["model.embed_tokens.weight"][row, 3] += eps
        minus["model.embed_tokens.weight"][row, 3] -= eps
        fd = (rl.forward_loss(plus, tokens, targets, cfg)
              - rl.forward_loss(minus, tokens, targets, cfg)) / (2 * eps)
        assert grads["model.embed_tokens.weight"][row, 3] == \
            pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_decay_mask_spares_norms():
    mask = rl.decay_mask(PRESETS["tiny"])
    assert not mask["model.norm.weight"]
    assert not mask["model.layers.1.post_attention_layernorm.weight"]
    assert mask["model.layers.0.self_attn.k_proj.weight"]
    assert mask["lm_head.weight"] and mask["model.embed_tokens.weight"]


def test_train_follows_adamw_and_learns():
    cfg = replace(SMALL, dtype="f32")
    params = rl.init_params(cfg, 0)
    b = [batch(cfg, 5, B=2, T=6)]
    hp = rt.HParams(lr=1e-2, warmup=2, decay_steps=6, min_lr=1e-3)
    history, p, m, v = rl.train(params, b, cfg, hp, 8)
    assert history[-1][0] < 0.9 * history[0][0]
    # Step by step with the shared AdamW.
    q = {k: x.astype(np.float64) for k, x in params.items()}
    mm, vv = rt.init_moments(q)
    for step in range(8):
        loss, grads = rl.forward_backward(q, *b[0], cfg)
        q, mm, vv, norm, lr = rt.adamw_step(q, grads, mm, vv, step, hp,
                                            rl.decay_mask(cfg))
        assert (loss, norm, lr) == history[step]
    assert all(np.array_equal(q[k], p[k]) for k in q)


def test_init_params():
    p = rl.init_params(PRESETS["tiny"], 0)
    assert p["model.norm.weight"].dtype == np.float32
    assert np.all(p["model.layers.0.input_layernorm.weight"] == 1)
    std = p["model.layers.0.mlp.gate_proj.weight"].std()
    assert 0.018 < std < 0.022
    assert rl.init_params(PRESETS["tiny"], 0)["lm_head.weight"].tobytes() == \
        p["lm_head.weight"].tobytes()


def test_check_inputs():
    cfg = SMALL
    p = rl.init_params(cfg, 0)
    with pytest.raises(ValueError, match="out of range"):
        rl.forward_loss(p, [[13]], [[0]], cfg)
    with pytest.raises(ValueError, match="ctx"):
        rl.forward_loss(p, np.zeros((1, 9), int), np.zeros((1, 9), int), cfg)
    del p["model.norm.weight"]
    with pytest.raises(ValueError, match="missing parameter"):
        rl.forward_loss(p, [[1]], [[0]], cfg)


def test_llama_train_case(tmp_path):
    cfg = replace(PRESETS["tiny"], n_layer=1)
    hp = rt.HParams(warmup=1, decay_steps=3, min_lr=1e-5)
    history = train_case.write_case(cfg, str(tmp_path), hp, steps=3, batch=2,
                                     seq=4, seed=2, num_batches=2)
    expected = json.loads((tmp_path / "expected.json").read_text())
    assert expected["family"] == "llama" and expected["history"] == history
    params, _ = safetensors.load(tmp_path / "params.safetensors")
    assert sorted(params) == sorted(s[0] for s in param_specs(cfg))
    ref, _, _, _ = rl.train(params, train_case.make_batches(cfg, 2, 2, 4, 2),
                            cfg, hp, 3)
    assert [h["loss"] for h in history] == [h[0] for h in ref]
    text = (tmp_path / "model.mlir").read_text()
    n = len(param_specs(cfg))
    decl = re.search(r"func\.func private @train_step\((.*?)\) -> \((.*?)\)\n", text)
    assert len(decl[1].split(", ")) == 3 * n + 12
    assert "lmc.rms_norm" in text and 'lmc.param_ref @"lm_head.weight"' in text


def test_llama_cli_cases(run_cli, tmp_path):
    r = run_cli("lmc.testing.train_case", "--family", "llama", "--preset", "tiny",
                "--n-layer", "1", "--steps", "2", "--seq", "4",
                "--out-dir", tmp_path / "t")
    assert r.returncode == 0, r.stderr
    assert "tiny f32" in r.stdout
    assert "lmc.rope" in (tmp_path / "t" / "model.mlir").read_text()
    r = run_cli("lmc.testing.forward_case", "--family", "llama", "--preset",
                "tiny", "--tie-embeddings", "--seq", "4", "--out-dir",
                tmp_path / "f")
    assert r.returncode == 0, r.stderr
    expected = json.loads((tmp_path / "f" / "expected.json").read_text())
    cfg = replace(PRESETS["tiny"], tied=True)
    tokens, targets = forward_case.make_inputs(cfg, 2, 4, 0)
    assert expected["loss"] == rl.forward_loss(rl.init_params(cfg, 0), tokens,
                                               targets, cfg)
    # A GPT-2 option is not a Llama one.
    r = run_cli("lmc.testing.train_case", "--family", "llama", "--no-bias",
                "--out-dir", tmp_path / "x")
    assert r.returncode == 2 and "--no-bias" in r.stderr


def test_family_lookup():
    assert family.of(PRESETS["tiny"]).name == "llama"
    from lmc.models.gpt2 import PRESETS as GPT2
    assert family.of(GPT2["tiny"]).name == "gpt2"
    with pytest.raises(ValueError):
        family.get("bert")


def test_llama_grad_case(tmp_path):
    from lmc.testing import grad_case
    cfg = replace(PRESETS["tiny"], n_kv_head=1, tied=True)
    case = grad_case.write_gpt_case(cfg, str(tmp_path), batch=2, seq=6,
                                    seed=0, per_param=2)
    expected = json.loads((tmp_path / "expected.json").read_text())
    values = dict(case.values)
    loss, grads = rl.forward_backward(values, case.tokens, case.targets,
                                      replace(cfg, dtype="f64"))
    assert expected["reference_loss"] == loss
    embed = expected["reference_grads"]["model.embed_tokens.weight"]
    coords = case.coords["model.embed_tokens.weight"]
    assert len(coords) >= 2 + 6  # random ones, a repeated row, an unused row
    assert embed == [float(grads["model.embed_tokens.weight"][c]) for c in coords]
    text = (tmp_path / "model.mlir").read_text()
    assert "kv_heads(1)" in text and "lm_head" not in text
