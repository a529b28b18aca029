"""Exchange GPT-2 and Llama models with Hugging Face `transformers`.

Export (lmc -> Hugging Face):

    python3 -m lmc.hf export --checkpoint ckpt.safetensors \\
        (--model model.mlir | --config config.json) -o DIR

writes DIR/config.json and DIR/model.safetensors (the parameters only,
float32, metadata {"format": "pt"}, under the names save_pretrained gives
them, a tied head left out), which `from_pretrained(DIR)` loads:

  - a GPT-2 of lmc.models.gpt2: a GPT2Config (architectures
    GPT2LMHeadModel, model_type gpt2, activation_function gelu_new -- lmc's
    tanh GELU -- or silu) under GPT2LMHeadModel's names: lmc's own with the
    prefix `transformer.` (an untied head stays `lm_head.weight`);
    lmc.hf_gpt2 says what maps to what;
  - a Llama of lmc.models.llama: a LlamaConfig (architectures
    LlamaForCausalLM, model_type llama), the names unchanged.

Either way nothing is transposed: lmc keeps Hugging Face's layouts (GPT-2's
Conv1D weights [in, out], Llama's nn.Linear weights [out, in]). The
checkpoint is one the trainer writes (its AdamW moments, exp_avg.* and
exp_avg_sq.*, are left behind) or any safetensors file of the parameters.

The model's config comes from model.mlir, read from its ops. A GPT-2's:
the parameter shapes (vocabulary, context, width, layers, tying, biases),
the heads of lmc.causal_attention and the MLP's activation. A Llama's: the
builder's first-line comment, checked against the ops (parameter shapes
give vocabulary, width, layers, MLP width and tying; lmc.causal_attention
its heads and kv_heads, lmc.rope head_dim and theta, lmc.rms_norm eps); a
Llama without the comment (e.g. written by hand) needs --ctx for
max_position_embeddings, the one field no op carries. A model with a padded
vocabulary (`--pad-vocab`: lmc.cross_entropy classes(N) over more rows)
exports its real vocabulary N: vocab_size N, and the checkpoint's tensors,
which the trainer writes with the real rows only.

Import (Hugging Face -> lmc):

    python3 -m lmc.hf import DIR -o model.mlir     (or --hf-dir DIR)

builds the model of DIR/config.json, by its model_type (gpt2 or llama; for
a Llama as `python3 -m lmc.models.llama --from-hf-config` does), checks
that DIR/model.safetensors holds exactly its parameters (under Hugging
Face's names or lmc's), and prints the trainer flag that loads them
(`--init-from DIR/model.safetensors`: the trainer strips the prefix and
ignores Hugging Face's buffers itself). `--pad-vocab M` builds the model
with its vocabulary padded to a multiple of M; the trainer loads the real
rows and zeros the padding.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
from dataclasses import dataclass, replace

import numpy as np

from lmc import hf_gpt2, safetensors
from lmc.models import gpt2, llama
from lmc.models.mlir_text import pad_vocab

_PARAM_RE = re.compile(r'^\s*lmc\.param\s+@"([^"]+)"\s*:\s*tensor<([0-9x]+)x(f32|f64)>',
                       re.M)
_ATTN_RE = re.compile(r"lmc\.(?:causal|flash)_attention\b[^\n]*?\bheads\((\d+)\)"
                      r"(?:\s+kv_heads\((\d+)\))?")
_CONTEXT_RE = re.compile(r"^\s*lmc\.model\s+@[^\n]*\bcontext_length\s*=\s*(\d+)",
                         re.M)
_ROPE_RE = re.compile(r"lmc\.rope\b[^\n]*?\bhead_dim\((\d+)\)\s+theta\(([^)]+)\)")
_RMS_RE = re.compile(r"lmc\.rms_norm\b[^\n]*?\beps\(([^)]+)\)")
_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.")


class ExchangeError(Exception):
    """A model or file that cannot be exchanged, with the reason."""


def _one(values: set, what: str):
    return hf_gpt2.one_value(values, what, "LlamaConfig", ExchangeError)


def config_from_ops(text: str, *, ctx: int | None = None,
                    name: str = "llama") -> llama.LlamaConfig:
    """The LlamaConfig the ops and parameters of a model's text say.

    `ctx` (max_position_embeddings) overrides the model's context_length;
    a model that states none and no `ctx` give ctx 1 (fill it in with
    dataclasses.replace).
    """
    if ctx is None and (m := _CONTEXT_RE.search(text)):
        ctx = int(m[1])
    params = {m[1]: (tuple(int(d) for d in m[2].split("x")), m[3])
              for m in _PARAM_RE.finditer(text)}
    if "model.embed_tokens.weight" not in params:
        raise ExchangeError("the model has no parameter model.embed_tokens.weight:"
                            " not a Llama model of lmc.models.llama")
    (rows, d_model), dtype = params["model.embed_tokens.weight"]
    vocab, padded = hf_gpt2.vocab_of(text, rows)
    layers = {int(m[1]) for n in params if (m := _LAYER_RE.match(n))}
    n_layer = len(layers)
    if layers != set(range(n_layer)):
        raise ExchangeError(f"the model's layers are not numbered 0..{n_layer - 1}")
    if n_layer == 0:
        raise ExchangeError("the model has no model.layers.N parameters")
    gate = params.get("model.layers.0.mlp.gate_proj.weight")
    kproj = params.get("model.layers.0.self_attn.k_proj.weight")
    if gate is None or kproj is None:
        raise ExchangeError("the model has no model.layers.0.mlp.gate_proj.weight "
                            "or self_attn.k_proj.weight")
    heads = {(int(m[1]), int(m[2] or m[1])) for m in _ATTN_RE.finditer(text)}
    n_head, n_kv_head = _one(heads, "attention heads (heads, kv_heads)")
    ropes = {(int(m[1]), float(m[2])) for m in _ROPE_RE.finditer(text)}
    head_dim, theta = _one(ropes, "lmc.rope head_dim and theta")
    eps = _one({float(m[1]) for m in _RMS_RE.finditer(text)}, "lmc.rms_norm eps")
    cfg = llama.LlamaConfig(
        vocab=vocab, ctx=ctx or 1, n_layer=n_layer, n_head=n_head,
        n_kv_head=n_kv_head, d_model=d_model, ffn=gate[0][0],
        rope_theta=theta, rms_eps=eps, tied="lm_head.weight" not in params,
        dtype=dtype, name=name, padded_vocab=padded)
    try:
        cfg.validate()
    except ValueError as e:
        raise ExchangeError(f"the model's ops give an unusable config: {e}")
    if head_dim != cfg.head_dim:
        raise ExchangeError(f"lmc.rope head_dim({head_dim}) is not hidden_size / "
                            f"heads = {cfg.head_dim}: Hugging Face's Llama "
                            "cannot express it")
    want = {n: (s, dtype) for n, s, _, _ in llama.param_specs(cfg)}
    if want != params:
        diff = sorted(set(want.items()) ^ set(params.items()))
        raise ExchangeError("the model's parameters are not those of a Llama "
                            f"of its shape; differing: {diff[:4]}")
    return cfg


def config_from_comment(text: str) -> dict | None:
    """The Hugging Face config of the builder's first-line comment, if any."""
    for line in text.splitlines():
        if line.startswith(llama.HF_CONFIG_COMMENT):
            try:
                return json.loads(line[len(llama.HF_CONFIG_COMMENT):])
            except json.JSONDecodeError as e:
                raise ExchangeError(f"the model's config comment is not JSON: {e}")
    return None


