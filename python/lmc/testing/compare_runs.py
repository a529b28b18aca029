"""Compare two training runs of the compiled trainer: their JSONL logs step by
step and, optionally, their final checkpoints tensor by tensor.

Usage: python3 -m lmc.testing.compare_runs --log A.jsonl --log B.jsonl
           [--ckpt A.safetensors --ckpt B.safetensors]
           [--rtol 1e-5] [--fields loss,grad_norm] [--from-step N]

Each log must have the same steps (from --from-step on, when given) with
every field within rtol relative to the first run's value (|b - a| <= rtol *
|a|, or <= rtol when a == 0). Each tensor of the first checkpoint must exist
in the second with the same shape and max |b - a| <= rtol * max(1, max |a|):
relative for tensors of magnitude above 1, absolute below. (A purely
relative test per tensor would fail on entries whose exact gradient is zero,
such as the key part of the QKV bias: their gradients are rounding noise,
which AdamW scales by lr / eps, so two correct runs that sum in different
orders differ there by about 1e-6.)
Prints one line per compared item and a verdict; exit 0 on success, 1 on a
mismatch or unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from lmc import safetensors


def read_log(path: str, fields: list[str]) -> dict[int, dict[str, float]]:
    steps: dict[int, dict[str, float]] = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            record = json.loads(line)
            if "loss" not in record or "step" not in record:
                continue
            if record.get("val_loss") is not None:
                continue
            step = int(record["step"])
            if step in steps:
                raise ValueError(f"{path}:{number}: step {step} twice")
            steps[step] = {k: float(record[k]) for k in fields}
    return steps


def rel(a: float, b: float) -> float:
    return abs(b - a) / abs(a) if a != 0 else abs(b)


def compare_logs(a_path: str, b_path: str, fields: list[str], rtol: float,
                 from_step: int) -> bool:
    a = {s: v for s, v in read_log(a_path, fields).items() if s >= from_step}
    b = {s: v for s, v in read_log(b_path, fields).items() if s >= from_step}
    if not a or sorted(a) != sorted(b):
        print(f"FAIL: steps differ: {sorted(a)} vs {sorted(b)}")
        return False
    ok = True
    for step in sorted(a):
        errs = {k: rel(a[step][k], b[step][k]) for k in fields}
        bad = [k for k, e in errs.items() if e > rtol]
        ok &= not bad
        text = " ".join(f"{k} {a[step][k]:.7g} vs {b[step][k]:.7g} "
                        f"(rel {errs[k]:.2e})" for k in fields)
        print(f"{'FAIL' if bad else 'ok'}: step {step} {text}")
    return ok


def compare_checkpoints(a_path: str, b_path: str, rtol: float) -> bool:
    a, _ = safetensors.load(a_path)
    b, _ = safetensors.load(b_path)
    ok = True
    worst = worst_abs = 0.0
    for name, x in a.items():
        y = b.get(name)
        if y is None or y.shape != x.shape:
            print(f"FAIL: tensor {name}: missing or of another shape")
            ok = False
            continue
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        scale = max(1.0, float(np.max(np.abs(x64)))) if x64.size else 1.0
        diff = float(np.max(np.abs(y64 - x64))) if x64.size else 0.0
        err = diff / scale
        worst = max(worst, err)
        worst_abs = max(worst_abs, diff)
        if err > rtol:
            print(f"FAIL: tensor {name}: max |b - a| {diff:.2e}, error "
                  f"{err:.2e}")
            ok = False
    print(f"{'ok' if ok else 'FAIL'}: {len(a)} tensors, max error "
          f"{worst:.2e}, max |b - a| {worst_abs:.2e}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", action="append", required=True)
    parser.add_argument("--ckpt", action="append", default=[])
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--fields", default="loss,grad_norm")
    parser.add_argument("--from-step", type=int, default=0)
    args = parser.parse_args(argv)
    if len(args.log) != 2 or len(args.ckpt) not in (0, 2):
        parser.error("give two --log and zero or two --ckpt")
    fields = [f for f in args.fields.split(",") if f]
    try:
        ok = compare_logs(args.log[0], args.log[1], fields, args.rtol,
                          args.from_step)
        if args.ckpt:
            ok &= compare_checkpoints(args.ckpt[0], args.ckpt[1], args.rtol)
    except (OSError, ValueError, KeyError) as e:
        print(f"FAIL: {e}")
        return 1
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
