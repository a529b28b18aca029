#!/usr/bin/env python3
"""The device check's last table (utils/device-check.sh), from its logs.

Python's standard library only: a bare GPU machine has python3 but maybe not
NumPy. Reads, in --out: the first step's status (probe.rc, probe.err; a row
only when it failed), the runtime's GPU tests (gpu-tests.txt, gpu-tests.rc:
GoogleTest's summary lines), the GPU's 20-step logs (<name>.jsonl, <name>.rc),
the batch search (batch-search.txt, gpt2-b<B>.jsonl), the profiled run
(gpt2-profile.txt) and memcheck's output (memcheck.txt, memcheck.rc); in
--bundle: the CPU's logs (expected/<name>.jsonl); the tiny fp32 run without
CUDA graphs (tiny-fp32-nograph.jsonl, .rc), compared with the graph run's
log bit for bit, and the runtime's line saying it captured the step (in
tiny-fp32.txt, gpt2-b<B>.txt). Prints the verdict, then
one Markdown table, last; exits 0 when every check passed, 1 otherwise.

The profile table: the trainer under LMCRT_PROFILE=1 prints, at exit, the
GPU time by kernel class (lib/Runtime/Cuda/ProfileTable.cpp): a line
"lmcrt profile: GPU time by kernel class ...", a column header, then one row
per class, "NAME GROUPS MS MS/STEP PCT". The rows after that header are
parsed; no such table gives "n/a".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

# gpt2-124M (V = 50257): parameters, layers, channels; and T.
GPT2_PARAMS, GPT2_LAYERS, GPT2_CHANNELS, GPT2_T = 124_439_808, 12, 768, 1024
# Dense bf16 tensor-core peaks (FLOP/s).
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
# name -> (what, relative tolerance on the loss)
COMPARISONS = {
    "tiny-fp32": ("tiny fp32", 1e-4),
    "tiny-bf16": ("tiny bf16", 2e-2),
    "tiny-bf16-storage": ("tiny bf16, bf16 storage (--bf16-storage)", 2e-2),
    "tiny-decomposed": ("tiny fp32, attention decomposed on the GPU", 1e-4),
    "gqa-fp32": ("gqa (kv_heads 2, 1) fp32", 1e-4),
}
PROFILE_HEADER = "lmcrt profile: GPU time by kernel class"
# The runtime's lines about the step's CUDA graph (lib/Runtime/Cuda/StepGraph.h).
GRAPH_LINE = re.compile(r"^lmcrt: (step captured as a CUDA graph: .*|CUDA graphs? .*)$",
                        re.M)
PROFILE_ROW = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z ]*?)\s+(?P<groups>[0-9]+)\s+(?P<ms>[0-9.]+)"
    r"\s+(?P<per_step>[0-9.]+)\s+(?P<pct>[0-9.]+)\s*$")


def read_profile(text: str) -> list:
    """The rows of the last GPU profile table in `text`."""
    rows = None
    for line in text.splitlines():
        if line.startswith(PROFILE_HEADER):
            rows = []
        elif rows is not None:
            m = PROFILE_ROW.match(line.strip())
            if m:
                rows.append(m)
            elif line.strip() and not line.strip().startswith("class"):
                break
    return rows or []


def read_losses(path: str) -> dict[int, float]:
    losses = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if "loss" in record and "step" in record and \
                    record.get("val_loss") is None:
                losses[int(record["step"])] = float(record["loss"])
    return losses


def read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def last_line(text: str) -> str:
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1][:150] if lines else ""


def compare(out: str, bundle: str, name: str, rtol: float) -> tuple[bool, str]:
    rc = read_text(os.path.join(out, name + ".rc")).strip()
    if rc != "0":
        why = last_line(read_text(os.path.join(out, name + ".txt")))
        return False, f"GPU run failed (exit {rc or '?'}): {why}"
    try:
        cpu = read_losses(os.path.join(bundle, "expected", name + ".jsonl"))
        gpu = read_losses(os.path.join(out, name + ".jsonl"))
    except (OSError, ValueError) as e:
        return False, f"unreadable log: {e}"
    if not cpu or sorted(cpu) != sorted(gpu):
        return False, f"steps differ: CPU {len(cpu)}, GPU {len(gpu)}"
    worst_step, worst = max(
        ((s, abs(gpu[s] - cpu[s]) / abs(cpu[s]) if cpu[s] else abs(gpu[s]))
         for s in cpu), key=lambda x: x[1])
    last = max(cpu)
    ok = worst <= rtol
    return ok, (f"max rel. diff {worst:.2e} at step {worst_step} (rtol {rtol:g}); "
                f"step {last}: GPU {gpu[last]:.5f}, CPU {cpu[last]:.5f}")


def graph_note(text: str) -> tuple[bool, str]:
    """Whether the runtime said it captured the step, and its first line
    about the CUDA graph (or that there is none)."""
    lines = GRAPH_LINE.findall(text)
    captured = any(l.startswith("step captured") for l in lines)
    return captured, (lines[0] if lines else "no CUDA graph line")


def steps_text(path: str) -> list[tuple]:
    """(step, loss, norm) of each training step, as the log writes them
    (9 significant digits: a float's bits)."""
    rows = []
    with open(path) as f:
        for line in f:
            r = json.loads(line, parse_float=str)
            if "loss" in r and "step" in r and r.get("val_loss") is None:
                rows.append((r["step"], r["loss"], r.get("grad_norm", r.get("norm"))))
    return rows


def graph_vs_uncaptured(out: str) -> tuple[bool, str]:
    """tiny fp32 with CUDA graphs (the default) against LMCRT_CUDA_GRAPH=0."""
    rc = read_text(os.path.join(out, "tiny-fp32-nograph.rc")).strip()
    if rc != "0":
        why = last_line(read_text(os.path.join(out, "tiny-fp32-nograph.txt")))
        return False, f"LMCRT_CUDA_GRAPH=0 run failed (exit {rc or '?'}): {why}"
    if read_text(os.path.join(out, "tiny-fp32.rc")).strip() != "0":
        return False, "the graph run failed (above)"
    captured, note = graph_note(read_text(os.path.join(out, "tiny-fp32.txt")))
    try:
        graph = steps_text(os.path.join(out, "tiny-fp32.jsonl"))
        eager = steps_text(os.path.join(out, "tiny-fp32-nograph.jsonl"))
    except (OSError, ValueError) as e:
        return False, f"unreadable log: {e}"
    if not eager or len(graph) != len(eager):
        return False, f"steps differ: {len(graph)} vs {len(eager)}; {note}"
    differ = [g[0] for g, e in zip(graph, eager) if g != e]
    if differ:
        return False, (f"{len(differ)} of {len(eager)} steps differ, the first "
                       f"step {differ[0]}; {note}")
    if not captured:
        return False, f"losses bit-identical, but no step was captured: {note}"
    return True, f"{len(eager)} steps' losses and norms bit-identical; {note}"


def gpu_tests(out: str) -> tuple[bool, str, str]:
    """The runtime's GPU tests from GoogleTest's summary: (passed, result,
    detail); a bundle without them is n/a, not a failure."""
    text = read_text(os.path.join(out, "gpu-tests.txt"))
    rc = read_text(os.path.join(out, "gpu-tests.rc")).strip()
    if text.strip() == "not in the bundle":
        return True, "n/a", "not in the bundle"
    passed = re.search(r"^\[  PASSED  \] (\d+) test", text, re.M)
    # Each name twice: where the test ends ("... (12 ms)") and in the list
    # at the end.
    failed = list(dict.fromkeys(re.findall(
        r"^\[  FAILED  \] ([A-Za-z_]\w*\.\w+)", text, re.M)))
    skipped = list(dict.fromkeys(re.findall(
        r"^\[  SKIPPED \] ([A-Za-z_]\w*\.\w+)", text, re.M)))
    parts = [f"{passed.group(1) if passed else 0} passed"]
    if skipped:
        parts.append(f"{len(skipped)} skipped: {', '.join(skipped)}")
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    if rc != "0" and not failed:
        parts.append(f"exit {rc or '?'}: {last_line(text)}")
    ok = rc == "0" and not failed and passed is not None
    return ok, "PASS" if ok else "FAIL", "; ".join(parts)


def gpt2_timing(out: str, name: str, b: int, card: str) -> tuple[float, str]:
    """The median step time (ms) of run NAME at batch B (its first two steps
    left out) and a text with its MFU and CUDA graph line; raises OSError,
    ValueError, KeyError or IndexError when the log is missing or empty."""
    with open(os.path.join(out, f"{name}.jsonl")) as f:
        log = [json.loads(l) for l in f if l.strip()]
    steady = [r for r in log if "ms" in r][2:] or [r for r in log if "ms" in r]
    ms = median([float(r["ms"]) for r in steady])
    tokens = b * GPT2_T
    flops = (6 * GPT2_PARAMS + 12 * GPT2_LAYERS * GPT2_CHANNELS * GPT2_T) * tokens
    peak = next((v for k, v in PEAKS.items() if k in card), None)
    mfu = (f"MFU {100 * flops / (ms * 1e-3) / peak:.1f}% of "
           f"{peak / 1e12:.0f} TFLOP/s") if peak else "MFU: unknown peak"
    own = [float(r["mfu"]) for r in steady if r.get("mfu") is not None]
    if own:
        mfu += f" (trainer's: {median(own):.1f}%)"
    _, graph = graph_note(read_text(os.path.join(out, f"{name}.txt")))
    return ms, (f"{ms:.1f} ms/step (median of {len(steady)}); {mfu}; {graph}")


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--card", default="")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--launch", default="system")
    args = ap.parse_args()
    out, card = args.out, args.card or "unknown GPU"
    rows: list[tuple[str, str, str]] = []
    ok_all = True

    probe = read_text(os.path.join(out, "probe.rc")).strip()
    if probe != "0":
        ok_all = False
        why = last_line(read_text(os.path.join(out, "probe.err")))
        rows.append(("first GPU step (tiny fp32, B 1, T 8)", "FAIL",
                     f"exit {probe or '?'}: {why}"))
    ok, result, detail = gpu_tests(out)
    ok_all &= ok
    rows.append(("runtime GPU tests (lmcrt-gpu-tests)", result, detail))
    for name, (what, rtol) in COMPARISONS.items():
        ok, detail = compare(out, args.bundle, name, rtol)
        ok_all &= ok
        rows.append((f"{what}: GPU vs CPU loss, 20 steps", "PASS" if ok else "FAIL",
                     detail))

    ok, detail = graph_vs_uncaptured(out)
    ok_all &= ok
    rows.append(("tiny fp32: CUDA graph vs LMCRT_CUDA_GRAPH=0, 20 steps",
                 "PASS" if ok else "FAIL", detail))

    search = "; ".join(read_text(os.path.join(out, "batch-search.txt")).split("\n")
                       ).strip("; ")
    plain_ms = 0.0
    if args.batch > 0:
        b = args.batch
        try:
            plain_ms, detail = gpt2_timing(out, f"gpt2-b{b}", b, card)
            rows.append((f"gpt2-124M bf16, T {GPT2_T}, B {b} (largest that fits)",
                         f"{b * GPT2_T / plain_ms * 1e3:,.0f} tok/s",
                         f"{detail}; search: {search}"))
        except (OSError, ValueError, KeyError, IndexError) as e:
            ok_all = False
            rows.append(("gpt2-124M bf16, T 1024", "FAIL", f"no timing: {e}"))
    else:
        not_in_bundle = "not in the bundle" in search
        ok_all &= not_in_bundle
        rows.append(("gpt2-124M bf16, T 1024", "n/a" if not_in_bundle else "FAIL",
                     search or "not run"))

    # The same batch with bfloat16 storage (--bf16-storage), when it ran.
    what = f"gpt2-124M bf16, bf16 storage (--bf16-storage), B {args.batch}"
    skipped = read_text(os.path.join(out, "gpt2-storage.txt")).strip()
    rc = read_text(os.path.join(out, f"gpt2-storage-b{args.batch}.rc")).strip()
    if args.batch > 0 and rc == "0":
        try:
            ms, detail = gpt2_timing(out, f"gpt2-storage-b{args.batch}",
                                     args.batch, card)
            versus = f"; {plain_ms / ms:.2f}x the step rate without" if plain_ms else ""
            rows.append((what, f"{args.batch * GPT2_T / ms * 1e3:,.0f} tok/s",
                         detail + versus))
        except (OSError, ValueError, KeyError, IndexError) as e:
            ok_all = False
            rows.append((what, "FAIL", f"no timing: {e}"))
    elif args.batch > 0 and rc:
        ok_all = False
        why = last_line(read_text(os.path.join(out, f"gpt2-storage-b{args.batch}.txt")))
        rows.append((what, "FAIL", f"exit {rc}: {why}"))
    elif args.batch > 0:
        rows.append((what, "n/a", skipped or "not in the bundle"))

    profile = read_text(os.path.join(out, "gpt2-profile.txt"))
    classes = read_profile(profile)
    if classes:
        for m in classes:
            rows.append((f"step time by kernel class: {m['name'].strip()}",
                         f"{float(m['per_step']):.2f} ms/step",
                         f"{float(m['pct']):.1f}%"))
    else:
        why = ("no timed gpt2 run" if args.batch <= 0 else
               "the trainer printed no class table under LMCRT_PROFILE=1")
        rows.append(("step time by kernel class", "n/a", why))

    sanitizer = read_text(os.path.join(out, "memcheck.txt"))
    rc = read_text(os.path.join(out, "memcheck.rc")).strip()
    summary = re.search(r"ERROR SUMMARY:\s*(\d+) error", sanitizer)
    if summary and rc == "0" and summary.group(1) == "0":
        rows.append(("compute-sanitizer memcheck, 2 tiny steps", "PASS", "0 errors"))
    else:
        ok_all = False
        detail = (f"{summary.group(1)} errors (exit {rc})" if summary else
                  f"exit {rc or '?'}: {last_line(sanitizer)}")
        rows.append(("compute-sanitizer memcheck, 2 tiny steps", "FAIL", detail))

    print()
    print(f"device check on {card}: {'PASS' if ok_all else 'FAIL'} "
          f"(trainers started: {args.launch}; logs in {out})")
    print("| check | result | detail |")
    print("|---|---|---|")
    for check, result, detail in rows:
        print(f"| {check} | {result} | {detail.replace('|', '/')} |")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