def config_from_model(text: str, *, ctx: int | None = None) -> llama.LlamaConfig:
    """The model's LlamaConfig: its ops, checked against (and completed by,
    for max_position_embeddings) the builder's comment; `ctx` overrides."""
    ops = config_from_ops(text, ctx=ctx)
    hf = config_from_comment(text)
    if hf is None:
        if ctx is None and not _CONTEXT_RE.search(text):
            raise ExchangeError("the model has no lmc.llama.hf_config comment "
                                "(it was not written by lmc.models.llama) and "
                                "states no context_length: give "
                                "max_position_embeddings with --ctx")
        return ops
    try:
        noted = llama.from_hf_config(hf, dtype=ops.dtype)
    except ValueError as e:
        raise ExchangeError(f"the model's config comment: {e}")
    # Hugging Face's config says nothing of a padded vocabulary: the ops do.
    noted = replace(noted, ctx=ctx or noted.ctx, name=ops.name,
                    padded_vocab=ops.padded_vocab)
    ops = replace(ops, ctx=noted.ctx)
    # The ops print theta and eps with 7 significant digits: the comment
    # has them exactly.
    for f in ("rope_theta", "rms_eps"):
        if abs(getattr(ops, f) - getattr(noted, f)) <= 1e-6 * getattr(noted, f):
            ops = replace(ops, **{f: getattr(noted, f)})
    if ops != noted:
        diffs = [f"{f}: comment {getattr(noted, f)!r}, ops {getattr(ops, f)!r}"
                 for f in noted.__dataclass_fields__
                 if getattr(noted, f) != getattr(ops, f)]
        raise ExchangeError("the model's config comment disagrees with its ops ("
                            + "; ".join(diffs) + ")")
    return ops


