"""NumPy model of the trainer's local SGD (lib/Runtime/Trainer/LocalSgd.h),
written from its documented rules, not from the C++.

D replicas start from the same parameters g. Each takes AdamW steps
(reference_train.adamw_step: its own moments, its own gradient norm and
clipping) on its rows of every global batch. After every H steps (a round)
the pseudo-gradient delta_r = g - x_r is averaged over the replicas and
applied by the outer optimizer:

    avg:       g <- g - mean(delta)
    nesterov:  m <- mu m + mean(delta);  g <- g - lr (mean(delta) + mu m)

and every replica continues from g. With async_sync the mean of round k is
applied at the end of round k+1 (to the g of that time), before round k+1's
own mean is taken; round k+1 starts from g as it is after that application
(so rounds 0 and 1 both start from the initial g).

Rows: of a global batch of B rows each replica takes B/D: uniform gives
replica d rows [d B/D, (d+1) B/D); random the rows of a permutation of the
batch's rows (Fisher-Yates with splitmix64 keyed by the partition seed, the
step and the micro-batch 0).
"""

from __future__ import annotations

import numpy as np

from lmc.reference_train import HParams, adamw_step, init_moments

_MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    """splitmix64's first output from state z."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def replica_rows(batch: int, replicas: int, replica: int, step: int,
                 partition: str = "uniform", seed: int = 1337,
                 micro: int = 0) -> list[int]:
    """The rows of 0-based `step`'s batch that `replica` trains on."""
    order = list(range(batch))
    if partition == "random":
        state = _mix(seed ^ _mix((step ^ _mix(micro)) & _MASK))
        for i in range(batch - 1, 0, -1):
            state = _mix(state)
            j = state % (i + 1)
            order[i], order[j] = order[j], order[i]
    elif partition != "uniform":
        raise ValueError(f"partition {partition!r}: expected uniform or random")
    local = batch // replicas
    return order[replica * local:(replica + 1) * local]


def outer_step(g, mom, mean_delta, optimizer: str, lr: float, mu: float):
    """(new g, new momentum) after applying `mean_delta`."""
    if optimizer == "avg":
        return {k: g[k] - mean_delta[k] for k in g}, mom
    if optimizer != "nesterov":
        raise ValueError(f"outer optimizer {optimizer!r}")
    new_mom = {k: mu * mom[k] + mean_delta[k] for k in g}
    return ({k: g[k] - lr * (mean_delta[k] + mu * new_mom[k]) for k in g},
            new_mom)


def local_sgd(params, batches, forward_backward, mask, hp: HParams, *,
              replicas: int, sync_every: int, optimizer: str = "avg",
              outer_lr: float = 1.0, outer_momentum: float = 0.0,
              async_sync: bool = False, partition: str = "uniform",
              seed: int = 1337):
    """Runs local SGD over `batches` ((inputs, targets) of B rows per step).

    forward_backward(params, x, y) -> (loss, grads). Returns a dict with
    'replicas' (per replica: params, m, v), 'round_start' (g), 'momentum',
    'pending' (the mean not yet applied, async only, or None), 'losses'
    (per step, per replica) and 'syncs' (the steps that ended a round).
    """
    g = {k: np.asarray(v, dtype=np.float64).copy() for k, v in params.items()}
    mom = {k: np.zeros_like(v) for k, v in g.items()}
    state = []
    for _ in range(replicas):
        m, v = init_moments(g)
        state.append([{k: a.copy() for k, a in g.items()}, m, v])
    pending = None
    losses, syncs = [], []
    for step, (x, y) in enumerate(batches):
        row = []
        for r in range(replicas):
            rows = replica_rows(x.shape[0], replicas, r, step, partition, seed)
            p, m, v = state[r]
            loss, grads = forward_backward(p, x[rows], y[rows])
            p, m, v, _, _ = adamw_step(p, grads, m, v, step, hp, mask)
            state[r] = [p, m, v]
            row.append(loss)
        losses.append(row)
        if (step + 1) % sync_every:
            continue
        syncs.append(step + 1)
        mean = {k: sum(g[k] - s[0][k] for s in state) / replicas for k in g}
        if not async_sync:
            g, mom = outer_step(g, mom, mean, optimizer, outer_lr,
                                outer_momentum)
        else:
            if pending is not None:
                g, mom = outer_step(g, mom, pending, optimizer, outer_lr,
                                    outer_momentum)
            pending = mean
        for s in state:
            s[0] = {k: a.copy() for k, a in g.items()}
    return {"replicas": state, "round_start": g, "momentum": mom,
            "pending": pending, "losses": losses, "syncs": syncs}


def averaged(result) -> dict:
    """The averaged model: the mean of the replicas' parameters."""
    reps = [s[0] for s in result["replicas"]]
    return {k: sum(p[k] for p in reps) / len(reps) for k in reps[0]}
