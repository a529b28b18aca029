#!/usr/bin/env python3
"""Compiles and times the training step of the presets (see utils/bench.sh).

For each preset: `lmc compile` (wall time), then the trainer on random tokens
for STEPS steps; the step time is the median over the steps after the first
WARMUP. FLOPs per step are 6 * N * tokens + 12 * L * C * T * tokens (weights
forward and backward, plus attention scores and values), N the parameter
count; peak memory is the trainer's maximum resident set size.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from lmc.data import write_shard
from lmc.models.gpt2 import PRESETS, num_params

RUNS = [("tiny", 8, 64), ("mini", 8, 256), ("gpt2-124M", 4, 64)]


def main() -> int:
    build = sys.argv[1]
    steps = int(os.environ.get("LMC_BENCH_STEPS", "12"))
    warmup = int(os.environ.get("LMC_BENCH_WARMUP", "2"))
    lmc = os.path.join(build, "tools", "lmc", "lmc")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset, batch, seq in RUNS:
            cfg = PRESETS[preset]
            model = os.path.join(tmp, preset + ".mlir")
            subprocess.run([sys.executable, "-m", "lmc.models.gpt2", "--preset",
                            preset, "-o", model], check=True)
            exe = os.path.join(tmp, preset + ".train")
            start = time.monotonic()
            subprocess.run([lmc, "compile", model, "-o", exe], check=True)
            compile_s = time.monotonic() - start
            shard = os.path.join(tmp, preset + ".bin")
            rng = np.random.default_rng(0)
            write_shard(shard, rng.integers(0, cfg.vocab,
                                            size=batch * seq * (steps + 1) + 1))
            log = os.path.join(tmp, preset + ".jsonl")
            rss = os.path.join(tmp, preset + ".rss")
            subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, exe,
                            "--data", shard, "--steps", str(steps),
                            "--batch", str(batch), "--seq", str(seq),
                            "--log", log], check=True,
                           stdout=subprocess.DEVNULL)
            with open(rss) as f:
                peak_kib = int(f.read().split()[-1])
            with open(log) as f:
                ms = [json.loads(line)["ms"] for line in f
                      if '"loss"' in line]
            step_ms = statistics.median(ms[warmup:])
            tokens = batch * seq
            n = num_params(cfg)
            flops = (6 * n + 12 * cfg.n_layer * cfg.d_model * seq) * tokens
            rows.append((preset, batch, seq, compile_s, step_ms,
                         tokens / step_ms * 1e3, flops / step_ms / 1e6,
                         peak_kib / 1024))
    print("GEMM: oneDNN dnnl_sgemm through the lmc runtime; other ops: "
          "loops of the reference lowering")
    print("FLOPs/step = 6*N*tokens + 12*L*C*T*tokens; step time: median of "
          f"steps {warmup + 1}-{steps}")
    print(f"{'preset':10} {'B':>3} {'T':>4} {'compile s':>10} {'ms/step':>9} "
          f"{'tok/s':>9} {'GFLOP/s':>8} {'peak MiB':>9}")
    for r in rows:
        print(f"{r[0]:10} {r[1]:3d} {r[2]:4d} {r[3]:10.1f} {r[4]:9.1f} "
              f"{r[5]:9.0f} {r[6]:8.2f} {r[7]:9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
