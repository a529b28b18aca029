"""Tests of the NumPy model of local SGD (lmc.reference_local_sgd) on a small
least-squares model, against identities that hold by construction."""

import numpy as np
import pytest

from lmc.reference_local_sgd import (averaged, local_sgd, outer_step,
                                     replica_rows)
from lmc.reference_train import HParams, adamw_step, init_moments


def _fb(p, x, y):
    """Loss and gradient of mean((x @ w + b - y)^2)."""
    r = x @ p["w"] + p["b"] - y
    n = r.size
    return float(np.mean(r * r)), {"w": 2 * x.T @ r / n, "b": 2 * r.sum(0) / n}


def _setup(steps=6, batch=4):
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 2)), "b": np.zeros(2)}
    data = [(rng.normal(size=(batch, 3)), rng.normal(size=(batch, 2)))
            for _ in range(steps)]
    return params, data, {"w": True, "b": False}


HP = HParams(lr=1e-2, weight_decay=0.1, grad_clip=1.0)


def test_rows_partition_every_batch():
    for partition in ("uniform", "random"):
        for step in range(5):
            rows = [replica_rows(8, 4, r, step, partition, seed=7)
                    for r in range(4)]
            assert sorted(sum(rows, [])) == list(range(8))
    assert replica_rows(8, 2, 1, 0) == [4, 5, 6, 7]
    random = [tuple(replica_rows(8, 2, 0, s, "random", seed=7))
              for s in range(6)]
    assert len(set(random)) > 1  # changes from step to step
    assert replica_rows(8, 2, 0, 3, "random", 7) == \
        replica_rows(8, 2, 0, 3, "random", 7)


def test_one_replica_is_plain_adamw():
    params, data, mask = _setup()
    result = local_sgd(params, data, _fb, mask, HP, replicas=1, sync_every=2)
    p = {k: v.copy() for k, v in params.items()}
    m, v = init_moments(p)
    for step, (x, y) in enumerate(data):
        _, g = _fb(p, x, y)
        p, m, v, _, _ = adamw_step(p, g, m, v, step, HP, mask)
    for k in p:
        np.testing.assert_allclose(result["round_start"][k], p[k], atol=1e-12)


def test_nesterov_without_momentum_at_lr_one_is_avg():
    params, data, mask = _setup()
    a = local_sgd(params, data, _fb, mask, HP, replicas=2, sync_every=3)
    n = local_sgd(params, data, _fb, mask, HP, replicas=2, sync_every=3,
                  optimizer="nesterov", outer_lr=1.0, outer_momentum=0.0)
    for k in params:
        np.testing.assert_allclose(a["round_start"][k], n["round_start"][k],
                                   atol=1e-12)


def test_nesterov_formula():
    g, mom, d = {"x": np.array([1.0])}, {"x": np.array([0.5])}, {"x": np.array([0.2])}
    g2, m2 = outer_step(g, mom, d, "nesterov", 0.7, 0.9)
    assert m2["x"][0] == pytest.approx(0.9 * 0.5 + 0.2)
    assert g2["x"][0] == pytest.approx(1.0 - 0.7 * (0.2 + 0.9 * m2["x"][0]))


def test_replicas_equal_round_start_after_sync():
    params, data, mask = _setup()
    for async_sync in (False, True):
        r = local_sgd(params, data, _fb, mask, HP, replicas=2, sync_every=3,
                      async_sync=async_sync)
        for p, _, _ in r["replicas"]:
            for k in params:
                assert np.array_equal(p[k], r["round_start"][k])
        assert r["syncs"] == [3, 6]


def test_async_applies_each_mean_one_round_late():
    # Round 0 of the async run reads what the sync run's only round reads,
    # so the async run's g after two rounds is the sync run's after one; its
    # pending mean is that of round 1, which started from the initial g.
    params, data, mask = _setup(steps=6)
    sync1 = local_sgd(params, data[:3], _fb, mask, HP, replicas=2,
                      sync_every=3, optimizer="nesterov", outer_lr=0.7,
                      outer_momentum=0.9)
    async2 = local_sgd(params, data, _fb, mask, HP, replicas=2, sync_every=3,
                       optimizer="nesterov", outer_lr=0.7,
                       outer_momentum=0.9, async_sync=True)
    for k in params:
        np.testing.assert_array_equal(async2["round_start"][k],
                                      sync1["round_start"][k])
    # Round 1: each replica's AdamW steps 3..5 from the initial parameters
    # (where round 0 left every replica) with the moments of its round 0.
    state = []
    for r in range(2):
        p = {k: v.copy() for k, v in params.items()}
        m, v = init_moments(p)
        for step in range(6):
            if step == 3:
                p = {k: a.copy() for k, a in params.items()}
            x, y = data[step]
            rows = replica_rows(4, 2, r, step)
            _, g = _fb(p, x[rows], y[rows])
            p, m, v, _, _ = adamw_step(p, g, m, v, step, HP, mask)
        state.append(p)
    for k in params:
        mean = sum(params[k] - s[k] for s in state) / 2
        np.testing.assert_allclose(async2["pending"][k], mean, atol=1e-14)


def test_h1_avg_of_sgd_like_adamw_is_the_allreduce_step():
    # AdamW with beta1 = beta2 = 0, no clipping, no decay and eps far above
    # every |gradient| is SGD with lr / eps, up to |g| / eps relative: then
    # averaging the replicas after each step equals one step on the mean
    # gradient of the whole batch (the identity trainer-local-sgd.test uses).
    params, data, mask = _setup()
    eps = 1e6
    hp = HParams(lr=1e-2 * eps, beta1=0.0, beta2=0.0, eps=eps,
                 weight_decay=0.0, grad_clip=0.0)
    r = local_sgd(params, data, _fb, mask, hp, replicas=2, sync_every=1)
    p = {k: v.copy() for k, v in params.items()}
    for step, (x, y) in enumerate(data):
        _, g = _fb(p, x, y)
        p, _, _, _, _ = adamw_step(p, g, None, None, step, hp, mask)
    for k in p:
        np.testing.assert_allclose(r["round_start"][k], p[k], rtol=1e-5)
        np.testing.assert_allclose(averaged(r)[k], p[k], rtol=1e-5)
