"""Check a compiled Llama's logits against a Hugging Face model's.

    python3 -m lmc.testing.logits_case write --hf-dir DIR --expected E \\
        --out-dir OUT
    lmc-opt OUT/model.mlir --lmc-autodiff=attention=decomposed --lmc-optimizer \\
        --lmc-reference-pipeline="params=DIR/model.safetensors" -o OUT/run.mlir
    mlir-runner OUT/run.mlir -e main -entry-point-result=void ... > OUT/out.txt
    python3 -m lmc.testing.logits_case check --expected E --output OUT/out.txt

DIR holds what LlamaForCausalLM.save_pretrained writes (config.json,
model.safetensors). E is a safetensors file with `tokens` [B, T] (integer)
and `logits` [B, T, V], the model's logits on them (float).

`write` builds the model of DIR/config.json (lmc.models.llama's
--from-hf-config) with a declaration of @logits (lmc-optimizer's next-token
logits: the last position of each sequence) and a @main that calls it on
every prefix tokens[:, :t], t = 1..T, printing for each the B x V values as

    logits T BITS          (row-major; BITS the f32 (i32) / f64 (i64) bit pattern)

so that, attention being causal, prefix t gives logits[:, t - 1, :] of E.
`check` compares them: |got - want| <= atol + rtol * |want| everywhere.

    python3 -m lmc.testing.logits_case compare --expected E --got G

compares E with G, the file a compiled trainer's `--logits G
--logits-tokens E` writes (`tokens` [B, T] and `logits` [B, T, V], every
position at once), in the same way: the same tokens, then every logit.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from lmc import safetensors
from lmc.models import llama
from lmc.testing.check_loss import bits_to_float
from lmc.testing.train_case import INT_TYPE, TOK, dense_ids, indent, tensor_type

_LINE = re.compile(r"^\s*logits\s+(\d+)\s+(-?\d+)\s*$")


def read_expected(path: str) -> tuple[np.ndarray, np.ndarray]:
    tensors, _ = safetensors.load(path)
    if "tokens" not in tensors or "logits" not in tensors:
        raise ValueError(f"{path}: needs tensors 'tokens' and 'logits'")
    tokens, logits = tensors["tokens"], tensors["logits"]
    if tokens.ndim != 2 or logits.shape[:2] != tokens.shape or logits.ndim != 3:
        raise ValueError(f"{path}: tokens {tokens.shape} and logits "
                         f"{logits.shape} are not [B, T] and [B, T, V]")
    return tokens.astype(np.int32), logits.astype(np.float64)


def driver_func(cfg: llama.LlamaConfig, tokens: np.ndarray) -> str:
    dt = cfg.dtype
    specs = llama.param_specs(cfg)
    ptypes = [tensor_type(s, dt) for _, s, _, _ in specs]
    out_t = f"tensor<?x{cfg.vocab}x{dt}>"
    B, T = tokens.shape
    L = ["%c0 = arith.constant 0 : index", "%c1 = arith.constant 1 : index",
         f"%cB = arith.constant {B} : index",
         f"%cV = arith.constant {cfg.vocab} : index"]
    for i, (name, _, _, _) in enumerate(specs):
        L.append(f'%p{i} = lmc.param_ref @"{name}" : {ptypes[i]}')
    params = ", ".join(f"%p{i}" for i in range(len(specs)))
    sig = f"({', '.join(ptypes + [TOK])}) -> {out_t}"
    for t in range(1, T + 1):
        st = f"tensor<{B}x{t}xi32>"
        L.append(f"%tok{t}_c = arith.constant {dense_ids(tokens[:, :t])} : {st}")
        L.append(f"%tok{t} = tensor.cast %tok{t}_c : {st} to {TOK}")
        L.append(f"%l{t} = func.call @logits({params}, %tok{t}) : {sig}")
        L.append(f"scf.for %b = %c0 to %cB step %c1 {{")
        L.append(f"  scf.for %v = %c0 to %cV step %c1 {{")
        L.append(f"    %x = tensor.extract %l{t}[%b, %v] : {out_t}")
        L.append(f"    %bits = arith.bitcast %x : {dt} to {INT_TYPE[dt]}")
        L.append(f'    vector.print str "logits {t} "')
        L.append(f"    vector.print %bits : {INT_TYPE[dt]}")
        L.append("  }")
        L.append("}")
    L.append("return")
    decl = f"func.func private @logits({', '.join(ptypes + [TOK])}) -> {out_t}"
    return "  " + decl + "\n  func.func @main() {\n" + indent(L, 4) + "  }\n"


def write(hf_dir: str, expected: str, out_dir: str, dtype: str = "f32") -> str:
    cfg = llama.read_hf_config(os.path.join(hf_dir, "config.json"), dtype=dtype)
    tokens, logits = read_expected(expected)
    if logits.shape[2] != cfg.vocab:
        raise ValueError(f"{expected}: vocabulary {logits.shape[2]}, the "
                         f"config's {cfg.vocab}")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.mlir")
    with open(path, "w") as f:
        f.write(llama.emit_model(cfg, driver_func(cfg, tokens)))
    return path


def check(expected: str, text: str, dtype: str, rtol: float, atol: float):
    """Return (ok, report lines)."""
    tokens, logits = read_expected(expected)
    B, T, V = logits.shape
    got: dict[int, list[float]] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            got.setdefault(int(m[1]), []).append(bits_to_float(int(m[2]), dtype))
    if sorted(got) != list(range(1, T + 1)):
        return False, [f"FAIL: expected logits of prefixes 1..{T}, got "
                       f"{sorted(got)[:8]}"]
    ok, lines, worst = True, [], 0.0
    for t in range(1, T + 1):
        if len(got[t]) != B * V:
            return False, [f"FAIL: prefix {t}: {len(got[t])} values, "
                           f"expected {B * V}"]
        g = np.array(got[t]).reshape(B, V)
        want = logits[:, t - 1, :]
        err = np.abs(g - want)
        bad = ~(np.isfinite(g) & (err <= atol + rtol * np.abs(want)))
        worst = max(worst, float(err.max()))
        line = (f"prefix {t}: max abs err {err.max():.3e} "
                f"(max |logit| {np.abs(want).max():.3g})")
        if bad.any():
            ok = False
            b, v = np.argwhere(bad)[0]
            line += (f" MISMATCH at batch {b} token {v}: got {g[b, v]!r} "
                     f"expected {want[b, v]!r}")
        lines.append(line)
    lines.append(f"{'PASS' if ok else 'FAIL'}: {T} prefixes x {B} x {V} logits, "
                 f"max abs err {worst:.3e} (rtol {rtol:g}, atol {atol:g})")
    return ok, lines


def compare(expected: str, got: str, rtol: float, atol: float):
    """Return (ok, report lines) for the trainer's --logits file `got`."""
    tokens, want = read_expected(expected)
    g_tokens, g = read_expected(got)
    if g_tokens.shape != tokens.shape or not np.array_equal(g_tokens, tokens):
        return False, [f"FAIL: {got}: tokens {g_tokens.shape} are not those "
                       f"of {expected} {tokens.shape}"]
    if g.shape != want.shape:
        return False, [f"FAIL: {got}: logits {g.shape}, expected {want.shape}"]
    err = np.abs(g - want)
    bad = ~(np.isfinite(g) & (err <= atol + rtol * np.abs(want)))
    B, T, V = want.shape
    lines = [f"row {b}: max abs err {err[b].max():.3e} (max |logit| "
             f"{np.abs(want[b]).max():.3g}), same argmax at "
             f"{int((g[b].argmax(-1) == want[b].argmax(-1)).sum())}/{T} positions"
             for b in range(B)]
    ok = not bad.any()
    if not ok:
        b, t, v = np.argwhere(bad)[0]
        lines.append(f"MISMATCH at batch {b} position {t} token {v}: got "
                     f"{g[b, t, v]!r} expected {want[b, t, v]!r}")
    lines.append(f"{'PASS' if ok else 'FAIL'}: {B} x {T} positions x {V} "
                 f"logits, max abs err {err.max():.3e} (rtol {rtol:g}, "
                 f"atol {atol:g})")
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.logits_case",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="the model and its driver")
    w.add_argument("--hf-dir", required=True)
    w.add_argument("--expected", required=True)
    w.add_argument("--dtype", choices=llama.DTYPES, default="f32")
    w.add_argument("--out-dir", required=True)
    c = sub.add_parser("check", help="compare the runner's output")
    c.add_argument("--expected", required=True)
    c.add_argument("--output", required=True)
    c.add_argument("--dtype", choices=llama.DTYPES, default="f32")
    c.add_argument("--rtol", type=float, default=1e-5)
    c.add_argument("--atol", type=float, default=1e-5)
    k = sub.add_parser("compare", help="compare a trainer's --logits file")
    k.add_argument("--expected", required=True)
    k.add_argument("--got", required=True)
    k.add_argument("--rtol", type=float, default=1e-5)
    k.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "compare":
            ok, lines = compare(args.expected, args.got, args.rtol, args.atol)
            print("\n".join(lines))
            return 0 if ok else 1
        if args.cmd == "write":
            path = write(args.hf_dir, args.expected, args.out_dir, args.dtype)
            print(f"wrote {path}")
            return 0
        with open(args.output, errors="replace") as f:
            ok, lines = check(args.expected, f.read(), args.dtype, args.rtol,
                              args.atol)
    except (OSError, ValueError) as e:
        print(f"FAIL: {e}")
        return 1
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
