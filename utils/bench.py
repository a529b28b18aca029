#!/usr/bin/env python3
"""Compiles and times the training step of the presets (see utils/bench.sh).

For each preset and precision: `lmc compile` (wall time), then the trainer
on random tokens for STEPS steps with LMCRT_PROFILE=1; the step time is the
median over the steps after the first WARMUP. FLOPs per step are
6 * N * tokens + 12 * L * C * T * tokens (weights forward and backward, plus
attention scores and values), N the parameter count; peak memory is the
trainer's maximum resident set size.

Each figure is a ratio from this run on this machine (the project's machines
are not one CPU), against two references:

- the GEMM floor: the profile times each GEMM shape of the step alone (same
  library, threads and precision) and sums over the step's calls; the
  step's ratio to the fp32 floor is the figure of issue 19 for both
  precisions (bf16 is measured against what fp32 GEMMs alone would cost);
- PyTorch on the same model and shapes (utils/torch_gpt2_step.py on the
  interpreter that has it, /usr/bin/python3 with Debian's python3-torch, or
  LMC_TORCH_PYTHON), fp32, with the tuning that helps it here: passive
  OpenMP waits, tcmalloc when libtcmalloc_minimal.so.4 is installed, and
  OpenBLAS's AVX-512 kernel named where the CPU has AVX-512.

lmc and PyTorch alternate for LMC_BENCH_ROUNDS rounds (default 2); each
keeps its best median, so that a burst of other work on the machine does
not decide a ratio.

Then, when mpirun exists, distributed training: mini (B 8, T 256) on one
rank, on dp=2, tp=2 and dp=2 with ZeRO-1, one thread per rank, the same
global batch.

LMC_BENCH_FLAGS adds flags to every `lmc compile` (e.g. "--fuse=false" for
one loop nest per op instead of per fusion group); LMC_BENCH_PRECISIONS
chooses the precisions (default "fp32 bf16"); LMC_BENCH_DISTRIBUTED=0 leaves
out the distributed runs.
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
from torch_env import describe as describe_torch_env
from torch_env import torch_env as bench_torch_env

RUNS = [("tiny", 8, 64), ("mini", 8, 256), ("gpt2-124M", 4, 64)]
HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    build = sys.argv[1]
    steps = int(os.environ.get("LMC_BENCH_STEPS", "12"))
    warmup = int(os.environ.get("LMC_BENCH_WARMUP", "2"))
    rounds = int(os.environ.get("LMC_BENCH_ROUNDS", "2"))
    flags = os.environ.get("LMC_BENCH_FLAGS", "").split()
    precisions = os.environ.get("LMC_BENCH_PRECISIONS", "fp32 bf16").split()
    lmc = os.path.join(build, "tools", "lmc", "lmc")
    torch_python = os.environ.get("LMC_TORCH_PYTHON", "/usr/bin/python3")
    have_torch = bool(shutil.which(torch_python)) and subprocess.run(
        [torch_python, "-c", "import torch"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0
    torch_env = bench_torch_env()
    rows = []
    isa = "?"
    with tempfile.TemporaryDirectory() as tmp:
        for preset, batch, seq in RUNS:
            cfg = PRESETS[preset]
            model = os.path.join(tmp, preset + ".mlir")
            subprocess.run([sys.executable, "-m", "lmc.models.gpt2", "--preset",
                            preset, "-o", model], check=True)
            shard = os.path.join(tmp, preset + ".bin")
            rng = np.random.default_rng(0)
            write_shard(shard, rng.integers(0, cfg.vocab,
                                            size=batch * seq * (steps + 1) + 1))
            tokens = batch * seq
            flops = (6 * num_params(cfg) +
                     12 * cfg.n_layer * cfg.d_model * seq) * tokens
            fp32_floor = None
            for precision in precisions:
                exe = os.path.join(tmp, f"{preset}-{precision}.train")
                start = time.monotonic()
                subprocess.run([lmc, "compile", model, "-o", exe,
                                "--precision", precision] + flags, check=True)
                compile_s = time.monotonic() - start
                torch_rounds = have_torch and precision == "fp32"
                best = None
                torch_runs = []
                for _ in range(rounds):
                    run = run_lmc(exe, shard, steps, warmup, batch, seq, tmp)
                    if best is None or run["step_ms"] < best["step_ms"]:
                        best = run
                    if torch_rounds:
                        torch_runs.append(run_torch(
                            torch_python, torch_env, cfg, batch, seq, steps,
                            warmup))
                torch_ms = min(torch_runs) if torch_runs else float("nan")
                isa = best["isa"] or isa
                if precision == "fp32":
                    fp32_floor = best["floor_ms"]
                rows.append(dict(best, preset=preset, precision=precision,
                                 batch=batch, seq=seq, compile_s=compile_s,
                                 tok_s=tokens / best["step_ms"] * 1e3,
                                 gflops=flops / best["step_ms"] / 1e6,
                                 fp32_floor=fp32_floor, torch_ms=torch_ms))
        print_table(rows, isa, rounds, warmup, steps, have_torch,
                    torch_python, torch_env)
        dp_rows = (data_parallel(lmc, tmp, steps, warmup, flags)
                   if os.environ.get("LMC_BENCH_DISTRIBUTED", "1") != "0"
                   else [])
    if dp_rows:
        print("distributed, mini B 8 T 256 (global batch), one thread "
              "per rank:")
        print(f"{'run':34} {'ms/step':>9} {'tok/s':>9} {'last loss':>10}")
        for name, step_ms, tok_s, loss in dp_rows:
            print(f"{name:34} {step_ms:9.1f} {tok_s:9.0f} {loss:10.5f}")
    return 0


def print_table(rows, isa, rounds, warmup, steps, have_torch, torch_python,
                torch_env):
    print(f"GEMM: {isa} (through the lmc runtime); other ops: loops "
          "generated from linalg")
    print("FLOPs/step = 6*N*tokens + 12*L*C*T*tokens; step: best over "
          f"{rounds} rounds of the median of steps {warmup + 1}-{steps}")
    print("GEMM: the GEMMs' time per step, all steps (the first, which makes "
          "oneDNN's kernels, included); floor: each GEMM shape alone, "
          "summed over the step's calls (this precision); /floor32: step over "
          "the fp32 floor")
    if not have_torch:
        print(f"(no PyTorch for {torch_python}: apt-get install python3-torch, "
              "or set LMC_TORCH_PYTHON; the PyTorch columns are empty)")
    else:
        print("PyTorch: fp32, " + describe_torch_env(torch_env))
    print(f"{'preset':10} {'prec':5} {'B':>2} {'T':>4} {'compile s':>9} "
          f"{'ms/step':>8} {'tok/s':>7} {'GFLOP/s':>7} {'peak MiB':>8} "
          f"{'GEMM ms':>8} {'floor ms':>8} {'/floor32':>8} {'PyTorch':>8} "
          f"{'lmc/PT':>6}")
    for r in rows:
        floor32 = r["fp32_floor"]
        ratio = f"{r['step_ms'] / floor32:8.2f}" if floor32 else f"{'-':>8}"
        floor = (f"{r['floor_ms']:8.1f}" if r["floor_ms"] is not None
                 else f"{'-':>8}")
        pt = r["torch_ms"]
        pt_cols = (f"{pt:8.1f} {r['step_ms'] / pt:6.2f}" if pt == pt
                   else f"{'-':>8} {'-':>6}")
        print(f"{r['preset']:10} {r['precision']:5} {r['batch']:2d} "
              f"{r['seq']:4d} {r['compile_s']:9.1f} {r['step_ms']:8.1f} "
              f"{r['tok_s']:7.0f} {r['gflops']:7.1f} {r['peak_mib']:8.0f} "
              f"{r['gemm_ms']:8.1f} {floor} {ratio} {pt_cols}")


def run_lmc(exe, shard, steps, warmup, batch, seq, tmp):
    """One run of a trainer under LMCRT_PROFILE=1 (its median step, the
    GEMMs' time and floor per step), then a short one without it for the
    peak resident set (the floor, timed at exit, allocates operands of its
    own)."""
    log = os.path.join(tmp, "run.jsonl")
    rss = os.path.join(tmp, "run.rss")
    for path in (log, rss):
        if os.path.exists(path):
            os.remove(path)
    common = ["--data", shard, "--batch", str(batch), "--seq", str(seq)]
    run = subprocess.run(
        [exe, "--steps", str(steps), "--log", log] + common, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, LMCRT_PROFILE="1"))
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, exe, "--steps",
                    "2"] + common, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(rss) as f:
        peak_kib = int(f.read().split()[-1])
    ms = step_times(log)
    gemm = re.search(r"GEMM ([0-9.]+) s in all", run.stderr)
    floor = re.search(r"GEMM floor ([0-9.]+) s in all", run.stderr)
    isa = re.search(r"GEMM on (.*)", run.stderr)
    return {"step_ms": statistics.median(ms[warmup:]),
            "gemm_ms": float(gemm.group(1)) * 1e3 / len(ms) if gemm else 0.0,
            "floor_ms": (float(floor.group(1)) * 1e3 / len(ms)
                         if floor else None),
            "peak_mib": peak_kib / 1024,
            "isa": isa.group(1) if isa else None}


def run_torch(python, env, cfg, batch, seq, steps, warmup):
    """PyTorch's median step on the same model and shapes (ms)."""
    config = json.dumps({k: getattr(cfg, k) for k in (
        "vocab", "ctx", "n_layer", "n_head", "d_model")})
    out = subprocess.run(
        [python, os.path.join(HERE, "torch_gpt2_step.py"), "--config", config,
         "--batch", str(batch), "--seq", str(seq), "--steps", str(steps),
         "--threads", str(os.cpu_count() or 1)],
        check=True, capture_output=True, text=True, env=env).stdout
    ms = [json.loads(line)["ms"] for line in out.splitlines() if line]
    return statistics.median(ms[warmup:])


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
    one_rank = os.path.join(tmp, "mini-1rank.train")
    subprocess.run([lmc, "compile", model, "-o", one_rank] + flags, check=True)
    runs = [("1 rank", [one_rank])]
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
