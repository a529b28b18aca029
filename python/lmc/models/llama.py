"""Emit lmc dialect MLIR text for a Llama-family model.

Usage: python3 -m lmc.models.llama --preset tiny -o tiny.mlir
       python3 -m lmc.models.llama --from-hf-config config.json -o model.mlir

The model is Hugging Face's LlamaForCausalLM (RMSNorm, rotary position
embeddings in the rotate-half convention, grouped-query attention, a SwiGLU
MLP, linear layers without biases, an LM head tied to the token embedding or
not), with Hugging Face's parameter names and layouts (nn.Linear weights are
[out, in] and read with `lmc.matmul ... transpose_b`), so that a
`model.safetensors` moves between lmc and `transformers` with no conversion:

    x = embed_tokens[tokens]
    per layer:  h = rms_norm(x, input_layernorm)
                q = rope(h q_proj^T), k = rope(h k_proj^T), v = h v_proj^T
                x = x + causal_attention(q, k, v, heads, kv_heads) o_proj^T
                h = rms_norm(x, post_attention_layernorm)
                x = x + (silu(h gate_proj^T) * (h up_proj^T)) down_proj^T
    logits = rms_norm(x, norm) head^T      (head = embed_tokens or lm_head)
    loss = cross_entropy(logits, targets)

The emitted file opens with a comment holding the Hugging Face LlamaConfig of
the model (`// lmc.llama.hf_config: {...}`), which `python3 -m lmc.hf export`
reads back (and checks against the ops of the model).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace

from lmc.models.mlir_text import (SYMBOL_RE, Body, check_padded_vocab,
                                  classes_suffix, pad_vocab, param_decl,
                                  positive_int, tensor_type)

INIT_STD = 0.02  # Hugging Face's initializer_range: every linear and the embedding
DTYPES = ("f32", "f64")
DEFAULT_ROPE_THETA = 10000.0
DEFAULT_RMS_EPS = 1e-5
# The comment that carries the Hugging Face config in an emitted model.
HF_CONFIG_COMMENT = "// lmc.llama.hf_config: "



@dataclass(frozen=True)
class LlamaConfig:
    """Model hyperparameters; `name` is the symbol of the lmc.model op.

    `n_kv_head` key/value heads serve `n_head` query heads (grouped-query
    attention; MQA when 1, plain multi-head attention when equal). `ffn` is
    the width of the SwiGLU MLP (Hugging Face's intermediate_size). `tied`:
    the LM head reads model.embed_tokens.weight; otherwise it is its own
    parameter lm_head.weight [vocab, d_model]. `ctx` is the longest sequence
    (max_position_embeddings): RoPE has no table, so nothing in the
    parameters depends on it.

    `padded_vocab` (0: none): the embedding and the LM head have this many
    rows (at least `vocab`; lmc.models.mlir_text.pad_vocab), the loss masks
    the logits past `vocab` (lmc.cross_entropy classes(vocab)), and the
    trainer's checkpoints hold the real `vocab` rows. Hugging Face's config
    says nothing of it (vocab_size is `vocab`).
    """

    vocab: int
    ctx: int
    n_layer: int
    n_head: int
    n_kv_head: int
    d_model: int
    ffn: int
    rope_theta: float = DEFAULT_ROPE_THETA
    rms_eps: float = DEFAULT_RMS_EPS
    tied: bool = False
    dtype: str = "f32"
    name: str = "llama"
    padded_vocab: int = 0

    def validate(self) -> "LlamaConfig":
        """Raise ValueError if the configuration is unusable; return self."""
        for field in ("vocab", "ctx", "n_layer", "n_head", "n_kv_head",
                      "d_model", "ffn"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{field} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"n_head ({self.n_head}) must divide d_model ({self.d_model})")
        check_padded_vocab(self.vocab, self.padded_vocab)
        if self.n_head % self.n_kv_head != 0:
            raise ValueError(f"n_kv_head ({self.n_kv_head}) must divide "
                             f"n_head ({self.n_head})")
        if self.head_dim % 2 != 0:
            raise ValueError(f"the head dimension d_model / n_head "
                             f"({self.head_dim}) must be even for RoPE")
        for field in ("rope_theta", "rms_eps"):
            value = getattr(self, field)
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not math.isfinite(value) or value <= 0):
                raise ValueError(f"{field} must be a positive number, got {value!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not SYMBOL_RE.match(self.name):
            raise ValueError(f"name {self.name!r} is not a valid MLIR symbol name")
        return self

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def rows(self) -> int:
        """The rows of the embedding and the LM head: the padded vocabulary,
        or the vocabulary when it is not padded."""
        return self.padded_vocab or self.vocab

    @property
    def kv_dim(self) -> int:
        """Channels of k and v: n_kv_head * head_dim."""
        return self.n_kv_head * self.head_dim

    @property
    def head_name(self) -> str:
        """The parameter the LM head reads ([vocab, d_model], transposed)."""
        return "model.embed_tokens.weight" if self.tied else "lm_head.weight"


# tiny and mini keep Hugging Face's defaults of Llama 2 (theta 10000, RMS eps
# 1e-5) and an untied head, so that the stock small models exercise an LM
# head of its own; smollm-135m is SmolLM-135M's shape (tied).
PRESETS: dict[str, LlamaConfig] = {
    "tiny": LlamaConfig(vocab=256, ctx=64, n_layer=2, n_head=4, n_kv_head=2,
                        d_model=64, ffn=172, name="tiny"),
    "mini": LlamaConfig(vocab=8192, ctx=256, n_layer=6, n_head=6, n_kv_head=2,
                        d_model=384, ffn=1024, name="mini"),
    "smollm-135m": LlamaConfig(vocab=49152, ctx=2048, n_layer=30, n_head=9,
                               n_kv_head=3, d_model=576, ffn=1536,
                               rope_theta=10000.0, rms_eps=1e-5, tied=True,
                               name="smollm_135m"),
}


def param_specs(cfg: LlamaConfig) -> list[tuple[str, tuple[int, ...], str, float | None]]:
    """(name, shape, init kind, std) for every parameter, in declaration order.

    Names and shapes are Hugging Face LlamaForCausalLM's (linear weights
    [out, in]); lm_head.weight comes last and only when the head is untied.
    Initialisation is Hugging Face's: normal(0, 0.02) for the embedding and
    every linear layer, ones for the RMSNorm weights.
    """
    C, V, F, KV = cfg.d_model, cfg.rows, cfg.ffn, cfg.kv_dim
    specs = [("model.embed_tokens.weight", (V, C), "normal", INIT_STD)]
    for i in range(cfg.n_layer):
        p = f"model.layers.{i}."
        specs += [
            (p + "input_layernorm.weight", (C,), "ones", None),
            (p + "self_attn.q_proj.weight", (C, C), "normal", INIT_STD),
            (p + "self_attn.k_proj.weight", (KV, C), "normal", INIT_STD),
            (p + "self_attn.v_proj.weight", (KV, C), "normal", INIT_STD),
            (p + "self_attn.o_proj.weight", (C, C), "normal", INIT_STD),
            (p + "post_attention_layernorm.weight", (C,), "ones", None),
            (p + "mlp.gate_proj.weight", (F, C), "normal", INIT_STD),
            (p + "mlp.up_proj.weight", (F, C), "normal", INIT_STD),
            (p + "mlp.down_proj.weight", (C, F), "normal", INIT_STD),
        ]
    specs.append(("model.norm.weight", (C,), "ones", None))
    if not cfg.tied:
        specs.append(("lm_head.weight", (V, C), "normal", INIT_STD))
    return specs


def num_params(cfg: LlamaConfig) -> int:
    """Total number of scalar parameters (a tied LM head counted once)."""
    return sum(math.prod(shape) for _, shape, _, _ in param_specs(cfg))


def flops_per_token(cfg: LlamaConfig) -> dict[str, int]:
    """Forward FLOPs per token: matmuls, attention at T=ctx, and their total.

    Matmuls: 2 per weight of q, k, v, o, gate, up, down and the head. The
    attention's scores and weighted sum: 2 * 2 * T * (n_head * head_dim)
    per layer (grouped-query attention shares k and v, not the work).
    """
    C, L, V, T = cfg.d_model, cfg.n_layer, cfg.rows, cfg.ctx
    per_layer_kn = 2 * C * C + 2 * C * cfg.kv_dim + 3 * C * cfg.ffn
    matmul = 2 * (per_layer_kn * L + C * V)
    attention = 4 * L * T * C
    return {"matmul": matmul, "attention": attention, "total": matmul + attention}


# ---------------------------------------------------------------------------
# Hugging Face LlamaConfig
# ---------------------------------------------------------------------------

def to_hf_config(cfg: LlamaConfig) -> dict:
    """The Hugging Face LlamaConfig (config.json) of the model."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab,
        "max_position_embeddings": cfg.ctx,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.n_kv_head,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "rope_theta": float(cfg.rope_theta),
        "rope_scaling": None,
        "rms_norm_eps": float(cfg.rms_eps),
        "tie_word_embeddings": cfg.tied,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "pretraining_tp": 1,
        "initializer_range": INIT_STD,
        "use_cache": True,
        "torch_dtype": "float32",
    }


