"""Forward losses of a compiled trainer against the NumPy interpreter.

Usage: llama_ops_forward.py init MODEL.mlir OUT.safetensors
       llama_ops_forward.py check MODEL.mlir PARAMS DATA LOG --batch B --seq T

`init` writes random parameters for the lmc.param declarations of MODEL
(N(0, 0.3^2), vectors named *norm* around 1), so that every op carries a
signal. `check` reads the trainer's JSON log of a run with learning rate 0
(the parameters never change) and compares each step's loss with
lmc.testing.interpret.run_forward of MODEL's @forward on the same batch (the
trainer's batch order), in f64, within 1e-5 relative.
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
    p.add_argument("cmd", choices=["init", "check"])
    p.add_argument("model")
    p.add_argument("files", nargs="+")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=16)
    a = p.parse_args(argv)
    text = open(a.model).read()
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


if __name__ == "__main__":
    sys.exit(main())
