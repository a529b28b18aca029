"""Fast tests of the training and gradient harness: train_case / grad_case
generation, and check_train / check_grad accepting correct runner output and
rejecting wrong output (no compiler needed)."""

import json
import re
import struct
from dataclasses import replace

import numpy as np
import pytest

from lmc import reference, safetensors
from lmc import reference_train as rt
from lmc.models.gpt2 import PRESETS, param_specs
from lmc.testing import check_grad, check_train, grad_case, train_case

TINY = PRESETS["tiny"]


def bits(value, dtype="f32"):
    if dtype == "f32":
        return struct.unpack("<i", struct.pack("<f", value))[0]
    return struct.unpack("<q", struct.pack("<d", value))[0]


# ---------------------------------------------------------------------------
# train_case
# ---------------------------------------------------------------------------

def test_train_case_files(tmp_path):
    hp = rt.HParams(warmup=1, decay_steps=3, min_lr=1e-5)
    history = train_case.write_case(TINY, str(tmp_path), hp, steps=3, batch=2,
                                    seq=4, seed=2, num_batches=2)
    expected = json.loads((tmp_path / "expected.json").read_text())
    assert expected["steps"] == 3 and expected["dtype"] == "f32"
    assert expected["hparams"]["warmup"] == 1 and expected["batches"] == 2
    assert expected["history"] == history and len(history) == 3
    params, _ = safetensors.load(tmp_path / "params.safetensors")
    init = reference.init_params(TINY, 2)
    assert all(np.array_equal(params[k], init[k]) for k in init)
    batches = train_case.make_batches(TINY, 2, 2, 4, 2)
    ref, _, _, _ = rt.train(init, batches, TINY, hp, 3)
    assert [h["loss"] for h in history] == [h[0] for h in ref]
    assert [h["lr"] for h in history] == [h[2] for h in ref]

    text = (tmp_path / "model.mlir").read_text()
    n = len(param_specs(TINY))
    decl = re.search(r"func\.func private @train_step\((.*?)\) -> \((.*?)\)\n", text)
    args, results = decl[1].split(", "), decl[2].split(", ")
    assert len(args) == 3 * n + 12 and len(results) == 3 + 3 * n
    assert args[3 * n:3 * n + 5] == ["i64", "f32", "f32", "i64", "i64"]
    assert results[:3] == ["f32", "f32", "f32"]
    assert "scf.for %i = %c0 to %csteps" in text and "scf.index_switch %k" in text
    assert "%csteps = arith.constant 3 : index" in text
    assert text.index("func.func @main()") > text.index("func.func @forward(")
    # The first batch is the forward_case batch for the same seed.
    tok, tgt = batches[0]
    assert f"%tok0_c = arith.constant {train_case.dense_ids(tok)}" in text
    assert f"%tgt0_c = arith.constant {train_case.dense_ids(tgt)}" in text


def test_train_case_f64_literals():
    assert train_case.float_literal(1.0, "f32") == "0x3F800000"
    assert train_case.float_literal(-2.0, "f64") == "0xC000000000000000"
    decl = train_case.declaration_train_step(replace(TINY, dtype="f64"))
    assert "f32" not in decl and decl.count("i64") == 3


