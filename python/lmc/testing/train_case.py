"""Write an end-to-end training test case for the lmc compiler.

Usage: python3 -m lmc.testing.train_case [--family gpt2|llama] --preset tiny
           --steps 10 --out-dir DIR

Produces DIR/model.mlir (the model, a declaration of @train_step and a @main
driver running `steps` AdamW steps through it), DIR/params.safetensors (the
initial parameters) and DIR/expected.json (the history of the NumPy
reference of the family, lmc.reference_train.train or
lmc.reference_llama.train, on the same batches and settings).

The driver starts from the bound parameters (lmc.param_ref) and zero moments,
loops with scf.for over the steps (step i trains on batch i % K, the K
batches being constants chosen with scf.index_switch) and prints per step

    train STEP LOSS GRAD_NORM LR

where the last three are the bit patterns of the scalars (i32 for f32, i64
for f64). Compile with

    lmc-opt model.mlir --lmc-autodiff=attention=decomposed --lmc-optimizer \\
        --lmc-reference-pipeline="params=DIR/params.safetensors"

and run @main with mlir-runner; compare with lmc.testing.check_train.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from dataclasses import asdict

import numpy as np

from lmc import safetensors
from lmc import reference_train as rt
from lmc.models.gpt2 import GPT2Config, positive_int
from lmc.testing import family

INT_TYPE = {"f32": "i32", "f64": "i64"}
TOK = "tensor<?x?xi32>"


# ---------------------------------------------------------------------------
# MLIR text helpers (shared with grad_case)
# ---------------------------------------------------------------------------

def tensor_type(shape, dt: str) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + dt + ">"


def float_literal(value: float, dt: str) -> str:
    """An exact MLIR float literal: the hexadecimal bit pattern of `value`
    rounded to `dt`."""
    if dt == "f32":
        return "0x%08X" % struct.unpack("<I", struct.pack("<f", value))[0]
    if dt == "f64":
        return "0x%016X" % struct.unpack("<Q", struct.pack("<d", value))[0]
    raise ValueError(f"unknown float type {dt!r}")


def dense_ids(a: np.ndarray) -> str:
    rows = ", ".join("[" + ", ".join(str(int(v)) for v in row) + "]" for row in a)
    return f"dense<[{rows}]>"


def indent(lines: list[str], n: int) -> str:
    return "".join(" " * n + line + "\n" for line in lines)


def declaration_train_step(cfg: GPT2Config) -> str:
    dt = cfg.dtype
    ptypes = [tensor_type(s, dt) for _, s, _, _ in family.of(cfg).param_specs(cfg)]
    args = ptypes * 3 + ["i64", dt, dt, "i64", "i64", dt, dt, dt, dt, dt, TOK, TOK]
    results = [dt, dt, dt] + ptypes * 3
    return (f"func.func private @train_step({', '.join(args)}) -> "
            f"({', '.join(results)})")


# ---------------------------------------------------------------------------
# The case
# ---------------------------------------------------------------------------

def make_batches(cfg: GPT2Config, count: int, batch: int, seq: int, seed: int):
    """`count` (tokens, targets) pairs, uniform in [0, vocab), drawn in turn
    (tokens then targets) from default_rng(seed + 1); the first pair is the
    one forward_case uses for the same seed."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(count):
        tok = rng.integers(0, cfg.vocab, size=(batch, seq), dtype=np.int64)
        tgt = rng.integers(0, cfg.vocab, size=(batch, seq), dtype=np.int64)
        out.append((tok.astype(np.int32), tgt.astype(np.int32)))
    return out


