"""Checks the learning rates of a trainer log against the closed-form
schedule (lmc.reference_train.lr_at): linear warm-up, cosine to --min-lr at
the decay horizon, --min-lr exactly (as float32) after it.

    python3 check_schedule.py LOG --lr X --min-lr X --warmup N --decay-steps N
"""

import argparse
import json
import sys

import numpy as np

from lmc.reference_train import HParams, lr_at


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--min-lr", type=float, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--decay-steps", type=int, required=True)
    args = p.parse_args()
    hp = HParams(lr=args.lr, min_lr=args.min_lr, warmup=args.warmup,
                 decay_steps=args.decay_steps)
    steps, after = 0, 0
    with open(args.log) as f:
        for line in f:
            obj = json.loads(line)
            if "lr" not in obj:
                continue
            step = obj["step"]  # 1-based: the lr of 0-based step - 1
            want = lr_at(step - 1, hp)
            if abs(obj["lr"] - want) > 1e-6 * abs(want):
                print(f"FAIL: step {step}: lr {obj['lr']}, expected {want}")
                return 1
            if step > args.decay_steps:
                # %.9g round-trips a float32 exactly.
                if np.float32(obj["lr"]) != np.float32(args.min_lr):
                    print(f"FAIL: step {step}: lr {obj['lr']!r} after the "
                          f"horizon, not --min-lr {args.min_lr}")
                    return 1
                after += 1
            steps += 1
    print(f"{steps} steps on the schedule, {after} of them at --min-lr")
    return 0


if __name__ == "__main__":
    sys.exit(main())
