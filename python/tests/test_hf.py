"""Tests for the Hugging Face exchange (lmc.hf): the config read back from a
model's text, export of a checkpoint, the import check of a directory."""

import json
import os
import shutil
from dataclasses import replace

import numpy as np
import pytest

from lmc import hf, safetensors
from lmc import reference_llama as rl
from lmc.models import llama
from lmc.models.llama import PRESETS, emit_model, param_specs

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "test", "e2e",
                       "Inputs", "hf-llama-tiny")
TINY = PRESETS["tiny"]


@pytest.mark.parametrize("cfg", [
    TINY,
    replace(TINY, tied=True, n_kv_head=4, rope_theta=500000.0, rms_eps=1e-6,
            dtype="f64", ctx=32),
    replace(TINY, n_kv_head=1, rope_theta=12345.678901, rms_eps=3.3333333e-6),
    PRESETS["smollm-135m"],
])
def test_config_from_model(cfg):
    text = emit_model(cfg)
    got = hf.config_from_model(text)
    assert got == replace(cfg, name="llama")
    # The ops alone say everything but the context.
    ops = hf.config_from_ops(text, ctx=cfg.ctx)
    assert replace(ops, rope_theta=cfg.rope_theta, rms_eps=cfg.rms_eps) == \
        replace(cfg, name="llama")
    assert ops.rope_theta == pytest.approx(cfg.rope_theta, rel=1e-6)


def test_config_from_model_without_comment():
    text = emit_model(TINY)
    body = text[text.index("lmc.model"):]
    # The context comes from the model's context_length ...
    assert hf.config_from_model(body) == replace(TINY, name="llama")
    # ... or, in a model that states none, from --ctx.
    bare = body.replace(" attributes {context_length = 64 : i64}", "", 1)
    assert bare != body
    with pytest.raises(hf.ExchangeError, match="give max_position_embeddings"):
        hf.config_from_model(bare)
    assert hf.config_from_model(bare, ctx=64) == replace(TINY, name="llama")
    assert hf.config_from_model(body, ctx=32) == replace(TINY, name="llama",
                                                          ctx=32)


def test_config_comment_must_agree_with_ops():
    text = emit_model(TINY)
    # A model edited by hand after the builder wrote it: kv_heads changed.
    edited = text.replace("kv_heads(2)", "kv_heads(1)").replace(
        "tensor<32x64xf32>", "tensor<16x64xf32>").replace(
        "tensor<?x?x32xf32>", "tensor<?x?x16xf32>")
    with pytest.raises(hf.ExchangeError,
                       match="disagrees with its ops .*n_kv_head: comment 2, ops 1"):
        hf.config_from_model(edited)
    edited = text.replace("eps(1.000000e-05)", "eps(1.000000e-06)")
    with pytest.raises(hf.ExchangeError, match="rms_eps"):
        hf.config_from_model(edited)
    # Two values where a LlamaConfig has one.
    edited = text.replace("eps(1.000000e-05)", "eps(1.000000e-06)", 1)
    with pytest.raises(hf.ExchangeError, match="lmc.rms_norm eps differ"):
        hf.config_from_model(edited)


def test_config_from_ops_rejects_other_models():
    from lmc.models import gpt2
    with pytest.raises(hf.ExchangeError, match="embed_tokens"):
        hf.config_from_model(gpt2.emit_model(gpt2.PRESETS["tiny"]), ctx=64)


def test_export(tmp_path):
    cfg = replace(TINY, n_layer=1)
    params = rl.init_params(cfg, 3)
    ckpt = dict(params)
    # A trainer checkpoint also holds the moments; they stay behind.
    ckpt.update({"exp_avg." + k: np.zeros_like(v) for k, v in params.items()})
    ckpt.update({"exp_avg_sq." + k: np.zeros_like(v) for k, v in params.items()})
    safetensors.save(tmp_path / "ckpt.safetensors", ckpt, {"format": "lmc"})
    (tmp_path / "model.mlir").write_text(emit_model(cfg))
    cfg_back = hf.config_from_model((tmp_path / "model.mlir").read_text())
    assert hf.export(str(tmp_path / "ckpt.safetensors"), cfg_back,
                     str(tmp_path / "out")) == []
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["model_type"] == "llama" and config["torch_dtype"] == "float32"
    assert config["num_key_value_heads"] == 2 and config["intermediate_size"] == 172
    assert config["tie_word_embeddings"] is False
    assert config["max_position_embeddings"] == 64
    tensors, meta = safetensors.load(tmp_path / "out" / "model.safetensors")
    assert meta == {"format": "pt"}
    assert sorted(tensors) == sorted(s[0] for s in param_specs(cfg))
    assert all(np.array_equal(tensors[k], params[k]) for k in params)
    assert all(t.dtype == np.float32 for t in tensors.values())
    # And back: the directory imports to the same model.
    cfg2, weights, notes = hf.check_hf_dir(str(tmp_path / "out"))
    assert replace(cfg2, name=cfg.name) == cfg and notes == []


def test_export_tied_f64_omits_head(tmp_path):
    cfg = replace(TINY, n_layer=1, tied=True, dtype="f64")
    params = rl.init_params(cfg, 1)
    safetensors.save(tmp_path / "p.safetensors", params)
    notes = hf.export(str(tmp_path / "p.safetensors"), cfg, str(tmp_path / "o"))
    assert any("float32" in n for n in notes)
    tensors, _ = safetensors.load(tmp_path / "o" / "model.safetensors")
    assert "lm_head.weight" not in tensors
    np.testing.assert_array_equal(tensors["model.norm.weight"],
                                  params["model.norm.weight"].astype(np.float32))


