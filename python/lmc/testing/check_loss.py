"""Compare the loss printed by a compiled forward_case with the reference.

Usage: python3 -m lmc.testing.check_loss --expected DIR/expected.json
           --output RUN_OUTPUT [--rtol 1e-5]
The runner prints the loss as the integer bit pattern of an f32 (i32) or
f64 (i64); the last integer line of the output is used. Exit 0 on match,
1 on mismatch or unusable input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
import sys

_INT_LINE = re.compile(r"^\s*(-?\d+)\s*$")
_FORMATS = {"f32": (32, "<I", "<f"), "f64": (64, "<Q", "<d")}


def last_int(text: str) -> int | None:
    """The last line of `text` that is a (possibly negative) integer."""
    for line in reversed(text.splitlines()):
        m = _INT_LINE.match(line)
        if m:
            return int(m[1])
    return None


def bits_to_float(value: int, dtype: str) -> float:
    """Reinterpret a printed signed/unsigned integer as an IEEE float."""
    width, int_fmt, float_fmt = _FORMATS[dtype]
    if not -(1 << (width - 1)) <= value < (1 << width):
        raise ValueError(f"{value} does not fit in {width} bits")
    unsigned = value & ((1 << width) - 1)
    return struct.unpack(float_fmt, struct.pack(int_fmt, unsigned))[0]


def check(expected_path: str, output_path: str, rtol: float) -> tuple[bool, str]:
    """Return (ok, message)."""
    try:
        with open(expected_path) as f:
            expected = json.load(f)
        ref = float(expected["loss"])
        dtype = expected.get("dtype", "f32")
        if dtype not in _FORMATS:
            return False, f"{expected_path}: unknown dtype {dtype!r}"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return False, f"cannot read expected loss from {expected_path}: {e}"
    try:
        with open(output_path, errors="replace") as f:
            text = f.read()
    except OSError as e:
        return False, f"cannot read runner output {output_path}: {e}"
    value = last_int(text)
    if value is None:
        return False, f"{output_path}: no integer line found in runner output"
    try:
        got = bits_to_float(value, dtype)
    except ValueError as e:
        return False, f"{output_path}: {e}"
    if not math.isfinite(got):
        return False, f"loss {got} is not finite (bits {value}), expected {ref!r}"
    rel = abs(got - ref) / abs(ref) if ref != 0 else abs(got)
    msg = f"loss {got!r} expected {ref!r} rel_err {rel:.3e}"
    if rel > rtol:
        return False, msg + f"\nFAIL: rel_err exceeds rtol {rtol:g}"
    return True, msg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.check_loss",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--expected", required=True, help="expected.json")
    parser.add_argument("--output", required=True, help="runner stdout file")
    parser.add_argument("--rtol", type=float, default=1e-5)
    args = parser.parse_args(argv)
    ok, msg = check(args.expected, args.output, args.rtol)
    print(msg if ok or msg.startswith("loss ") else "FAIL: " + msg)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
