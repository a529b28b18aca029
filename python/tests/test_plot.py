"""Tests that `python3 -m lmc.plot` draws trainer logs to a PNG, and that bad
input (a missing file, an empty or malformed log) is a clear error.

A real trainer log is plotted by test/e2e/trainer/trainer-log-resume.test.
"""

import json
import struct

import pytest

from lmc import plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) of a PNG after checking its signature and IHDR."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def synthetic_log(path, steps=40, resume_at=None, evals_every=10):
    lines = []
    for s in range(1, steps + 1):
        if resume_at is not None and s == resume_at + 1:
            lines.append({"event": "resume", "step": resume_at,
                          "checkpoint": f"ckpt_{resume_at:08d}.safetensors",
                          "dropped": 2, "time": 1765000000.0 + s})
        lines.append({"step": s, "loss": 5.5 - 0.05 * s, "grad_norm": 1.0,
                      "lr": 1e-3 * min(1.0, s / 10), "ms": 8.0,
                      "tok_s": 8000.0 + s, "tokens": 64 * s,
                      "time": 1765000000.0 + s})
        if s % evals_every == 0:
            lines.append({"step": s, "val_loss": 5.6 - 0.04 * s,
                          "time": 1765000000.5 + s})
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))
    return path


def test_writes_a_png_of_several_runs(tmp_path, run_cli):
    a = synthetic_log(tmp_path / "a.jsonl", resume_at=20)
    b = synthetic_log(tmp_path / "b.jsonl", steps=30)
    out = tmp_path / "loss.png"
    result = run_cli("lmc.plot", a, b, "--label", "first", "--label",
                     "second", "-o", out)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    width, height = png_size(out)
    assert width > 0 and height > 0
    assert out.stat().st_size > 10000  # four panels of curves, not a stub


def test_the_log_is_read_as_the_trainer_writes_it(tmp_path):
    path = synthetic_log(tmp_path / "r.jsonl", steps=30, resume_at=20)
    # A line being written when the log was read: ignored.
    with open(path, "a") as f:
        f.write('{"step":31,"lo')
    run = plot.read_log(str(path))
    assert [l["step"] for l in run.steps] == list(range(1, 31))
    assert [l["step"] for l in run.evals] == [10, 20, 30]
    assert run.resumes == [20]
    assert run.label == "r.jsonl"
    assert run.tokens_of(10) == 640


def test_tokens_axis(tmp_path):
    path = synthetic_log(tmp_path / "t.jsonl")
    out = tmp_path / "tokens.png"
    assert plot.main([str(path), "-o", str(out), "--x", "tokens",
                      "--title", "t"]) == 0
    assert png_size(out)[0] > 0
    old = tmp_path / "old.jsonl"
    old.write_text('{"step":1,"loss":5.0,"grad_norm":1,"lr":1e-3,"ms":1,'
                   '"tok_s":1}\n')
    with pytest.raises(plot.PlotError, match="no 'tokens' field"):
        plot.plot([plot.read_log(str(old))], str(tmp_path / "x.png"),
                  x="tokens")


@pytest.mark.parametrize("content,message", [
    (None, "no such file"),
    ("", "no training steps or evaluations"),
    ('{"event":"resume","step":3}\n', "no training steps or evaluations"),
    ('{"step":1,"loss":5}\nnot json\n', ":2: not JSON"),
    ('[1, 2]\n', ":1: not a trainer log line"),
])
def test_bad_input_is_a_clear_error(tmp_path, run_cli, content, message):
    path = tmp_path / "run.jsonl"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "never.png"
    result = run_cli("lmc.plot", path, "-o", out)
    assert result.returncode == 1
    assert result.stderr.startswith(f"lmc.plot: error: {path}")
    assert message in result.stderr
    assert not out.exists()


def test_labels_must_match_the_logs(tmp_path, run_cli):
    path = synthetic_log(tmp_path / "a.jsonl")
    result = run_cli("lmc.plot", path, path, "--label", "one", "-o",
                     tmp_path / "x.png")
    assert result.returncode == 2
    assert "--label: given 1 times for 2 logs" in result.stderr
