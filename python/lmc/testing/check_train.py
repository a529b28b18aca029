"""Compare the training history printed by a compiled train_case with the
NumPy reference.

Usage: python3 -m lmc.testing.check_train --expected DIR/expected.json
           --output RUN_OUTPUT [--rtol 1e-4] [--atol 0]
           [--field loss,grad_norm,lr | --field none] [--max-final-ratio R]

The runner prints one line per step, `train STEP LOSS GRAD_NORM LR`, the
last three being bit patterns of f32 (i32) or f64 (i64) scalars; other lines
are ignored. Every step of expected.json must be present, once and in order.
A field matches when |got - ref| <= atol or |got - ref| <= rtol * |ref|
(with ref == 0, |got| <= rtol). With --max-final-ratio R the loss of the last
step must also be below R times the loss of the first. Prints one line per
step and a verdict; exit 0 on success, 1 on mismatch or unusable input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

from lmc.testing.check_loss import bits_to_float

FIELDS = ("loss", "grad_norm", "lr")
_TRAIN_LINE = re.compile(r"^\s*train\s+(\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s*$")


class CheckError(Exception):
    """Unusable input (as opposed to a numeric mismatch)."""


def parse_output(text: str, dtype: str) -> list[dict]:
    """The `train` lines of runner output, as dicts with step and FIELDS."""
    rows = []
    for line in text.splitlines():
        m = _TRAIN_LINE.match(line)
        if not m:
            continue
        try:
            values = [bits_to_float(int(m[i]), dtype) for i in (2, 3, 4)]
        except ValueError as e:
            raise CheckError(f"bad bit pattern in {line.strip()!r}: {e}")
        rows.append({"step": int(m[1]), **dict(zip(FIELDS, values))})
    return rows


def rel_err(got: float, ref: float) -> float:
    if not math.isfinite(got):
        return math.inf
    return abs(got - ref) / abs(ref) if ref != 0 else abs(got)


def parse_fields(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise CheckError(f"unknown field(s) {bad}; choose from {list(FIELDS)}")
    return fields


def check(expected: dict, text: str, *, rtol: float = 1e-4, atol: float = 0.0,
          fields=FIELDS, max_final_ratio: float | None = None
          ) -> tuple[bool, list[str]]:
    """Return (ok, report lines)."""
    dtype = expected.get("dtype", "f32")
    if dtype not in ("f32", "f64"):
        raise CheckError(f"unknown dtype {dtype!r}")
    history = expected.get("history")
    steps = expected.get("steps", len(history) if history else None)
    if not isinstance(steps, int) or steps <= 0:
        raise CheckError("expected.json has no positive 'steps'")
    if fields and (not isinstance(history, list) or len(history) != steps):
        raise CheckError("expected.json has no reference history of 'steps' entries")
    rows = parse_output(text, dtype)
    got_steps = [r["step"] for r in rows]
    if got_steps != list(range(steps)):
        raise CheckError(f"expected train lines for steps 0..{steps - 1} in order, "
                         f"got {len(rows)} line(s) with steps {got_steps[:12]}"
                         f"{'...' if len(got_steps) > 12 else ''}")
    ok = True
    lines = []
    worst = {f: 0.0 for f in fields}
    for row in rows:
        parts = [f"step {row['step']}"]
        bad = []
        for f in FIELDS:
            got = row[f]
            if f in fields:
                ref = float(history[row["step"]][f])
                err = rel_err(got, ref)
                worst[f] = max(worst[f], err)
                parts.append(f"{f} {got!r} expected {ref!r} rel_err {err:.3e}")
                if not (math.isfinite(got) and
                        (abs(got - ref) <= atol or err <= rtol)):
                    bad.append(f)
            else:
                parts.append(f"{f} {got!r}")
                if not math.isfinite(got):
                    bad.append(f)
        line = " ".join(parts)
        if bad:
            ok = False
            line += " MISMATCH(" + ",".join(bad) + ")"
        lines.append(line)
    summary = ", ".join(f"{f} {worst[f]:.3e}" for f in fields)
    if fields:
        lines.append(f"max rel_err: {summary} (rtol {rtol:g})")
    if max_final_ratio is not None:
        first, last = rows[0]["loss"], rows[-1]["loss"]
        ratio = last / first if first else math.inf
        good = math.isfinite(ratio) and ratio < max_final_ratio
        lines.append(f"final/first loss: {last!r} / {first!r} = {ratio:.4g} "
                     f"({'<' if good else 'not <'} {max_final_ratio:g})")
        ok = ok and good
    lines.append(f"{'PASS' if ok else 'FAIL'}: {steps} steps")
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.check_train",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--expected", required=True, help="expected.json")
    parser.add_argument("--output", required=True, help="runner stdout file")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=0.0)
    parser.add_argument("--field", default=",".join(FIELDS),
                        help="comma-separated fields to compare, or 'none'")
    parser.add_argument("--max-final-ratio", type=float,
                        help="require last loss < RATIO * first loss")
    args = parser.parse_args(argv)
    try:
        fields = parse_fields(args.field)
        with open(args.expected) as f:
            expected = json.load(f)
        with open(args.output, errors="replace") as f:
            text = f.read()
        ok, lines = check(expected, text, rtol=args.rtol, atol=args.atol,
                          fields=fields, max_final_ratio=args.max_final_ratio)
    except (OSError, ValueError, KeyError, TypeError, CheckError) as e:
        print(f"FAIL: {e}")
        return 1
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
