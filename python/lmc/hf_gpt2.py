"""GPT-2 models of lmc.models.gpt2 as Hugging Face's GPT2LMHeadModel.

lmc's GPT-2 parameters are GPT2Model's: the same names (without
GPT2LMHeadModel's prefix `transformer.`) and layouts (Conv1D weights
[in, out], the fused QKV c_attn), so tensors move without conversion; an
untied head is GPT2LMHeadModel's `lm_head.weight` [vocab, n_embd] (no
prefix). lmc's GELU is the tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi)
(x + 0.044715 x^3))): Hugging Face's `gelu_new` (GPT-2's own; also
`gelu_pytorch_tanh`, the same function); lmc's SiLU variant is `silu`.

What GPT2Config can say that lmc's GPT-2 cannot -- and is refused on import,
naming the field: a layer_norm_epsilon other than 1e-5, n_inner other than
4 n_embd, an activation other than the above, scale_attn_weights false,
scale_attn_by_inverse_layer_idx, cross attention. What lmc can say that
GPT2Config cannot -- refused on export: linear layers without biases
(--no-bias; Conv1D always has one). Dropout (attn_pdrop, embd_pdrop,
resid_pdrop; 0.1 by default in transformers) is a training setting lmc does
not model: import accepts it with a note, export writes 0.0.
"""

from __future__ import annotations

import re

from lmc.models import gpt2

HF_PREFIX = "transformer."
# lmc activation -> GPT2Config.activation_function, and the names that
# Hugging Face gives lmc's functions.
TO_HF_ACTIVATION = {"gelu": "gelu_new", "silu": "silu"}
FROM_HF_ACTIVATION = {"gelu_new": "gelu", "gelu_pytorch_tanh": "gelu",
                      "silu": "silu", "swish": "silu"}
# Non-parameter buffers GPT2Attention has written (older transformers, the
# Hub's gpt2 file): the causal mask and its fill value.
BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")
GPT2_EOT = 50256  # <|endoftext|> of GPT-2's tokenizer (vocab 50257)

_PARAM_RE = re.compile(r'^\s*lmc\.param\s+@"([^"]+)"\s*:\s*tensor<([0-9x]+)x(f32|f64)>',
                       re.M)
_ATTN_RE = re.compile(r"lmc\.(?:causal|flash)_attention\b[^\n]*?\bheads\((\d+)\)")
_LN_RE = re.compile(r"lmc\.layer_norm\b[^\n]*?\beps\(([^)]+)\)")
_ACT_RE = re.compile(r"=\s*lmc\.(gelu|silu)\b([^:\n]*)")
_LAYER_RE = re.compile(r"^h\.(\d+)\.")
# The real vocabulary of a loss over padded logits.
CLASSES_RE = re.compile(r"lmc\.cross_entropy\b[^\n]*?\bclasses\((\d+)\)")


class ConfigError(ValueError):
    """A model or config GPT2LMHeadModel and lmc's GPT-2 do not share."""


def hf_name(name: str) -> str:
    """The name GPT2LMHeadModel.save_pretrained gives lmc's parameter."""
    return name if name == "lm_head.weight" else HF_PREFIX + name


def is_gpt2_text(text: str) -> bool:
    return '@"wte.weight"' in text


def one_value(values: set, what: str, config: str = "GPT2Config",
              error: type = ConfigError):
    """The one value of `values` (read from a model's ops), which a Hugging
    Face `config` holds once; raises `error` when there is none or several."""
    if not values:
        raise error(f"the model has no {what}")
    if len(values) > 1:
        raise error(f"the model's {what} differ ({sorted(values)}): a "
                    f"Hugging Face {config} has one value")
    return next(iter(values))



