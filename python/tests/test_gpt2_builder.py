"""Tests for the GPT-2 lmc MLIR builder and its CLI."""

import re
from dataclasses import replace

import pytest

from lmc.models.gpt2 import (PRESETS, GPT2Config, emit_model, flops_per_token,
                             num_params, param_specs)

SSA_DEF = re.compile(r"^\s*(%[^=]+?)\s*=\s", re.M)
SSA_NAME = re.compile(r"^%[A-Za-z0-9_$.\-]+$")


def hf_names(n_layer):
    """Parameter names of the Hugging Face GPT-2 checkpoint, in order."""
    names = ["wte.weight", "wpe.weight"]
    for i in range(n_layer):
        names += [f"h.{i}.{s}" for s in (
            "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
            "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
            "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
            "mlp.c_proj.bias")]
    return names + ["ln_f.weight", "ln_f.bias"]


def ssa_defs(text):
    defs = []
    for m in SSA_DEF.finditer(text):
        defs += [d.strip() for d in m[1].split(",")]
    return defs


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_emits_every_preset(preset):
    cfg = PRESETS[preset]
    text = emit_model(cfg)
    assert text.startswith(f"lmc.model @{cfg.name} {{\n")
    assert text.rstrip().endswith("}")
    assert text.count("lmc.param @") == len(param_specs(cfg))
    assert text.count("lmc.causal_attention") == cfg.n_layer
    assert f"heads({cfg.n_head})" in text
    assert f"tensor<{cfg.vocab}x{cfg.d_model}xf32> init(normal, std = 2.000000e-02)" in text
    assert "return %loss : tensor<f32>" in text


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_ssa_values_defined_once_and_before_use(preset):
    text = emit_model(PRESETS[preset])
    defs = ssa_defs(text)
    assert len(defs) == len(set(defs))
    assert all(SSA_NAME.match(d) for d in defs)
    body = text[text.index("func.func @forward"):]
    seen = {"%tokens", "%targets"}
    for line in body.splitlines()[1:]:
        m = SSA_DEF.match(line)
        rhs = line.split("=", 1)[1] if m else line
        for use in re.findall(r"%[A-Za-z0-9_$.\-]+", rhs):
            assert use in seen, f"{use} used before definition: {line}"
        if m:
            seen.update(d.strip() for d in m[1].split(","))


def test_names_and_shapes_follow_hf():
    cfg = PRESETS["gpt2-124M"]
    specs = param_specs(cfg)
    assert [s[0] for s in specs] == hf_names(12)
    shapes = dict((s[0], s[1]) for s in specs)
    assert shapes["wte.weight"] == (50257, 768)
    assert shapes["wpe.weight"] == (1024, 768)
    assert shapes["h.3.attn.c_attn.weight"] == (768, 2304)
    assert shapes["h.3.attn.c_attn.bias"] == (2304,)
    assert shapes["h.3.attn.c_proj.weight"] == (768, 768)
    assert shapes["h.3.mlp.c_fc.weight"] == (768, 3072)
    assert shapes["h.3.mlp.c_proj.weight"] == (3072, 768)
    assert shapes["ln_f.bias"] == (768,)


def test_inits():
    specs = {s[0]: s[2:] for s in param_specs(PRESETS["tiny"])}
    assert specs["wte.weight"] == ("normal", 0.02)
    assert specs["h.1.attn.c_attn.weight"] == ("normal", 0.02)
    assert specs["h.1.attn.c_proj.weight"] == ("normal", pytest.approx(0.01))
    assert specs["h.1.mlp.c_proj.weight"] == ("normal", pytest.approx(0.01))
    assert specs["h.1.mlp.c_fc.bias"] == ("zeros", None)
    assert specs["h.1.ln_2.weight"] == ("ones", None)
    assert specs["ln_f.bias"] == ("zeros", None)
    text = emit_model(PRESETS["tiny"])
    assert ('lmc.param @"h.0.mlp.c_proj.weight" : tensor<256x64xf32> '
            'init(normal, std = 1.000000e-02)') in text
    assert 'lmc.param @"ln_f.weight" : tensor<64xf32> init(ones)' in text


def test_param_counts():
    C, V, T, L = 64, 256, 64, 2
    per_layer = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    assert num_params(PRESETS["tiny"]) == V * C + T * C + L * per_layer + 2 * C == 120576
    assert num_params(PRESETS["gpt2-124M"]) == 124_439_808


def test_flops_per_token():
    f = flops_per_token(PRESETS["tiny"])
    C, L, V, T = 64, 2, 256, 64
    assert f["matmul"] == 2 * (12 * C * C * L + C * V)
    assert f["attention"] == 4 * L * T * C
    assert f["total"] == f["matmul"] + f["attention"]
    assert flops_per_token(PRESETS["gpt2-124M"])["total"] == 284_812_800


def test_f64_and_extra_funcs():
    cfg = replace(PRESETS["tiny"], dtype="f64")
    text = emit_model(cfg, "  func.func @extra() {\n    return\n  }\n")
    assert "f32" not in text
    assert "return %loss : tensor<f64>" in text
    assert text.index("func.func @extra") > text.index("return %loss")
    assert text.rstrip().endswith("  }\n}")


