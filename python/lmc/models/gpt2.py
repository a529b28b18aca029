"""Emit lmc dialect MLIR text for a GPT-2-style model.

Usage: python3 -m lmc.models.gpt2 --preset tiny -o tiny.mlir
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace

from lmc.models.mlir_text import (SYMBOL_RE, Body, check_padded_vocab,
                                  classes_suffix, pad_vocab, param_decl,
                                  positive_int, tensor_type)

LN_EPS = 1e-5
INIT_STD = 0.02
DTYPES = ("f32", "f64")
# The MLP activation: GPT-2's tanh GELU, or SiLU (x * sigmoid(x)).
ACTIVATIONS = ("gelu", "silu")



@dataclass(frozen=True)
class GPT2Config:
    """Model hyperparameters; `name` is the symbol of the lmc.model op.

    `tied`: the LM head is wte.weight (GPT-2's choice); when False it is its
    own parameter lm_head.weight [vocab, d_model], as Hugging Face names an
    untied head. `bias`: the linear layers (QKV, attention output, MLP up
    and down) have biases; LayerNorm keeps its shift either way.

    `padded_vocab` (0: none): the embedding and the LM head have this many
    rows (at least `vocab`; see pad_vocab), and the loss masks the logits
    of the rows past `vocab` (lmc.cross_entropy classes(vocab)): padding
    for the GEMMs and a vocabulary-parallel split, never a token. The
    trainer keeps those rows zero and leaves them out of checkpoints, which
    hold the real `vocab` rows.
    """

    vocab: int
    ctx: int
    n_layer: int
    n_head: int
    d_model: int
    dtype: str = "f32"
    name: str = "gpt2"
    tied: bool = True
    bias: bool = True
    activation: str = "gelu"
    padded_vocab: int = 0

    def validate(self) -> "GPT2Config":
        """Raise ValueError if the configuration is unusable; return self."""
        for field in ("vocab", "ctx", "n_layer", "n_head", "d_model"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{field} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"n_head ({self.n_head}) must divide d_model ({self.d_model})")
        check_padded_vocab(self.vocab, self.padded_vocab)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, "
                             f"got {self.activation!r}")
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
    def head_name(self) -> str:
        """The parameter the LM head reads ([vocab, d_model], transposed)."""
        return "wte.weight" if self.tied else "lm_head.weight"


PRESETS: dict[str, GPT2Config] = {
    "tiny": GPT2Config(vocab=256, ctx=64, n_layer=2, n_head=2, d_model=64,
                       name="tiny"),
    "mini": GPT2Config(vocab=8192, ctx=256, n_layer=6, n_head=6, d_model=384,
                       name="mini"),
    "gpt2-124M": GPT2Config(vocab=50257, ctx=1024, n_layer=12, n_head=12,
                            d_model=768, name="gpt2_124M"),
}


def param_specs(cfg: GPT2Config) -> list[tuple[str, tuple[int, ...], str, float | None]]:
    """(name, shape, init kind, std) for every parameter, in declaration order.

    Names and shapes follow the Hugging Face GPT-2 checkpoint (linear weights
    stored as (in, out)); the LM head is tied to wte.weight unless cfg.tied
    is False, when lm_head.weight comes last. Without cfg.bias the linear
    layers' biases are left out.
    """
    C, V = cfg.d_model, cfg.rows
    proj_std = INIT_STD / math.sqrt(2 * cfg.n_layer)
    specs = [
        ("wte.weight", (V, C), "normal", INIT_STD),
        ("wpe.weight", (cfg.ctx, C), "normal", INIT_STD),
    ]
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        layer = [
            (p + "ln_1.weight", (C,), "ones", None),
            (p + "ln_1.bias", (C,), "zeros", None),
            (p + "attn.c_attn.weight", (C, 3 * C), "normal", INIT_STD),
            (p + "attn.c_attn.bias", (3 * C,), "zeros", None),
            (p + "attn.c_proj.weight", (C, C), "normal", proj_std),
            (p + "attn.c_proj.bias", (C,), "zeros", None),
            (p + "ln_2.weight", (C,), "ones", None),
            (p + "ln_2.bias", (C,), "zeros", None),
            (p + "mlp.c_fc.weight", (C, 4 * C), "normal", INIT_STD),
            (p + "mlp.c_fc.bias", (4 * C,), "zeros", None),
            (p + "mlp.c_proj.weight", (4 * C, C), "normal", proj_std),
            (p + "mlp.c_proj.bias", (C,), "zeros", None),
        ]
        if not cfg.bias:
            layer = [s for s in layer
                     if not (s[0].endswith(".bias") and ".ln_" not in s[0])]
        specs += layer
    specs += [
        ("ln_f.weight", (C,), "ones", None),
        ("ln_f.bias", (C,), "zeros", None),
    ]
    if not cfg.tied:
        specs.append(("lm_head.weight", (V, C), "normal", INIT_STD))
    return specs


def num_params(cfg: GPT2Config) -> int:
    """Total number of scalar parameters (a tied LM head counted once)."""
    return sum(math.prod(shape) for _, shape, _, _ in param_specs(cfg))


def flops_per_token(cfg: GPT2Config) -> dict[str, int]:
    """Forward FLOPs per token: matmuls, attention at T=ctx, and their total."""
    C, L, V, T = cfg.d_model, cfg.n_layer, cfg.rows, cfg.ctx
    per_layer_kn = C * 3 * C + C * C + C * 4 * C + 4 * C * C
    matmul = 2 * (per_layer_kn * L + C * V)
    attention = 4 * L * T * C
    return {"matmul": matmul, "attention": attention, "total": matmul + attention}


def _fmt(x: float) -> str:
    return format(x, ".6e")




class _Body(Body):
    """The forward function's body, with this family's layers."""

    def linear(self, out: str, x: str, c_in: int, c_out: int, pname: str,
               wname: str, bias: bool = True) -> None:
        """%out = x @ W + b; W=[c_in,c_out], b=[c_out] referenced as %wname_w/_b
        (no b, and %out the matmul, without `bias`)."""
        dt = self.dt
        self.param_ref(wname + "_w", pname + ".weight", (c_in, c_out))
        if not bias:
            self.define([out], f"lmc.matmul %{x}, %{wname}_w : "
                        f"{self.act(c_in)}, {tensor_type((c_in, c_out), dt)}")
            return
        self.param_ref(wname + "_b", pname + ".bias", (c_out,))
        self.define([out + "_mm"], f"lmc.matmul %{x}, %{wname}_w : "
                    f"{self.act(c_in)}, {tensor_type((c_in, c_out), dt)}")
        self.define([out], f"lmc.bias_add %{out}_mm, %{wname}_b : "
                    f"{self.act(c_out)}, {tensor_type((c_out,), dt)}")

    def layer_norm(self, out: str, x: str, c: int, pname: str) -> None:
        self.param_ref(out + "_w", pname + ".weight", (c,))
        self.param_ref(out + "_b", pname + ".bias", (c,))
        self.define([out], f"lmc.layer_norm %{x}, %{out}_w, %{out}_b "
                    f"eps({_fmt(LN_EPS)}) : {self.act(c)}, {tensor_type((c,), self.dt)}")


def _emit_forward(cfg: GPT2Config) -> list[str]:
    dt, C, V = cfg.dtype, cfg.d_model, cfg.rows
    b = _Body(dt)
    wte_t = tensor_type((V, C), dt)
    wpe_t = tensor_type((cfg.ctx, C), dt)
    tok_t = "tensor<?x?xi32>"
    b.param_ref("wte", "wte.weight", (V, C))
    b.param_ref("wpe", "wpe.weight", (cfg.ctx, C))
    b.define(["tok_emb"], f"lmc.embedding %wte[%tokens] : {wte_t}, {tok_t}")
    b.define(["pos_emb"], f"lmc.position_embedding %wpe like %tokens : {wpe_t}, {tok_t}")
    b.define(["x0"], f"lmc.add %tok_emb, %pos_emb : {b.act(C)}")
    for i in range(cfg.n_layer):
        h, p = f"h{i}", f"h.{i}."
        x_in, x_mid, x_out = f"x{2 * i}", f"x{2 * i + 1}", f"x{2 * i + 2}"
        b.comment(f"block {i}")
        # Attention sub-block.
        b.layer_norm(h + "_ln1", x_in, C, p + "ln_1")
        b.linear(h + "_qkv", h + "_ln1", C, 3 * C, p + "attn.c_attn", h + "_attn",
                 cfg.bias)
        b.define([h + "_q", h + "_k", h + "_v"],
                 f"lmc.split %{h}_qkv into 3 : {b.act(3 * C)}")
        b.define([h + "_att"], f"lmc.causal_attention %{h}_q, %{h}_k, %{h}_v "
                 f"heads({cfg.n_head}) : {b.act(C)}")
        b.linear(h + "_attn_out", h + "_att", C, C, p + "attn.c_proj",
                 h + "_aproj", cfg.bias)
        b.define([x_mid], f"lmc.add %{x_in}, %{h}_attn_out : {b.act(C)}")
        # MLP sub-block.
        b.layer_norm(h + "_ln2", x_mid, C, p + "ln_2")
        b.linear(h + "_fc", h + "_ln2", C, 4 * C, p + "mlp.c_fc", h + "_fc",
                 cfg.bias)
        act = h + "_" + cfg.activation
        if cfg.activation == "silu":
            b.define([act], f"lmc.silu %{h}_fc : {b.act(4 * C)}")
        else:
            b.define([act], f"lmc.gelu %{h}_fc tanh : {b.act(4 * C)}")
        b.linear(h + "_mlp_out", act, 4 * C, C, p + "mlp.c_proj",
                 h + "_mproj", cfg.bias)
        b.define([x_out], f"lmc.add %{x_mid}, %{h}_mlp_out : {b.act(C)}")
    b.comment(f"final layer norm, {'tied' if cfg.tied else 'untied'} LM head, loss")
    b.layer_norm("lnf", f"x{2 * cfg.n_layer}", C, "ln_f")
    head = "wte"
    if not cfg.tied:
        head = "lm_head"
        b.param_ref(head, cfg.head_name, (V, C))
    b.define(["logits"], f"lmc.matmul %lnf, %{head} transpose_b : {b.act(C)}, {wte_t}")
    b.define(["loss"], f"lmc.cross_entropy %logits, %targets"
             f"{classes_suffix(cfg.vocab, V)} : {b.act(V)}, {tok_t}")
    b.lines.append(f"    return %loss : tensor<{dt}>")
    header = (f"  func.func @forward(%tokens: {tok_t}, %targets: {tok_t}) "
              f"-> tensor<{dt}> {{")
    return [header] + b.lines + ["  }"]


def emit_model(cfg: GPT2Config, extra_funcs: str = "") -> str:
    """Return the lmc.model op text; `extra_funcs` goes after @forward inside it."""
    cfg.validate()
    lines = [f"lmc.model @{cfg.name} {{"]
    lines += [param_decl(*spec, cfg.dtype, _fmt) for spec in param_specs(cfg)]
    lines += _emit_forward(cfg)
    if extra_funcs.strip():
        lines.append(extra_funcs.rstrip("\n"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def summary_line(cfg: GPT2Config) -> str:
    f = flops_per_token(cfg)
    return (f"name={cfg.name} params={num_params(cfg)} "
            f"fwd_flops_per_token={f['total']} matmul={f['matmul']} "
            f"attention={f['attention']}")




def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add --preset, size overrides, --dtype and --name to `parser`."""
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS),
                        help="base configuration (default: tiny)")
    for flag, field in (("--n-layer", "n_layer"), ("--n-head", "n_head"),
                        ("--d-model", "d_model"), ("--vocab", "vocab"),
                        ("--ctx", "ctx")):
        parser.add_argument(flag, dest=field, type=positive_int,
                            help=f"override {field}")
    parser.add_argument("--dtype", choices=DTYPES, default="f32")
    parser.add_argument("--activation", choices=ACTIVATIONS,
                        help="MLP activation (default: from preset, gelu)")
    parser.add_argument("--name", help="model symbol (default: from preset)")
    parser.add_argument("--untie-head", dest="tied", action="store_false",
                        help="give the LM head its own parameter "
                             "lm_head.weight instead of reading wte.weight")
    parser.add_argument("--no-bias", dest="bias", action="store_false",
                        help="linear layers without biases (LayerNorm keeps "
                             "its shift)")
    parser.add_argument("--pad-vocab", metavar="M", type=positive_int,
                        help="pad the embedding and LM head rows to a "
                             "multiple of M (64: 50257 -> 50304); the padded "
                             "logits are masked out of the loss and never "
                             "sampled, checkpoints keep the real vocabulary")