def _hf_int(hf: dict, key: str, default=None) -> int:
    value = hf.get(key, default)
    if value is None:
        raise ValueError(f"config has no {key!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"config field {key!r} must be an integer, got {value!r}")
    return value


def _hf_float(hf: dict, key: str, default: float) -> float:
    value = hf.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"config field {key!r} must be a number, got {value!r}")
    return float(value)


def from_hf_config(hf: dict, *, dtype: str = "f32",
                   name: str = "llama") -> LlamaConfig:
    """The LlamaConfig of a Hugging Face config.json (a dict).

    Missing fields take LlamaConfig's defaults in `transformers` (kv heads =
    heads, theta 10000, RMS eps 1e-6, untied). Raises ValueError, naming the
    field, for what lmc cannot express: another model type, an activation
    other than silu, biases in attention or MLP, rope_scaling, a head_dim
    other than hidden_size / num_attention_heads, dropout.
    """
    if not isinstance(hf, dict):
        raise ValueError("config.json must hold a JSON object")
    model_type = hf.get("model_type", "llama")
    if model_type != "llama":
        raise ValueError(f"model_type {model_type!r} is not supported: lmc "
                         "imports Llama configs (model_type 'llama')")
    act = hf.get("hidden_act", "silu")
    if act != "silu":
        raise ValueError(f"hidden_act {act!r} is not supported: lmc's Llama "
                         "MLP is SwiGLU (hidden_act 'silu')")
    for key in ("attention_bias", "mlp_bias"):
        if hf.get(key, False):
            raise ValueError(f"{key} true is not supported: lmc's Llama linear "
                             "layers have no biases")
    if hf.get("rope_scaling") is not None:
        raise ValueError(f"rope_scaling {hf['rope_scaling']!r} is not supported: "
                         "lmc.rope is plain RoPE (rope_scaling null)")
    for key in ("attention_dropout", "hidden_dropout", "dropout"):
        if hf.get(key, 0.0) not in (0, 0.0, None):
            raise ValueError(f"{key} {hf[key]!r} is not supported: lmc has no "
                             "dropout")
    hidden = _hf_int(hf, "hidden_size", 4096)
    heads = _hf_int(hf, "num_attention_heads", 32)
    if hidden % heads != 0:
        raise ValueError(f"num_attention_heads ({heads}) must divide "
                         f"hidden_size ({hidden})")
    head_dim = hf.get("head_dim")
    if head_dim is not None and head_dim != hidden // heads:
        raise ValueError(f"head_dim {head_dim!r} is not supported: lmc needs "
                         f"head_dim = hidden_size / num_attention_heads "
                         f"= {hidden // heads}")
    kv = hf.get("num_key_value_heads")
    tied = hf.get("tie_word_embeddings", False)
    if not isinstance(tied, bool):
        raise ValueError(f"config field 'tie_word_embeddings' must be a "
                         f"boolean, got {tied!r}")
    cfg = LlamaConfig(
        vocab=_hf_int(hf, "vocab_size", 32000),
        ctx=_hf_int(hf, "max_position_embeddings", 2048),
        n_layer=_hf_int(hf, "num_hidden_layers", 32),
        n_head=heads,
        n_kv_head=heads if kv is None else _hf_int(hf, "num_key_value_heads"),
        d_model=hidden,
        ffn=_hf_int(hf, "intermediate_size", 11008),
        rope_theta=_hf_float(hf, "rope_theta", 10000.0),
        rms_eps=_hf_float(hf, "rms_norm_eps", 1e-6),
        tied=tied, dtype=dtype, name=name)
    return cfg.validate()


