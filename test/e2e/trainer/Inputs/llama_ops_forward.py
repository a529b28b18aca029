"""Losses and gradient norms of a compiled trainer against independent ones.

Usage: llama_ops_forward.py init MODEL.mlir OUT.safetensors
       llama_ops_forward.py check MODEL.mlir PARAMS DATA LOG --batch B --seq T
       llama_ops_forward.py grad-driver MODEL.mlir DATA OUT.mlir --batch B --seq T
       llama_ops_forward.py check-norm RUN.txt LOG

`init` writes random parameters for the lmc.param declarations of MODEL
(N(0, 0.3^2), vectors named *norm* around 1), so that every op carries a
signal. `check` reads the trainer's JSON log of a run with learning rate 0
(the parameters never change) and compares each step's loss with
lmc.testing.interpret.run_forward of MODEL's @forward on the same batch (the
trainer's batch order), in f64, within 1e-5 relative.

`grad-driver` writes MODEL with a @main that calls @forward_grad (which
lmc-autodiff makes) on the first batch and prints the global gradient norm
(as f32 bits); run through the reference pipeline (no fusion, no kernel
loops, decomposed attention: the lowering the finite-difference checks
cover), `check-norm` compares it with the trainer's first logged gradient
norm (the norm before clipping) within 1e-4 relative.
"""

import argparse
import json
import re
import sys

import numpy as np

from lmc import safetensors
from lmc.data import read_shard
from lmc.testing.interpret import run_forward
from lmc.testing.trainer_reference import batches

_PARAM = re.compile(r'lmc\.param @"([^"]+)" : tensor<([0-9x]+)x(f32|f64)>')


def _params(text):
    return [(m[1], tuple(int(d) for d in m[2].split("x"))) for m in _PARAM.finditer(text)]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["init", "check", "grad-driver", "check-norm"])
    p.add_argument("model")
    p.add_argument("files", nargs="+")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=16)
    a = p.parse_args(argv)
    if a.cmd == "check-norm":
        return _check_norm(a.model, a.files[0])
    text = open(a.model).read()
    if a.cmd == "grad-driver":
        data, out = a.files
        x, y = next(batches(read_shard(data), a.batch, a.seq, 1))
        with open(out, "w") as f:
            f.write(_with_driver(text, x, y))
        return 0
    if a.cmd == "init":
        rng = np.random.default_rng(0)
        out = {}
        for name, shape in _params(text):
            base = 1.0 if "norm" in name else 0.0
            out[name] = (base + 0.3 * rng.standard_normal(shape)).astype(np.float32)
        safetensors.save(a.files[0], out, {"format": "lmc"})
        return 0
    params_path, data, log = a.files
    params, _ = safetensors.load(params_path)
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    rows = [json.loads(line) for line in open(log) if line.strip()]
    tokens = read_shard(data)
    worst = 0.0
    for row, (x, y) in zip(rows, batches(tokens, a.batch, a.seq, len(rows))):
        want = run_forward(text, params, x, y)
        err = abs(row["loss"] - want) / abs(want)
        worst = max(worst, err)
        print(f"step {row['step']} loss {row['loss']:.8f} numpy {want:.8f} rel_err {err:.2e}")
    ok = len(rows) > 0 and worst <= 1e-5
    print(f"{'PASS' if ok else 'FAIL'}: {len(rows)} steps, max rel_err {worst:.2e}")
    return 0 if ok else 1


def _dense(a):
    return "dense<[" + ", ".join(
        "[" + ", ".join(str(int(v)) for v in row) + "]" for row in a) + "]>"


def _with_driver(text, x, y):
    """MODEL with @main: the global norm of @forward_grad's gradients."""
    params = _params(text)
    B, T = x.shape
    st, dyn = f"tensor<{B}x{T}xi32>", "tensor<?x?xi32>"
    types = [f"tensor<{'x'.join(map(str, s))}xf32>" for _, s in params]
    lines = [
        f"func.func private @forward_grad({dyn}, {dyn}) -> (tensor<f32>, {', '.join(types)})",
        "func.func @main() {",
        f"  %tok_c = arith.constant {_dense(x)} : {st}",
        f"  %tgt_c = arith.constant {_dense(y)} : {st}",
        f"  %tok = tensor.cast %tok_c : {st} to {dyn}",
        f"  %tgt = tensor.cast %tgt_c : {st} to {dyn}",
        f"  %g:{len(params) + 1} = func.call @forward_grad(%tok, %tgt) : ({dyn}, {dyn}) -> "
        f"(tensor<f32>, {', '.join(types)})",
    ]
    acc = None
    for i, (ty, (_, shape)) in enumerate(zip(types, params)):
        dims = ", ".join(str(d) for d in range(len(shape)))
        lines.append(f"  %sq{i} = lmc.mul %g#{i + 1}, %g#{i + 1} : {ty}")
        lines.append(f"  %s{i} = lmc.reduce_sum %sq{i} dims [{dims}] : {ty}")
        if acc is None:
            acc = f"%s{i}"
        else:
            lines.append(f"  %a{i} = lmc.add {acc}, %s{i} : tensor<f32>")
            acc = f"%a{i}"
    lines += [
        f"  %n = tensor.extract {acc}[] : tensor<f32>",
        "  %norm = math.sqrt %n : f32",
        "  %bits = arith.bitcast %norm : f32 to i32",
        "  vector.print %bits : i32",
        "  return",
        "}",
    ]
    body = "\n".join("  " + line for line in lines) + "\n"
    end = text.rindex("}")
    return text[:end] + body + text[end:]


def _check_norm(run, log):
    bits = int(open(run).read().split()[0])
    want = float(np.array([bits & 0xFFFFFFFF], dtype=np.uint32).view(np.float32)[0])
    got = json.loads(open(log).readline())["grad_norm"]
    err = abs(got - want) / want
    ok = err <= 1e-4
    print(f"{'PASS' if ok else 'FAIL'}: grad_norm {got:.8g} reference {want:.8g} "
          f"rel_err {err:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
