"""Tests for the builders' vocabulary padding (--pad-vocab, padded_vocab)
and its Hugging Face exchange, which keeps the real vocabulary."""

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from lmc import hf, safetensors
from lmc import reference_llama as rl
from lmc.models import gpt2, llama, pad_vocab, padded_size

CLASSES_RE = re.compile(r"lmc\.cross_entropy %logits, %targets classes\((\d+)\) : "
                        r"tensor<\?x\?x(\d+)x")


def test_padded_size():
    assert padded_size(50257, 64) == 50304
    assert padded_size(256, 64) == 256
    assert padded_size(251, 64) == 256
    assert padded_size(1, 8) == 8
    with pytest.raises(ValueError, match="positive integer"):
        padded_size(100, 0)


@pytest.mark.parametrize("module", [gpt2, llama])
def test_pad_vocab_rows_and_loss(module):
    cfg = replace(module.PRESETS["tiny"], vocab=251)
    padded = pad_vocab(cfg, 64)
    assert padded.padded_vocab == 256 and padded.rows == 256 and padded.vocab == 251
    text = module.emit_model(padded)
    # The embedding and the head have the padded rows; the loss masks them.
    shapes = {n: s for n, s, _, _ in module.param_specs(padded)}
    assert shapes[cfg.head_name if cfg.tied else "lm_head.weight"][0] == 256
    assert [m.groups() for m in CLASSES_RE.finditer(text)] == [("251", "256")]
    # Without padding nothing changes: no classes, the stock text.
    assert "classes(" not in module.emit_model(cfg)
    assert pad_vocab(module.PRESETS["tiny"], 64) == module.PRESETS["tiny"]
    assert module.emit_model(pad_vocab(module.PRESETS["tiny"], 64)) == \
        module.emit_model(module.PRESETS["tiny"])


def test_gpt2_124m_pads_to_50304():
    cfg = pad_vocab(gpt2.PRESETS["gpt2-124M"], 64)
    assert cfg.padded_vocab == 50304
    specs = {n: s for n, s, _, _ in gpt2.param_specs(cfg)}
    assert specs["wte.weight"] == (50304, 768)
    assert gpt2.num_params(cfg) - gpt2.num_params(gpt2.PRESETS["gpt2-124M"]) == 47 * 768


@pytest.mark.parametrize("module", [gpt2, llama])
def test_invalid_padded_vocab(module):
    with pytest.raises(ValueError, match=r"padded_vocab \(200\) must be at least vocab \(256\)"):
        module.emit_model(replace(module.PRESETS["tiny"], padded_vocab=200))


@pytest.mark.parametrize("prog", ["lmc.models.gpt2", "lmc.models.llama"])
def test_cli_pad_vocab(run_cli, prog):
    module = gpt2 if prog.endswith("gpt2") else llama
    r = run_cli(prog, "--preset", "tiny", "--vocab", "251", "--pad-vocab", "64", "-o", "-")
    assert r.returncode == 0, r.stderr
    assert r.stdout == module.emit_model(
        pad_vocab(replace(module.PRESETS["tiny"], vocab=251), 64))
    # The default is unchanged: no padding.
    r = run_cli(prog, "--preset", "tiny", "--vocab", "251", "-o", "-")
    assert r.returncode == 0 and "classes(" not in r.stdout
    r = run_cli(prog, "--preset", "tiny", "--pad-vocab", "0")
    assert r.returncode == 2 and "--pad-vocab" in r.stderr


def test_config_from_model_reads_the_real_vocabulary():
    g = pad_vocab(replace(gpt2.PRESETS["tiny"], vocab=251, name="gpt2"), 64)
    assert hf.model_config(gpt2.emit_model(g)) == g
    lm = pad_vocab(replace(llama.PRESETS["tiny"], vocab=251, name="llama"), 64)
    assert hf.model_config(llama.emit_model(lm)) == lm