def test_train_case_cli(run_cli, tmp_path):
    r = run_cli("lmc.testing.train_case", "--preset", "tiny", "--steps", 2,
                "--seq", 4, "--one-batch", "--out-dir", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "scf.index_switch" not in (tmp_path / "model.mlir").read_text()
    r = run_cli("lmc.testing.train_case", "--seq", 65, "--out-dir", tmp_path)
    assert r.returncode == 2
    r = run_cli("lmc.testing.train_case", "--one-batch", "--batches", 2,
                "--out-dir", tmp_path)
    assert r.returncode == 2


# ---------------------------------------------------------------------------
# check_train
# ---------------------------------------------------------------------------

HISTORY = [{"loss": 5.5 - 0.5 * i, "grad_norm": 3.0 - 0.1 * i,
            "lr": 0.0 if i == 3 else 1e-3 * (i + 1)} for i in range(4)]
EXPECTED_TRAIN = {"kind": "train", "dtype": "f32", "steps": 4, "history": HISTORY}


def train_output(history, dtype="f32", scale=None):
    lines = ["some other output"]
    for i, h in enumerate(history):
        vals = [h["loss"], h["grad_norm"], h["lr"]]
        if scale and i in scale:
            vals = [v * s for v, s in zip(vals, scale[i])]
        lines.append(f"train {i} " + " ".join(str(bits(v, dtype)) for v in vals))
    return "\n".join(lines) + "\n"


def test_check_train_accepts_matching_output():
    ok, lines = check_train.check(EXPECTED_TRAIN, train_output(HISTORY))
    assert ok, lines
    assert lines[-1] == "PASS: 4 steps" and len(lines) == 6
    assert lines[0].startswith("step 0 loss 5.5 expected 5.5 rel_err")
    # f32 rounding of the expected values is within rtol.
    assert "MISMATCH" not in "".join(lines)


def test_check_train_f64():
    exp = dict(EXPECTED_TRAIN, dtype="f64")
    ok, _ = check_train.check(exp, train_output(HISTORY, "f64"), rtol=1e-15)
    assert ok
    ok, _ = check_train.check(exp, train_output(HISTORY, "f64", {2: (1, 1 + 1e-12, 1)}),
                              rtol=1e-13)
    assert not ok


@pytest.mark.parametrize("scale", [{1: (1.001, 1, 1)}, {2: (1, 0.999, 1)},
                                   {0: (1, 1, 1.01)}])
def test_check_train_rejects_mismatch(scale):
    ok, lines = check_train.check(EXPECTED_TRAIN, train_output(HISTORY, scale=scale))
    assert not ok and lines[-1] == "FAIL: 4 steps"
    assert sum("MISMATCH" in line for line in lines) == 1


def test_check_train_field_selection_and_atol():
    out = train_output(HISTORY, scale={1: (1.001, 1, 1)})
    ok, _ = check_train.check(EXPECTED_TRAIN, out, fields=("grad_norm", "lr"))
    assert ok
    ok, _ = check_train.check(EXPECTED_TRAIN, out, atol=0.01)
    assert ok
    with pytest.raises(check_train.CheckError):
        check_train.parse_fields("loss,norm")
    assert check_train.parse_fields("none") == ()


def test_check_train_zero_lr_and_nan():
    hist = [dict(h) for h in HISTORY]
    out = train_output(hist)
    hist_nz = [dict(h) for h in HISTORY]
    hist_nz[3]["lr"] = 1e-3
    ok, _ = check_train.check(EXPECTED_TRAIN, train_output(hist_nz))
    assert not ok  # expected 0, got 1e-3
    nan = out.replace(f"train 2 {bits(HISTORY[2]['loss'])}", f"train 2 {bits(float('nan'))}")
    ok, lines = check_train.check(EXPECTED_TRAIN, nan)
    assert not ok and "MISMATCH(loss)" in lines[2]
    ok, _ = check_train.check(EXPECTED_TRAIN, nan, fields=())
    assert not ok  # non-finite values always fail


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("train 2 ", "train 7 "),          # wrong step
    lambda t: "\n".join(t.splitlines()[:-1]),             # missing step
    lambda t: t + t.splitlines()[-1] + "\n",              # extra step
    lambda t: "",                                          # nothing
    lambda t: t.replace("train 1 ", "train 1 99999999999 "),  # bad bits
])
def test_check_train_rejects_bad_output(mutate):
    with pytest.raises(check_train.CheckError):
        check_train.check(EXPECTED_TRAIN, mutate(train_output(HISTORY)))


def test_check_train_final_ratio():
    out = train_output(HISTORY)  # 5.5 -> 4.0
    ok, lines = check_train.check(EXPECTED_TRAIN, out, fields=(), max_final_ratio=0.75)
    assert ok and "(< 0.75)" in lines[-2]
    ok, lines = check_train.check(EXPECTED_TRAIN, out, fields=(), max_final_ratio=0.7)
    assert not ok and "(not < 0.7)" in lines[-2]
    # Without reference fields, the history may be absent.
    ok, _ = check_train.check({"dtype": "f32", "steps": 4}, out, fields=(),
                              max_final_ratio=0.75)
    assert ok


