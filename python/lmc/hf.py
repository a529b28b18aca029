"""Exchange Llama models with Hugging Face `transformers`.

Export (lmc -> Hugging Face):

    python3 -m lmc.hf export --checkpoint ckpt.safetensors \\
        (--model model.mlir | --config config.json) -o DIR

writes DIR/config.json (a LlamaConfig: architectures LlamaForCausalLM,
model_type llama, torch_dtype float32) and DIR/model.safetensors (the
parameters only, under Hugging Face's names, float32, metadata
{"format": "pt"}; lm_head.weight left out when the head is tied), which
`LlamaForCausalLM.from_pretrained(DIR)` loads. lmc keeps Hugging Face's
names and layouts (contract: nn.Linear weights [out, in]), so nothing is
transposed. The checkpoint is one the trainer writes (its AdamW moments,
exp_avg.* and exp_avg_sq.*, are left behind) or any safetensors file of the
parameters.

The model's config comes from model.mlir: the builder (lmc.models.llama)
writes it as a first-line comment, and the ops say the rest -- parameter
shapes give vocabulary, width, layers, MLP width and tying;
lmc.causal_attention its heads and kv_heads, lmc.rope head_dim and theta,
lmc.rms_norm eps. Both are read and must agree; a model without the comment
(e.g. written by hand) needs --ctx for max_position_embeddings, the one
field no op carries.

Import (Hugging Face -> lmc):

    python3 -m lmc.hf import --hf-dir DIR -o model.mlir

builds the model of DIR/config.json (as `python3 -m lmc.models.llama
--from-hf-config DIR/config.json` does), checks that DIR/model.safetensors
holds exactly its parameters, and prints the trainer flag that loads them
(`--init-from DIR/model.safetensors`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
from dataclasses import replace

import numpy as np

from lmc import safetensors
from lmc.models import llama

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
    if not values:
        raise ExchangeError(f"the model has no {what}")
    if len(values) > 1:
        raise ExchangeError(f"the model's {what} differ ({sorted(values)}): a "
                            "Hugging Face LlamaConfig has one value")
    return next(iter(values))


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
    (vocab, d_model), dtype = params["model.embed_tokens.weight"]
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
        dtype=dtype, name=name)
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
    noted = replace(noted, ctx=ctx or noted.ctx, name=ops.name)
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


def export(checkpoint: str, cfg: llama.LlamaConfig, out_dir: str) -> list[str]:
    """Write out_dir/config.json and out_dir/model.safetensors; return notes."""
    tensors, _ = safetensors.load(checkpoint)
    notes = []
    out = {}
    for name, shape, _, _ in llama.param_specs(cfg):
        if name not in tensors:
            raise ExchangeError(f"{checkpoint}: no tensor {name!r}")
        a = tensors[name]
        if tuple(a.shape) != shape:
            raise ExchangeError(f"{checkpoint}: {name!r} has shape "
                                f"{tuple(a.shape)}, the model {shape}")
        if a.dtype.kind != "f":
            raise ExchangeError(f"{checkpoint}: {name!r} is {a.dtype}, not float")
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    if any(a.dtype != np.float32 for n, a in tensors.items() if n in out):
        notes.append("note: parameters converted to float32 (torch_dtype float32)")
    known = set(out) | {"lm_head.weight"} if cfg.tied else set(out)
    extra = sorted(n for n in tensors if n not in known
                   and not n.startswith(("exp_avg.", "exp_avg_sq.")))
    if extra:
        raise ExchangeError(f"{checkpoint}: tensors the model does not have: "
                            f"{extra[:4]}")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(llama.to_hf_config(cfg), f, indent=2)
        f.write("\n")
    safetensors.save(os.path.join(out_dir, "model.safetensors"), out,
                     {"format": "pt"})
    return notes


def check_hf_dir(hf_dir: str) -> tuple[llama.LlamaConfig, str, list[str]]:
    """The config of a Hugging Face directory, its weights file, and notes;
    raises ExchangeError if the weights are not the model's parameters."""
    try:
        cfg = llama.read_hf_config(os.path.join(hf_dir, "config.json"))
    except (OSError, ValueError) as e:
        raise ExchangeError(str(e))
    weights = os.path.join(hf_dir, "model.safetensors")
    tensors, meta = safetensors.load(weights)
    notes = []
    specs = {n: s for n, s, _, _ in llama.param_specs(cfg)}
    missing = sorted(set(specs) - set(tensors))
    extra = sorted(set(tensors) - set(specs) -
                   ({"lm_head.weight"} if cfg.tied else set()))
    if missing or extra:
        raise ExchangeError(f"{weights}: missing {missing[:4]}, unexpected "
                            f"{extra[:4]}")
    for n, s in specs.items():
        if tuple(tensors[n].shape) != s:
            raise ExchangeError(f"{weights}: {n!r} has shape "
                                f"{tuple(tensors[n].shape)}, the config says {s}")
    if cfg.tied and "lm_head.weight" in tensors:
        if not np.array_equal(tensors["lm_head.weight"],
                              tensors["model.embed_tokens.weight"]):
            raise ExchangeError(f"{weights}: tie_word_embeddings is true but "
                                "lm_head.weight differs from the embedding")
        notes.append("note: lm_head.weight equals the tied embedding; the "
                     "trainer reads model.embed_tokens.weight")
    dtypes = sorted(stored_dtypes(weights))
    if dtypes != ["F32"]:
        notes.append(f"note: the weights are stored as {', '.join(dtypes)}; "
                     "the model is f32 (they are widened when loaded)")
    return cfg, weights, notes


def stored_dtypes(path: str) -> set[str]:
    """The dtype tags of a safetensors file's tensors, as its header says
    (lmc.safetensors.load widens BF16 to float32)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {v["dtype"] for k, v in header.items() if k != "__metadata__"}


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
                     help="max_position_embeddings (default: from the model)")
    exp.add_argument("-o", "--output", required=True, help="output directory")
    imp = sub.add_parser("import", help="Hugging Face directory -> lmc model")
    imp.add_argument("--hf-dir", required=True,
                     help="directory with config.json and model.safetensors")
    imp.add_argument("--dtype", choices=llama.DTYPES, default="f32")
    imp.add_argument("--name", default="llama", help="model symbol")
    imp.add_argument("-o", "--output", required=True, help="model.mlir")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "export":
            if args.model:
                with open(args.model) as f:
                    cfg = config_from_model(f.read(), ctx=args.ctx)
            else:
                cfg = llama.read_hf_config(args.config)
                if args.ctx:
                    cfg = replace(cfg, ctx=args.ctx)
            for note in export(args.checkpoint, cfg, args.output):
                print(note)
            print(f"wrote {args.output}/config.json and "
                  f"{args.output}/model.safetensors: {cfg.n_layer} layers, "
                  f"{llama.num_params(cfg)} parameters, "
                  f"{'tied' if cfg.tied else 'untied'} head")
            return 0
        cfg, weights, notes = check_hf_dir(args.hf_dir)
        cfg = replace(cfg, dtype=args.dtype, name=args.name).validate()
        with open(args.output, "w") as f:
            f.write(llama.emit_model(cfg))
        for note in notes:
            print(note)
        print(f"wrote {args.output}: {llama.summary_line(cfg)}")
        print(f"train with: --init-from {weights}")
        return 0
    except (OSError, ValueError, ExchangeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
