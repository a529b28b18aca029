"""Tests for the Llama lmc MLIR builder, its Hugging Face config reading and
its CLI."""

import json
import re
from dataclasses import replace

import pytest

from lmc.models import llama
from lmc.models.llama import (PRESETS, LlamaConfig, emit_model, flops_per_token,
                              from_hf_config, num_params, param_specs,
                              to_hf_config)

SSA_DEF = re.compile(r"^\s*(%[^=]+?)\s*=\s", re.M)
TINY = PRESETS["tiny"]


def hf_names(n_layer, tied):
    """LlamaForCausalLM's state_dict names, in its order."""
    names = ["model.embed_tokens.weight"]
    for i in range(n_layer):
        p = f"model.layers.{i}."
        names += [p + s for s in (
            "input_layernorm.weight", "self_attn.q_proj.weight",
            "self_attn.k_proj.weight", "self_attn.v_proj.weight",
            "self_attn.o_proj.weight", "post_attention_layernorm.weight",
            "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")]
    names.append("model.norm.weight")
    return names if tied else names + ["lm_head.weight"]


def test_smollm_135m_parameter_count():
    # The published count of SmolLM-135M (tied embeddings).
    assert num_params(PRESETS["smollm-135m"]) == 134_515_008


@pytest.mark.parametrize("preset,expected", [
    ("tiny", dict(vocab=256, ctx=64, n_layer=2, d_model=64, n_head=4,
                  n_kv_head=2, ffn=172, tied=False)),
    ("mini", dict(vocab=8192, ctx=256, n_layer=6, d_model=384, n_head=6,
                  n_kv_head=2, ffn=1024, tied=False)),
    ("smollm-135m", dict(vocab=49152, ctx=2048, n_layer=30, d_model=576,
                         n_head=9, n_kv_head=3, ffn=1536, tied=True)),
])
def test_presets(preset, expected):
    cfg = PRESETS[preset]
    for k, v in expected.items():
        assert getattr(cfg, k) == v, k
    assert cfg.rope_theta == 10000.0 and cfg.rms_eps == 1e-5
    cfg.validate()


def test_names_shapes_and_inits_follow_hf():
    cfg = PRESETS["smollm-135m"]
    specs = param_specs(cfg)
    assert [s[0] for s in specs] == hf_names(30, tied=True)
    shapes = {s[0]: s[1] for s in specs}
    assert shapes["model.embed_tokens.weight"] == (49152, 576)
    assert shapes["model.layers.7.self_attn.q_proj.weight"] == (576, 576)
    assert shapes["model.layers.7.self_attn.k_proj.weight"] == (192, 576)
    assert shapes["model.layers.7.self_attn.v_proj.weight"] == (192, 576)
    assert shapes["model.layers.7.self_attn.o_proj.weight"] == (576, 576)
    assert shapes["model.layers.7.mlp.gate_proj.weight"] == (1536, 576)
    assert shapes["model.layers.7.mlp.up_proj.weight"] == (1536, 576)
    assert shapes["model.layers.7.mlp.down_proj.weight"] == (576, 1536)
    assert shapes["model.norm.weight"] == (576,)
    assert [s[0] for s in param_specs(TINY)] == hf_names(2, tied=False)
    for name, shape, kind, std in param_specs(TINY):
        if len(shape) == 1:
            assert kind == "ones" and std is None, name
        else:
            assert kind == "normal" and std == 0.02, name


def test_flops_per_token():
    cfg = TINY
    f = flops_per_token(cfg)
    C, F, KV = 64, 172, 32
    assert f["matmul"] == 2 * (2 * (2 * C * C + 2 * C * KV + 3 * C * F) + C * 256)
    assert f["attention"] == 4 * 2 * 64 * C
    assert f["total"] == f["matmul"] + f["attention"]


