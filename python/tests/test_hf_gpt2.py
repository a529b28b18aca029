"""Tests for the Hugging Face exchange of GPT-2 models (lmc.hf, lmc.hf_gpt2):
the config read from a model's text, config.json's fields, the names,
layouts and metadata of the exported weights, the round trip export ->
import, the import check of a directory; and, where `transformers` is
installed, GPT2LMHeadModel.from_pretrained on an export against lmc's NumPy
reference."""

import json
import os
import shutil
from dataclasses import replace

import numpy as np
import pytest

from lmc import hf, hf_gpt2, safetensors
from lmc import reference as ref
from lmc.models import gpt2

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "test", "e2e",
                       "Inputs", "hf-gpt2-tiny")
TINY = replace(gpt2.PRESETS["tiny"], n_layer=1)


def spread_params(cfg, seed):
    """Parameters far from the builder's init (whose logits are near
    uniform): embeddings std 1, Conv1D weights std 1/sqrt(in), biases and
    LayerNorm shifts 0.1 N(0, 1), LayerNorm scales 1 + 0.1 N(0, 1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, _, _ in gpt2.param_specs(cfg):
        if name.endswith(("wte.weight", "wpe.weight", "lm_head.weight")):
            a = rng.standard_normal(shape)
        elif len(shape) == 2:
            a = rng.standard_normal(shape) / np.sqrt(shape[0])
        elif ".ln_" in name and name.endswith("weight") or name == "ln_f.weight":
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            a = 0.1 * rng.standard_normal(shape)
        out[name] = a.astype(np.float32 if cfg.dtype == "f32" else np.float64)
    return out


CONFIGS = [
    TINY,
    replace(TINY, tied=False, n_layer=2, n_head=4, name="untied"),
    replace(TINY, activation="silu", dtype="f64", ctx=32),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_config_from_model(cfg):
    text = gpt2.emit_model(cfg)
    assert hf.model_config(text) == replace(cfg, name="gpt2")
    assert hf_gpt2.config_from_model(text, name=cfg.name) == cfg
    with pytest.raises(hf.ExchangeError, match="wpe.weight has"):
        hf.model_config(text, ctx=cfg.ctx + 1)


def test_config_from_model_refuses_what_it_cannot_say():
    text = gpt2.emit_model(TINY)
    with pytest.raises(hf.ExchangeError, match="eps is 1e-06"):
        hf.model_config(text.replace("eps(1.000000e-05)", "eps(1.000000e-06)"))
    with pytest.raises(hf.ExchangeError, match="exact .erf. GELU"):
        hf.model_config(text.replace("lmc.gelu %h0_fc tanh", "lmc.gelu %h0_fc"))
    # A Llama is not a GPT-2 and the other way round.
    from lmc.models import llama
    with pytest.raises(hf.ExchangeError, match="embed_tokens"):
        hf.config_from_model(text, ctx=64)
    assert isinstance(hf.model_config(llama.emit_model(llama.PRESETS["tiny"])),
                      llama.LlamaConfig)


def test_hf_config_fields():
    c = hf_gpt2.to_hf_config(gpt2.PRESETS["gpt2-124M"])
    assert c["architectures"] == ["GPT2LMHeadModel"] and c["model_type"] == "gpt2"
    assert (c["n_embd"], c["n_layer"], c["n_head"]) == (768, 12, 12)
    assert c["n_positions"] == c["n_ctx"] == 1024 and c["vocab_size"] == 50257
    assert c["activation_function"] == "gelu_new"
    assert c["layer_norm_epsilon"] == 1e-5 and c["tie_word_embeddings"] is True
    assert c["torch_dtype"] == "float32"
    assert c["bos_token_id"] == c["eos_token_id"] == 50256
    assert c["attn_pdrop"] == c["embd_pdrop"] == c["resid_pdrop"] == 0.0
    # A vocabulary other than GPT-2's has no <|endoftext|>.
    c = hf_gpt2.to_hf_config(replace(TINY, activation="silu", tied=False))
    assert c["bos_token_id"] is None and c["activation_function"] == "silu"
    assert c["tie_word_embeddings"] is False
    with pytest.raises(ValueError, match="no biases"):
        hf_gpt2.to_hf_config(replace(TINY, bias=False))
    # And back.
    for cfg in CONFIGS:
        back, notes = hf_gpt2.from_hf_config(hf_gpt2.to_hf_config(cfg),
                                             dtype=cfg.dtype, name=cfg.name)
        assert back == cfg and notes == []


def test_from_hf_config_defaults_and_refusals():
    cfg, notes = hf_gpt2.from_hf_config({"model_type": "gpt2"})
    assert cfg == replace(gpt2.PRESETS["gpt2-124M"], name="gpt2")
    assert notes == ["note: dropout (attn_pdrop 0.1, embd_pdrop 0.1, "
                     "resid_pdrop 0.1) is not modelled: lmc trains without "
                     "dropout"]
    assert hf_gpt2.from_hf_config({"n_ctx": 128, "n_embd": 64, "n_head": 4,
                                   "activation_function": "gelu_pytorch_tanh"}
                                  )[0].ctx == 128
    for field, value, match in [
            ("activation_function", "gelu", "activation_function 'gelu'"),
            ("layer_norm_epsilon", 1e-6, "layer_norm_epsilon"),
            ("n_inner", 100, "n_inner 100"),
            ("scale_attn_by_inverse_layer_idx", True, "inverse_layer_idx"),
            ("tie_word_embeddings", "yes", "must be a boolean"),
            ("n_head", 5, "must divide")]:
        with pytest.raises(ValueError, match=match):
            hf_gpt2.from_hf_config({field: value})


@pytest.mark.parametrize("cfg", CONFIGS)
def test_export_names_layouts_metadata_and_round_trip(tmp_path, cfg):
    params = spread_params(cfg, 1)
    ckpt = dict(params)
    # A trainer checkpoint also holds the moments; they stay behind.
    ckpt.update({"exp_avg." + k: np.zeros_like(v) for k, v in params.items()})
    ckpt.update({"exp_avg_sq." + k: np.ones_like(v) for k, v in params.items()})
    safetensors.save(tmp_path / "ckpt.safetensors", ckpt,
                     {"format": "lmc-checkpoint 1"})
    (tmp_path / "model.mlir").write_text(gpt2.emit_model(cfg))
    notes = hf.export(str(tmp_path / "ckpt.safetensors"),
                      hf.model_config((tmp_path / "model.mlir").read_text()),
                      str(tmp_path / "hf"))
    assert notes == ([] if cfg.dtype == "f32" else
                     ["note: parameters converted to float32 (torch_dtype float32)"])
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config == hf_gpt2.to_hf_config(cfg)
    tensors, meta = safetensors.load(tmp_path / "hf" / "model.safetensors")
    assert meta == {"format": "pt"}
    # GPT2LMHeadModel's names, in the builder's order; nothing transposed.
    want = ["transformer." + n if n != "lm_head.weight" else n
            for n, _, _, _ in gpt2.param_specs(cfg)]
    assert list(tensors) == want
    assert ("lm_head.weight" in tensors) == (not cfg.tied)
    for name, a in params.items():
        got = tensors[hf_gpt2.hf_name(name)]
        assert got.dtype == np.float32 and got.shape == a.shape
        np.testing.assert_array_equal(got, a.astype(np.float32))
    assert tensors["transformer.h.0.attn.c_attn.weight"].shape == \
        (cfg.d_model, 3 * cfg.d_model)  # Conv1D: [in, out]
    # And back: the same model text, the same tensors under lmc's names.
    back, weights, notes = hf.check_hf_dir(str(tmp_path / "hf"), dtype=cfg.dtype,
                                           name=cfg.name)
    assert back == cfg and notes == []
    assert gpt2.emit_model(back) == (tmp_path / "model.mlir").read_text()


def test_export_errors(tmp_path):
    params = spread_params(TINY, 2)
    with pytest.raises(hf.ExchangeError, match="no biases"):
        hf.export("unused", replace(TINY, bias=False), str(tmp_path / "o"))
    # A tied model's checkpoint with a head of its own: not dropped.
    safetensors.save(tmp_path / "h.safetensors",
                     dict(params, **{"lm_head.weight": params["wte.weight"] + 1}))
    with pytest.raises(hf.ExchangeError, match="lm_head.weight differs from wte"):
        hf.export(str(tmp_path / "h.safetensors"), TINY, str(tmp_path / "o"))
    # ... but a tied head written out is the embedding.
    safetensors.save(tmp_path / "t.safetensors",
                     dict(params, **{"lm_head.weight": params["wte.weight"]}))
    assert hf.export(str(tmp_path / "t.safetensors"), TINY,
                     str(tmp_path / "o")) == []
    safetensors.save(tmp_path / "x.safetensors",
                     dict(params, **{"h.1.ln_1.weight": np.ones(64, np.float32)}))
    with pytest.raises(hf.ExchangeError, match="does not have: \\['h.1.ln_1"):
        hf.export(str(tmp_path / "x.safetensors"), TINY, str(tmp_path / "o"))


def test_import_check_accepts_hub_names_and_buffers(tmp_path):
    # The Hub's gpt2 file: lmc's names (no prefix) and the attention's mask
    # buffers, which older transformers saved.
    cfg = TINY
    params = spread_params(cfg, 3)
    (tmp_path / "config.json").write_text(json.dumps(hf_gpt2.to_hf_config(cfg)))
    tensors = dict(params)
    tensors["h.0.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), np.float32))
    tensors["h.0.attn.masked_bias"] = np.array(-1e4, np.float32)
    safetensors.save(tmp_path / "model.safetensors", tensors)
    back, _, notes = hf.check_hf_dir(str(tmp_path), name="tiny")
    assert back == cfg
    assert notes == ["note: 2 non-parameter buffers (h.*.attn.bias, "
                     "h.*.attn.masked_bias) are not parameters; the trainer "
                     "ignores them"]
    # A tied head written out is accepted when it is the embedding.
    tensors = {hf_gpt2.hf_name(k): v for k, v in params.items()}
    safetensors.save(tmp_path / "model.safetensors",
                     dict(tensors, **{"lm_head.weight": params["wte.weight"]}))
    _, _, notes = hf.check_hf_dir(str(tmp_path))
    assert notes == ["note: lm_head.weight equals the tied embedding; the "
                     "trainer reads transformer.wte.weight"]
    safetensors.save(tmp_path / "model.safetensors",
                     dict(tensors, **{"lm_head.weight": params["wte.weight"] * 2}))
    with pytest.raises(hf.ExchangeError, match="differs from the embedding"):
        hf.check_hf_dir(str(tmp_path))
    del tensors["transformer.ln_f.bias"]
    safetensors.save(tmp_path / "model.safetensors", tensors)
    with pytest.raises(hf.ExchangeError,
                       match="missing \\['transformer.ln_f.bias'\\]"):
        hf.check_hf_dir(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(hf.ExchangeError, match="model_type 'bert' is not supported"):
        hf.check_hf_dir(str(tmp_path))


def test_cli_round_trip(run_cli, tmp_path):
    cfg = replace(TINY, tied=False)
    (tmp_path / "model.mlir").write_text(gpt2.emit_model(cfg))
    safetensors.save(tmp_path / "ckpt.safetensors", spread_params(cfg, 4))
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--model", tmp_path / "model.mlir", "-o", tmp_path / "hf")
    assert r.returncode == 0, r.stderr
    assert "1 layers" in r.stdout and "untied head" in r.stdout
    r = run_cli("lmc.hf", "import", "--hf-dir", tmp_path / "hf", "--name", "tiny",
                "-o", tmp_path / "back.mlir")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.mlir").read_text() == gpt2.emit_model(cfg)
    assert f"--init-from {tmp_path / 'hf' / 'model.safetensors'}" in r.stdout
    # The directory as the positional argument; the symbol by default gpt2.
    r = run_cli("lmc.hf", "import", tmp_path / "hf", "-o", tmp_path / "named.mlir")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "named.mlir").read_text().startswith("lmc.model @gpt2 {")
    r = run_cli("lmc.hf", "import", "-o", tmp_path / "none.mlir")
    assert r.returncode == 2 and "as DIR or --hf-dir" in r.stderr
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--config", tmp_path / "hf" / "config.json", "-o", tmp_path / "hf2")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "hf2" / "model.safetensors").read_bytes() == \
        (tmp_path / "hf" / "model.safetensors").read_bytes()
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--config", tmp_path / "hf" / "config.json", "--ctx", "32",
                "-o", tmp_path / "hf3")
    assert r.returncode == 1 and "n_positions" in r.stderr


def test_fixture_import_check():
    cfg, weights, notes = hf.check_hf_dir(FIXTURE)
    assert cfg.tied and cfg.n_head == 4 and cfg.ctx == 32 and notes[0].startswith(
        "note: dropout")
    expected, _ = safetensors.load(os.path.join(FIXTURE, "expected.safetensors"))
    tensors, _ = safetensors.load(weights)
    params = {n: tensors["transformer." + n] for n, _, _, _ in gpt2.param_specs(cfg)}
    # lmc's NumPy reference on transformers' own weights gives its logits.
    logits = ref.forward_logits(params, expected["tokens"], cfg)
    assert np.abs(logits - expected["logits"]).max() < 1e-9 * np.abs(logits).max() + 1e-9


@pytest.mark.parametrize("cfg", CONFIGS)
def test_from_pretrained_logits(tmp_path, cfg):
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (not part of "
        "utils/setup.sh); run by hand where it is")
    import torch
    params = spread_params(cfg, 5)
    safetensors.save(tmp_path / "ckpt.safetensors", params)
    hf.export(str(tmp_path / "ckpt.safetensors"), cfg, str(tmp_path / "hf"))
    model = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path / "hf"))
    model.eval()
    tokens = np.random.default_rng(6).integers(0, cfg.vocab, (2, cfg.ctx))
    want = ref.forward_logits(params, tokens, cfg)
    with torch.no_grad():
        got = model(torch.from_numpy(tokens)).logits.numpy().astype(np.float64)
    err = np.abs(got - want).max()
    print(f"{cfg.name} tied={cfg.tied} {cfg.activation}: from_pretrained float32 "
          f"logits vs NumPy f64: max abs {err:.3e} (max |logit| "
          f"{np.abs(want).max():.3g})")
    assert err < 1e-4 * max(1.0, np.abs(want).max())
    assert (got.argmax(-1) == want.argmax(-1)).mean() > 0.99


def test_export_refuses_a_head_of_its_own_for_a_tied_llama(tmp_path):
    # The same rule for the Llama family: a tied model's checkpoint with an
    # lm_head.weight of its own is an error, not a tensor dropped silently;
    # the embedding written out as lm_head.weight is accepted.
    from lmc import reference_llama as rl
    from lmc.models import llama
    cfg = replace(llama.PRESETS["tiny"], n_layer=1, tied=True)
    params = rl.init_params(cfg, 0)
    emb = params["model.embed_tokens.weight"]
    safetensors.save(tmp_path / "own.safetensors",
                     dict(params, **{"lm_head.weight": emb + 1}))
    with pytest.raises(hf.ExchangeError,
                       match="differs from model.embed_tokens.weight"):
        hf.export(str(tmp_path / "own.safetensors"), cfg, str(tmp_path / "o"))
    safetensors.save(tmp_path / "tied.safetensors",
                     dict(params, **{"lm_head.weight": emb}))
    assert hf.export(str(tmp_path / "tied.safetensors"), cfg,
                     str(tmp_path / "o")) == []
    tensors, _ = safetensors.load(tmp_path / "o" / "model.safetensors")
    assert "lm_head.weight" not in tensors
