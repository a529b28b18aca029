"""The NumPy interpreter's lmc.rms_norm and lmc.rope (lmc.testing.interpret)."""

import numpy as np

from lmc.testing.interpret import rms_norm, rope, run_forward


def _rotate_half_reference(x, head_dim, theta, offset):
    """Hugging Face Llama's apply_rotary_pos_emb on [B, T, H*D]."""
    B, T, C = x.shape
    D = head_dim
    inv_freq = 1.0 / theta ** (np.arange(0, D, 2) / D)
    freqs = np.outer(np.arange(offset, offset + T), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    xh = x.reshape(B, T, C // D, D)
    rot = np.concatenate([-xh[..., D // 2:], xh[..., :D // 2]], axis=-1)
    out = xh * np.cos(emb)[None, :, None, :] + rot * np.sin(emb)[None, :, None, :]
    return out.reshape(B, T, C)


def test_rope_matches_rotate_half_and_inverts():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 12))
    for d, offset in ((4, 0), (6, 3), (12, 11)):
        y = rope(x, d, 500.0, offset)
        np.testing.assert_allclose(y, _rotate_half_reference(x, d, 500.0, offset),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rope(y, d, 500.0, offset, inverse=True), x,
                                   rtol=1e-12, atol=1e-12)
        # A rotation: the norm of each head's channels is kept.
        np.testing.assert_allclose(np.linalg.norm(y.reshape(2, 5, -1, d), axis=-1),
                                   np.linalg.norm(x.reshape(2, 5, -1, d), axis=-1))


def test_rope_offset_continues_the_sequence():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 7, 8))
    whole = rope(x, 8, 1e4, 0)
    np.testing.assert_allclose(rope(x[:, 3:], 8, 1e4, 3), whole[:, 3:], rtol=1e-12)


def test_rms_norm():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4, 8)), rng.standard_normal(8)
    want = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-5) * w
    np.testing.assert_allclose(rms_norm(x, w, 1e-5), want, rtol=1e-12)


def test_run_forward_parses_rms_norm_rope_offset_and_swiglu():
    text = """
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f64> {
    %e = lmc.param_ref @"emb" : tensor<6x8xf64>
    %w = lmc.param_ref @"norm" : tensor<8xf64>
    %x = lmc.embedding %e[%tokens] : tensor<6x8xf64>, tensor<?x?xi32>
    %h = lmc.rms_norm %x, %w eps(1.000000e-05) : tensor<?x?x8xf64>, tensor<8xf64>
    %off = arith.constant 2 : index
    %q = lmc.rope %h head_dim(4) theta(1.000000e+04) offset(%off) : tensor<?x?x8xf64>
    %s = lmc.silu %q : tensor<?x?x8xf64>
    %m = lmc.mul %s, %h : tensor<?x?x8xf64>
    %l = lmc.matmul %m, %e transpose_b : tensor<?x?x8xf64>, tensor<6x8xf64>
    %loss = lmc.cross_entropy %l, %targets : tensor<?x?x6xf64>, tensor<?x?xi32>
    return %loss : tensor<f64>
  }
"""
    rng = np.random.default_rng(3)
    params = {"emb": rng.standard_normal((6, 8)), "norm": 1 + 0.1 * rng.standard_normal(8)}
    tokens = np.array([[1, 2, 3], [4, 5, 0]])
    targets = np.array([[2, 3, 4], [5, 0, 1]])
    h = rms_norm(params["emb"][tokens], params["norm"], 1e-5)
    q = rope(h, 4, 1e4, 2)
    m = q / (1 + np.exp(-q)) * h
    logits = m @ params["emb"].T
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -np.take_along_axis(logp, targets[..., None], -1).mean()
    assert abs(run_forward(text, params, tokens, targets) - want) < 1e-12
