#!/usr/bin/env python3
"""A stand-in for a bundle's GPU trainers, to test utils/device-check.sh's
control flow on a machine without a GPU (device-check-flow.test).

  fake-gpu-trainer.py make-bundle DIR   writes a fake bundle: bin/* are links
                                        to this script, the CPU logs made up
  DIR/bin/NAME ARGS...                  acts as trainer NAME
  DIR/tests/lmcrt-gpu-tests             acts as the runtime's GPU tests

As a trainer it reads: FAKE_GPU=none (no GPU: the trainer's one line, exit
2), FAKE_START=fail (cannot start: exit 127 even for --help), FAKE_GPT2=
fits:N (gpt2 runs out of memory above batch N), hang:N (it hangs above
N), missing (exit 127, a
library), data (a data error), and FAKE_DRIFT=NAME (comparison NAME's GPU
losses 5% off), FAKE_PROBE=crash (the first step, at T 8, fails),
FAKE_GPU_TESTS=fail (one of the runtime's GPU tests fails, one is skipped),
FAKE_GRAPH=drift (with CUDA graphs the losses from step 7 on differ in
their last digit), FAKE_GRAPH=off (the runtime turns graphs off).
A tiny run writes the bundle's expected log as its own; a
gpt2 run logs `ms` = 100 * batch / 8 (80 * batch / 8 with bf16 storage)
and, under LMCRT_PROFILE=1, prints a class table. Unless LMCRT_CUDA_GRAPH=0 or LMCRT_PROFILE=1, a run prints the
runtime's line about capturing the step as a CUDA graph.
"""
import json
import os
import sys
import time

RUNS = {"tiny-cuda-fp32": "tiny-fp32", "tiny-cuda-bf16": "tiny-bf16",
        "tiny-cuda-bf16-storage": "tiny-bf16-storage",
        "tiny-cuda-decomposed": "tiny-decomposed", "gqa-cuda-fp32": "gqa-fp32"}