@pytest.mark.parametrize("bad", [
    dict(n_head=3), dict(d_model=0), dict(vocab=-1), dict(dtype="f16"),
    dict(name="bad-name"),
])
def test_invalid_config_rejected(bad):
    with pytest.raises(ValueError):
        emit_model(replace(PRESETS["tiny"], **bad))


def test_cli_writes_file_and_summary(run_cli, tmp_path):
    out = tmp_path / "m.mlir"
    r = run_cli("lmc.models.gpt2", "--preset", "tiny", "-o", out, "--summary")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == emit_model(PRESETS["tiny"])
    assert r.stdout.startswith("name=tiny params=120576 fwd_flops_per_token=262144")


def test_cli_stdout_and_overrides(run_cli):
    r = run_cli("lmc.models.gpt2", "--preset", "mini", "--n-layer", "1",
                "--n-head", "4", "--d-model", "32", "--vocab", "100", "--ctx", "8",
                "--dtype", "f64", "--name", "small", "-o", "-")
    assert r.returncode == 0, r.stderr
    cfg = GPT2Config(vocab=100, ctx=8, n_layer=1, n_head=4, d_model=32,
                     dtype="f64", name="small")
    assert r.stdout == emit_model(cfg)
    r = run_cli("lmc.models.gpt2", "--preset", "gpt2-124M", "--summary")
    assert r.returncode == 0 and r.stdout.startswith("name=gpt2_124M params=124439808")


@pytest.mark.parametrize("args", [
    ["--preset", "huge"],
    ["--preset", "tiny", "--n-head", "3"],
    ["--preset", "tiny", "--d-model", "0"],
    ["--preset", "tiny", "--vocab", "-5"],
    ["--preset", "tiny", "--ctx", "abc"],
    ["--preset", "tiny", "--dtype", "f16"],
    ["--preset", "tiny", "--name", "1abc"],
])
def test_cli_errors_exit_2(run_cli, args):
    r = run_cli("lmc.models.gpt2", *args)
    assert r.returncode == 2
    assert "error:" in r.stderr
    assert r.stdout == ""


def test_untied_head_and_no_bias():
    """--untie-head gives the head its own parameter lm_head.weight (last,
    [V, C], read transposed by the logits matmul, wte only by the
    embedding); --no-bias drops the linear layers' biases but not
    LayerNorm's shift."""
    tiny = PRESETS["tiny"]
    C, V, L = tiny.d_model, tiny.vocab, tiny.n_layer
    cfg = replace(tiny, tied=False, bias=False)
    specs = param_specs(cfg)
    names = [s[0] for s in specs]
    linear_biases = [n for n in hf_names(L)
                     if n.endswith(".bias") and ".ln_" not in n
                     and not n.startswith("ln_f")]
    assert len(linear_biases) == 4 * L
    assert names == [n for n in hf_names(L) if n not in linear_biases] + [
        "lm_head.weight"]
    assert specs[-1] == ("lm_head.weight", (V, C), "normal", 0.02)
    assert cfg.head_name == "lm_head.weight" and tiny.head_name == "wte.weight"
    assert num_params(replace(tiny, tied=False)) == num_params(tiny) + V * C
    assert num_params(replace(tiny, bias=False)) == num_params(tiny) - L * 9 * C

    text = emit_model(cfg)
    assert text.count("lmc.param @") == len(specs)
    assert "lmc.bias_add" not in text
    assert text.count("lmc.layer_norm") == 2 * L + 1
    assert (f'%lm_head = lmc.param_ref @"lm_head.weight" : '
            f'tensor<{V}x{C}xf32>') in text
    assert "lmc.matmul %lnf, %lm_head transpose_b" in text
    # wte is read once, by the embedding.
    assert text.count("%wte") == 2 and "lmc.embedding %wte[%tokens]" in text
    assert "untied LM head" in text
    # Each option alone.
    assert "lmc.bias_add" in emit_model(replace(tiny, tied=False))
    assert "lm_head" not in emit_model(replace(tiny, bias=False))
    # The stock model is unchanged by the defaults.
    assert "lm_head" not in emit_model(tiny)
    assert "lmc.matmul %lnf, %wte transpose_b" in emit_model(tiny)


def test_cli_untie_head_and_no_bias(run_cli):
    r = run_cli("lmc.models.gpt2", "--preset", "tiny", "--untie-head",
                "--no-bias", "--n-head", "3", "--d-model", "48", "-o", "-")
    assert r.returncode == 0, r.stderr
    cfg = replace(PRESETS["tiny"], tied=False, bias=False, n_head=3,
                  d_model=48)
    assert r.stdout == emit_model(cfg)
    r = run_cli("lmc.models.gpt2", "--preset", "tiny", "--untie-head",
                "--summary")
    assert r.returncode == 0, r.stderr
    assert f"params={120576 + 256 * 64} " in r.stdout


def test_silu_activation():
    cfg = replace(PRESETS["tiny"], activation="silu")
    text = emit_model(cfg)
    assert text.count("lmc.silu ") == cfg.n_layer
    assert "lmc.gelu" not in text
    # Same parameters as the GELU model.
    assert [n for n, *_ in param_specs(cfg)] == hf_names(cfg.n_layer)
    defs = ssa_defs(text)
    assert len(defs) == len(set(defs))
    with pytest.raises(ValueError, match="activation"):
        replace(cfg, activation="relu").validate()