def test_check_train_cli(run_cli, tmp_path):
    exp = tmp_path / "expected.json"
    exp.write_text(json.dumps(EXPECTED_TRAIN))
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(train_output(HISTORY))
    bad.write_text(train_output(HISTORY, scale={3: (1.01, 1, 1)}))
    r = run_cli("lmc.testing.check_train", "--expected", exp, "--output", good)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "PASS: 4 steps"
    r = run_cli("lmc.testing.check_train", "--expected", exp, "--output", bad)
    assert r.returncode == 1 and "MISMATCH(loss)" in r.stdout
    r = run_cli("lmc.testing.check_train", "--expected", exp, "--output", bad,
                "--field", "lr,grad_norm", "--max-final-ratio", "0.9")
    assert r.returncode == 0, r.stdout
    r = run_cli("lmc.testing.check_train", "--expected", exp, "--output",
                tmp_path / "missing.txt")
    assert r.returncode == 1 and r.stdout.startswith("FAIL:")


# ---------------------------------------------------------------------------
# grad_case
# ---------------------------------------------------------------------------

def test_grad_case_tiny(tmp_path):
    case = grad_case.write_gpt_case(TINY, str(tmp_path), batch=2, seq=8, seed=1,
                                    per_param=2)
    exp = json.loads((tmp_path / "expected.json").read_text())
    assert exp["loss_func"] == "eval_step" and exp["h"] == 2.0 ** -10
    names = [p["name"] for p in exp["params"]]
    assert names == [n for n, _, _, _ in param_specs(TINY)]
    wte = exp["params"][0]["coords"]
    used, unused = exp["used_row"], exp["unused_row"]
    assert (case.tokens == used).sum() >= 3 and (case.tokens == unused).sum() == 0
    assert sum(c[0] == used for c in wte) == 3 and sum(c[0] == unused for c in wte) == 3
    wpe_rows = {c[0] for c in exp["params"][1]["coords"]}
    assert {7, 8, 63} <= wpe_rows
    params, _ = safetensors.load(tmp_path / "params.safetensors")
    assert all(a.dtype == np.float64 for a in params.values())
    # Perturbations by h and 2h are exact.
    for p in exp["params"]:
        for c, v in zip(p["coords"], p["values"]):
            assert params[p["name"]][tuple(c)] == v
            assert (v + 2 * exp["h"]) - v == 2 * exp["h"]
    # The reference gradients are those of reference_train.
    cfg = replace(TINY, dtype="f64")
    _, grads = rt.forward_backward(params, case.tokens, case.targets, cfg)
    for p in exp["params"]:
        assert exp["reference_grads"][p["name"]] == [grads[p["name"]][tuple(c)]
                                                     for c in p["coords"]]
    text = (tmp_path / "model.mlir").read_text()
    assert "func.func private @eval_step(" in text
    assert "func.func private @forward_grad(tensor<?x?xi32>, tensor<?x?xi32>) -> " \
           "(tensor<f64>, tensor<256x64xf64>" in text
    assert text.count("scf.for") == len(names)
    assert "f32" not in text


REQUIRED_OPS = ["embedding", "position_embedding", "layer_norm", "matmul",
                "bias_add", "gelu", "add", "mul", "split", "causal_attention",
                "split_heads", "merge_heads", "scale", "causal_mask", "softmax",
                "cross_entropy", "reduce_sum", "transpose", "flatten", "silu"]