def test_export_errors(tmp_path):
    cfg = replace(TINY, n_layer=1)
    params = rl.init_params(cfg, 1)
    bad = dict(params)
    del bad["model.norm.weight"]
    safetensors.save(tmp_path / "a.safetensors", bad)
    with pytest.raises(hf.ExchangeError, match="no tensor 'model.norm.weight'"):
        hf.export(str(tmp_path / "a.safetensors"), cfg, str(tmp_path / "o"))
    bad = dict(params, **{"model.norm.weight": np.ones(3, np.float32)})
    safetensors.save(tmp_path / "b.safetensors", bad)
    with pytest.raises(hf.ExchangeError, match="has shape"):
        hf.export(str(tmp_path / "b.safetensors"), cfg, str(tmp_path / "o"))
    bad = dict(params, **{"wpe.weight": np.ones(3, np.float32)})
    safetensors.save(tmp_path / "c.safetensors", bad)
    with pytest.raises(hf.ExchangeError, match="does not have"):
        hf.export(str(tmp_path / "c.safetensors"), cfg, str(tmp_path / "o"))


def test_import_check_of_the_fixture(tmp_path):
    cfg, weights, notes = hf.check_hf_dir(FIXTURE)
    assert cfg.tied and cfg.n_kv_head == 2 and cfg.rope_theta == 50000.0
    assert cfg.rms_eps == 1e-6 and notes == []
    # A directory whose weights are not its config's model.
    shutil.copy(os.path.join(FIXTURE, "model.safetensors"), tmp_path)
    config = json.loads(open(os.path.join(FIXTURE, "config.json")).read())
    (tmp_path / "config.json").write_text(json.dumps(
        dict(config, intermediate_size=48)))
    with pytest.raises(hf.ExchangeError, match="has shape"):
        hf.check_hf_dir(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps(
        dict(config, tie_word_embeddings=False)))
    with pytest.raises(hf.ExchangeError, match="missing \\['lm_head.weight'\\]"):
        hf.check_hf_dir(str(tmp_path))


def test_cli_export_and_import(run_cli, tmp_path):
    cfg = replace(TINY, n_layer=1)
    (tmp_path / "model.mlir").write_text(emit_model(cfg))
    safetensors.save(tmp_path / "ckpt.safetensors", rl.init_params(cfg, 0))
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--model", tmp_path / "model.mlir", "-o", tmp_path / "hf")
    assert r.returncode == 0, r.stderr
    assert "1 layers" in r.stdout and "untied head" in r.stdout
    r = run_cli("lmc.hf", "import", "--hf-dir", tmp_path / "hf", "--name", "tiny",
                "-o", tmp_path / "back.mlir")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.mlir").read_text() == emit_model(cfg)
    assert f"--init-from {tmp_path / 'hf' / 'model.safetensors'}" in r.stdout
    # --config instead of --model.
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--config", tmp_path / "hf" / "config.json", "-o", tmp_path / "hf2")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "hf2" / "model.safetensors").read_bytes() == \
        (tmp_path / "hf" / "model.safetensors").read_bytes()
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "missing",
                "--model", tmp_path / "model.mlir", "-o", tmp_path / "x")
    assert r.returncode == 1 and r.stderr.startswith("error:")


def _runner_output(logits, dtype="f32"):
    """What the logits_case driver prints for these logits [B, T, V]."""
    import struct
    lines = []
    B, T, V = logits.shape
    for t in range(1, T + 1):
        for b in range(B):
            for v in range(V):
                x = float(logits[b, t - 1, v])
                bits = (struct.unpack("<i", struct.pack("<f", x))[0] if dtype == "f32"
                        else struct.unpack("<q", struct.pack("<d", x))[0])
                lines.append(f"logits {t} {bits}")
    return "\n".join(lines) + "\n"


def test_logits_case(tmp_path):
    from lmc.testing import logits_case
    expected = os.path.join(FIXTURE, "expected.safetensors")
    path = logits_case.write(FIXTURE, expected, str(tmp_path))
    text = open(path).read()
    assert text.count("= func.call @logits(") == 16
    assert "func.func private @logits(" in text and "-> tensor<?x256xf32>" in text
    assert "%tok16_c = arith.constant dense<[[" in text
    assert text.startswith(llama.HF_CONFIG_COMMENT)
    _, logits = logits_case.read_expected(expected)
    ok, lines = logits_case.check(expected, _runner_output(logits), "f32",
                                  1e-5, 1e-4)
    assert ok and lines[-1].startswith("PASS: 16 prefixes x 2 x 256 logits")
    wrong = logits.copy()
    wrong[1, 4, 17] += 1e-3
    ok, lines = logits_case.check(expected, _runner_output(wrong), "f32",
                                  1e-5, 1e-4)
    assert not ok
    assert "prefix 5:" in lines[4] and "MISMATCH at batch 1 token 17" in lines[4]
    ok, lines = logits_case.check(expected, _runner_output(logits[:, :15]),
                                  "f32", 1e-5, 1e-4)
    assert not ok and "prefixes 1..16" in lines[0]


def test_import_check_of_bf16_weights(tmp_path):
    # Hugging Face checkpoints are often bfloat16: checked, with a note.
    import struct
    shutil.copy(os.path.join(FIXTURE, "config.json"), tmp_path)
    tensors, _ = safetensors.load(os.path.join(FIXTURE, "model.safetensors"))
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = (a.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(
        struct.pack("<Q", len(text)) + text + b"".join(blobs))
    cfg, _, notes = hf.check_hf_dir(str(tmp_path))
    assert cfg.tied and notes == ["note: the weights are stored as BF16; the "
                                  "model is f32 (they are widened when loaded)"]
