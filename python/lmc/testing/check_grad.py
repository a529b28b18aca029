"""Check the gradients printed by a compiled grad_case against finite
differences of the compiled loss (and, for a preset case, against the NumPy
reference gradients).

Usage: python3 -m lmc.testing.check_grad --expected DIR/expected.json
           --output RUN_OUTPUT [--rtol 1e-6] [--floor 1e-4] [--ref-rtol 1e-8]
           [--label TEXT] [--verbose] [--append-summary FILE]

The runner output (see lmc.testing.grad_case) holds `loss BITS`,
`base BITS` and one `grad P K G L(+h) L(-h) L(+2h) L(-2h)` line for every
checked coordinate, all f64 bit patterns. With the fourth-order central
difference FD = (8 (L(+h) - L(-h)) - (L(+2h) - L(-2h))) / 12h, a coordinate
passes when

    |G - FD| / max(|G|, |FD|, floor) <= rtol.

The floor turns the test into an absolute one (rtol * floor) for gradients
too small for the finite difference to resolve relatively; rounding in the
losses alone gives |FD| errors of about ulp(L) / h. The loss of
@forward_grad must equal the base loss (within 1e-12 relative), and where
expected.json has the NumPy reference (preset cases) the loss and each G
must match it within ref-rtol (same floor). Prints one line per parameter,
the failing coordinates and a verdict; exit 0 on success, 1 on failure or
unusable input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

from lmc.testing.check_loss import bits_to_float

_LOSS = re.compile(r"^\s*(loss|base)\s+(-?\d+)\s*$")
_GRAD = re.compile(r"^\s*grad\s+(\d+)\s+(\d+)" + r"\s+(-?\d+)" * 5 + r"\s*$")


class CheckError(Exception):
    """Unusable input (as opposed to a numeric mismatch)."""


def _f64(bits: str) -> float:
    try:
        return bits_to_float(int(bits), "f64")
    except ValueError as e:
        raise CheckError(str(e))


def parse_output(text: str):
    """(scalars {'loss','base'}, [(P, K, G, [L+h, L-h, L+2h, L-2h])...])."""
    scalars: dict[str, float] = {}
    grads = []
    for line in text.splitlines():
        m = _LOSS.match(line)
        if m:
            if m[1] in scalars:
                raise CheckError(f"'{m[1]}' printed more than once")
            scalars[m[1]] = _f64(m[2])
            continue
        m = _GRAD.match(line)
        if m:
            vals = [_f64(m[i]) for i in range(3, 8)]
            grads.append((int(m[1]), int(m[2]), vals[0], vals[1:]))
    for key in ("loss", "base"):
        if key not in scalars:
            raise CheckError(f"no '{key}' line in the runner output")
    return scalars, grads


def central4(losses, h: float) -> float:
    lp1, lm1, lp2, lm2 = losses
    return (8.0 * (lp1 - lm1) - (lp2 - lm2)) / (12.0 * h)


def rel_err(a: float, b: float, floor: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b), floor)


def check(expected: dict, text: str, *, rtol: float = 1e-6, floor: float = 1e-4,
          ref_rtol: float = 1e-8, verbose: bool = False,
          label: str | None = None) -> tuple[bool, list[str], dict]:
    """Return (ok, report lines, stats)."""
    if expected.get("kind") != "grad":
        raise CheckError("expected.json is not a grad case")
    h = float(expected["h"])
    params = expected["params"]
    scalars, rows = parse_output(text)
    want = [(p, k) for p, spec in enumerate(params) for k in range(len(spec["coords"]))]
    got = [(p, k) for p, k, _, _ in rows]
    if got != want:
        missing = sorted(set(want) - set(got))[:5]
        raise CheckError(f"expected {len(want)} grad lines in order, got {len(got)}"
                         + (f"; missing e.g. {missing}" if missing else
                            "; duplicated or out of order"))
    name = label or expected.get("case", "?")
    lines: list[str] = []
    ok = True
    loss, base = scalars["loss"], scalars["base"]
    e = rel_err(loss, base, 1e-300)
    good = e <= 1e-12
    ok &= good
    lines.append(f"{'ok' if good else 'FAIL'}: loss {loss!r} base {base!r} "
                 f"rel_err {e:.3e}")
    ref_loss = expected.get("reference_loss")
    ref_grads = expected.get("reference_grads")
    if ref_loss is not None:
        e = rel_err(loss, float(ref_loss), 1e-300)
        good = e <= ref_rtol
        ok &= good
        lines.append(f"{'ok' if good else 'FAIL'}: loss vs reference {ref_loss!r} "
                     f"rel_err {e:.3e}")
    worst = worst_ref = 0.0
    below_floor = 0
    by_param: dict[int, list] = {}
    for p, k, g, ls in rows:
        by_param.setdefault(p, []).append((k, g, ls))
    for p, spec in enumerate(params):
        entries = by_param.get(p, [])
        if not entries:
            continue
        pname = spec["name"]
        pw = pwr = 0.0
        bad = []
        for k, g, ls in entries:
            fd = central4(ls, h)
            err = rel_err(g, fd, floor)
            pw = max(pw, err)
            below_floor += max(abs(g), abs(fd)) < floor
            coord = spec["coords"][k]
            detail = f"{pname}{coord}: analytic {g!r} fd {fd!r} rel_err {err:.3e}"
            if err > rtol:
                bad.append(detail)
            if ref_grads is not None:
                ref = float(ref_grads[pname][k])
                er = rel_err(g, ref, floor)
                pwr = max(pwr, er)
                detail += f" reference {ref!r} rel_err {er:.3e}"
                if er > ref_rtol:
                    bad.append(detail + " (reference)")
            if verbose:
                lines.append("  " + detail)
        worst, worst_ref = max(worst, pw), max(worst_ref, pwr)
        ref_part = f" vs_reference {pwr:.3e}" if ref_grads is not None else ""
        lines.append(f"{'ok' if not bad else 'FAIL'}: {pname} coords {len(entries)} "
                     f"max_rel_err {pw:.3e}{ref_part}")
        lines += ["  mismatch " + b for b in bad]
        ok &= not bad
    stats = {"coords": len(rows), "max_rel_err": worst,
             "max_ref_rel_err": worst_ref if ref_grads is not None else None,
             "below_floor": below_floor}
    ref_part = (f", vs reference {worst_ref:.3e} (ref-rtol {ref_rtol:g})"
                if ref_grads is not None else "")
    lines.append(f"{'PASS' if ok else 'FAIL'}: case {name}: {len(rows)} coordinates, "
                 f"max rel_err {worst:.3e} (rtol {rtol:g}, floor {floor:g}, "
                 f"{below_floor} below floor){ref_part}")
    return ok, lines, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.check_grad",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--expected", required=True, help="expected.json")
    parser.add_argument("--output", required=True, help="runner stdout file")
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--floor", type=float, default=1e-4)
    parser.add_argument("--ref-rtol", type=float, default=1e-8)
    parser.add_argument("--label", help="name of the case in the verdict")
    parser.add_argument("--verbose", action="store_true",
                        help="print every coordinate")
    parser.add_argument("--append-summary", metavar="FILE",
                        help="also append the verdict line to FILE")
    args = parser.parse_args(argv)
    try:
        with open(args.expected) as f:
            expected = json.load(f)
        with open(args.output, errors="replace") as f:
            text = f.read()
        ok, lines, _ = check(expected, text, rtol=args.rtol, floor=args.floor,
                             ref_rtol=args.ref_rtol, verbose=args.verbose,
                             label=args.label)
    except (OSError, ValueError, KeyError, TypeError, IndexError, CheckError) as e:
        lines, ok = [f"FAIL: {args.label + ': ' if args.label else ''}{e}"], False
    print("\n".join(lines))
    if args.append_summary:
        with open(args.append_summary, "a") as f:
            f.write(lines[-1] + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