@dataclass(frozen=True)
class Family:
    """What differs between the families the exchange handles."""

    model_type: str
    builder: object          # lmc.models.gpt2 or lmc.models.llama
    config_type: type
    embedding: str           # the parameter a tied head reads
    default_name: str        # the model symbol of an import
    # Suffixes of non-parameter buffers Hugging Face has written.
    buffers: tuple[str, ...]

    def hf_name(self, name: str) -> str:
        """The name save_pretrained gives the lmc parameter `name`."""
        return hf_gpt2.hf_name(name) if self.model_type == "gpt2" else name

    def to_hf_config(self, cfg) -> dict:
        try:
            return self.builder.to_hf_config(cfg) if self.model_type == "llama" \
                else hf_gpt2.to_hf_config(cfg)
        except ValueError as e:
            raise ExchangeError(str(e))

    def from_hf_config(self, hf: dict, *, dtype: str = "f32",
                       name: str | None = None) -> tuple[object, list[str]]:
        name = name or self.default_name
        try:
            if self.model_type == "llama":
                return llama.from_hf_config(hf, dtype=dtype, name=name), []
            return hf_gpt2.from_hf_config(hf, dtype=dtype, name=name)
        except ValueError as e:
            raise ExchangeError(str(e))


FAMILIES = {
    "gpt2": Family("gpt2", gpt2, gpt2.GPT2Config, "wte.weight", "gpt2",
                   hf_gpt2.BUFFER_SUFFIXES),
    "llama": Family("llama", llama, llama.LlamaConfig,
                    "model.embed_tokens.weight", "llama",
                    (".rotary_emb.inv_freq",)),
}


def family_of(cfg) -> Family:
    for fam in FAMILIES.values():
        if isinstance(cfg, fam.config_type):
            return fam
    raise ExchangeError(f"no Hugging Face exchange for {type(cfg).__name__}")


def model_config(text: str, *, ctx: int | None = None):
    """The config of a model's text, GPT-2 (lmc.models.gpt2) or Llama
    (lmc.models.llama), told apart by the embedding's name."""
    if hf_gpt2.is_gpt2_text(text):
        try:
            return hf_gpt2.config_from_model(text, ctx=ctx)
        except ValueError as e:
            raise ExchangeError(str(e))
    return config_from_model(text, ctx=ctx)


def read_hf_config(path: str, *, dtype: str = "f32",
                   name: str | None = None) -> tuple[object, list[str]]:
    """The config of a Hugging Face config.json, by its model_type (llama
    when it names none), and notes."""
    try:
        with open(path) as f:
            hf = json.load(f)
    except json.JSONDecodeError as e:
        raise ExchangeError(f"{path}: not JSON: {e}")
    if not isinstance(hf, dict):
        raise ExchangeError(f"{path}: not a JSON object")
    model_type = hf.get("model_type", "llama")
    if model_type not in FAMILIES:
        raise ExchangeError(f"{path}: model_type {model_type!r} is not "
                            f"supported: lmc exchanges {sorted(FAMILIES)}")
    try:
        return FAMILIES[model_type].from_hf_config(hf, dtype=dtype, name=name)
    except ExchangeError as e:
        raise ExchangeError(f"{path}: {e}")


def _same_as_embedding(tensors: dict, head: str, embedding: str) -> bool:
    a, b = tensors.get(head), tensors.get(embedding)
    return a is not None and b is not None and a.shape == b.shape and \
        np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