def driver_func(cfg: GPT2Config, batches, hp: rt.HParams, steps: int) -> str:
    """@main: `steps` train_step calls in an scf.for, printing per step."""
    dt = cfg.dtype
    specs = family.of(cfg).param_specs(cfg)
    n = len(specs)
    ptypes = [tensor_type(s, dt) for _, s, _, _ in specs]
    B, T = batches[0][0].shape
    st = f"tensor<{B}x{T}xi32>"
    L: list[str] = []
    L.append("%c0 = arith.constant 0 : index")
    L.append("%c1 = arith.constant 1 : index")
    L.append(f"%csteps = arith.constant {steps} : index")
    L.append(f"%cbatches = arith.constant {len(batches)} : index")
    for i, (name, _, _, _) in enumerate(specs):
        L.append(f'%p{i} = lmc.param_ref @"{name}" : {ptypes[i]}')
    for i in range(n):
        L.append(f"%m{i} = lmc.zeros_like %p{i} : {ptypes[i]}")
        L.append(f"%v{i} = lmc.zeros_like %p{i} : {ptypes[i]}")
    for k, (tok, tgt) in enumerate(batches):
        L.append(f"%tok{k}_c = arith.constant {dense_ids(tok)} : {st}")
        L.append(f"%tgt{k}_c = arith.constant {dense_ids(tgt)} : {st}")
        L.append(f"%tok{k} = tensor.cast %tok{k}_c : {st} to {TOK}")
        L.append(f"%tgt{k} = tensor.cast %tgt{k}_c : {st} to {TOK}")
    for name, value in (("lr", hp.lr), ("min_lr", hp.min_lr), ("beta1", hp.beta1),
                        ("beta2", hp.beta2), ("eps", hp.eps),
                        ("weight_decay", hp.weight_decay),
                        ("grad_clip", hp.grad_clip)):
        L.append(f"%{name} = arith.constant {float_literal(value, dt)} : {dt}")
    L.append(f"%warmup = arith.constant {hp.warmup} : i64")
    L.append(f"%decay_steps = arith.constant {hp.decay_steps} : i64")

    state_types = ptypes * 3
    iters = ([f"%P{i} = %p{i}" for i in range(n)] + [f"%M{i} = %m{i}" for i in range(n)]
             + [f"%V{i} = %v{i}" for i in range(n)])
    L.append(f"%final:{3 * n} = scf.for %i = %c0 to %csteps step %c1 "
             f"iter_args({', '.join(iters)}) -> ({', '.join(state_types)}) {{")
    body: list[str] = []
    body.append("%step = arith.index_cast %i : index to i64")
    if len(batches) == 1:
        tok, tgt = "%tok0", "%tgt0"
    else:
        body.append("%k = arith.remui %i, %cbatches : index")
        body.append(f"%sel:2 = scf.index_switch %k -> {TOK}, {TOK}")
        for k in range(1, len(batches)):
            body.append(f"case {k} {{")
            body.append(f"  scf.yield %tok{k}, %tgt{k} : {TOK}, {TOK}")
            body.append("}")
        body.append("default {")
        body.append(f"  scf.yield %tok0, %tgt0 : {TOK}, {TOK}")
        body.append("}")
        tok, tgt = "%sel#0", "%sel#1"
    args = ([f"%P{i}" for i in range(n)] + [f"%M{i}" for i in range(n)]
            + [f"%V{i}" for i in range(n)]
            + ["%step", "%lr", "%min_lr", "%warmup", "%decay_steps", "%beta1",
               "%beta2", "%eps", "%weight_decay", "%grad_clip", tok, tgt])
    arg_types = state_types + ["i64", dt, dt, "i64", "i64", dt, dt, dt, dt, dt, TOK, TOK]
    res_types = [dt, dt, dt] + state_types
    body.append(f"%r:{3 + 3 * n} = func.call @train_step({', '.join(args)}) : "
                f"({', '.join(arg_types)}) -> ({', '.join(res_types)})")
    body.append('vector.print str "train "')
    body.append("vector.print %step : i64 punctuation <no_punctuation>")
    body.append('vector.print str " "')
    for j, what in enumerate(("loss", "gnorm", "lr_t")):
        body.append(f"%{what}_bits = arith.bitcast %r#{j} : {dt} to {INT_TYPE[dt]}")
        if j < 2:
            body.append(f"vector.print %{what}_bits : {INT_TYPE[dt]} "
                        "punctuation <no_punctuation>")
            body.append('vector.print str " "')
        else:
            body.append(f"vector.print %{what}_bits : {INT_TYPE[dt]}")
    # Write the new state into the loop-carried buffers: the reference
    # pipeline's one-shot bufferization rejects a yield that is not
    # equivalent to its iter_arg (no allow-return-allocs-from-loops).
    carried = ([f"%P{i}" for i in range(n)] + [f"%M{i}" for i in range(n)]
               + [f"%V{i}" for i in range(n)])
    for j, (dst, ty) in enumerate(zip(carried, state_types)):
        body.append(f"%y{j} = bufferization.materialize_in_destination "
                    f"%r#{3 + j} in {dst} : ({ty}, {ty}) -> {ty}")
    body.append(f"scf.yield {', '.join(f'%y{j}' for j in range(3 * n))} : "
                f"{', '.join(state_types)}")
    L.extend("  " + line for line in body)
    L.append("}")
    L.append("return")
    return ("  " + declaration_train_step(cfg) + "\n"
            + "  func.func @main() {\n" + indent(L, 4) + "  }\n")