def vocab_of(text: str, rows: int) -> tuple[int, int]:
    """(vocabulary, padded_vocab) of a model whose embedding has `rows` rows:
    the loss's classes(N) when it has one (a padded vocabulary), else
    (rows, 0)."""
    classes = {int(m[1]) for m in CLASSES_RE.finditer(text)}
    if not classes:
        return rows, 0
    vocab = one_value(classes, "lmc.cross_entropy classes")
    return vocab, (rows if rows != vocab else 0)


def config_from_model(text: str, *, ctx: int | None = None,
                      name: str = "gpt2") -> gpt2.GPT2Config:
    """The GPT2Config of a model's text (lmc.models.gpt2's output): its
    parameters give vocabulary, context, width, layers, tying and biases,
    lmc.causal_attention the heads, the MLP's lmc.gelu/lmc.silu the
    activation; lmc.layer_norm must have lmc's eps. The parameters must be
    exactly those the builder declares for that config."""
    params = {m[1]: (tuple(int(d) for d in m[2].split("x")), m[3])
              for m in _PARAM_RE.finditer(text)}
    if "wte.weight" not in params or "wpe.weight" not in params:
        raise ConfigError("the model has no parameters wte.weight and "
                          "wpe.weight: not a GPT-2 model of lmc.models.gpt2")
    (rows, d_model), dtype = params["wte.weight"]
    vocab, padded = vocab_of(text, rows)
    n_ctx = params["wpe.weight"][0][0]
    if ctx is not None and ctx != n_ctx:
        raise ConfigError(f"--ctx {ctx}: the model's position table "
                          f"wpe.weight has {n_ctx} rows")
    layers = {int(m[1]) for n in params if (m := _LAYER_RE.match(n))}
    n_layer = len(layers)
    if n_layer == 0 or layers != set(range(n_layer)):
        raise ConfigError("the model's layers are not h.0 .. h.N-1")
    n_head = int(one_value({m[1] for m in _ATTN_RE.finditer(text)},
                      "attention heads"))
    acts = {(m[1], "tanh" in m[2]) for m in _ACT_RE.finditer(text)}
    act, tanh = one_value(acts, "MLP activations (lmc.gelu / lmc.silu)")
    if act == "gelu" and not tanh:
        raise ConfigError("the model's lmc.gelu is the exact (erf) GELU: "
                          "lmc.models.gpt2 writes the tanh one")
    eps = float(one_value({m[1] for m in _LN_RE.finditer(text)},
                     "lmc.layer_norm eps"))
    if abs(eps - gpt2.LN_EPS) > 1e-6 * gpt2.LN_EPS:
        raise ConfigError(f"the model's lmc.layer_norm eps is {eps:g}, "
                          f"lmc.models.gpt2's is {gpt2.LN_EPS:g}")
    cfg = gpt2.GPT2Config(
        vocab=vocab, ctx=n_ctx, n_layer=n_layer, n_head=n_head,
        d_model=d_model, dtype=dtype, name=name,
        tied="lm_head.weight" not in params,
        bias="h.0.attn.c_attn.bias" in params, activation=act,
        padded_vocab=padded)
    try:
        cfg.validate()
    except ValueError as e:
        raise ConfigError(f"the model's ops give an unusable config: {e}")
    want = {n: (s, dtype) for n, s, _, _ in gpt2.param_specs(cfg)}
    if want != params:
        diff = sorted(set(want.items()) ^ set(params.items()))
        raise ConfigError("the model's parameters are not those of a GPT-2 "
                          f"of its shape; differing: {diff[:4]}")
    return cfg


def to_hf_config(cfg: gpt2.GPT2Config) -> dict:
    """The Hugging Face GPT2Config (config.json) of the model."""
    if not cfg.bias:
        raise ConfigError("the model's linear layers have no biases "
                          "(lmc.models.gpt2 --no-bias): GPT2LMHeadModel's "
                          "Conv1D layers always have one")
    eot = GPT2_EOT if cfg.vocab == GPT2_EOT + 1 else None
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": cfg.vocab,
        "n_positions": cfg.ctx,
        "n_ctx": cfg.ctx,
        "n_embd": cfg.d_model,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_inner": None,
        "activation_function": TO_HF_ACTIVATION[cfg.activation],
        "layer_norm_epsilon": gpt2.LN_EPS,
        "tie_word_embeddings": cfg.tied,
        "attn_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "resid_pdrop": 0.0,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "initializer_range": gpt2.INIT_STD,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "use_cache": True,
        "torch_dtype": "float32",
    }