def read_hf_config(path: str, **kw) -> LlamaConfig:
    """from_hf_config of the JSON file at `path`."""
    with open(path) as f:
        try:
            hf = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not JSON: {e}")
    return from_hf_config(hf, **kw)


# ---------------------------------------------------------------------------
# Emission
# ---------------------------------------------------------------------------

def _fmt(x: float) -> str:
    """7 significant digits (the dialect's printed form) when that is exact,
    else all 17."""
    text = format(x, ".6e")
    return text if float(text) == x else format(x, ".16e")




class _Body(Body):
    """The forward function's body, with this family's layers."""

    def linear(self, out: str, x: str, c_in: int, c_out: int, pname: str) -> None:
        """%out = x W^T with W = pname [c_out, c_in] (nn.Linear, no bias)."""
        self.param_ref(out + "_w", pname, (c_out, c_in))
        self.define(out, f"lmc.matmul %{x}, %{out}_w transpose_b : "
                    f"{self.act(c_in)}, {tensor_type((c_out, c_in), self.dt)}")

    def rms_norm(self, out: str, x: str, c: int, pname: str, eps: float) -> None:
        self.param_ref(out + "_w", pname, (c,))
        self.define(out, f"lmc.rms_norm %{x}, %{out}_w eps({_fmt(eps)}) : "
                    f"{self.act(c)}, {tensor_type((c,), self.dt)}")


