#!/usr/bin/env python3
"""The Llama family's figures (see utils/bench-llama.sh).

1. Parameters and forward FLOPs per token of each preset, from
   `lmc-opt --lmc-model-summary`, against the analytic count.
2. Compile time of each preset (`lmc compile`, CPU).
3. Activation bytes kept for the backward pass per recompute policy
   (`lmc-autodiff report`) for smollm-135m at B 4, T 256.
4. The training step of `mini` (B 8, T 256) on CPU against PyTorch on the
   same model and shapes (utils/torch_llama_step.py), alternating lmc and
   PyTorch for ROUNDS rounds in one run; per round the median over the steps
   after the first WARMUP. PyTorch runs on LMC_TORCH_PYTHON (default
   /usr/bin/python3, Debian's python3-torch); without it that row is skipped.
   Both use the machine's cores (sched_getaffinity); PyTorch with passive
   OpenMP waits. Debian's PyTorch does its GEMMs in whatever libblas.so.3 the
   system's alternatives select (the reference BLAS unless OpenBLAS,
   libopenblas0-pthread, is installed): the library is printed.

Environment: LMC_BENCH_STEPS (12), LMC_BENCH_WARMUP (2), LMC_BENCH_ROUNDS (3).
"""

import dataclasses
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
from lmc.models import llama
from torch_env import describe as describe_torch_env
from torch_env import torch_env

HERE = os.path.dirname(os.path.abspath(__file__))


def analytic(cfg) -> tuple[int, int]:
    """(parameters, forward matmul FLOPs per token) from the shapes."""
    d, f, v = cfg.d_model, cfg.ffn, cfg.vocab
    kv = cfg.n_kv_head * (d // cfg.n_head)
    per_layer = d * d * 2 + 2 * d * kv + 3 * d * f + 2 * d
    params = cfg.n_layer * per_layer + v * d + d + (0 if cfg.tied else v * d)
    matmul = 2 * (cfg.n_layer * (2 * d * d + 2 * d * kv + 3 * d * f) + d * v)
    return params, matmul


def step_times(log: str) -> list[float]:
    with open(log) as f:
        return [json.loads(line)["ms"] for line in f if '"loss"' in line]


def main() -> int:
    build = sys.argv[1]
    steps = int(os.environ.get("LMC_BENCH_STEPS", "12"))
    warmup = int(os.environ.get("LMC_BENCH_WARMUP", "2"))
    rounds = int(os.environ.get("LMC_BENCH_ROUNDS", "3"))
    torch_python = os.environ.get("LMC_TORCH_PYTHON", "/usr/bin/python3")
    lmc = os.path.join(build, "tools", "lmc", "lmc")
    lmc_opt = os.path.join(build, "tools", "lmc-opt", "lmc-opt")
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        print("== parameters and forward FLOPs per token "
              "(lmc-model-summary; analytic)")
        for preset in llama.PRESETS:
            model = os.path.join(tmp, preset + ".mlir")
            subprocess.run([sys.executable, "-m", "lmc.models.llama",
                            "--preset", preset, "-o", model], check=True)
            models[preset] = model
            out = subprocess.run([lmc_opt, model, "--lmc-model-summary",
                                  "-o", os.devnull], check=True,
                                 capture_output=True, text=True)
            summary = (out.stdout + out.stderr).strip()
            params, matmul = analytic(llama.PRESETS[preset])
            print(summary)
            print(f"  analytic: {params} parameters, {matmul} matmul "
                  "FLOPs/token")
        print("== compile time (lmc compile, CPU, wall)")
        for preset, model in models.items():
            exe = os.path.join(tmp, preset + ".train")
            start = time.monotonic()
            subprocess.run([lmc, "compile", model, "-o", exe], check=True)
            print(f"  {preset:12} {time.monotonic() - start:6.2f} s")
        print("== activation bytes kept for the backward pass, "
              "smollm-135m at B 4, T 256")
        for attention in ("flash", "decomposed"):
            for policy in ("none", "attention", "block"):
                out = subprocess.run(
                    [lmc_opt, models["smollm-135m"],
                     f"--lmc-autodiff=recompute={policy} attention={attention} "
                     "report report-batch=4 report-seq=256", "-o", os.devnull],
                    check=True, capture_output=True, text=True)
                m = re.search(r"(\d+) values, (\d+) bytes", out.stdout)
                print(f"  attention={attention:10} recompute={policy:9} "
                      f"{int(m.group(1)):5d} values "
                      f"{int(m.group(2)) / 2**20:10.1f} MiB")

        cfg = llama.PRESETS["mini"]
        batch, seq = 8, 256
        shard = os.path.join(tmp, "mini.bin")
        rng = np.random.default_rng(0)
        write_shard(shard, rng.integers(0, cfg.vocab,
                                        size=batch * seq * (steps + 1) + 1))
        have_torch = shutil.which(torch_python) and subprocess.run(
            [torch_python, "-c", "import torch"],
            capture_output=True).returncode == 0
        torch_cfg = json.dumps({k: getattr(cfg, k) for k in (
            "vocab", "n_layer", "n_head", "n_kv_head", "d_model", "ffn",
            "rope_theta", "rms_eps", "tied")})
        print(f"== training step, mini B {batch} T {seq}, CPU, median of steps "
              f"{warmup + 1}-{steps} per round, {rounds} rounds alternating")
        threads = len(os.sched_getaffinity(0))
        blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
        if have_torch:
            print(f"  {threads} threads each; PyTorch's libblas.so.3: {blas}; "
                  f"{describe_torch_env(torch_env())}")
        if not have_torch:
            print(f"  (no PyTorch for {torch_python}: apt-get install "
                  "python3-torch, or set LMC_TORCH_PYTHON; PyTorch skipped)")
        rows = []
        for r in range(rounds):
            log = os.path.join(tmp, "mini.jsonl")
            if os.path.exists(log):
                os.remove(log)
            subprocess.run([os.path.join(tmp, "mini.train"), "--data", shard,
                            "--steps", str(steps), "--batch", str(batch),
                            "--seq", str(seq), "--threads", str(threads),
                            "--log", log], check=True,
                           stdout=subprocess.DEVNULL)
            lmc_ms = statistics.median(step_times(log)[warmup:])
            torch_ms = float("nan")
            if have_torch:
                out = subprocess.run(
                    [torch_python, os.path.join(HERE, "torch_llama_step.py"),
                     "--config", torch_cfg, "--batch", str(batch), "--seq",
                     str(seq), "--steps", str(steps), "--threads",
                     str(threads)],
                    check=True, capture_output=True, text=True,
                    env=torch_env())
                ms = [json.loads(l)["ms"] for l in out.stdout.splitlines()]
                torch_ms = statistics.median(ms[warmup:])
            rows.append((lmc_ms, torch_ms))
            print(f"  round {r + 1}: lmc {lmc_ms:8.1f} ms  PyTorch "
                  f"{torch_ms:8.1f} ms  lmc/PyTorch {lmc_ms / torch_ms:5.2f}")
        lm = statistics.median(r[0] for r in rows)
        tm = statistics.median(r[1] for r in rows)
        print(f"  median: lmc {lm:8.1f} ms  PyTorch {tm:8.1f} ms  "
              f"lmc/PyTorch {lm / tm:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