def make_bundle(root):
    for sub in ("bin", "data", "init", "expected", "lib", "tests"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    me = os.path.abspath(__file__)
    os.symlink(me, os.path.join(root, "tests", "lmcrt-gpu-tests"))
    for name in list(RUNS) + ["gpt2-cuda-bf16", "gpt2-cuda-bf16-storage"]:
        os.symlink(me, os.path.join(root, "bin", name))
    for name in RUNS.values():
        with open(os.path.join(root, "expected", name + ".jsonl"), "w") as f:
            for step in range(1, 21):
                f.write(json.dumps({"step": step, "loss": 5.5 - 0.1 * step,
                                    "ms": 1.0}) + "\n")
    for path in ("data/train_000000.bin", "init/tiny.safetensors",
                 "init/gqa.safetensors"):
        open(os.path.join(root, path), "w").close()
    with open(os.path.join(root, "check.env"), "w") as f:
        f.write('CHECK_FLAGS="--steps 20 --batch 8 --seq 64"\n'
                'GLIBC_NEEDED="2.34"\nBUNDLE_COMMIT="fake"\nBUNDLE_TINY_ONLY=0\n')


def gpu_tests(fail):
    """GoogleTest's summary lines, as lmcrt-gpu-tests prints them."""
    if fail:
        print("[  SKIPPED ] GpuNccl.AllReduceWorldOfOne (0 ms)")
        print("[  FAILED  ] GpuRowKernels.LayerNormAgainstCpu (3 ms)")
    print("[==========] 12 tests from 5 test suites ran. (812 ms total)")
    if not fail:
        print("[  PASSED  ] 12 tests.")
        return 0
    print("[  PASSED  ] 10 tests.")
    print("[  SKIPPED ] 1 test, listed below:")
    print("[  SKIPPED ] GpuNccl.AllReduceWorldOfOne")
    print("[  FAILED  ] 1 test, listed below:")
    print("[  FAILED  ] GpuRowKernels.LayerNormAgainstCpu")
    print("\n 1 FAILED TEST")
    return 1


def graph_line():
    """The runtime's line about the step's CUDA graph (StepGraph.h), if any."""
    if os.environ.get("LMCRT_CUDA_GRAPH") == "0" or \
            os.environ.get("LMCRT_PROFILE") == "1":
        return
    if os.environ.get("FAKE_GRAPH") == "off":
        print("lmcrt: CUDA graphs off: the step waits for the GPU before its "
              "end (a copy to or from the host), so no graph can hold all of "
              "it; the steps run uncaptured", file=sys.stderr)
    else:
        print("lmcrt: step captured as a CUDA graph: 42 nodes for 40 "
              "operations, 2 kernel launches patched per step", file=sys.stderr)


def flag(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make-bundle":
        make_bundle(sys.argv[2])
        return 0
    name = os.path.basename(sys.argv[0])
    bundle = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
    args = sys.argv[1:]
    if os.environ.get("FAKE_START") == "fail":
        print(f"{name}: error while loading shared libraries: libgomp.so.1: "
              "cannot open shared object file", file=sys.stderr)
        return 127
    if "--help" in args:
        print(f"usage: {name} --data PATH [flags]")
        return 0
    if os.environ.get("FAKE_GPU") == "none":
        print("lmc: no GPU found: fake reason", file=sys.stderr)
        return 2
    if name == "lmcrt-gpu-tests":
        return gpu_tests(os.environ.get("FAKE_GPU_TESTS") == "fail")
    batch = int(flag(args, "--batch", "1"))
    if os.environ.get("FAKE_PROBE") == "crash" and flag(args, "--seq") == "8":
        print("lmcrt: cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS",
              file=sys.stderr)
        return 1
    steps = int(flag(args, "--steps", "1"))
    log = flag(args, "--log")
    graph_line()
    graphs = os.environ.get("LMCRT_CUDA_GRAPH") != "0"
    if name in RUNS:
        if log:
            drift = 1.05 if os.environ.get("FAKE_DRIFT") == RUNS[name] else 1.0
            with open(os.path.join(bundle, "expected", RUNS[name] + ".jsonl")) as f, \
                    open(log, "w") as out:
                for line in f:
                    r = json.loads(line)
                    r["loss"] *= drift
                    if graphs and os.environ.get("FAKE_GRAPH") == "drift" \
                            and r["step"] >= 7:
                        r["loss"] += 1e-6
                    r["grad_norm"] = 1.25
                    out.write(json.dumps(r) + "\n")
        return 0
    mode = os.environ.get("FAKE_GPT2", "fits:32")
    if mode == "missing":
        print("lmcrt: cannot load cuBLASLt (the GPU GEMMs) (libcublasLt.so.13); "
              "looked in: somewhere", file=sys.stderr)
        return 127
    if mode == "data":
        print(f"{name}: error: --data x.bin: every shard has fewer than "
              f"{batch * 1024 + 1} tokens", file=sys.stderr)
        return 1
    if mode.startswith("hang:") and batch > int(mode.split(":")[1]):
        time.sleep(60)
        return 0
    if batch > int(mode.split(":")[1]):
        print("lmcrt: cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY: out of memory",
              file=sys.stderr)
        return 1
    with open(log or os.devnull, "w") as out:
        for step in range(1, steps + 1):
            ms = (80.0 if name.endswith("-storage") else 100.0) * batch / 8
            out.write(json.dumps({"step": step, "loss": 10.0, "ms": ms}) + "\n")
    if os.environ.get("LMCRT_PROFILE") == "1":
        # The table lib/Runtime/Cuda/ProfileTable.cpp prints.
        print(f"lmcrt profile: GPU time by kernel class (CUDA events), {steps} "
              f"steps, {100.0 * steps:.1f} ms in all", file=sys.stderr)
        print(f"{'class':<16} {'groups':>8} {'ms':>12} {'ms/step':>10} {'%':>7}",
              file=sys.stderr)
        for cls, ms, pct in (("GEMM", 60.0, 60.0), ("attention", 25.0, 25.0),
                             ("row reductions", 15.0, 15.0)):
            print(f"{cls:<16} {4 * steps:>8} {ms * steps:>12.3f} {ms:>10.3f} "
                  f"{pct:>7.1f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
