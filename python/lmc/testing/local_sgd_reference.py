"""Checks the trainer's local SGD (--dp-sync local programs) against the NumPy
model of lmc.reference_local_sgd.

    python3 -m lmc.testing.local_sgd_reference expect --preset tiny \\
        --params init.safetensors --data train.bin --batch 4 --seq 32 \\
        --steps 6 --replicas 2 --sync-every 3 [--outer-optimizer nesterov
        --outer-lr 0.7 --outer-momentum 0.9] [--async-sync]
        [--data-partition random --seed S] [AdamW flags as the trainer's]
        -o expected.safetensors
    python3 -m lmc.testing.local_sgd_reference compare \\
        --expected expected.safetensors --ckpt ckpt.safetensors [--atol 1e-5]
    python3 -m lmc.testing.local_sgd_reference identical --ckpt ckpt.safetensors

`expect` writes, under the names a checkpoint uses, each replica's
parameters (local.replica<d>.NAME), the round start (local.round_start.NAME),
the outer momentum (local.outer_momentum.NAME, nesterov), the pending mean
(local.pending_delta.NAME, async) and the averaged model (NAME). `compare`
checks every expected tensor against the checkpoint: max |b - a| <= atol *
max(1, max |a|) (--only-params: the parameters under their own names
only; --expected may be any checkpoint). `identical` checks that every replica of a checkpoint
written right after a synchronisation holds bitwise the round-start
parameters. Batches are read in --data-order sequential.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from lmc import safetensors
from lmc.data import read_shard
from lmc.reference_local_sgd import averaged, local_sgd
from lmc.testing import family
from lmc.testing.trainer_reference import (_hparams, _model, _model_args,
                                           _run_args, batches)


def _expect(parser, args) -> int:
    cfg = _model(parser, args)
    fam = family.of(cfg)
    params, _ = safetensors.load(args.params)
    tokens = read_shard(args.data)
    data = list(batches(tokens, args.batch, args.seq, args.steps))
    nesterov = args.outer_optimizer == "nesterov"
    result = local_sgd(
        params, data, lambda p, x, y: fam.forward_backward(p, x, y, cfg),
        fam.decay_mask(cfg), _hparams(args), replicas=args.replicas,
        sync_every=args.sync_every, optimizer=args.outer_optimizer,
        outer_lr=args.outer_lr if nesterov else 1.0,
        outer_momentum=args.outer_momentum if nesterov else 0.0,
        async_sync=args.async_sync, partition=args.data_partition,
        seed=args.seed)
    out = {}
    for d, (p, _, _) in enumerate(result["replicas"]):
        out.update({f"local.replica{d}.{k}": v for k, v in p.items()})
    out.update({f"local.round_start.{k}": v
                for k, v in result["round_start"].items()})
    if nesterov:
        out.update({f"local.outer_momentum.{k}": v
                    for k, v in result["momentum"].items()})
    if result["pending"] is not None:
        out.update({f"local.pending_delta.{k}": v
                    for k, v in result["pending"].items()})
    out.update(averaged(result))
    safetensors.save(args.output,
                     {k: np.asarray(v, dtype=np.float32) for k, v in out.items()})
    print(f"wrote {args.output}: {len(out)} tensors; rounds ended after "
          f"steps {result['syncs']}")
    return 0


def _compare(args) -> int:
    expected, _ = safetensors.load(args.expected)
    got, _ = safetensors.load(args.ckpt)
    ok, worst = True, 0.0
    if args.only_params:
        expected = {k: v for k, v in expected.items()
                    if not k.startswith(("exp_avg.", "exp_avg_sq.", "local."))}
    for name, a in expected.items():
        if name not in got:
            print(f"FAIL: {name} missing from {args.ckpt}")
            ok = False
            continue
        b = got[name]
        if b.shape != a.shape:
            print(f"FAIL: {name} has shape {b.shape}, expected {a.shape}")
            ok = False
            continue
        diff = float(np.max(np.abs(b.astype(np.float64) - a))) if a.size else 0.0
        bound = args.atol * max(1.0, float(np.max(np.abs(a))) if a.size else 0)
        worst = max(worst, diff)
        if diff > bound:
            print(f"FAIL: {name}: max |diff| {diff:.3e} > {bound:.1e}")
            ok = False
    print(f"{'PASS' if ok else 'FAIL'}: {len(expected)} tensors, max |diff| "
          f"{worst:.2e} (atol {args.atol:g})")
    return 0 if ok else 1


def _identical(args) -> int:
    got, meta = safetensors.load(args.ckpt)
    replicas = int(meta["local_replicas"])
    starts = {k[len("local.round_start."):]: v for k, v in got.items()
              if k.startswith("local.round_start.")}
    if not starts:
        print(f"FAIL: {args.ckpt} holds no local-SGD state")
        return 1
    bad = [f"replica {d} {k}" for d in range(replicas)
           for k, v in starts.items()
           if not np.array_equal(got[f"local.replica{d}.{k}"], v)]
    for b in bad[:5]:
        print(f"FAIL: {b} differs from the round start")
    print(f"{'PASS' if not bad else 'FAIL'}: {replicas} replicas x "
          f"{len(starts)} tensors identical to the round start at step "
          f"{meta['step']}")
    return 0 if not bad else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lmc.testing.local_sgd_reference")
    sub = p.add_subparsers(dest="cmd", required=True)
    exp = sub.add_parser("expect", help="the NumPy run")
    _model_args(exp)
    _run_args(exp)
    exp.add_argument("--data-order", choices=["sequential"],
                     default="sequential",
                     help="the trainer's --data-order (sequential only)")
    exp.add_argument("--replicas", type=int, required=True)
    exp.add_argument("--sync-every", type=int, required=True)
    exp.add_argument("--outer-optimizer", choices=["avg", "nesterov"],
                     default="avg")
    exp.add_argument("--outer-lr", type=float, default=0.7)
    exp.add_argument("--outer-momentum", type=float, default=0.9)
    exp.add_argument("--async-sync", action="store_true")
    exp.add_argument("--data-partition", choices=["uniform", "random"],
                     default="uniform")
    exp.add_argument("--seed", type=int, default=1337,
                     help="the trainer's --seed (seeds the random partition)")
    exp.add_argument("-o", "--output", required=True)
    cmp_ = sub.add_parser("compare", help="check a checkpoint")
    cmp_.add_argument("--expected", required=True)
    cmp_.add_argument("--ckpt", required=True)
    cmp_.add_argument("--atol", type=float, default=1e-5)
    cmp_.add_argument("--only-params", action="store_true",
                      help="compare the model's parameters only (not the "
                           "moments or local SGD's tensors)")
    ident = sub.add_parser("identical", help="replicas equal after a sync")
    ident.add_argument("--ckpt", required=True)
    args = p.parse_args(argv)
    if args.cmd == "expect":
        return _expect(p, args)
    if args.cmd == "compare":
        return _compare(args)
    return _identical(args)


if __name__ == "__main__":
    sys.exit(main())
