"""Loss curves of trainer runs, from their JSONL logs.

    python3 -m lmc.plot RUN.jsonl [RUN2.jsonl ...] -o loss.png
        [--label NAME ...] [--x step|tokens] [--title TEXT]

Draws one PNG of four panels: training loss (line) and validation loss
(markers) against the step (or, with --x tokens, the training tokens
consumed), the learning rate, throughput (tokens/s) and the gradient norm.
Several runs are overlaid, each in its own colour and labelled with its
--label (one per file, in order) or its file name; where a run was resumed
(the trainer's {"event":"resume"} line), a dashed vertical line in the run's
colour marks the step. matplotlib's Agg backend: no display is needed.

The log format is the trainer's `--log` (docs/Runtime.md): per step
{"step","loss","grad_norm","lr","ms","tok_s","tokens","time"}, per
evaluation {"step","val_loss","time"}, per resume {"event":"resume","step"}.
A last line without its newline (a run still writing) is ignored.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

from lmc.fileio import atomic_write


class PlotError(Exception):
    """A user-facing error: a missing, empty or malformed log."""


class Run:
    """The lines of one log: steps, evaluations and resume markers."""

    def __init__(self, path: str, label: str):
        self.path = path
        self.label = label
        self.steps: list[dict] = []
        self.evals: list[dict] = []
        self.resumes: list[int] = []

    def tokens_of(self, step: int) -> float:
        """Training tokens after `step` (tokens per step from the log)."""
        for line in self.steps:
            if line.get("tokens") is not None and line["step"] > 0:
                return step * line["tokens"] / line["step"]
        raise PlotError(f"{self.path}: no 'tokens' field (a log of an "
                        f"older trainer): use --x step")


def read_log(path: str, label: str | None = None) -> Run:
    """Reads a trainer log; raises PlotError naming the file and line."""
    run = Run(path, label or os.path.basename(path))
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise PlotError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PlotError(f"{path}: cannot read: {e}") from None
    lines = text.split("\n")
    complete = lines[:-1]  # the last piece has no newline: torn or empty
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise PlotError(f"{path}:{number}: not JSON: {e}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("step"), int):
            raise PlotError(f"{path}:{number}: not a trainer log line "
                            f"(no integer 'step')")
        if obj.get("event") == "resume":
            run.resumes.append(obj["step"])
        elif "val_loss" in obj:
            run.evals.append(obj)
        elif "loss" in obj:
            run.steps.append(obj)
    if not run.steps and not run.evals:
        raise PlotError(f"{path}: no training steps or evaluations (is it "
                        f"the trainer's --log file?)")
    return run


def _series(run: Run, lines: list[dict], key: str, x: str):
    """(xs, ys) of `key` over `lines`, leaving out nulls."""
    xs, ys = [], []
    for line in lines:
        value = line.get(key)
        if value is None:
            continue
        xs.append(run.tokens_of(line["step"]) if x == "tokens"
                  else line["step"])
        ys.append(value)
    return xs, ys


def plot(runs: list[Run], output: str, x: str = "step",
         title: str | None = None) -> None:
    """Writes the PNG of `runs` to `output` (atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    (loss_ax, lr_ax), (tok_ax, norm_ax) = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(runs):
        colour = colours[i % len(colours)]
        xs, ys = _series(run, run.steps, "loss", x)
        loss_ax.plot(xs, ys, color=colour, linewidth=0.8, alpha=0.8,
                     label=f"{run.label} train")
        xs, ys = _series(run, run.evals, "val_loss", x)
        if xs:
            loss_ax.plot(xs, ys, color=colour, marker="o", markersize=4,
                         linestyle="--", linewidth=1.2,
                         label=f"{run.label} val")
        for ax, key in ((lr_ax, "lr"), (tok_ax, "tok_s"),
                        (norm_ax, "grad_norm")):
            xs, ys = _series(run, run.steps, key, x)
            ax.plot(xs, ys, color=colour, linewidth=0.8, label=run.label)
        for step in run.resumes:
            at = run.tokens_of(step) if x == "tokens" else step
            for ax in axes.flat:
                ax.axvline(at, color=colour, linestyle=":", linewidth=1.0,
                           alpha=0.9)
    if any(run.resumes for run in runs):
        loss_ax.plot([], [], color="grey", linestyle=":", label="resumed")
    loss_ax.set_title("loss")
    lr_ax.set_title("learning rate")
    tok_ax.set_title("throughput (tokens/s)")
    norm_ax.set_title("gradient norm")
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("training tokens" if x == "tokens" else "step")
    loss_ax.legend(fontsize="small")
    if len(runs) > 1:
        lr_ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write(output, [buffer.getvalue()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m lmc.plot",
        description="Plot trainer JSONL logs (loss, val loss, learning rate, "
                    "tokens/s, gradient norm) to a PNG.")
    parser.add_argument("logs", nargs="+", metavar="RUN.jsonl",
                        help="the trainer's --log files")
    parser.add_argument("-o", "--output", required=True, metavar="PNG",
                        help="the image to write")
    parser.add_argument("--label", action="append", default=[],
                        help="a run's name in the legend (once per log, in "
                             "order; default: the file name)")
    parser.add_argument("--x", choices=("step", "tokens"), default="step",
                        help="the horizontal axis (default step)")
    parser.add_argument("--title", help="a title above the panels")
    args = parser.parse_args(argv)
    if args.label and len(args.label) != len(args.logs):
        parser.error(f"--label: given {len(args.label)} times for "
                     f"{len(args.logs)} logs (give one per log or none)")
    labels = args.label or [None] * len(args.logs)
    try:
        runs = [read_log(p, l) for p, l in zip(args.logs, labels)]
        plot(runs, args.output, x=args.x, title=args.title)
    except PlotError as e:
        print(f"lmc.plot: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"lmc.plot: error: {args.output}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
