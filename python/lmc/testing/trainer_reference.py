"""Checks a compiled trainer's JSONL log against the NumPy training step.

    python3 -m lmc.testing.trainer_reference init [--family llama] --preset tiny \
        [--from-hf-config config.json] --seed 0 -o init.safetensors
    python3 -m lmc.testing.trainer_reference expect --preset tiny \\
        --params init.safetensors --data train.bin --batch 4 --seq 32 --steps 30 \\
        --lr 1e-3 [--warmup N --lr-schedule cosine --min-lr X --weight-decay X
        --grad-clip X --beta1 X --beta2 X --eps X] -o expected.json
    python3 -m lmc.testing.trainer_reference compare --expected expected.json \\
        --log train.jsonl [--rtol 1e-4]

Batches are read as the trainer reads them (one shard). In the sequential
order (llm.c's reading order) step i takes the B*T+1 tokens starting at
i*B*T (wrapping to the start when fewer remain); inputs are the first B*T,
targets the last B*T. The shuffled order (the trainer's default,
`--data-order shuffled --seed S`) takes the same batches, epoch after epoch,
each epoch in the order of a permutation of the batch starts (written here
from the description in lib/Runtime/Trainer/DataLoader.h, not from the C++).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys

import numpy as np

from lmc import safetensors
from lmc.data import read_shard
from lmc.models import llama
from lmc.models.gpt2 import ACTIVATIONS, PRESETS
from lmc.reference_train import HParams, init_moments, adamw_step
from lmc.testing import family


def batches(tokens: np.ndarray, batch: int, seq: int, steps: int):
    """The (inputs, targets) of each step, in the trainer's order."""
    n = batch * seq
    pos = 0
    for _ in range(steps):
        if pos + n + 1 > len(tokens):
            pos = 0
        chunk = tokens[pos:pos + n + 1].astype(np.int64)
        yield chunk[:-1].reshape(batch, seq), chunk[1:].reshape(batch, seq)
        pos += n


_MASK = (1 << 64) - 1


def _splitmix64(state: int):
    """(next output, new state) of splitmix64."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31), state


def shuffle_key(seed: int, epoch: int, stream: int) -> int:
    """mix(mix(mix(seed) ^ epoch) ^ stream), mix(x) the first splitmix64
    output of state x; stream 0 orders the shards, f+1 shard f's batches."""
    def mix(x):
        return _splitmix64(x & _MASK)[0]
    return mix(mix(mix(seed) ^ epoch) ^ stream)


def permutation(n: int, key: int) -> list[int]:
    """[0, n) by Fisher-Yates: for i = n-1 .. 1 swap i and next() % (i+1)."""
    p = list(range(n))
    state = key
    for i in range(n - 1, 0, -1):
        out, state = _splitmix64(state)
        j = out % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def shuffled_batches(tokens: np.ndarray, batch: int, seq: int, steps: int,
                     seed: int):
    """The (inputs, targets) of each step in the shuffled order of one
    shard (shard index 0 of its glob)."""
    n = batch * seq
    count = (len(tokens) - 1) // n
    epoch, order = 0, []
    for _ in range(steps):
        if not order:
            order = permutation(count, shuffle_key(seed, epoch, 1))
            epoch += 1
        pos = order.pop(0) * n
        chunk = tokens[pos:pos + n + 1].astype(np.int64)
        yield chunk[:-1].reshape(batch, seq), chunk[1:].reshape(batch, seq)


def expected_history(cfg, params, tokens, batch, seq, steps, hp: HParams,
                     order: str = "sequential", seed: int = 1337):
    """Loss, gradient norm and learning rate of each step."""
    fam = family.of(cfg)
    params = {k: v.astype(np.float64) for k, v in params.items()}
    m, v = init_moments(params)
    mask = fam.decay_mask(cfg)
    history = []
    data = (shuffled_batches(tokens, batch, seq, steps, seed)
            if order == "shuffled" else batches(tokens, batch, seq, steps))
    for step, (x, y) in enumerate(data):
        loss, grads = fam.forward_backward(params, x, y, cfg)
        params, m, v, norm, lr = adamw_step(params, grads, m, v, step, hp,
                                            mask)
        history.append({"step": step + 1, "loss": loss, "grad_norm": norm,
                        "lr": lr})
    return history


def _hparams(args) -> HParams:
    cosine = args.lr_schedule == "cosine"
    return HParams(lr=args.lr, min_lr=args.min_lr if cosine else args.lr,
                   warmup=args.warmup,
                   decay_steps=args.steps if cosine else 0,
                   beta1=args.beta1, beta2=args.beta2, eps=args.eps,
                   weight_decay=args.weight_decay, grad_clip=args.grad_clip)