@pytest.mark.parametrize("tied", [False, True])
def test_llama_hf_round_trip_keeps_the_real_vocabulary(tmp_path, run_cli, tied):
    """A padded Llama exports its real vocabulary (the trainer's checkpoints
    hold the real rows), and `import --pad-vocab` pads it again."""
    real = replace(llama.PRESETS["tiny"], vocab=251, n_layer=1, tied=tied)
    padded = pad_vocab(real, 64)
    params = rl.init_params(real, 3)  # as a checkpoint holds them: 251 rows
    safetensors.save(tmp_path / "ckpt.safetensors", params)
    (tmp_path / "model.mlir").write_text(llama.emit_model(padded))
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--model", tmp_path / "model.mlir", "-o", tmp_path / "hf")
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["vocab_size"] == 251
    tensors, _ = safetensors.load(tmp_path / "hf" / "model.safetensors")
    assert tensors["model.embed_tokens.weight"].shape == (251, 64)
    assert all(np.array_equal(tensors[k], params[k]) for k in params)
    r = run_cli("lmc.hf", "import", tmp_path / "hf", "--name", "tiny",
                "--pad-vocab", "64", "-o", tmp_path / "back.mlir")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.mlir").read_text() == llama.emit_model(
        replace(padded, name="tiny"))
    r = run_cli("lmc.hf", "import", tmp_path / "hf", "--name", "tiny",
                "-o", tmp_path / "plain.mlir")
    assert r.returncode == 0 and "classes(" not in (tmp_path / "plain.mlir").read_text()


def test_gpt2_hf_export_of_a_padded_model(tmp_path, run_cli):
    real = replace(gpt2.PRESETS["tiny"], vocab=251, n_layer=1)
    rng = np.random.default_rng(0)
    params = {n: rng.standard_normal(s).astype(np.float32)
              for n, s, _, _ in gpt2.param_specs(real)}
    safetensors.save(tmp_path / "ckpt.safetensors", params)
    (tmp_path / "model.mlir").write_text(gpt2.emit_model(pad_vocab(real, 64)))
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "ckpt.safetensors",
                "--model", tmp_path / "model.mlir", "-o", tmp_path / "hf")
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["vocab_size"] == 251
    tensors, _ = safetensors.load(tmp_path / "hf" / "model.safetensors")
    assert tensors["transformer.wte.weight"].shape == (251, 64)
    # A checkpoint with the padded rows is not the model's (its tensors are
    # the real rows).
    padded_params = dict(params, **{"wte.weight": np.zeros((256, 64), np.float32)})
    safetensors.save(tmp_path / "bad.safetensors", padded_params)
    r = run_cli("lmc.hf", "export", "--checkpoint", tmp_path / "bad.safetensors",
                "--model", tmp_path / "model.mlir", "-o", tmp_path / "hf2")
    assert r.returncode == 1 and "(256, 64), the model (251, 64)" in r.stderr


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_reference_of_a_padded_model(family):
    """The NumPy training step of a padded model: the unpadded loss and
    gradients, zero gradients in the padding rows."""
    from lmc import reference as rg
    from lmc import reference_train as rtr
    module = gpt2 if family == "gpt2" else llama
    real = replace(module.PRESETS["tiny"], vocab=251, n_layer=1,
                   tied=(family == "gpt2"))
    padded = pad_vocab(real, 64)
    init = rg.init_params if family == "gpt2" else rl.init_params
    params = init(real, 4)
    big = {}
    for n, s, _, _ in module.param_specs(padded):
        a = np.zeros(s)
        a[tuple(slice(0, d) for d in params[n].shape)] = params[n]
        big[n] = a
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 251, size=(2, 8))
    targets = rng.integers(0, 251, size=(2, 8))
    step = rtr.forward_backward if family == "gpt2" else rl.forward_backward
    loss, grads = step(params, tokens, targets, real)
    ploss, pgrads = step(big, tokens, targets, padded)
    assert ploss == pytest.approx(loss, rel=1e-12)
    padded_rows = 0
    for n, g in grads.items():
        np.testing.assert_allclose(pgrads[n][tuple(slice(0, d) for d in g.shape)], g,
                                   rtol=1e-10, atol=1e-14)
        if pgrads[n].shape != g.shape:
            padded_rows += 1
            assert not np.any(pgrads[n][g.shape[0]:]), n
    assert padded_rows == (1 if family == "gpt2" else 2)
    forward = rg.forward_logits if family == "gpt2" else rl.forward_logits
    assert forward(big, tokens, padded).shape == (2, 8, 251)
