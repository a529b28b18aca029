"""Tests of lmc.testing.compare_runs, the checker of distributed runs."""

import json

import numpy as np

from lmc import safetensors
from lmc.testing import compare_runs


def write_log(path, losses, norms=None):
    with open(path, "w") as f:
        for i, loss in enumerate(losses, 1):
            norm = norms[i - 1] if norms else 1.0
            f.write(json.dumps({"step": i, "loss": loss, "grad_norm": norm,
                                "lr": 1e-3, "ms": 1.0, "tok_s": 1.0}) + "\n")
        f.write(json.dumps({"step": len(losses), "val_loss": 3.0}) + "\n")


def test_equal_logs_pass(tmp_path):
    write_log(tmp_path / "a.jsonl", [5.0, 4.0, 3.0])
    write_log(tmp_path / "b.jsonl", [5.0, 4.0 * (1 + 5e-6), 3.0])
    assert compare_runs.main(["--log", str(tmp_path / "a.jsonl"),
                              "--log", str(tmp_path / "b.jsonl")]) == 0


def test_loss_beyond_tolerance_fails(tmp_path, capsys):
    write_log(tmp_path / "a.jsonl", [5.0, 4.0, 3.0])
    write_log(tmp_path / "b.jsonl", [5.0, 4.0 * (1 + 2e-5), 3.0])
    assert compare_runs.main(["--log", str(tmp_path / "a.jsonl"),
                              "--log", str(tmp_path / "b.jsonl")]) == 1
    assert "FAIL: step 2" in capsys.readouterr().out


def test_missing_step_fails(tmp_path):
    write_log(tmp_path / "a.jsonl", [5.0, 4.0, 3.0])
    write_log(tmp_path / "b.jsonl", [5.0, 4.0])
    assert compare_runs.main(["--log", str(tmp_path / "a.jsonl"),
                              "--log", str(tmp_path / "b.jsonl")]) == 1


def test_from_step(tmp_path):
    write_log(tmp_path / "a.jsonl", [5.0, 4.0, 3.0])
    write_log(tmp_path / "b.jsonl", [9.0, 4.0, 3.0])
    assert compare_runs.main(["--log", str(tmp_path / "a.jsonl"),
                              "--log", str(tmp_path / "b.jsonl"),
                              "--from-step", "2"]) == 0


def test_checkpoints(tmp_path):
    write_log(tmp_path / "a.jsonl", [1.0])
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3)).astype(np.float32) * 3
    small = np.full((5,), 0.01, dtype=np.float32)
    safetensors.save(tmp_path / "a.safetensors", {"w": w, "s": small})
    args = ["--log", str(tmp_path / "a.jsonl"), "--log",
            str(tmp_path / "a.jsonl"), "--ckpt",
            str(tmp_path / "a.safetensors"), "--ckpt"]

    # Relative above magnitude 1, absolute below: 5e-6 on `s` passes.
    safetensors.save(tmp_path / "ok.safetensors",
                     {"w": w * np.float32(1 + 5e-6), "s": small + 5e-6})
    assert compare_runs.main(args + [str(tmp_path / "ok.safetensors")]) == 0

    safetensors.save(tmp_path / "bad.safetensors",
                     {"w": w, "s": small + 2e-5})
    assert compare_runs.main(args + [str(tmp_path / "bad.safetensors")]) == 1

    safetensors.save(tmp_path / "missing.safetensors", {"w": w})
    assert compare_runs.main(args + [str(tmp_path / "missing.safetensors")]) == 1