def _read_log(path):
    steps = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{number}: not JSON: {e}")
            if "loss" in obj:
                steps.append(obj)
    return steps


def _run_args(parser) -> None:
    """The run's inputs and the trainer's optimizer flags, as `_hparams`
    reads them (shared with lmc.testing.local_sgd_reference)."""
    parser.add_argument("--params", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seq", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"],
                        default="constant")
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--min-lr", type=float, default=0.0)
    parser.add_argument("--beta1", type=float, default=0.9)
    parser.add_argument("--beta2", type=float, default=0.95)
    parser.add_argument("--eps", type=float, default=1e-8)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--grad-clip", type=float, default=1.0)


def _model_args(parser) -> None:
    family.add_family_arg(parser)
    parser.add_argument("--preset", default="tiny",
                        choices=sorted(set(PRESETS) | set(llama.PRESETS)),
                        help="a preset of the family")
    parser.add_argument("--from-hf-config", metavar="CONFIG_JSON",
                        help="the model of a Hugging Face config.json (as "
                             "python3 -m lmc.hf import builds it)")


def _model(parser, args):
    """The config the options name."""
    if args.from_hf_config:
        try:
            if args.family == "gpt2":
                from lmc import hf_gpt2
                with open(args.from_hf_config) as f:
                    return hf_gpt2.from_hf_config(json.load(f))[0]
            return llama.read_hf_config(args.from_hf_config)
        except (OSError, ValueError) as e:
            parser.error(str(e))
    presets = family.get(args.family).presets
    if args.preset not in presets:
        parser.error(f"--preset {args.preset}: not a preset of the "
                     f"{args.family} family ({', '.join(sorted(presets))})")
    return presets[args.preset]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lmc.testing.trainer_reference")
    sub = p.add_subparsers(dest="cmd", required=True)
    init = sub.add_parser("init", help="write initial parameters")
    _model_args(init)
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("-o", "--output", required=True)
    exp = sub.add_parser("expect", help="the NumPy run")
    _model_args(exp)
    exp.add_argument("--activation", choices=ACTIVATIONS,
                     help="the MLP activation of the model (default: gelu)")
    _run_args(exp)
    exp.add_argument("--data-order", choices=["shuffled", "sequential"],
                     default="shuffled",
                     help="the trainer's --data-order (default shuffled)")
    exp.add_argument("--seed", type=int, default=1337,
                     help="the trainer's --seed, which seeds the shuffled "
                          "order (default 1337, the trainer's)")
    exp.add_argument("-o", "--output", required=True)
    cmp_ = sub.add_parser("compare", help="check a trainer log")
    cmp_.add_argument("--expected", required=True)
    cmp_.add_argument("--log", required=True)
    cmp_.add_argument("--rtol", type=float, default=1e-4)
    args = p.parse_args(argv)

    if args.cmd == "init":
        cfg = _model(p, args)
        safetensors.save(args.output, family.of(cfg).init_params(cfg, args.seed))
        return 0
    if args.cmd == "expect":
        cfg = _model(p, args)
        if args.activation is not None:
            if args.family != "gpt2":
                p.error("--activation is an option of the gpt2 family")
            cfg = dataclasses.replace(cfg, activation=args.activation)
        params, _ = safetensors.load(args.params)
        # A GPT2LMHeadModel file: its names carry the prefix transformer.
        params = {k[len("transformer."):] if k.startswith("transformer.")
                  else k: v for k, v in params.items()}
        tokens = read_shard(args.data)
        history = expected_history(cfg, params, tokens, args.batch, args.seq,
                                   args.steps, _hparams(args),
                                   args.data_order, args.seed)
        with open(args.output, "w") as f:
            json.dump(history, f, indent=1)
        return 0

    with open(args.expected) as f:
        expected = json.load(f)
    got = _read_log(args.log)
    if len(got) != len(expected):
        print(f"FAIL: {len(got)} steps logged, {len(expected)} expected")
        return 1
    worst = 0.0
    ok = True
    for e, g in zip(expected, got):
        rel = abs(g["loss"] - e["loss"]) / max(abs(e["loss"]), 1e-12)
        worst = max(worst, rel)
        flag = "" if rel <= args.rtol else "  <-- FAIL"
        ok &= rel <= args.rtol and math.isfinite(g["loss"])
        print(f"step {e['step']:3d} loss {g['loss']:.7f} expected "
              f"{e['loss']:.7f} rel_err {rel:.2e}{flag}")
    print(f"{'OK' if ok else 'FAIL'}: {len(got)} steps, max rel_err "
          f"{worst:.2e} (rtol {args.rtol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
