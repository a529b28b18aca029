"""Tests for forward_case generation and check_loss."""

import json
import re
import struct
from dataclasses import replace

import numpy as np
import pytest

from lmc import reference, safetensors
from lmc.models.gpt2 import PRESETS
from lmc.testing import check_loss
from lmc.testing.interpret import run_forward


def bits_line(value, dtype):
    if dtype == "f32":
        return str(struct.unpack("<i", struct.pack("<f", value))[0])
    return str(struct.unpack("<q", struct.pack("<d", value))[0])


def parse_dense(text, name):
    m = re.search(rf"%{name} = arith.constant dense<(.*?)> : tensor<(\d+)x(\d+)xi32>", text)
    return np.array(json.loads(m[1])), (int(m[2]), int(m[3]))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_forward_case_files(run_cli, tmp_path, dtype):
    out = tmp_path / "case"
    r = run_cli("lmc.testing.forward_case", "--preset", "tiny", "--dtype", dtype,
                "--batch", 3, "--seq", 8, "--seed", 4, "--out-dir", out)
    assert r.returncode == 0, r.stderr
    expected = json.loads((out / "expected.json").read_text())
    assert expected["dtype"] == dtype
    params, meta = safetensors.load(out / "params.safetensors")
    assert meta == {"format": "lmc"}
    cfg = replace(PRESETS["tiny"], dtype=dtype)
    init = reference.init_params(cfg, 4)
    assert list(params) == list(init)
    assert all(np.array_equal(params[k], init[k]) and params[k].dtype == init[k].dtype
               for k in init)

    text = (out / "model.mlir").read_text()
    tokens, shape = parse_dense(text, "tok_c")
    targets, _ = parse_dense(text, "tgt_c")
    assert shape == (3, 8) and tokens.shape == (3, 8) and targets.shape == (3, 8)
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(tokens, rng.integers(0, 256, size=(3, 8)))
    np.testing.assert_array_equal(targets, rng.integers(0, 256, size=(3, 8)))
    assert text.index("func.func @main()") > text.index("func.func @forward")
    assert text.rstrip().endswith("}\n}")
    ity = "i32" if dtype == "f32" else "i64"
    assert f"arith.bitcast %loss : {dtype} to {ity}" in text
    assert f"vector.print %bits : {ity}" in text
    loss = reference.forward_loss(params, tokens, targets, cfg)
    assert expected["loss"] == loss
    assert run_forward(text, params, tokens, targets) == pytest.approx(loss, rel=1e-12)

    output = tmp_path / "run.txt"
    output.write_text("compiling...\n42 is not alone\n" + bits_line(loss, dtype) + "\n")
    r = run_cli("lmc.testing.check_loss", "--expected", out / "expected.json",
                "--output", output)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("loss ") and "expected" in r.stdout and "rel_err" in r.stdout
    output.write_text(bits_line(loss * 1.001, dtype) + "\n")
    r = run_cli("lmc.testing.check_loss", "--expected", out / "expected.json",
                "--output", output)
    assert r.returncode == 1 and "FAIL" in r.stdout
    r = run_cli("lmc.testing.check_loss", "--expected", out / "expected.json",
                "--output", output, "--rtol", 0.01)
    assert r.returncode == 0


def test_forward_case_rejects_bad_args(run_cli, tmp_path):
    r = run_cli("lmc.testing.forward_case", "--preset", "tiny", "--seq", 65,
                "--out-dir", tmp_path)
    assert r.returncode == 2
    r = run_cli("lmc.testing.forward_case", "--preset", "nope", "--out-dir", tmp_path)
    assert r.returncode == 2


def test_bits_to_float():
    assert check_loss.bits_to_float(1065353216, "f32") == 1.0
    assert check_loss.bits_to_float(-1082130432, "f32") == -1.0  # 0xBF800000
    assert check_loss.bits_to_float(0xBF800000, "f32") == -1.0
    assert check_loss.bits_to_float(-4616189618054758400, "f64") == -1.0
    with pytest.raises(ValueError):
        check_loss.bits_to_float(1 << 32, "f32")
    assert check_loss.last_int("a\n12\n-7\nxyz\n") == -7
    assert check_loss.last_int("nothing here") is None


@pytest.mark.parametrize("content", ["", "no numbers\n", "1.5\n", "99999999999\n"])
def test_check_loss_rejects_unusable_output(tmp_path, content):
    (tmp_path / "e.json").write_text(json.dumps({"loss": 5.5, "dtype": "f32"}))
    (tmp_path / "o.txt").write_text(content)
    assert check_loss.main(["--expected", str(tmp_path / "e.json"),
                            "--output", str(tmp_path / "o.txt")]) == 1


def test_check_loss_missing_files(tmp_path, capsys):
    assert check_loss.main(["--expected", str(tmp_path / "none.json"),
                            "--output", str(tmp_path / "none.txt")]) == 1
    assert "FAIL" in capsys.readouterr().out
