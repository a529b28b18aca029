#!/usr/bin/env python3
"""Compiles and times the training step of the presets (see utils/bench.sh).

For each preset: `lmc compile` (wall time), then the trainer on random tokens
for STEPS steps; the step time is the median over the steps after the first
WARMUP. FLOPs per step are 6 * N * tokens + 12 * L * C * T * tokens (weights
forward and backward, plus attention scores and values), N the parameter
count; peak memory is the trainer's maximum resident set size. The GEMM
column is the share of the step spent in oneDNN's sgemm (LMCRT_PROFILE=1).

Then, when mpirun exists, distributed training: mini (B 8, T 256) on one
rank, on dp=2, tp=2 and dp=2 with ZeRO-1, one thread per rank, the same
global batch.

LMC_BENCH_FLAGS adds flags to every `lmc compile` (e.g. "--fuse=false" for
one loop nest per op instead of per fusion group).
"""

import json
import os
import re
import shutil
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
    flags = os.environ.get("LMC_BENCH_FLAGS", "").split()
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
            subprocess.run([lmc, "compile", model, "-o", exe] + flags,
                           check=True)
            compile_s = time.monotonic() - start
            shard = os.path.join(tmp, preset + ".bin")
            rng = np.random.default_rng(0)
            write_shard(shard, rng.integers(0, cfg.vocab,
                                            size=batch * seq * (steps + 1) + 1))
            log = os.path.join(tmp, preset + ".jsonl")
            rss = os.path.join(tmp, preset + ".rss")
            run = subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", rss, exe, "--data",
                 shard, "--steps", str(steps), "--batch", str(batch),
                 "--seq", str(seq), "--log", log], check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env=dict(os.environ, LMCRT_PROFILE="1"))
            with open(rss) as f:
                peak_kib = int(f.read().split()[-1])
            ms = step_times(log)
            step_ms = statistics.median(ms[warmup:])
            gemm_s = float(re.search(r"GEMM ([0-9.]+) s in all",
                                     run.stderr).group(1))
            isa = re.search(r"GEMM on (.*)", run.stderr).group(1)
            tokens = batch * seq
            n = num_params(cfg)
            flops = (6 * n + 12 * cfg.n_layer * cfg.d_model * seq) * tokens
            gemm_share = gemm_s / (sum(ms) / 1e3)
            rows.append((preset, batch, seq, compile_s, step_ms,
                         tokens / step_ms * 1e3, flops / step_ms / 1e6,
                         peak_kib / 1024, gemm_share))
        dp_rows = data_parallel(lmc, tmp, steps, warmup, flags)
    print(f"GEMM: {isa} (through the lmc runtime); other ops: loops "
          "generated from linalg")
    print("FLOPs/step = 6*N*tokens + 12*L*C*T*tokens; step time: median of "
          f"steps {warmup + 1}-{steps}; GEMM: share of all steps' time")
    print(f"{'preset':10} {'B':>3} {'T':>4} {'compile s':>10} {'ms/step':>9} "
          f"{'tok/s':>9} {'GFLOP/s':>8} {'peak MiB':>9} {'GEMM':>6}")
    for r in rows:
        print(f"{r[0]:10} {r[1]:3d} {r[2]:4d} {r[3]:10.1f} {r[4]:9.1f} "
              f"{r[5]:9.0f} {r[6]:8.2f} {r[7]:9.0f} {r[8]:6.0%}")
    if dp_rows:
        print("distributed, mini B 8 T 256 (global batch), one thread "
              "per rank:")
        print(f"{'run':34} {'ms/step':>9} {'tok/s':>9} {'last loss':>10}")
        for name, step_ms, tok_s, loss in dp_rows:
            print(f"{name:34} {step_ms:9.1f} {tok_s:9.0f} {loss:10.5f}")
    return 0


def step_times(log: str) -> list[float]:
    with open(log) as f:
        return [json.loads(line)["ms"] for line in f if '"loss"' in line]


def data_parallel(lmc: str, tmp: str, steps: int, warmup: int,
                  flags: list[str]):
    """mini on one rank and on two ranks (mpirun) under dp=2, tp=2 and dp=2
    with ZeRO-1, one thread each."""
    mpirun = shutil.which("mpirun")
    if not mpirun:
        print("(no mpirun: data-parallel figures skipped)")
        return []
    batch, seq = 8, 256
    model = os.path.join(tmp, "mini.mlir")
    shard = os.path.join(tmp, "mini.bin")
    runs = [("1 rank", [os.path.join(tmp, "mini.train")])]
    for name, mesh in [("dp=2", ["--mesh", "dp=2"]),
                       ("tp=2", ["--mesh", "tp=2"]),
                       ("dp=2 --zero 1", ["--mesh", "dp=2", "--zero", "1"])]:
        exe = os.path.join(tmp, "mini-%s.train" % name.replace(" ", ""))
        subprocess.run([lmc, "compile", model, "-o", exe] + mesh + flags,
                       check=True)
        runs.append((name + " (mpirun -np 2)",
                     [mpirun, "--allow-run-as-root", "--oversubscribe", "-np",
                      "2", exe]))
    rows = []
    for name, command in runs:
        log = os.path.join(tmp, "dp.jsonl")
        if os.path.exists(log):
            os.remove(log)
        subprocess.run(command + ["--data", shard, "--steps", str(steps),
                                  "--batch", str(batch), "--seq", str(seq),
                                  "--threads", "1", "--log", log],
                       check=True, stdout=subprocess.DEVNULL)
        ms = step_times(log)
        with open(log) as f:
            loss = [json.loads(line)["loss"] for line in f
                    if '"loss"' in line][-1]
        step_ms = statistics.median(ms[warmup:])
        rows.append((name, step_ms, batch * seq / step_ms * 1e3, loss))
    return rows


if __name__ == "__main__":
    sys.exit(main())
