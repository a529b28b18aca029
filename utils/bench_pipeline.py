"""Pipeline parallelism's step time and bubble on this machine.

Trains mini (B 8, T 256) for a few steps on one rank and on pp=2 with M =
1, 2, 4 and 8 micro-batches, one thread per rank, and prints each run's
median ms/step (after two warm-up steps) and its bubble: the fraction of
the P ranks' time not spent on one rank's work, 1 - T1 / (P * Tpp), against
the schedule's (P - 1) / (M + P - 1). The measured bubble also holds what
the schedule's does not: the stages' imbalance, the transfers and the
micro-batches' smaller GEMMs. With more ranks than cores the ranks share
cores and the figure means little; the table says so.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def median_ms(log):
    steps = [json.loads(line) for line in open(log)]
    times = [s["ms"] for s in steps[2:]] or [s["ms"] for s in steps]
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--preset", default="mini")
    args = ap.parse_args()
    lmc = os.path.join(args.build, "tools", "lmc", "lmc")
    corpus = "/usr/share/common-licenses/GPL-3"
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model.mlir")
        run([sys.executable, "-m", "lmc.models.gpt2", "--preset", args.preset,
             "-o", model])
        run([sys.executable, "-m", "lmc.data", "prepare", "--input", corpus,
             "--out", os.path.join(tmp, "data"), "--tokenizer", "byte"],
            stdout=subprocess.DEVNULL)
        data = os.path.join(tmp, "data", "train_000000.bin")
        common = ["--data", data, "--steps", str(args.steps), "--batch",
                  str(args.batch), "--seq", str(args.seq), "--threads", "1",
                  "--seed", "1"]
        rows = []
        one = os.path.join(tmp, "one")
        run([lmc, "compile", model, "-o", one])
        log = os.path.join(tmp, "one.jsonl")
        run([one, *common, "--log", log], stdout=subprocess.DEVNULL)
        t1 = median_ms(log)
        rows.append(("1 rank", t1, None, None))
        P = 2
        mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np",
                  str(P)]
        for m in (1, 2, 4, 8):
            if args.batch % m:
                continue
            exe = os.path.join(tmp, f"pp{m}")
            run([lmc, "compile", model, "--mesh", f"pp={P}", "--microbatches",
                 str(m), "-o", exe])
            log = os.path.join(tmp, f"pp{m}.jsonl")
            run([*mpirun, exe, *common, "--log", log],
                stdout=subprocess.DEVNULL)
            t = median_ms(log)
            rows.append((f"pp={P} M={m}", t, 1 - t1 / (P * t),
                         (P - 1) / (m + P - 1)))
    print(f"{args.preset}, B {args.batch}, T {args.seq}, one thread per rank, "
          f"{cores} cores" + (" (ranks oversubscribe the cores)"
                              if P > cores else ""))
    print("| run | ms/step | speed-up | bubble measured | (P-1)/(M+P-1) |")
    print("|---|---|---|---|---|")
    for name, t, bubble, theory in rows:
        if bubble is None:
            print(f"| {name} | {t:.1f} | 1.00 | | |")
        else:
            print(f"| {name} | {t:.1f} | {t1 / t:.2f} | {bubble:.3f} | "
                  f"{theory:.3f} |")


if __name__ == "__main__":
    main()