def config_from_args(parser: argparse.ArgumentParser,
                     args: argparse.Namespace) -> GPT2Config:
    """Build a validated config; invalid ones end in parser.error (exit 2)."""
    cfg = PRESETS[args.preset]
    overrides = {f: getattr(args, f) for f in
                 ("n_layer", "n_head", "d_model", "vocab", "ctx")
                 if getattr(args, f) is not None}
    cfg = replace(cfg, dtype=args.dtype, tied=args.tied, bias=args.bias,
                  **overrides)
    if args.name is not None:
        cfg = replace(cfg, name=args.name)
    if getattr(args, "activation", None) is not None:
        cfg = replace(cfg, activation=args.activation)
    try:
        if getattr(args, "pad_vocab", None) is not None:
            cfg = pad_vocab(cfg, args.pad_vocab)
        return cfg.validate()
    except ValueError as e:
        parser.error(str(e))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m lmc.models.gpt2",
        description="Emit a GPT-2-style model in the lmc MLIR dialect.",
        epilog="With --summary and no -o only the summary is printed; with "
               "--summary and -o - the summary goes to stderr.")
    add_config_args(parser)
    parser.add_argument("-o", "--output", help="output file, '-' for stdout")
    parser.add_argument("--summary", action="store_true",
                        help="print name, parameter count and FLOPs/token")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)

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
