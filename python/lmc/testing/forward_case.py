"""Write an end-to-end forward/loss test case for the lmc compiler.

Usage: python3 -m lmc.testing.forward_case [--family gpt2|llama] --preset tiny
           --out-dir DIR
Produces DIR/model.mlir (model plus a @main driver that prints the loss
bits), DIR/params.safetensors and DIR/expected.json (reference loss).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from lmc import safetensors
from lmc.models.gpt2 import GPT2Config, positive_int
from lmc.testing import family

_INT_TYPE = {"f32": "i32", "f64": "i64"}


def _dense(a: np.ndarray) -> str:
    rows = ", ".join("[" + ", ".join(str(int(v)) for v in row) + "]" for row in a)
    return f"dense<[{rows}]>"


def driver_func(tokens: np.ndarray, targets: np.ndarray, dtype: str) -> str:
    """@main: call @forward on constant inputs and print the loss bit pattern."""
    B, T = tokens.shape
    st, dyn, ity = f"tensor<{B}x{T}xi32>", "tensor<?x?xi32>", _INT_TYPE[dtype]
    lines = [
        "func.func @main() {",
        f"  %tok_c = arith.constant {_dense(tokens)} : {st}",
        f"  %tgt_c = arith.constant {_dense(targets)} : {st}",
        f"  %tok = tensor.cast %tok_c : {st} to {dyn}",
        f"  %tgt = tensor.cast %tgt_c : {st} to {dyn}",
        f"  %loss_t = func.call @forward(%tok, %tgt) : ({dyn}, {dyn}) -> tensor<{dtype}>",
        f"  %loss = tensor.extract %loss_t[] : tensor<{dtype}>",
        f"  %bits = arith.bitcast %loss : {dtype} to {ity}",
        f"  vector.print %bits : {ity}",
        "  return",
        "}",
    ]
    return "\n".join("  " + line for line in lines) + "\n"


def make_inputs(cfg: GPT2Config, batch: int, seq: int, seed: int):
    """Tokens then targets, uniform in [0, vocab), from default_rng(seed + 1)."""
    rng = np.random.default_rng(seed + 1)
    tokens = rng.integers(0, cfg.vocab, size=(batch, seq), dtype=np.int64)
    targets = rng.integers(0, cfg.vocab, size=(batch, seq), dtype=np.int64)
    return tokens.astype(np.int32), targets.astype(np.int32)


def write_case(cfg: GPT2Config, out_dir: str, batch: int = 2, seq: int = 16,
               seed: int = 0) -> float:
    """Write the three case files into out_dir; return the reference loss."""
    if seq > cfg.ctx:
        raise ValueError(f"seq ({seq}) must not exceed ctx ({cfg.ctx})")
    os.makedirs(out_dir, exist_ok=True)
    fam = family.of(cfg)
    tokens, targets = make_inputs(cfg, batch, seq, seed)
    params = fam.init_params(cfg, seed)
    loss = fam.forward_loss(params, tokens, targets, cfg)
    with open(os.path.join(out_dir, "model.mlir"), "w") as f:
        f.write(fam.emit_model(cfg, driver_func(tokens, targets, cfg.dtype)))
    safetensors.save(os.path.join(out_dir, "params.safetensors"), params,
                     {"format": "lmc"})
    expected = {"loss": loss, "dtype": cfg.dtype, "model": cfg.name,
                "batch": batch, "seq": seq, "seed": seed}
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    return loss



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.forward_case",
                                     description=__doc__.splitlines()[0])
    fam = family.family_from_argv(argv)
    family.add_family_arg(parser)
    fam.add_config_args(parser)
    parser.add_argument("--batch", type=positive_int, default=2)
    parser.add_argument("--seq", type=positive_int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args(argv)
    cfg = fam.config_from_args(parser, args)
    if args.seq > cfg.ctx:
        parser.error(f"--seq ({args.seq}) must not exceed ctx ({cfg.ctx})")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    loss = write_case(cfg, args.out_dir, args.batch, args.seq, args.seed)
    print(f"wrote {args.out_dir}: {cfg.name} {cfg.dtype} "
          f"batch={args.batch} seq={args.seq} seed={args.seed} loss={loss!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