def test_op_cases_cover_every_differentiable_op():
    bodies = "\n".join(op.body for op in grad_case.OP_CASES.values())
    used = set(re.findall(r"= lmc\.([a-z_]+)", bodies))
    assert set(REQUIRED_OPS) <= used
    assert "lmc.gelu %x tanh" in bodies and "lmc.gelu %x exact" in bodies
    assert "causal_mask %x2 zero" in bodies
    for name in ("matmul_2d", "matmul_shared", "matmul_batched"):
        body = grad_case.OP_CASES[name].body
        assert body.count("lmc.matmul") == 4
        assert "transpose_a transpose_b" in body
    # Dynamic [B, T, C] shapes for the ops that take activations.
    for name in ("layer_norm", "bias_add", "causal_attention", "split",
                 "matmul_dynamic", "cross_entropy", "flatten_dynamic"):
        assert "tensor<?x?x" in grad_case.OP_CASES[name].body


@pytest.mark.parametrize("name", sorted(grad_case.OP_CASES))
def test_op_case_files(tmp_path, name):
    case = grad_case.write_op_case(name, str(tmp_path))
    text = (tmp_path / "model.mlir").read_text()
    exp = json.loads((tmp_path / "expected.json").read_text())
    assert exp["loss_func"] == "loss_at" and exp["op"] == name
    for fn in re.findall(r"func\.func @\w+\(.*?\n  }\n", text, re.S):
        defs = re.findall(r"^\s*(%[\w#]+(?:, %\w+)*) = ", fn, re.M)
        flat = [d for group in defs for d in group.split(", ")]
        assert len(flat) == len(set(flat)), (name, fn[:60])
    for op_name, shape in case.params:
        assert f'lmc.param @"{op_name}"' in text
        p = next(p for p in exp["params"] if p["name"] == op_name)
        n = int(np.prod(shape))
        assert len(p["coords"]) == min(n, 32)
    assert "%loss = " in grad_case.OP_CASES[name].body


def test_grad_case_cli(run_cli, tmp_path):
    r = run_cli("lmc.testing.grad_case", "--list-ops")
    assert r.returncode == 0 and "causal_attention:" in r.stdout
    r = run_cli("lmc.testing.grad_case", "--op", "nope", "--out-dir", tmp_path)
    assert r.returncode == 2
    r = run_cli("lmc.testing.grad_case", "--op", "scale", "--out-dir", tmp_path)
    assert r.returncode == 0 and (tmp_path / "model.mlir").exists()
    r = run_cli("lmc.testing.grad_case", "--preset", "tiny", "--seq", 64,
                "--out-dir", tmp_path)
    assert r.returncode == 2


# ---------------------------------------------------------------------------
# check_grad
# ---------------------------------------------------------------------------

H = 2.0 ** -10
EXPECTED_GRAD = {
    "kind": "grad", "case": "synthetic", "dtype": "f64", "h": H,
    "params": [{"name": "a", "shape": [3], "coords": [[0], [2]], "values": [0, 0]},
               {"name": "b", "shape": [2, 2], "coords": [[1, 1]], "values": [0]}],
}
GRADS = [(0, 0, 0.75), (0, 1, -2.5e-3), (1, 0, 0.0)]


def grad_output(grads=GRADS, loss=1.25, base=1.25, fd_scale=1.0):
    """Losses of a function that is linear along each coordinate, so that
    the central difference equals the gradient (times fd_scale)."""
    lines = [f"loss {bits(loss, 'f64')}", f"base {bits(base, 'f64')}"]
    for p, k, g in grads:
        s = g * fd_scale
        ls = [base + s * H, base - s * H, base + 2 * s * H, base - 2 * s * H]
        lines.append(f"grad {p} {k} {bits(g, 'f64')} "
                     + " ".join(str(bits(v, "f64")) for v in ls))
    return "\n".join(lines) + "\n"


def test_check_grad_accepts_matching_output():
    ok, lines, stats = check_grad.check(EXPECTED_GRAD, grad_output())
    assert ok, lines
    assert stats["coords"] == 3 and stats["max_rel_err"] < 1e-9
    assert stats["below_floor"] == 1  # the zero gradient
    assert lines[-1].startswith("PASS: case synthetic: 3 coordinates")
    assert lines[1].startswith("ok: a coords 2") and lines[2].startswith("ok: b coords 1")