def test_emitted_forward_follows_the_contract():
    text = emit_model(TINY)
    assert text.startswith(llama.HF_CONFIG_COMMENT)
    # RoPE has no position table: the model states its context.
    assert "\nlmc.model @tiny attributes {context_length = 64 : i64} {\n" in text
    body = text[text.index("func.func @forward"):]
    assert body.count("lmc.rms_norm ") == 2 * 2 + 1
    assert body.count("lmc.rope ") == 2 * 2
    assert body.count("lmc.silu ") == 2 and body.count("lmc.mul ") == 2
    assert body.count("lmc.bias_add") == 0 and "lmc.layer_norm" not in body
    assert "lmc.position_embedding" not in body
    # Every linear layer is nn.Linear: x W^T with W [out, in].
    assert body.count("transpose_b") == 2 * 7 + 1
    assert ("lmc.rms_norm %x0, %l0_ln1_w eps(1.000000e-05) : "
            "tensor<?x?x64xf32>, tensor<64xf32>") in body
    assert ("lmc.rope %l0_qp head_dim(16) theta(1.000000e+04) : "
            "tensor<?x?x64xf32>") in body
    assert ("lmc.rope %l0_kp head_dim(16) theta(1.000000e+04) : "
            "tensor<?x?x32xf32>") in body
    assert ("lmc.causal_attention %l0_q, %l0_k, %l0_v heads(4) kv_heads(2) : "
            "tensor<?x?x64xf32>, tensor<?x?x32xf32>") in body
    assert ("lmc.matmul %l0_ln1, %l0_kp_w transpose_b : tensor<?x?x64xf32>, "
            "tensor<32x64xf32>") in body
    assert "lmc.mul %l0_silu, %l0_up : tensor<?x?x172xf32>" in body
    assert ("lmc.matmul %l0_glu, %l0_down_w transpose_b : tensor<?x?x172xf32>, "
            "tensor<64x172xf32>") in body
    assert ("%logits = lmc.matmul %norm, %lm_head transpose_b : "
            "tensor<?x?x64xf32>, tensor<256x64xf32>") in body
    assert "return %loss : tensor<f32>" in body


def test_ssa_defined_once_and_before_use():
    for cfg in (TINY, PRESETS["smollm-135m"]):
        text = emit_model(cfg)
        body = text[text.index("func.func @forward"):]
        seen = {"%tokens", "%targets"}
        for line in body.splitlines()[1:]:
            m = SSA_DEF.match(line)
            rhs = line.split("=", 1)[1] if m else line
            for use in re.findall(r"%[A-Za-z0-9_$.\-]+", rhs):
                assert use in seen, f"{use} used before definition: {line}"
            if m:
                name = m[1].strip()
                assert name not in seen, name
                seen.add(name)


def test_tied_head_and_mha_form():
    cfg = replace(TINY, tied=True, n_kv_head=4, dtype="f64")
    text = emit_model(cfg)
    assert "lm_head" not in text
    assert ("%logits = lmc.matmul %norm, %embed transpose_b : "
            "tensor<?x?x64xf64>, tensor<256x64xf64>") in text
    # kv_heads equal to heads: the single-type form, without kv_heads.
    assert ("lmc.causal_attention %l1_q, %l1_k, %l1_v heads(4) : "
            "tensor<?x?x64xf64>\n") in text
    assert "return %loss : tensor<f64>" in text


@pytest.mark.parametrize("change,message", [
    (dict(n_kv_head=3), "must divide n_head"),
    (dict(n_head=3), "must divide d_model"),
    (dict(d_model=40, n_head=8, n_kv_head=8), "must be even"),
    (dict(ffn=0), "ffn must be a positive integer"),
    (dict(rope_theta=0.0), "rope_theta must be a positive number"),
    (dict(rms_eps=float("nan")), "rms_eps must be a positive number"),
    (dict(dtype="bf16"), "dtype must be one of"),
    (dict(name="9x"), "not a valid MLIR symbol"),
])
def test_validate_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        replace(TINY, **change).validate()


def test_hf_config_round_trip():
    for cfg in PRESETS.values():
        hf = to_hf_config(cfg)
        assert hf["architectures"] == ["LlamaForCausalLM"]
        assert hf["model_type"] == "llama" and hf["torch_dtype"] == "float32"
        back = from_hf_config(json.loads(json.dumps(hf)), name=cfg.name)
        assert back == cfg


SMOLLM_HF = {
    # SmolLM-135M's config.json, as published (the fields lmc reads and the
    # ones it checks).
    "architectures": ["LlamaForCausalLM"], "attention_bias": False,
    "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 0,
    "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.02,
    "intermediate_size": 1536, "max_position_embeddings": 2048,
    "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
    "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "transformers_version": "4.40.1",
    "use_cache": True, "vocab_size": 49152,
}