def _int(hf: dict, key: str, default=None) -> int:
    value = hf.get(key, default)
    if value is None:
        raise ConfigError(f"config has no {key!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"config field {key!r} must be an integer, got {value!r}")
    return value


def from_hf_config(hf: dict, *, dtype: str = "f32",
                   name: str = "gpt2") -> tuple[gpt2.GPT2Config, list[str]]:
    """The GPT2Config of a Hugging Face config.json (a dict), and notes.

    Missing fields take GPT2Config's defaults in `transformers` (vocab
    50257, 1024 positions, 768 wide, 12 layers, 12 heads, gelu_new, eps
    1e-5, tied). Raises ConfigError, naming the field, for what lmc's GPT-2
    cannot express (see the module's docstring).
    """
    if not isinstance(hf, dict):
        raise ConfigError("config.json must hold a JSON object")
    if hf.get("model_type", "gpt2") != "gpt2":
        raise ConfigError(f"model_type {hf['model_type']!r} is not gpt2")
    act = hf.get("activation_function", "gelu_new")
    if act not in FROM_HF_ACTIVATION:
        raise ConfigError(f"activation_function {act!r} is not supported: "
                          "lmc's GPT-2 MLP is gelu_new (tanh GELU) or silu")
    eps = hf.get("layer_norm_epsilon", 1e-5)
    if not isinstance(eps, (int, float)) or abs(eps - gpt2.LN_EPS) > 1e-9:
        raise ConfigError(f"layer_norm_epsilon {eps!r} is not supported: "
                          f"lmc's GPT-2 LayerNorm eps is {gpt2.LN_EPS:g}")
    for key, ok in (("scale_attn_weights", True),
                    ("scale_attn_by_inverse_layer_idx", False),
                    ("add_cross_attention", False)):
        if hf.get(key, ok) != ok:
            raise ConfigError(f"{key} {hf[key]!r} is not supported: lmc's "
                              f"GPT-2 needs {str(ok).lower()}")
    tied = hf.get("tie_word_embeddings", True)
    if not isinstance(tied, bool):
        raise ConfigError("config field 'tie_word_embeddings' must be a "
                          f"boolean, got {tied!r}")
    positions = hf.get("n_positions", hf.get("n_ctx", 1024))
    hf_pos = dict(hf, n_positions=positions)
    d_model = _int(hf, "n_embd", 768)
    inner = hf.get("n_inner")
    if inner is not None and inner != 4 * d_model:
        raise ConfigError(f"n_inner {inner!r} is not supported: lmc's GPT-2 "
                          f"MLP is 4 * n_embd = {4 * d_model} wide")
    cfg = gpt2.GPT2Config(
        vocab=_int(hf, "vocab_size", 50257), ctx=_int(hf_pos, "n_positions"),
        n_layer=_int(hf, "n_layer", 12), n_head=_int(hf, "n_head", 12),
        d_model=d_model, dtype=dtype, name=name, tied=tied, bias=True,
        activation=FROM_HF_ACTIVATION[act])
    try:
        cfg.validate()
    except ValueError as e:
        raise ConfigError(str(e))
    notes = []
    dropout = {k: hf.get(k, 0.1) for k in ("attn_pdrop", "embd_pdrop",
                                           "resid_pdrop")}
    if any(v not in (0, 0.0, None) for v in dropout.values()):
        notes.append("note: dropout (" + ", ".join(
            f"{k} {v:g}" for k, v in dropout.items()) + ") is not modelled: "
            "lmc trains without dropout")
    return cfg, notes