def _emit_forward(cfg: LlamaConfig) -> list[str]:
    dt, C, V, F, KV = cfg.dtype, cfg.d_model, cfg.rows, cfg.ffn, cfg.kv_dim
    b = _Body(dt)
    embed_t = tensor_type((V, C), dt)
    tok_t = "tensor<?x?xi32>"
    rope = f"head_dim({cfg.head_dim}) theta({_fmt(cfg.rope_theta)})"
    b.param_ref("embed", "model.embed_tokens.weight", (V, C))
    b.define("x0", f"lmc.embedding %embed[%tokens] : {embed_t}, {tok_t}")
    for i in range(cfg.n_layer):
        h, p = f"l{i}", f"model.layers.{i}."
        x_in, x_mid, x_out = f"x{2 * i}", f"x{2 * i + 1}", f"x{2 * i + 2}"
        b.comment(f"layer {i}")
        # Attention sub-block.
        b.rms_norm(h + "_ln1", x_in, C, p + "input_layernorm.weight", cfg.rms_eps)
        b.linear(h + "_qp", h + "_ln1", C, C, p + "self_attn.q_proj.weight")
        b.linear(h + "_kp", h + "_ln1", C, KV, p + "self_attn.k_proj.weight")
        b.linear(h + "_v", h + "_ln1", C, KV, p + "self_attn.v_proj.weight")
        b.define(h + "_q", f"lmc.rope %{h}_qp {rope} : {b.act(C)}")
        b.define(h + "_k", f"lmc.rope %{h}_kp {rope} : {b.act(KV)}")
        if cfg.n_kv_head == cfg.n_head:
            attn = f"heads({cfg.n_head}) : {b.act(C)}"
        else:
            attn = (f"heads({cfg.n_head}) kv_heads({cfg.n_kv_head}) : "
                    f"{b.act(C)}, {b.act(KV)}")
        b.define(h + "_att", f"lmc.causal_attention %{h}_q, %{h}_k, %{h}_v {attn}")
        b.linear(h + "_o", h + "_att", C, C, p + "self_attn.o_proj.weight")
        b.define(x_mid, f"lmc.add %{x_in}, %{h}_o : {b.act(C)}")
        # SwiGLU MLP sub-block.
        b.rms_norm(h + "_ln2", x_mid, C, p + "post_attention_layernorm.weight",
                   cfg.rms_eps)
        b.linear(h + "_gate", h + "_ln2", C, F, p + "mlp.gate_proj.weight")
        b.linear(h + "_up", h + "_ln2", C, F, p + "mlp.up_proj.weight")
        b.define(h + "_silu", f"lmc.silu %{h}_gate : {b.act(F)}")
        b.define(h + "_glu", f"lmc.mul %{h}_silu, %{h}_up : {b.act(F)}")
        b.linear(h + "_down", h + "_glu", F, C, p + "mlp.down_proj.weight")
        b.define(x_out, f"lmc.add %{x_mid}, %{h}_down : {b.act(C)}")
    b.comment(f"final RMSNorm, {'tied' if cfg.tied else 'untied'} LM head, loss")
    b.rms_norm("norm", f"x{2 * cfg.n_layer}", C, "model.norm.weight", cfg.rms_eps)
    head = "embed"
    if not cfg.tied:
        head = "lm_head"
        b.param_ref(head, cfg.head_name, (V, C))
    b.define("logits", f"lmc.matmul %norm, %{head} transpose_b : "
             f"{b.act(C)}, {embed_t}")
    b.define("loss", f"lmc.cross_entropy %logits, %targets"
             f"{classes_suffix(cfg.vocab, V)} : {b.act(V)}, {tok_t}")
    b.lines.append(f"    return %loss : tensor<{dt}>")
    header = (f"  func.func @forward(%tokens: {tok_t}, %targets: {tok_t}) "
              f"-> tensor<{dt}> {{")
    return [header] + b.lines + ["  }"]