def test_from_hf_config_smollm():
    cfg = from_hf_config(SMOLLM_HF, name="smollm_135m")
    assert cfg == PRESETS["smollm-135m"]
    assert num_params(cfg) == 134_515_008


def test_from_hf_config_defaults():
    # LlamaConfig's defaults in transformers for the fields left out.
    cfg = from_hf_config({"vocab_size": 100, "hidden_size": 32,
                          "num_attention_heads": 4, "num_hidden_layers": 1,
                          "intermediate_size": 40})
    assert cfg.n_kv_head == 4 and cfg.rope_theta == 10000.0
    assert cfg.rms_eps == 1e-6 and cfg.ctx == 2048 and not cfg.tied


@pytest.mark.parametrize("change,message", [
    (dict(hidden_act="gelu"), "hidden_act 'gelu' is not supported"),
    (dict(attention_bias=True), "attention_bias true is not supported"),
    (dict(mlp_bias=True), "mlp_bias true is not supported"),
    (dict(rope_scaling={"type": "linear", "factor": 2.0}),
     "rope_scaling .* is not supported"),
    (dict(head_dim=128), "head_dim 128 is not supported"),
    (dict(model_type="mistral"), "model_type 'mistral' is not supported"),
    (dict(attention_dropout=0.1), "attention_dropout 0.1 is not supported"),
    (dict(num_key_value_heads=2), "must divide n_head"),
    (dict(vocab_size="big"), "'vocab_size' must be an integer"),
    (dict(tie_word_embeddings="yes"), "must be a boolean"),
])
def test_from_hf_config_refuses(change, message):
    with pytest.raises(ValueError, match=message):
        from_hf_config({**SMOLLM_HF, **change})


def test_cli_presets_and_overrides(run_cli, tmp_path):
    out = tmp_path / "m.mlir"
    r = run_cli("lmc.models.llama", "--preset", "tiny", "--n-kv-head", "1",
                "--rope-theta", "500000", "--rms-eps", "1e-6",
                "--tie-embeddings", "--dtype", "f64", "-o", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    cfg = replace(TINY, n_kv_head=1, rope_theta=500000.0, rms_eps=1e-6,
                  tied=True, dtype="f64")
    assert text == emit_model(cfg)
    assert "heads(4) kv_heads(1)" in text and "theta(5.000000e+05)" in text
    assert "eps(1.000000e-06)" in text and "lm_head" not in text
    # A tied preset untied.
    r = run_cli("lmc.models.llama", "--preset", "smollm-135m",
                "--untie-embeddings", "--summary")
    assert r.returncode == 0, r.stderr
    assert f"params={134_515_008 + 49152 * 576}" in r.stdout


def test_cli_from_hf_config(run_cli, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(SMOLLM_HF))
    r = run_cli("lmc.models.llama", "--from-hf-config", tmp_path / "config.json",
                "--name", "smollm_135m", "--summary", "-o", tmp_path / "m.mlir",
                "--write-hf-config", tmp_path / "back.json")
    assert r.returncode == 0, r.stderr
    assert "params=134515008" in r.stdout
    assert (tmp_path / "m.mlir").read_text() == emit_model(PRESETS["smollm-135m"])
    back = json.loads((tmp_path / "back.json").read_text())
    assert from_hf_config(back, name="smollm_135m") == PRESETS["smollm-135m"]
    # Overrides apply on top of the file.
    r = run_cli("lmc.models.llama", "--from-hf-config", tmp_path / "config.json",
                "--n-layer", "2", "--summary")
    assert r.returncode == 0 and "name=llama" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--n-kv-head", "3"], "must divide n_head"),
    (["--rope-theta", "-1"], "must be positive"),
    (["--tie-embeddings", "--untie-embeddings"], "not allowed with"),
    (["--preset", "tiny", "--from-hf-config", "x.json"], "not allowed with"),
    (["--from-hf-config", "/nonexistent/config.json"], "No such file"),
])
def test_cli_errors(run_cli, args, message):
    r = run_cli("lmc.models.llama", *args, "--summary")
    assert r.returncode == 2
    assert re.search(message, r.stderr), r.stderr


def test_cli_refuses_inexpressible_hf_config(run_cli, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**SMOLLM_HF,
                                                      "mlp_bias": True}))
    r = run_cli("lmc.models.llama", "--from-hf-config", tmp_path / "config.json")
    assert r.returncode == 2
    assert "mlp_bias true is not supported" in r.stderr