def export(checkpoint: str, cfg, out_dir: str) -> list[str]:
    """Write out_dir/config.json and out_dir/model.safetensors; return notes.

    A model with a padded vocabulary (padded_vocab) exports its real one: the
    trainer's checkpoints hold the real rows only."""
    cfg = replace(cfg, padded_vocab=0)
    fam = family_of(cfg)
    config = fam.to_hf_config(cfg)
    tensors, _ = safetensors.load(checkpoint)
    notes = []
    out = {}
    specs = fam.builder.param_specs(cfg)
    for name, shape, _, _ in specs:
        if name not in tensors:
            raise ExchangeError(f"{checkpoint}: no tensor {name!r}")
        a = tensors[name]
        if tuple(a.shape) != shape:
            raise ExchangeError(f"{checkpoint}: {name!r} has shape "
                                f"{tuple(a.shape)}, the model {shape}")
        if a.dtype.kind != "f":
            raise ExchangeError(f"{checkpoint}: {name!r} is {a.dtype}, not float")
        out[fam.hf_name(name)] = np.ascontiguousarray(a, dtype=np.float32)
    if any(tensors[n].dtype != np.float32 for n, _, _, _ in specs):
        notes.append("note: parameters converted to float32 (torch_dtype float32)")
    known = {n for n, _, _, _ in specs}
    extra = sorted(n for n in tensors if n not in known
                   and not n.startswith(("exp_avg.", "exp_avg_sq.")))
    if cfg.tied and "lm_head.weight" in extra:
        # A tied head written out is the embedding; one of its own would be
        # lost.
        if not _same_as_embedding(tensors, "lm_head.weight", fam.embedding):
            raise ExchangeError(f"{checkpoint}: lm_head.weight differs from "
                                f"{fam.embedding}, which the model's tied "
                                "head reads: not this model's checkpoint")
        extra.remove("lm_head.weight")
    if extra:
        raise ExchangeError(f"{checkpoint}: tensors the model does not have: "
                            f"{extra[:4]}")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    safetensors.save(os.path.join(out_dir, "model.safetensors"), out,
                     {"format": "pt"})
    return notes


