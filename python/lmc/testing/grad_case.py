"""Write finite-difference gradient checks of the lmc compiler (f64).

Usage:
    python3 -m lmc.testing.grad_case [--family llama] --preset tiny --out-dir DIR
    python3 -m lmc.testing.grad_case --op NAME --out-dir DIR
    python3 -m lmc.testing.grad_case --op all --out-dir DIR   (DIR/NAME/...)
    python3 -m lmc.testing.grad_case --list-ops

Each case is DIR/model.mlir, DIR/params.safetensors and DIR/expected.json.
The model's @main driver calls @forward_grad once (the analytic gradients
at the bound parameters) and a loss function L(params..., tokens, targets)
at p +- h e_j and p +- 2h e_j for a chosen set of coordinates j, printing

    loss BITS                  the loss returned by @forward_grad
    base BITS                  L at the bound parameters
    grad P K G L(+h) L(-h) L(+2h) L(-2h)
                               parameter P, its K-th checked coordinate

(bit patterns of f64 values as i64). lmc.testing.check_grad forms the
fourth-order central difference (8 (L(+h) - L(-h)) - (L(+2h) - L(-2h))) / 12h
and compares it with G. h is a power of two, so p +- h is exact.

The preset case (a whole model of the family, f64) uses @eval_step of
lmc-optimizer as L:

    lmc-opt model.mlir --lmc-autodiff="attention=decomposed [recompute=...]" --lmc-optimizer \\
        --lmc-reference-pipeline="params=DIR/params.safetensors"

An op case is a small model whose @forward is
reduce_sum(mul(op(params...), r)) with r a random parameter (several such
terms are summed when a case covers variants of an op; cross_entropy is its
own loss). lmc-optimizer cannot be used there (its @logits needs a final
cross-entropy over [batch, sequence, vocabulary] logits), so the case
defines L itself as @loss_at, the body of @forward with the parameters as
arguments:

    lmc-opt model.mlir --lmc-autodiff="attention=decomposed [recompute=...]" \\
        --lmc-reference-pipeline="params=DIR/params.safetensors"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from lmc import reference_train as rt
from lmc import safetensors
from lmc.models import llama
from lmc.models.gpt2 import (PRESETS, GPT2Config, emit_model, param_specs,
                              positive_int)
from lmc.testing import family
from lmc.testing.train_case import TOK, dense_ids, float_literal, indent, tensor_type

DEFAULT_H = 2.0 ** -10
F = "f64"


@dataclass
class GradCase:
    """Everything the driver and the checker need."""

    name: str
    params: list[tuple[str, tuple[int, ...]]]  # declaration order
    values: dict[str, np.ndarray]
    tokens: np.ndarray
    targets: np.ndarray
    coords: dict[str, list[tuple[int, ...]]]
    loss_func: str  # "eval_step" (declared) or "loss_at" (defined here)
    h: float = DEFAULT_H
    extra: dict = field(default_factory=dict)  # goes to expected.json


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def _t(shape) -> str:
    return tensor_type(shape, F)


def declarations(case: GradCase) -> list[str]:
    ptypes = [_t(s) for _, s in case.params]
    out = [f"func.func private @forward_grad({TOK}, {TOK}) -> "
           f"({', '.join([f'tensor<{F}>'] + ptypes)})"]
    if case.loss_func == "eval_step":
        out.append(f"func.func private @eval_step({', '.join(ptypes + [TOK, TOK])})"
                   f" -> tensor<{F}>")
    return out


def driver_func(case: GradCase) -> str:
    """@main: analytic gradients and the perturbed losses, printed as bits."""
    n = len(case.params)
    ptypes = [_t(s) for _, s in case.params]
    h = case.h
    B, T = case.tokens.shape
    st = f"tensor<{B}x{T}xi32>"
    max_rank = max(len(s) for _, s in case.params)
    L: list[str] = []
    L.append("%c0 = arith.constant 0 : index")
    L.append("%c1 = arith.constant 1 : index")
    for d in range(max_rank):
        L.append(f"%cd{d} = arith.constant {d} : index")
    L.append(f"%tok_c = arith.constant {dense_ids(case.tokens)} : {st}")
    L.append(f"%tgt_c = arith.constant {dense_ids(case.targets)} : {st}")
    L.append(f"%tok = tensor.cast %tok_c : {st} to {TOK}")
    L.append(f"%tgt = tensor.cast %tgt_c : {st} to {TOK}")
    for i, (name, _) in enumerate(case.params):
        L.append(f'%p{i} = lmc.param_ref @"{name}" : {ptypes[i]}')
    L.append(f"%fg:{n + 1} = func.call @forward_grad(%tok, %tgt) : ({TOK}, {TOK}) -> "
             f"({', '.join([f'tensor<{F}>'] + ptypes)})")
    L.append(f"%loss = tensor.extract %fg#0[] : tensor<{F}>")
    L.append(f"%loss_bits = arith.bitcast %loss : {F} to i64")
    L.append('vector.print str "loss "')
    L.append("vector.print %loss_bits : i64")
    call_types = f"({', '.join(ptypes + [TOK, TOK])}) -> tensor<{F}>"
    base_args = [f"%p{i}" for i in range(n)] + ["%tok", "%tgt"]
    L.append(f"%base_t = func.call @{case.loss_func}({', '.join(base_args)}) : {call_types}")
    L.append(f"%base = tensor.extract %base_t[] : tensor<{F}>")
    L.append(f"%base_bits = arith.bitcast %base : {F} to i64")
    L.append('vector.print str "base "')
    L.append("vector.print %base_bits : i64")
    deltas = [h, -h, 2 * h, -2 * h]
    for j, d in enumerate(deltas):
        L.append(f"%delta{j} = arith.constant {float_literal(d, F)} : {F}")
    for i, (name, shape) in enumerate(case.params):
        coords = case.coords.get(name, [])
        if not coords:
            continue
        r = len(shape)
        ct = f"tensor<{len(coords)}x{r}xi64>"
        rows = ", ".join("[" + ", ".join(str(int(c)) for c in co) + "]" for co in coords)
        L.append(f"%co{i} = arith.constant dense<[{rows}]> : {ct}")
        L.append(f"%nco{i} = arith.constant {len(coords)} : index")
        L.append(f"%pidx{i} = arith.constant {i} : i64")
        L.append(f"scf.for %k{i} = %c0 to %nco{i} step %c1 {{")
        body: list[str] = []
        idx = []
        for d in range(r):
            body.append(f"%e{i}_{d} = tensor.extract %co{i}[%k{i}, %cd{d}] : {ct}")
            body.append(f"%x{i}_{d} = arith.index_cast %e{i}_{d} : i64 to index")
            idx.append(f"%x{i}_{d}")
        at = "[" + ", ".join(idx) + "]"
        body.append(f"%kk{i} = arith.index_cast %k{i} : index to i64")
        body.append('vector.print str "grad "')
        body.append(f"vector.print %pidx{i} : i64 punctuation <no_punctuation>")
        body.append('vector.print str " "')
        body.append(f"vector.print %kk{i} : i64 punctuation <no_punctuation>")
        body.append('vector.print str " "')
        body.append(f"%g{i} = tensor.extract %fg#{i + 1}{at} : {ptypes[i]}")
        body.append(f"%gb{i} = arith.bitcast %g{i} : {F} to i64")
        body.append(f"vector.print %gb{i} : i64 punctuation <no_punctuation>")
        body.append(f"%v{i} = tensor.extract %p{i}{at} : {ptypes[i]}")
        for j in range(len(deltas)):
            body.append('vector.print str " "')
            body.append(f"%v{i}_{j} = arith.addf %v{i}, %delta{j} : {F}")
            body.append(f"%q{i}_{j} = tensor.insert %v{i}_{j} into %p{i}{at} : {ptypes[i]}")
            args = list(base_args)
            args[i] = f"%q{i}_{j}"
            body.append(f"%l{i}_{j}_t = func.call @{case.loss_func}({', '.join(args)}) : "
                        f"{call_types}")
            body.append(f"%l{i}_{j} = tensor.extract %l{i}_{j}_t[] : tensor<{F}>")
            body.append(f"%lb{i}_{j} = arith.bitcast %l{i}_{j} : {F} to i64")
            last = j == len(deltas) - 1
            body.append(f"vector.print %lb{i}_{j} : i64" +
                        ("" if last else " punctuation <no_punctuation>"))
        L.extend("  " + line for line in body)
        L.append("}")
    L.append("return")
    return ("func.func @main() {\n" + indent(L, 2) + "}")


def expected_json(case: GradCase) -> dict:
    out = {
        "kind": "grad", "case": case.name, "dtype": F, "h": case.h,
        "scheme": "central4", "loss_func": case.loss_func,
        "params": [{"name": n, "shape": list(s),
                    "coords": [list(map(int, c)) for c in case.coords.get(n, [])],
                    "values": [float(case.values[n][tuple(c)])
                               for c in case.coords.get(n, [])]}
                   for n, s in case.params],
    }
    out.update(case.extra)
    return out


def _check_exact_steps(case: GradCase) -> None:
    for name, coords in case.coords.items():
        for c in coords:
            x = float(case.values[name][tuple(c)])
            for d in (case.h, 2 * case.h):
                if (x + d) - x != d or x - (x - d) != d:
                    raise ValueError(f"{name}{list(c)}: x +- {d} is not exact")


def quantize(a: np.ndarray, bits: int = 32) -> np.ndarray:
    """Round to multiples of 2^-bits, so that x +- h and x +- 2h are exact
    for a power-of-two h >= 2^-bits (and |x| well below 2^(52-bits))."""
    return np.round(np.asarray(a, dtype=np.float64) * 2.0 ** bits) / 2.0 ** bits


def write_files(case: GradCase, model_text: str, out_dir: str) -> None:
    _check_exact_steps(case)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.mlir"), "w") as f:
        f.write(model_text)
    safetensors.save(os.path.join(out_dir, "params.safetensors"),
                     {n: np.ascontiguousarray(case.values[n], dtype=np.float64)
                      for n, _ in case.params}, {"format": "lmc"})
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected_json(case), f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------------------
# GPT-2 preset case
# ---------------------------------------------------------------------------

def random_gpt_params(cfg: GPT2Config, seed: int, std: float):
    """Parameters away from the initialization (LayerNorm weights around 1,
    everything else N(0, std)), so that every path carries a gradient."""
    rng = np.random.default_rng(seed)
    return {name: quantize((1.0 if kind == "ones" else 0.0)
                           + std * rng.standard_normal(shape))
            for name, shape, kind, _ in family.of(cfg).param_specs(cfg)}


def gpt_tokens(cfg: GPT2Config, batch: int, seq: int, seed: int):
    """Random tokens and targets in which one token occurs several times."""
    rng = np.random.default_rng(seed + 1)
    tokens = rng.integers(0, cfg.vocab, size=(batch, seq))
    targets = rng.integers(0, cfg.vocab, size=(batch, seq))
    repeated = int(tokens[0, 0])
    for b, t in ((0, seq // 2), (batch - 1, seq - 1)):
        tokens[b, t] = repeated
    return tokens.astype(np.int32), targets.astype(np.int32), repeated


def gpt_case(cfg: GPT2Config, *, batch: int = 2, seq: int = 8, seed: int = 0,
             per_param: int = 3, std: float = 0.2, h: float = DEFAULT_H) -> GradCase:
    cfg = replace(cfg, dtype=F).validate()
    fam = family.of(cfg)
    # The token embedding (its rows also the LM head's when tied).
    embed = "wte.weight" if fam.name == "gpt2" else "model.embed_tokens.weight"
    if seq >= cfg.ctx:
        raise ValueError(f"seq ({seq}) must be below ctx ({cfg.ctx}) so that a "
                         "position row is unused")
    values = random_gpt_params(cfg, seed, std)
    tokens, targets, used_row = gpt_tokens(cfg, batch, seq, seed)
    unused_row = min(set(range(cfg.vocab)) - set(tokens.ravel().tolist()))
    rng = np.random.default_rng(seed + 2)
    C = cfg.d_model
    coords: dict[str, list[tuple[int, ...]]] = {}
    for name, shape, _, _ in fam.param_specs(cfg):
        size = math.prod(shape)
        flat = rng.choice(size, size=min(per_param, size), replace=False)
        cs = [tuple(int(i) for i in np.unravel_index(f, shape)) for f in sorted(flat)]
        if name == embed:
            # A row gathered several times and used by the tied head, and a
            # row used by the head only.
            cols = rng.choice(C, size=3, replace=False)
            cs += [(used_row, int(c)) for c in cols]
            cs += [(unused_row, int(c)) for c in cols]
        if name == "wpe.weight":
            cs += [(seq - 1, int(rng.integers(C))), (seq, int(rng.integers(C))),
                   (cfg.ctx - 1, int(rng.integers(C)))]
        coords[name] = list(dict.fromkeys(cs))
    params = [(n, s) for n, s, _, _ in fam.param_specs(cfg)]
    loss, grads = fam.forward_backward(values, tokens, targets, cfg)
    reference = {n: [float(grads[n][c]) for c in coords[n]] for n, _ in params}
    extra = {"model": cfg.name, "batch": batch, "seq": seq, "seed": seed,
             "param_std": std, "used_row": used_row, "unused_row": unused_row,
             "reference_loss": float(loss), "reference_grads": reference}
    return GradCase(cfg.name, params, values, tokens, targets, coords,
                    "eval_step", h, extra)


def write_gpt_case(cfg: GPT2Config, out_dir: str, **kw) -> GradCase:
    case = gpt_case(cfg, **kw)
    cfg = replace(cfg, dtype=F)
    extra = "\n".join("  " + d for d in declarations(case)) + "\n"
    extra += indent(driver_func(case).splitlines(), 2)
    write_files(case, family.of(cfg).emit_model(cfg, extra), out_dir)
    return case


# ---------------------------------------------------------------------------
# Op-level cases
# ---------------------------------------------------------------------------

# Tokens for the op cases: [B=2, T=4] over a vocabulary of OP_VOCAB rows.
# Row 1 is gathered three times, rows 2 and 4 never.
OP_VOCAB = 6
OP_TOKENS = np.array([[1, 3, 1, 0], [5, 1, 3, 0]], dtype=np.int32)
OP_TARGETS = np.array([[2, 0, 5, 4], [3, 3, 1, 0]], dtype=np.int32)


def _d(*dims) -> str:
    return _t(dims)


def DYN3(c: int) -> str:
    """The type of [B, T, c] activations."""
    return f"tensor<?x?x{c}x{F}>"


@dataclass(frozen=True)
class OpCase:
    """A small model: parameters, the body of @forward (defining %loss, a
    tensor<f64>) and a one-line description."""

    name: str
    doc: str
    params: tuple[tuple[str, tuple[int, ...]], ...]
    body: str
    std: dict = field(default_factory=dict)  # per-parameter std (default 1)


def _term(out: str, y: str, r: str, ty: str, rank: int) -> str:
    """%out = reduce_sum(mul(%y, %r)) over all `rank` dims of type ty."""
    dims = ", ".join(str(i) for i in range(rank))
    return (f"%{out}_m = lmc.mul %{y}, %{r} : {ty}\n"
            f"%{out} = lmc.reduce_sum %{out}_m dims [{dims}] : {ty}\n")


def _sum(out: str, terms: list[str]) -> str:
    assert len(terms) >= 2
    s = ""
    acc = terms[0]
    for i, t in enumerate(terms[1:]):
        nxt = out if i == len(terms) - 2 else f"{out}_acc{i}"
        s += f"%{nxt} = lmc.add %{acc}, %{t} : tensor<{F}>\n"
        acc = nxt
    return s


def _emb(out: str, table: str, ids: str, v: int, c: int) -> str:
    return f"%{out} = lmc.embedding %{table}[%{ids}] : {_d(v, c)}, {TOK}\n"


def _matmul_terms(prefix: str, lhs_shapes, rhs_shapes, flags, out_shapes):
    params, body, terms = [], "", []
    for i, (ls, rs, fl, os_) in enumerate(zip(lhs_shapes, rhs_shapes, flags, out_shapes)):
        a, b, r = f"{prefix}{i}_a", f"{prefix}{i}_b", f"{prefix}{i}_r"
        params += [(a, ls), (b, rs), (r, os_)]
        attr = "".join(" " + f for f in fl)
        body += (f"%{prefix}{i}_y = lmc.matmul %{a}, %{b}{attr} : {_t(ls)}, {_t(rs)}\n")
        body += _term(f"{prefix}{i}_s", f"{prefix}{i}_y", r, _t(os_), len(os_))
        terms.append(f"{prefix}{i}_s")
    return params, body, terms


def _combos():
    return [(), ("transpose_a",), ("transpose_b",), ("transpose_a", "transpose_b")]


def _matmul_case(name: str, doc: str, batch: tuple[int, ...], rhs_batched: bool):
    M, K, N = 3, 4, 5
    ls, rs, os_ = [], [], []
    for fl in _combos():
        ls.append(batch + ((K, M) if "transpose_a" in fl else (M, K)))
        rb = batch if rhs_batched else ()
        rs.append(rb + ((N, K) if "transpose_b" in fl else (K, N)))
        os_.append(batch + (M, N))
    params, body, terms = _matmul_terms("mm", ls, rs, _combos(), os_)
    body += _sum("loss", terms)
    return OpCase(name, doc, tuple(params), body)


def _op_cases() -> dict[str, OpCase]:
    V = OP_VOCAB
    cases: list[OpCase] = []

    cases.append(OpCase(
        "embedding", "token gather (repeated and unused rows); r gathered by targets",
        (("table", (V, 5)), ("rt", (V, 5))),
        _emb("y", "table", "tokens", V, 5) + _emb("r", "rt", "targets", V, 5)
        + _term("loss", "y", "r", DYN3(5), 3)))

    cases.append(OpCase(
        "position_embedding", "positions 0..T-1 of an 8-row table (rows >= T unused)",
        (("wpe", (8, 5)), ("rt", (V, 5))),
        f"%y = lmc.position_embedding %wpe like %tokens : {_d(8, 5)}, {TOK}\n"
        + _emb("r", "rt", "targets", V, 5) + _term("loss", "y", "r", DYN3(5), 3)))

    cases.append(OpCase(
        "layer_norm", "static [3, 8] and dynamic [B, T, 8] inputs",
        (("x", (3, 8)), ("w", (8,)), ("b", (8,)), ("r", (3, 8)),
         ("xt", (V, 8)), ("w2", (8,)), ("b2", (8,)), ("rt", (V, 8))),
        f"%y = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : {_d(3, 8)}, {_d(8)}\n"
        + _term("s0", "y", "r", _d(3, 8), 2)
        + _emb("x2", "xt", "tokens", V, 8) + _emb("r2", "rt", "targets", V, 8)
        + f"%y2 = lmc.layer_norm %x2, %w2, %b2 eps(1.000000e-05) : {DYN3(8)}, {_d(8)}\n"
        + _term("s1", "y2", "r2", DYN3(8), 3) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "rms_norm", "static [3, 8] and dynamic [B, T, 8] inputs",
        (("x", (3, 8)), ("w", (8,)), ("r", (3, 8)),
         ("xt", (V, 8)), ("w2", (8,)), ("rt", (V, 8))),
        f"%y = lmc.rms_norm %x, %w eps(1.000000e-05) : {_d(3, 8)}, {_d(8)}\n"
        + _term("s0", "y", "r", _d(3, 8), 2)
        + _emb("x2", "xt", "tokens", V, 8) + _emb("r2", "rt", "targets", V, 8)
        + f"%y2 = lmc.rms_norm %x2, %w2 eps(1.000000e-05) : {DYN3(8)}, {_d(8)}\n"
        + _term("s1", "y2", "r2", DYN3(8), 3) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "rope", "static [2,5,8] head_dim(4); dynamic [B,T,8] head_dim(4) at "
        "offset 3, and head_dim(8) inverse at offset 3",
        (("x", (2, 5, 8)), ("r", (2, 5, 8)), ("xt", (V, 8)), ("rt", (V, 8)),
         ("rt2", (V, 8))),
        f"%y = lmc.rope %x head_dim(4) theta(1.000000e+04) : {_d(2, 5, 8)}\n"
        + _term("s0", "y", "r", _d(2, 5, 8), 3)
        + _emb("x2", "xt", "tokens", V, 8) + _emb("r2", "rt", "targets", V, 8)
        + _emb("r3", "rt2", "targets", V, 8)
        + "%off = arith.constant 3 : index\n"
        + f"%y2 = lmc.rope %x2 head_dim(4) theta(1.000000e+02) offset(%off) : {DYN3(8)}\n"
        + _term("s1", "y2", "r2", DYN3(8), 3)
        + f"%y3 = lmc.rope %x2 head_dim(8) theta(1.000000e+02) offset(%off) inverse : "
        f"{DYN3(8)}\n"
        + _term("s2", "y3", "r3", DYN3(8), 3) + _sum("loss", ["s0", "s1", "s2"])))

    def lin(out: str, x: str, w: str, n_in: int, n_out: int) -> str:
        return (f"%{out} = lmc.matmul %{x}, %{w} transpose_b : {DYN3(n_in)}, "
                f"{_d(n_out, n_in)}\n")

    def rms(out: str, x: str, w: str) -> str:
        return f"%{out} = lmc.rms_norm %{x}, %{w} eps(1.000000e-05) : {DYN3(8)}, {_d(8)}\n"

    cases.append(OpCase(
        "llama_block", "a Llama block on dynamic [B,T,8]: rms_norm, q/k/v "
        "(nn.Linear), rope on q and k at offset 2, attention heads(2), o, "
        "residual, rms_norm, SwiGLU (12), residual, final rms_norm, LM head, "
        "cross-entropy",
        (("xt", (V, 8)), ("w_in", (8,)), ("wq", (8, 8)), ("wk", (8, 8)),
         ("wv", (8, 8)), ("wo", (8, 8)), ("w_post", (8,)), ("wg", (12, 8)),
         ("wu", (12, 8)), ("wd", (8, 12)), ("w_f", (8,)), ("head", (V, 8))),
        _emb("x", "xt", "tokens", V, 8) + rms("h", "x", "w_in")
        + lin("q0", "h", "wq", 8, 8) + lin("k0", "h", "wk", 8, 8)
        + lin("v", "h", "wv", 8, 8)
        + "%off = arith.constant 2 : index\n"
        + f"%q = lmc.rope %q0 head_dim(4) theta(1.000000e+02) offset(%off) : {DYN3(8)}\n"
        + f"%k = lmc.rope %k0 head_dim(4) theta(1.000000e+02) offset(%off) : {DYN3(8)}\n"
        + f"%a = lmc.causal_attention %q, %k, %v heads(2) : {DYN3(8)}\n"
        + lin("o", "a", "wo", 8, 8) + f"%x1 = lmc.add %x, %o : {DYN3(8)}\n"
        + rms("h2", "x1", "w_post") + lin("g", "h2", "wg", 8, 12)
        + lin("u", "h2", "wu", 8, 12) + f"%sg = lmc.silu %g : {DYN3(12)}\n"
        + f"%m = lmc.mul %sg, %u : {DYN3(12)}\n" + lin("dn", "m", "wd", 12, 8)
        + f"%x2 = lmc.add %x1, %dn : {DYN3(8)}\n" + rms("hf", "x2", "w_f")
        + lin("logits", "hf", "head", 8, V)
        + f"%loss = lmc.cross_entropy %logits, %targets : {DYN3(V)}, {TOK}\n",
        {n: 0.5 for n in ("wq", "wk", "wv", "wo", "wg", "wu", "wd", "head")}))

    cases.append(_matmul_case(
        "matmul_2d", "[M,K] x [K,N], all four transpose combinations", (), False))
    cases.append(_matmul_case(
        "matmul_shared", "[2,M,K] x shared [K,N], all four transpose combinations",
        (2,), False))
    cases.append(_matmul_case(
        "matmul_batched", "[2,2,M,K] x batched [2,2,K,N], all four transpose combinations",
        (2, 2), True))

    cases.append(OpCase(
        "matmul_dynamic",
        "dynamic [B,T,C] x shared [C,N] (linear) and x [V,C]^T (tied head)",
        (("xt", (V, 4)), ("w", (4, 5)), ("wv", (V, 4)), ("rt", (V, 5)), ("rv", (V, V))),
        _emb("x", "xt", "tokens", V, 4)
        + f"%y = lmc.matmul %x, %w : {DYN3(4)}, {_d(4, 5)}\n"
        + _emb("r", "rt", "targets", V, 5) + _term("s0", "y", "r", DYN3(5), 3)
        + f"%z = lmc.matmul %x, %wv transpose_b : {DYN3(4)}, {_d(V, 4)}\n"
        + _emb("r2", "rv", "targets", V, V) + _term("s1", "z", "r2", DYN3(V), 3)
        + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "bias_add", "static [3,5] and dynamic [B,T,5] inputs",
        (("x", (3, 5)), ("b", (5,)), ("r", (3, 5)), ("xt", (V, 5)), ("b2", (5,)),
         ("rt", (V, 5))),
        f"%y = lmc.bias_add %x, %b : {_d(3, 5)}, {_d(5)}\n"
        + _term("s0", "y", "r", _d(3, 5), 2)
        + _emb("x2", "xt", "tokens", V, 5) + _emb("r2", "rt", "targets", V, 5)
        + f"%y2 = lmc.bias_add %x2, %b2 : {DYN3(5)}, {_d(5)}\n"
        + _term("s1", "y2", "r2", DYN3(5), 3) + _sum("loss", ["s0", "s1"])))

    for approx in ("tanh", "exact"):
        cases.append(OpCase(
            f"gelu_{approx}", f"GELU ({approx}) on [3,5], inputs N(0, 2^2)",
            (("x", (3, 5)), ("r", (3, 5))),
            f"%y = lmc.gelu %x {approx} : {_d(3, 5)}\n"
            + _term("loss", "y", "r", _d(3, 5), 2), {"x": 2.0}))

    cases.append(OpCase(
        "silu", "SiLU on [3,5], inputs N(0, 3^2); the SwiGLU gate "
        "silu(x) * u on dynamic [B,T,5]",
        (("x", (3, 5)), ("r", (3, 5)), ("gt", (V, 5)), ("ut", (V, 5)),
         ("rt", (V, 5))),
        f"%y = lmc.silu %x : {_d(3, 5)}\n"
        + _term("s0", "y", "r", _d(3, 5), 2)
        + _emb("g", "gt", "tokens", V, 5) + _emb("u", "ut", "tokens", V, 5)
        + _emb("r2", "rt", "targets", V, 5)
        + f"%sg = lmc.silu %g : {DYN3(5)}\n"
        + f"%h = lmc.mul %sg, %u : {DYN3(5)}\n"
        + _term("s1", "h", "r2", DYN3(5), 3) + _sum("loss", ["s0", "s1"]),
        {"x": 3.0, "gt": 3.0}))

    cases.append(OpCase(
        "add", "x + y, and x + x (one value used twice)",
        (("x", (3, 5)), ("y", (3, 5)), ("r", (3, 5)), ("r2", (3, 5))),
        f"%a = lmc.add %x, %y : {_d(3, 5)}\n" + _term("s0", "a", "r", _d(3, 5), 2)
        + f"%a2 = lmc.add %x, %x : {_d(3, 5)}\n" + _term("s1", "a2", "r2", _d(3, 5), 2)
        + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "mul", "x * y, and x * x",
        (("x", (3, 5)), ("y", (3, 5)), ("r", (3, 5)), ("r2", (3, 5))),
        f"%a = lmc.mul %x, %y : {_d(3, 5)}\n" + _term("s0", "a", "r", _d(3, 5), 2)
        + f"%a2 = lmc.mul %x, %x : {_d(3, 5)}\n" + _term("s1", "a2", "r2", _d(3, 5), 2)
        + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "split", "[3,12] into 3 with the middle part unused; dynamic [B,T,6] into 2",
        (("x", (3, 12)), ("r0", (3, 4)), ("r2", (3, 4)), ("xt", (V, 6)),
         ("rt", (V, 3))),
        f"%q, %k, %v = lmc.split %x into 3 : {_d(3, 12)}\n"
        + _term("s0", "q", "r0", _d(3, 4), 2) + _term("s1", "v", "r2", _d(3, 4), 2)
        + _emb("x2", "xt", "tokens", V, 6) + _emb("r3", "rt", "targets", V, 3)
        + f"%a, %b = lmc.split %x2 into 2 : {DYN3(6)}\n"
        + f"%ab = lmc.mul %a, %b : {DYN3(3)}\n"
        + _term("s2", "ab", "r3", DYN3(3), 3)
        + _sum("loss", ["s0", "s1", "s2"])))

    cases.append(OpCase(
        "causal_attention", "static [2,5,8] heads(2) and dynamic [B,T,8] heads(2)",
        (("q", (2, 5, 8)), ("k", (2, 5, 8)), ("v", (2, 5, 8)), ("r", (2, 5, 8)),
         ("qt", (V, 8)), ("kt", (V, 8)), ("vt", (V, 8)), ("rt", (V, 8))),
        f"%y = lmc.causal_attention %q, %k, %v heads(2) : {_d(2, 5, 8)}\n"
        + _term("s0", "y", "r", _d(2, 5, 8), 3)
        + _emb("q2", "qt", "tokens", V, 8) + _emb("k2", "kt", "tokens", V, 8)
        + _emb("v2", "vt", "tokens", V, 8) + _emb("r2", "rt", "targets", V, 8)
        + f"%y2 = lmc.causal_attention %q2, %k2, %v2 heads(2) : {DYN3(8)}\n"
        + _term("s1", "y2", "r2", DYN3(8), 3) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "causal_attention_gqa",
        "grouped-query: static [2,5,16] heads(4) kv_heads(2) (keys, values "
        "[2,5,8]); multi-query: dynamic [B,T,12] heads(3) kv_heads(1)",
        (("q", (2, 5, 16)), ("k", (2, 5, 8)), ("v", (2, 5, 8)), ("r", (2, 5, 16)),
         ("qt", (V, 12)), ("kt", (V, 4)), ("vt", (V, 4)), ("rt", (V, 12))),
        f"%y = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2) : "
        f"{_d(2, 5, 16)}, {_d(2, 5, 8)}\n"
        + _term("s0", "y", "r", _d(2, 5, 16), 3)
        + _emb("q2", "qt", "tokens", V, 12) + _emb("k2", "kt", "tokens", V, 4)
        + _emb("v2", "vt", "tokens", V, 4) + _emb("r2", "rt", "targets", V, 12)
        + f"%y2 = lmc.causal_attention %q2, %k2, %v2 heads(3) kv_heads(1) : "
        f"{DYN3(12)}, {DYN3(4)}\n"
        + _term("s1", "y2", "r2", DYN3(12), 3) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "repeat_heads", "[2,2,3,4] times(3) -> [2,6,3,4]; repeat_heads_grad "
        "[2,6,3,4] times(2) -> [2,3,3,4]",
        (("x", (2, 2, 3, 4)), ("r", (2, 6, 3, 4)), ("x2", (2, 6, 3, 4)),
         ("r2", (2, 3, 3, 4))),
        f"%y = lmc.repeat_heads %x times(3) : {_d(2, 2, 3, 4)}\n"
        + _term("s0", "y", "r", _d(2, 6, 3, 4), 4)
        + f"%y2 = lmc.repeat_heads_grad %x2 times(2) : {_d(2, 6, 3, 4)}\n"
        + _term("s1", "y2", "r2", _d(2, 3, 3, 4), 4) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "split_heads", "[2,5,8] heads(2) -> [2,2,5,4]",
        (("x", (2, 5, 8)), ("r", (2, 2, 5, 4))),
        f"%y = lmc.split_heads %x heads(2) : {_d(2, 5, 8)}\n"
        + _term("loss", "y", "r", _d(2, 2, 5, 4), 4)))

    cases.append(OpCase(
        "merge_heads", "[2,2,5,4] -> [2,5,8]",
        (("x", (2, 2, 5, 4)), ("r", (2, 5, 8))),
        f"%y = lmc.merge_heads %x : {_d(2, 2, 5, 4)}\n"
        + _term("loss", "y", "r", _d(2, 5, 8), 3)))

    cases.append(OpCase(
        "scale", "x * 0.37",
        (("x", (3, 5)), ("r", (3, 5))),
        f"%y = lmc.scale %x by 3.700000e-01 : {_d(3, 5)}\n"
        + _term("loss", "y", "r", _d(3, 5), 2)))

    cases.append(OpCase(
        "causal_mask", "softmax(causal_mask(x)) on [2,4,4]; causal_mask zero on [2,4,4]",
        (("x", (2, 4, 4)), ("r", (2, 4, 4)), ("x2", (2, 4, 4)), ("r2", (2, 4, 4))),
        f"%m = lmc.causal_mask %x : {_d(2, 4, 4)}\n"
        f"%p = lmc.softmax %m : {_d(2, 4, 4)}\n"
        + _term("s0", "p", "r", _d(2, 4, 4), 3)
        + f"%z = lmc.causal_mask %x2 zero : {_d(2, 4, 4)}\n"
        + _term("s1", "z", "r2", _d(2, 4, 4), 3) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "softmax", "last dim of [3,5] and of [2,2,3,3]",
        (("x", (3, 5)), ("r", (3, 5)), ("x2", (2, 2, 3, 3)), ("r2", (2, 2, 3, 3))),
        f"%y = lmc.softmax %x : {_d(3, 5)}\n" + _term("s0", "y", "r", _d(3, 5), 2)
        + f"%y2 = lmc.softmax %x2 : {_d(2, 2, 3, 3)}\n"
        + _term("s1", "y2", "r2", _d(2, 2, 3, 3), 4) + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "cross_entropy", "the loss of static [2,4,7] logits plus that of dynamic "
        "[B,T,6] gathered logits",
        (("logits", (2, 4, 7)), ("lt", (V, V))),
        f"%s0 = lmc.cross_entropy %logits, %targets : {_d(2, 4, 7)}, {TOK}\n"
        + _emb("l2", "lt", "tokens", V, V)
        + f"%s1 = lmc.cross_entropy %l2, %targets : {DYN3(V)}, {TOK}\n"
        + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "reduce_sum", "[2,3,4] over [1], over [0,2] and over everything",
        (("x", (2, 3, 4)), ("r", (2, 4)), ("r2", (3,)), ("x3", (2, 3))),
        f"%y = lmc.reduce_sum %x dims [1] : {_d(2, 3, 4)}\n"
        + _term("s0", "y", "r", _d(2, 4), 2)
        + f"%y2 = lmc.reduce_sum %x dims [0, 2] : {_d(2, 3, 4)}\n"
        + _term("s1", "y2", "r2", _d(3), 1)
        + f"%x3sq = lmc.mul %x3, %x3 : {_d(2, 3)}\n"
        + f"%s2 = lmc.reduce_sum %x3sq dims [0, 1] : {_d(2, 3)}\n"
        + _sum("loss", ["s0", "s1", "s2"])))

    cases.append(OpCase(
        "transpose", "[2,3,4] -> [2,4,3] and [3,5] -> [5,3]",
        (("x", (2, 3, 4)), ("r", (2, 4, 3)), ("x2", (3, 5)), ("r2", (5, 3))),
        f"%y = lmc.transpose %x : {_d(2, 3, 4)}\n" + _term("s0", "y", "r", _d(2, 4, 3), 3)
        + f"%y2 = lmc.transpose %x2 : {_d(3, 5)}\n" + _term("s1", "y2", "r2", _d(5, 3), 2)
        + _sum("loss", ["s0", "s1"])))

    cases.append(OpCase(
        "flatten", "[2,3,4] -> [6,4] and [2,3,5] -> [6,5]",
        (("x", (2, 3, 4)), ("r", (6, 4)), ("x2", (2, 3, 5)), ("r2", (6, 5))),
        f"%y = lmc.flatten %x : {_d(2, 3, 4)}\n" + _term("s0", "y", "r", _d(6, 4), 2)
        + f"%y2 = lmc.flatten %x2 : {_d(2, 3, 5)}\n"
        + _term("s1", "y2", "r2", _d(6, 5), 2) + _sum("loss", ["s0", "s1"])))

    # Kept apart: its gradient is an lmc.unflatten to [?, ?, 4], whose
    # memref.expand_shape with two dynamic sizes in one group crashes
    # expand-strided-metadata (LLVM 22); see test/e2e/grad-ops-flatten-dynamic.test.
    cases.append(OpCase(
        "flatten_dynamic", "dynamic [B,T,4] -> [B*T,4]",
        (("xt", (V, 4)), ("rt", (V, 4))),
        _emb("x2", "xt", "tokens", V, 4) + _emb("r2", "rt", "targets", V, 4)
        + f"%y2 = lmc.flatten %x2 : {DYN3(4)}\n"
        + f"%f2 = lmc.flatten %r2 : {DYN3(4)}\n"
        + _term("loss", "y2", "f2", f"tensor<?x4x{F}>", 2)))

    return {c.name: c for c in cases}


OP_CASES = _op_cases()


def op_model_text(op: OpCase, case: GradCase) -> str:
    body = [line for line in op.body.splitlines() if line.strip()]
    lines = [f"lmc.model @grad_{op.name} {{"]
    lines.append(f"  // {op.doc}")
    for name, shape in op.params:
        std = op.std.get(name, 1.0)
        lines.append(f'  lmc.param @"{name}" : {_t(shape)} '
                     f"init(normal, std = {std:.6e})")
    sig = f"%tokens: {TOK}, %targets: {TOK}"
    lines.append(f"  func.func @forward({sig}) -> tensor<{F}> {{")
    for name, shape in op.params:
        lines.append(f'    %{name} = lmc.param_ref @"{name}" : {_t(shape)}')
    lines += ["    " + line for line in body]
    lines.append(f"    return %loss : tensor<{F}>")
    lines.append("  }")
    args = ", ".join(f"%{n}: {_t(s)}" for n, s in op.params)
    lines.append(f"  func.func @loss_at({args}, {sig}) -> tensor<{F}> {{")
    lines += ["    " + line for line in body]
    lines.append(f"    return %loss : tensor<{F}>")
    lines.append("  }")
    lines += ["  " + d for d in declarations(case)]
    lines += ["  " + line for line in driver_func(case).splitlines()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def op_case(name: str, *, seed: int = 0, max_coords: int = 32,
            h: float = DEFAULT_H) -> tuple[OpCase, GradCase]:
    op = OP_CASES[name]
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    values, coords = {}, {}
    for pname, shape in op.params:
        values[pname] = quantize(op.std.get(pname, 1.0) * rng.standard_normal(shape))
        size = math.prod(shape)
        flat = (np.arange(size) if size <= max_coords
                else np.sort(rng.choice(size, size=max_coords, replace=False)))
        coords[pname] = [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat]
    case = GradCase(f"op:{name}", list(op.params), values, OP_TOKENS, OP_TARGETS,
                    coords, "loss_at", h, {"op": name, "doc": op.doc})
    return op, case


def write_op_case(name: str, out_dir: str, **kw) -> GradCase:
    op, case = op_case(name, **kw)
    write_files(case, op_model_text(op, case), out_dir)
    return case


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.testing.grad_case",
                                     description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--preset", choices=sorted(set(PRESETS) | set(llama.PRESETS)),
                      help="a whole model of --family (gpt2 or llama)")
    what.add_argument("--op", help="an op case, or 'all' (one directory each)")
    what.add_argument("--list-ops", action="store_true")
    family.add_family_arg(parser)
    parser.add_argument("--dtype", choices=[F], default=F,
                        help="finite differences need f64 (the only choice)")
    parser.add_argument("--batch", type=positive_int, default=2)
    parser.add_argument("--seq", type=positive_int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-param", type=positive_int, default=3,
                        help="random coordinates per parameter (preset)")
    parser.add_argument("--param-std", type=float, default=0.2,
                        help="std of the random parameters (preset)")
    parser.add_argument("--max-coords", type=positive_int, default=32,
                        help="coordinates per parameter (op cases; all if fewer)")
    parser.add_argument("--h-log2", type=int, default=-10,
                        help="finite-difference step 2^H (default -10)")
    parser.add_argument("--n-kv-head", type=positive_int,
                        help="llama: key/value heads (default: the preset's)")
    parser.add_argument("--tie-embeddings", action="store_true",
                        help="llama: the LM head reads the token embedding")
    parser.add_argument("--rope-theta", type=llama.positive_float,
                        help="llama: the RoPE base (default: the preset's)")
    parser.add_argument("--out-dir")
    args = parser.parse_args(argv)
    if args.list_ops:
        for name, op in OP_CASES.items():
            print(f"{name}: {op.doc}")
        return 0
    if not args.out_dir:
        parser.error("--out-dir is required")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    h = 2.0 ** args.h_log2
    if args.preset:
        presets = family.get(args.family).presets
        if args.preset not in presets:
            parser.error(f"--preset {args.preset}: not a preset of the "
                         f"{args.family} family")
        cfg = presets[args.preset]
        llama_only = {"n_kv_head": args.n_kv_head, "rope_theta": args.rope_theta,
                      "tied": args.tie_embeddings or None}
        llama_only = {k: v for k, v in llama_only.items() if v is not None}
        if llama_only and args.family != "llama":
            parser.error("--n-kv-head, --tie-embeddings and --rope-theta are "
                         "options of the llama family")
        try:
            cfg = replace(cfg, **llama_only).validate()
        except ValueError as e:
            parser.error(str(e))
        try:
            case = write_gpt_case(cfg, args.out_dir, batch=args.batch, seq=args.seq,
                                  seed=args.seed, per_param=args.per_param,
                                  std=args.param_std, h=h)
        except ValueError as e:
            parser.error(str(e))
        n = sum(len(c) for c in case.coords.values())
        print(f"wrote {args.out_dir}: {cfg.name} f64 batch={args.batch} seq={args.seq} "
              f"seed={args.seed} coordinates={n}")
        return 0
    names = list(OP_CASES) if args.op == "all" else [args.op]
    for name in names:
        if name not in OP_CASES:
            parser.error(f"unknown op case {name!r}; see --list-ops")
        out = os.path.join(args.out_dir, name) if args.op == "all" else args.out_dir
        case = write_op_case(name, out, seed=args.seed, max_coords=args.max_coords, h=h)
        n = sum(len(c) for c in case.coords.values())
        print(f"wrote {out}: op {name} coordinates={n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
