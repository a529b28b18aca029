"""Checks the --keep-best bookkeeping of a checkpoint directory against the
trainer's log: DIR/best names the checkpoint of the lowest val loss among the
checkpoint steps (multiples of --every, and the last step), that file exists,
and every checkpoint's metadata val_loss is the log's val loss at its step.

    python3 check_best.py DIR LOG --every K --last N
"""

import argparse
import json
import os
import sys

from lmc import safetensors


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("log")
    p.add_argument("--every", type=int, required=True)
    p.add_argument("--last", type=int, required=True)
    args = p.parse_args()
    val = {}
    with open(args.log) as f:
        for line in f:
            obj = json.loads(line)
            if "val_loss" in obj:
                assert obj["step"] not in val, f"step {obj['step']} evaluated twice"
                val[obj["step"]] = obj["val_loss"]
    steps = [s for s in range(args.every, args.last + 1, args.every)]
    if args.last not in steps:
        steps.append(args.last)
    missing = [s for s in steps if s not in val]
    if missing:
        print(f"FAIL: no val loss at checkpoint steps {missing}")
        return 1
    best = min(steps, key=lambda s: (val[s], s))
    with open(os.path.join(args.dir, "best")) as f:
        named = f.read()
    expected = f"ckpt_{best:08d}.safetensors\n"
    if named != expected:
        print(f"FAIL: best names {named!r}, the log's best is {expected!r}")
        return 1
    for name in sorted(os.listdir(args.dir)):
        if not name.startswith("ckpt_"):
            continue
        _, meta = safetensors.load(os.path.join(args.dir, name))
        step = int(meta["step"])
        recorded = float(meta["val_loss"])
        if abs(recorded - val[step]) > 1e-6 * abs(val[step]):
            print(f"FAIL: {name}: val_loss {recorded}, the log's {val[step]}")
            return 1
        if int(meta["best_step"]) > step:
            print(f"FAIL: {name}: best_step {meta['best_step']} > {step}")
            return 1
    print(f"best step {best} (val loss {val[best]:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
