"""Compile time of `lmc compile` against the depth of the model.

Builds gpt2-124M's shape with each layer count (`lmc.models.gpt2 --preset
gpt2-124M --n-layer L`) and compiles it to a trainer for the CPU, for
--target cuda, and for --target cuda with every host function inlined into
the entry points (--gpu-stream-functions=false: the host code as it was
before lmc-gpu-stream-functions), one after the other for each depth, so
that the targets share the machine's load. Prints the wall-clock seconds of
each compile (the best of --repeat runs) and the ratios to the CPU
target's. The machine's load average is printed too: on a shared machine
the seconds move from run to run, the ratios less.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time


def compile_seconds(lmc, model, out, flags, repeat):
    best = None
    for _ in range(repeat):
        start = time.monotonic()
        subprocess.run([lmc, "compile", model, "-o", out, *flags], check=True)
        seconds = time.monotonic() - start
        best = seconds if best is None else min(best, seconds)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--layers", default="12,24,48",
                    help="comma-separated layer counts (default 12,24,48)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="compiles per cell, the best kept (default 1)")
    ap.add_argument("--no-inlined", dest="inlined", action="store_false",
                    help="skip --target cuda --gpu-stream-functions=false")
    args = ap.parse_args()
    try:
        layers = [int(x) for x in args.layers.split(",") if x]
    except ValueError:
        sys.exit(f"bench-compile: --layers {args.layers}: expected integers")
    if not layers or min(layers) < 1 or args.repeat < 1:
        sys.exit("bench-compile: --layers and --repeat must be positive")
    lmc = os.path.join(args.build, "tools", "lmc", "lmc")
    if not os.path.exists(lmc):
        sys.exit(f"bench-compile: {lmc} not found (build lmc first)")
    columns = [("cpu", ["--target", "cpu"]), ("cuda", ["--target", "cuda"])]
    if args.inlined:
        columns.append(("cuda inlined", ["--target", "cuda",
                                          "--gpu-stream-functions=false"]))
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in layers:
            model = os.path.join(tmp, f"gpt2-{n}.mlir")
            subprocess.run([sys.executable, "-m", "lmc.models.gpt2",
                            "--preset", "gpt2-124M", "--n-layer", str(n),
                            "-o", model], check=True)
            out = os.path.join(tmp, "train")
            rows.append((n, [compile_seconds(lmc, model, out, flags,
                                             args.repeat)
                             for _, flags in columns]))
    load_after = os.getloadavg()[0]

    print(f"lmc compile, gpt2-124M's shape by layer count: wall seconds "
          f"(best of {args.repeat}); load average {load_before:.1f} before, "
          f"{load_after:.1f} after, {os.cpu_count()} cores")
    header = f"{'layers':>6}" + "".join(f"{name:>14}" for name, _ in columns)
    header += "".join(f"{name + '/cpu':>18}" for name, _ in columns[1:])
    print(header)
    for n, seconds in rows:
        line = f"{n:>6}" + "".join(f"{s:>14.1f}" for s in seconds)
        line += "".join(f"{s / seconds[0]:>18.2f}" for s in seconds[1:])
        print(line)


if __name__ == "__main__":
    main()