def reference_history(params, batches, cfg: GPT2Config, hp: rt.HParams, steps: int):
    history, _, _, _ = family.of(cfg).train(params, batches, cfg, hp, steps)
    return [{"loss": float(l), "grad_norm": float(g), "lr": float(r)}
            for l, g, r in history]


def write_case(cfg: GPT2Config, out_dir: str, hp: rt.HParams, *, steps: int = 10,
               batch: int = 2, seq: int = 16, seed: int = 0,
               num_batches: int = 1) -> list[dict]:
    """Write model.mlir, params.safetensors and expected.json; return the
    reference history."""
    if seq > cfg.ctx:
        raise ValueError(f"seq ({seq}) must not exceed ctx ({cfg.ctx})")
    if steps <= 0 or num_batches <= 0:
        raise ValueError("steps and the number of batches must be positive")
    os.makedirs(out_dir, exist_ok=True)
    fam = family.of(cfg)
    batches = make_batches(cfg, num_batches, batch, seq, seed)
    params = fam.init_params(cfg, seed)
    history = reference_history(params, batches, cfg, hp, steps)
    with open(os.path.join(out_dir, "model.mlir"), "w") as f:
        f.write(fam.emit_model(cfg, driver_func(cfg, batches, hp, steps)))
    safetensors.save(os.path.join(out_dir, "params.safetensors"), params,
                     {"format": "lmc"})
    expected = {"kind": "train", "family": fam.name, "dtype": cfg.dtype,
                "model": cfg.name,
                "batch": batch, "seq": seq, "seed": seed, "steps": steps,
                "batches": num_batches, "hparams": asdict(hp),
                "history": history}
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    return history



def _nonneg_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be non-negative, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.train_case",
                                     description=__doc__.splitlines()[0])
    fam = family.family_from_argv(argv)
    family.add_family_arg(parser)
    fam.add_config_args(parser)
    d = rt.HParams()
    parser.add_argument("--batch", type=positive_int, default=2)
    parser.add_argument("--seq", type=positive_int, default=16)
    parser.add_argument("--seed", type=_nonneg_int, default=0)
    parser.add_argument("--steps", type=positive_int, default=10)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--min-lr", type=float, default=d.min_lr)
    parser.add_argument("--warmup", type=_nonneg_int, default=d.warmup)
    parser.add_argument("--decay-steps", type=_nonneg_int, default=d.decay_steps)
    parser.add_argument("--beta1", type=float, default=d.beta1)
    parser.add_argument("--beta2", type=float, default=d.beta2)
    parser.add_argument("--eps", type=float, default=d.eps)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--grad-clip", type=float, default=d.grad_clip)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--one-batch", action="store_const", const=1, dest="batches",
                       help="train every step on the same batch (default)")
    group.add_argument("--batches", type=positive_int,
                       help="step i trains on batch i %% K")
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args(argv)
    cfg = fam.config_from_args(parser, args)
    if args.seq > cfg.ctx:
        parser.error(f"--seq ({args.seq}) must not exceed ctx ({cfg.ctx})")
    hp = rt.HParams(lr=args.lr, min_lr=args.min_lr, warmup=args.warmup,
                    decay_steps=args.decay_steps, beta1=args.beta1,
                    beta2=args.beta2, eps=args.eps,
                    weight_decay=args.weight_decay, grad_clip=args.grad_clip)
    k = args.batches or 1
    history = write_case(cfg, args.out_dir, hp, steps=args.steps,
                         batch=args.batch, seq=args.seq, seed=args.seed,
                         num_batches=k)
    print(f"wrote {args.out_dir}: {cfg.name} {cfg.dtype} batch={args.batch} "
          f"seq={args.seq} seed={args.seed} steps={args.steps} batches={k} "
          f"first_loss={history[0]['loss']!r} last_loss={history[-1]['loss']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