def config_comment(cfg: LlamaConfig) -> str:
    """The first line of an emitted model: its Hugging Face config."""
    return HF_CONFIG_COMMENT + json.dumps(to_hf_config(cfg), sort_keys=True)


def emit_model(cfg: LlamaConfig, extra_funcs: str = "") -> str:
    """Return the model text (a config comment, then the lmc.model op);
    `extra_funcs` goes after @forward inside the op."""
    cfg.validate()
    lines = [config_comment(cfg),
             f"lmc.model @{cfg.name} attributes "
             f"{{context_length = {cfg.ctx} : i64}} {{"]
    lines += [param_decl(*spec, cfg.dtype, _fmt) for spec in param_specs(cfg)]
    lines += _emit_forward(cfg)
    if extra_funcs.strip():
        lines.append(extra_funcs.rstrip("\n"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def summary_line(cfg: LlamaConfig) -> str:
    f = flops_per_token(cfg)
    return (f"name={cfg.name} params={num_params(cfg)} "
            f"fwd_flops_per_token={f['total']} matmul={f['matmul']} "
            f"attention={f['attention']}")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------



def positive_float(text: str) -> float:
    """argparse type: a positive finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


_INT_OVERRIDES = (("--vocab", "vocab"), ("--ctx", "ctx"), ("--n-layer", "n_layer"),
                  ("--n-head", "n_head"), ("--n-kv-head", "n_kv_head"),
                  ("--d-model", "d_model"), ("--ffn", "ffn"))
_FLOAT_OVERRIDES = (("--rope-theta", "rope_theta"), ("--rms-eps", "rms_eps"))


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add --preset / --from-hf-config, the overrides, --dtype and --name."""
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--preset", default="tiny", choices=sorted(PRESETS),
                      help="base configuration (default: tiny)")
    base.add_argument("--from-hf-config", metavar="CONFIG_JSON",
                      help="base configuration from a Hugging Face LlamaConfig "
                           "file (config.json)")
    for flag, field in _INT_OVERRIDES:
        parser.add_argument(flag, dest=field, type=positive_int,
                            help=f"override {field}")
    for flag, field in _FLOAT_OVERRIDES:
        parser.add_argument(flag, dest=field, type=positive_float,
                            help=f"override {field}")
    tie = parser.add_mutually_exclusive_group()
    tie.add_argument("--tie-embeddings", dest="tied", action="store_const",
                     const=True, help="the LM head reads model.embed_tokens.weight")
    tie.add_argument("--untie-embeddings", dest="tied", action="store_const",
                     const=False, help="the LM head is its own lm_head.weight")
    parser.add_argument("--dtype", choices=DTYPES, default="f32")
    parser.add_argument("--name", help="model symbol (default: from preset, "
                                       "'llama' for --from-hf-config)")
    parser.add_argument("--pad-vocab", metavar="M", type=positive_int,
                        help="pad the embedding and LM head rows to a "
                             "multiple of M (64); the padded logits are "
                             "masked out of the loss and never sampled, "
                             "checkpoints keep the real vocabulary")


def config_from_args(parser: argparse.ArgumentParser,
                     args: argparse.Namespace) -> LlamaConfig:
    """Build a validated config; invalid ones end in parser.error (exit 2)."""
    try:
        if getattr(args, "from_hf_config", None):
            cfg = read_hf_config(args.from_hf_config)
        else:
            cfg = PRESETS[args.preset]
        overrides = {f: getattr(args, f)
                     for _, f in _INT_OVERRIDES + _FLOAT_OVERRIDES
                     if getattr(args, f) is not None}
        cfg = replace(cfg, dtype=args.dtype, **overrides)
        if args.tied is not None:
            cfg = replace(cfg, tied=args.tied)
        if args.name is not None:
            cfg = replace(cfg, name=args.name)
        if getattr(args, "pad_vocab", None) is not None:
            cfg = pad_vocab(cfg, args.pad_vocab)
        return cfg.validate()
    except (OSError, ValueError) as e:
        parser.error(str(e))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m lmc.models.llama",
        description="Emit a Llama-family model in the lmc MLIR dialect.",
        epilog="With --summary and no -o only the summary is printed; with "
               "--summary and -o - the summary goes to stderr.")
    add_config_args(parser)
    parser.add_argument("-o", "--output", help="output file, '-' for stdout")
    parser.add_argument("--summary", action="store_true",
                        help="print name, parameter count and FLOPs/token")
    parser.add_argument("--write-hf-config", metavar="CONFIG_JSON",
                        help="also write the model's Hugging Face config.json")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)

    if args.write_hf_config:
        with open(args.write_hf_config, "w") as f:
            json.dump(to_hf_config(cfg), f, indent=2)
            f.write("\n")
    if args.summary and args.output is None:
        print(summary_line(cfg))
        return 0
    text = emit_model(cfg)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        if args.summary:
            print(summary_line(cfg), file=sys.stderr)
        return 0
    with open(args.output, "w") as f:
        f.write(text)
    if args.summary:
        print(summary_line(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