def test_check_grad_central4():
    # Exact for polynomials up to degree 4: f(x) = x^3 at x = 1.
    f = lambda d: (1.0 + d) ** 3  # noqa: E731
    fd = check_grad.central4([f(H), f(-H), f(2 * H), f(-2 * H)], H)
    assert fd == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("kwargs", [{"fd_scale": 1.0001}, {"fd_scale": -1.0},
                                    {"base": 1.2500001}])
def test_check_grad_rejects_mismatch(kwargs):
    ok, lines, _ = check_grad.check(EXPECTED_GRAD, grad_output(**kwargs))
    assert not ok and lines[-1].startswith("FAIL: case synthetic")


def test_check_grad_floor():
    # Analytic 1e-9 against FD 0: an absolute error of 1e-9 > rtol * floor.
    grads = [(0, 0, 0.75), (0, 1, -2.5e-3), (1, 0, 0.0)]
    text = grad_output(grads).replace(f"grad 1 0 {bits(0.0, 'f64')}",
                                      f"grad 1 0 {bits(1e-9, 'f64')}")
    ok, _, _ = check_grad.check(EXPECTED_GRAD, text)
    assert not ok
    ok, _, _ = check_grad.check(EXPECTED_GRAD, text, floor=1e-2)
    assert ok  # 1e-9 / 1e-2 = 1e-7 <= 1e-6


def test_check_grad_reference():
    exp = dict(EXPECTED_GRAD, reference_loss=1.25,
               reference_grads={"a": [0.75, -2.5e-3], "b": [0.0]})
    ok, lines, stats = check_grad.check(exp, grad_output())
    assert ok and stats["max_ref_rel_err"] == 0.0
    assert lines[1].startswith("ok: loss vs reference")
    bad = dict(exp, reference_grads={"a": [0.75, -2.6e-3], "b": [0.0]})
    ok, lines, _ = check_grad.check(bad, grad_output())
    assert not ok and any("(reference)" in line for line in lines)
    ok, _, _ = check_grad.check(dict(exp, reference_loss=1.3), grad_output())
    assert not ok


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("grad 0 1 ", "grad 0 3 "),                # wrong index
    lambda t: "\n".join(t.splitlines()[:-1]),                    # missing line
    lambda t: t + t.splitlines()[-1] + "\n",                     # duplicate
    lambda t: "\n".join(t.splitlines()[1:]),                     # no loss
    lambda t: t + t.splitlines()[1] + "\n",                      # base twice
])
def test_check_grad_rejects_bad_output(mutate):
    with pytest.raises(check_grad.CheckError):
        check_grad.check(EXPECTED_GRAD, mutate(grad_output()))


def test_check_grad_rejects_non_finite():
    text = grad_output().replace(f"grad 0 0 {bits(0.75, 'f64')}",
                                 f"grad 0 0 {bits(float('inf'), 'f64')}")
    ok, _, _ = check_grad.check(EXPECTED_GRAD, text)
    assert not ok


def test_check_grad_cli(run_cli, tmp_path):
    exp = tmp_path / "expected.json"
    exp.write_text(json.dumps(EXPECTED_GRAD))
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(grad_output())
    bad.write_text(grad_output(fd_scale=1.01))
    summary = tmp_path / "summary.txt"
    r = run_cli("lmc.testing.check_grad", "--expected", exp, "--output", good,
                "--label", "x", "--append-summary", summary)
    assert r.returncode == 0, r.stdout
    r = run_cli("lmc.testing.check_grad", "--expected", exp, "--output", bad,
                "--label", "y", "--append-summary", summary)
    assert r.returncode == 1 and "mismatch a[0]" in r.stdout
    r = run_cli("lmc.testing.check_grad", "--expected", exp, "--output",
                tmp_path / "none.txt", "--label", "z", "--append-summary", summary)
    assert r.returncode == 1
    lines = summary.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["PASS", "FAIL", "FAIL"]
    assert lines[0].startswith("PASS: case x:") and lines[2].startswith("FAIL: z:")