def read_header(path: str) -> dict:
    """The JSON header of a safetensors file (names -> dtype, shape, offsets;
    __metadata__ removed), without reading the tensors."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ExchangeError(f"{path}: not a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n > safetensors.MAX_HEADER_BYTES:
            raise ExchangeError(f"{path}: header of {n} bytes")
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ExchangeError(f"{path}: bad header: {e}")
    header.pop(safetensors.METADATA_KEY, None)
    return header


def check_hf_dir(hf_dir: str, *, dtype: str = "f32", name: str | None = None
                 ) -> tuple[object, str, list[str]]:
    """The config of a Hugging Face directory, its weights file, and notes;
    raises ExchangeError if the weights are not the model's parameters.

    The weights may carry save_pretrained's names or lmc's (a GPT-2 file
    without the `transformer.` prefix, as the Hub's gpt2 is); Hugging Face's
    non-parameter buffers are noted and ignored, as --init-from does."""
    cfg, notes = read_hf_config(os.path.join(hf_dir, "config.json"),
                                dtype=dtype, name=name)
    fam = family_of(cfg)
    weights = os.path.join(hf_dir, "model.safetensors")
    header = read_header(weights)
    specs = {n: s for n, s, _, _ in fam.builder.param_specs(cfg)}
    # The file's name of each parameter: Hugging Face's or lmc's.
    where = {n: next((k for k in (fam.hf_name(n), n) if k in header), None)
             for n in specs}
    missing = sorted(fam.hf_name(n) for n, k in where.items() if k is None)
    taken = set(where.values())
    buffers = sorted(k for k in header if k not in taken
                     and k.endswith(fam.buffers))
    head = "lm_head.weight" if cfg.tied and "lm_head.weight" in header else None
    extra = sorted(set(header) - taken - set(buffers) - {head})
    if missing or extra:
        raise ExchangeError(f"{weights}: missing {missing[:4]}, unexpected "
                            f"{extra[:4]}")
    for n, s in specs.items():
        if tuple(header[where[n]]["shape"]) != s:
            raise ExchangeError(f"{weights}: {where[n]!r} has shape "
                                f"{tuple(header[where[n]]['shape'])}, the "
                                f"config says {s}")
    if head:
        tensors, _ = safetensors.load(weights)
        if not _same_as_embedding(tensors, head, where[fam.embedding]):
            raise ExchangeError(f"{weights}: tie_word_embeddings is true but "
                                "lm_head.weight differs from the embedding")
        notes.append("note: lm_head.weight equals the tied embedding; the "
                     f"trainer reads {where[fam.embedding]}")
    if buffers:
        notes.append(f"note: {len(buffers)} non-parameter buffers "
                     f"({', '.join(sorted({re.sub(r'[.][0-9]+[.]', '.*.', b) for b in buffers}))})"
                     " are not parameters; the trainer ignores them")
    dtypes = sorted({v["dtype"] for k, v in header.items()
                     if k in taken or k == head})
    if dtypes != ["F32"]:
        notes.append(f"note: the weights are stored as {', '.join(dtypes)}; "
                     f"the model is {cfg.dtype} (they are widened when loaded)")
    return cfg, weights, notes


def stored_dtypes(path: str) -> set[str]:
    """The dtype tags of a safetensors file's tensors, as its header says
    (lmc.safetensors.load widens BF16 to float32)."""
    return {v["dtype"] for v in read_header(path).values()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.hf",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    exp = sub.add_parser("export", help="lmc checkpoint -> Hugging Face directory")
    exp.add_argument("--checkpoint", required=True,
                     help="the trainer's checkpoint or a parameters file")
    src = exp.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="the model.mlir the checkpoint trained")
    src.add_argument("--config", help="a Hugging Face config.json of the model")
    exp.add_argument("--ctx", type=llama.positive_int,
                     help="a Llama's max_position_embeddings (default: from "
                          "the model); a GPT-2's is its wpe.weight rows")
    exp.add_argument("-o", "--output", required=True, help="output directory")
    imp = sub.add_parser("import", help="Hugging Face directory -> lmc model")
    imp.add_argument("dir", nargs="?", metavar="DIR",
                     help="directory with config.json and model.safetensors")
    imp.add_argument("--hf-dir", help="the same as DIR")
    imp.add_argument("--dtype", choices=llama.DTYPES, default="f32")
    imp.add_argument("--name", help="model symbol (default: gpt2 or llama)")
    imp.add_argument("--pad-vocab", metavar="M", type=llama.positive_int,
                     help="pad the model's embedding and LM head rows to a "
                          "multiple of M (the trainer loads the real rows "
                          "and zeros the padding)")
    imp.add_argument("-o", "--output", required=True, help="model.mlir")
    args = parser.parse_args(argv)
    if args.cmd == "import":
        if (args.dir is None) == (args.hf_dir is None):
            imp.error("give the Hugging Face directory once, as DIR or --hf-dir")
        args.hf_dir = args.hf_dir or args.dir
    try:
        if args.cmd == "export":
            if args.model:
                with open(args.model) as f:
                    cfg = model_config(f.read(), ctx=args.ctx)
            else:
                cfg, _ = read_hf_config(args.config)
                if args.ctx and isinstance(cfg, gpt2.GPT2Config):
                    raise ExchangeError("--ctx: a GPT-2's context is its "
                                        "n_positions")
                if args.ctx:
                    cfg = replace(cfg, ctx=args.ctx)
            fam = family_of(cfg)
            for note in export(args.checkpoint, cfg, args.output):
                print(note)
            print(f"wrote {args.output}/config.json and "
                  f"{args.output}/model.safetensors: {cfg.n_layer} layers, "
                  f"{fam.builder.num_params(cfg)} parameters, "
                  f"{'tied' if cfg.tied else 'untied'} head")
            return 0
        cfg, weights, notes = check_hf_dir(args.hf_dir, dtype=args.dtype,
                                           name=args.name)
        builder = family_of(cfg).builder
        if args.pad_vocab:
            cfg = pad_vocab(cfg, args.pad_vocab)
        with open(args.output, "w") as f:
            f.write(builder.emit_model(cfg))
        for note in notes:
            print(note)
        print(f"wrote {args.output}: {builder.summary_line(cfg)}")
        print(f"train with: --init-from {weights}")
        return 0
    except (OSError, ValueError, ExchangeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
