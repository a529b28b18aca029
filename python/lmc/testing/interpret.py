"""Evaluate the @forward function of emitted lmc MLIR text with NumPy.

Only understands the op forms that lmc.models.gpt2 prints, and the ops of
the Llama family (lmc.rms_norm, lmc.rope with an optional offset from an
`arith.constant ... : index`, lmc.silu, lmc.mul). It checks that operand
shapes agree with the printed types, so tests can confirm the emitted
program computes the same loss as lmc.reference.
"""

from __future__ import annotations

import re

import numpy as np

from lmc import reference as ref

_SSA = r"%[A-Za-z0-9_$.\-]+"
_LINE = re.compile(r"^\s*(?P<lhs>%[^=]+?)\s*=\s*(?P<op>[a-z_.]+)\s+(?P<rest>.*)$")
_TYPE = re.compile(r"tensor<([^>]*)>")
# Per op: number of operands each printed type covers, in order.
_TYPE_GROUPS = {
    "lmc.embedding": [1, 1], "lmc.position_embedding": [1, 1],
    "lmc.add": [2], "lmc.layer_norm": [1, 2], "lmc.matmul": [1, 1],
    "lmc.bias_add": [1, 1], "lmc.split": [1], "lmc.causal_attention": [3],
    "lmc.gelu": [1], "lmc.cross_entropy": [1, 1],
    "lmc.rms_norm": [1, 1], "lmc.rope": [1], "lmc.silu": [1], "lmc.mul": [2],
}


def rms_norm(x, w, eps: float):
    """x * rsqrt(mean(x^2 over the last dimension) + eps) * w."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, head_dim: int, theta: float, offset: int = 0, inverse: bool = False):
    """Rotary embedding of [B, T, C] in the rotate-half convention: channel i
    of each head pairs with channel i + D/2, rotated by (t + offset) *
    theta^(-2i/D) (by its negative with `inverse`)."""
    B, T, C = x.shape
    D, half = head_dim, head_dim // 2
    freq = theta ** (-2.0 * np.arange(half) / D)
    angle = (np.arange(T) + offset)[:, None] * freq[None, :]  # [T, D/2]
    if inverse:
        angle = -angle
    cos, sin = np.cos(angle)[None, :, None, :], np.sin(angle)[None, :, None, :]
    xh = np.reshape(x, (B, T, C // D, D))
    a, b = xh[..., :half], xh[..., half:]
    out = np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)
    return out.reshape(B, T, C)


def _check_type(value, type_text: str, where: str) -> None:
    dims = type_text.split("x")[:-1]
    shape = np.shape(value)
    ok = len(dims) == len(shape) and all(
        d == "?" or int(d) == s for d, s in zip(dims, shape))
    if not ok:
        raise AssertionError(f"{where}: value of shape {shape} "
                             f"does not match tensor<{type_text}>")


def _forward_body(text: str) -> list[str]:
    start = text.index("func.func @forward(")
    lines = []
    for line in text[start:].splitlines()[1:]:
        if line.strip() == "}":
            return lines
        lines.append(line.strip())
    raise AssertionError("unterminated @forward function")


def run_forward(text: str, params: dict, tokens, targets) -> float:
    """Interpret @forward in `text` on the given inputs; return the loss."""
    env = {"%tokens": np.asarray(tokens), "%targets": np.asarray(targets)}

    def get(name):
        if name not in env:
            raise AssertionError(f"use of undefined value {name}")
        return env[name]

    for line in _forward_body(text):
        if not line or line.startswith("//"):
            continue
        if line.startswith("return "):
            return float(get(re.findall(_SSA, line)[0]))
        m = _LINE.match(line)
        if not m:
            raise AssertionError(f"cannot parse line: {line}")
        results = [r.strip() for r in m["lhs"].split(",")]
        op, rest = m["op"], m["rest"]
        for r in results:
            if r in env:
                raise AssertionError(f"{r} defined twice")
        if op == "lmc.param_ref":
            pname = re.match(r'@"([^"]+)"', rest)[1]
            value = np.asarray(params[pname], dtype=np.float64)
            _check_type(value, _TYPE.findall(rest)[0], line)
            env[results[0]] = value
            continue
        if op == "arith.constant":
            value_text, type_text = rest.rsplit(" : ", 1)
            if type_text.strip() != "index":
                raise AssertionError(f"only index constants are understood: {line}")
            env[results[0]] = int(value_text)
            continue
        operand_text, type_text = rest.rsplit(" : ", 1)
        # rope's offset is an index, not a tensor: kept out of the operands.
        offset = re.search(r"offset\((" + _SSA + r")\)", operand_text)
        if offset:
            operand_text = operand_text.replace(offset[0], "")
            operand_text += f" offset={int(get(offset[1]))}"
        args = [get(a) for a in re.findall(_SSA, operand_text)]
        types = _TYPE.findall(type_text)
        groups = _TYPE_GROUPS[op]
        if len(types) != len(groups) or sum(groups) != len(args):
            raise AssertionError(f"operand/type count mismatch: {line}")
        i = 0
        for t, n in zip(types, groups):
            for a in args[i:i + n]:
                _check_type(a, t, line)
            i += n
        outs = _apply(op, operand_text, args)
        if len(outs) != len(results):
            raise AssertionError(f"result count mismatch: {line}")
        env.update(zip(results, outs))
    raise AssertionError("no return in @forward")


def _apply(op: str, operand_text: str, a: list) -> list:
    if op == "lmc.embedding":
        return [a[0][a[1]]]
    if op == "lmc.position_embedding":
        return [np.broadcast_to(a[0][:a[1].shape[1]], a[1].shape + a[0].shape[1:])]
    if op == "lmc.add":
        return [a[0] + a[1]]
    if op == "lmc.layer_norm":
        eps = float(re.search(r"eps\(([^)]+)\)", operand_text)[1])
        return [ref.layer_norm(a[0], a[1], a[2], eps)]
    if op == "lmc.matmul":
        w = a[1].T if "transpose_b" in operand_text else a[1]
        return [a[0] @ w]
    if op == "lmc.bias_add":
        return [a[0] + a[1]]
    if op == "lmc.split":
        n = int(re.search(r"into (\d+)", operand_text)[1])
        return np.split(a[0], n, axis=-1)
    if op == "lmc.causal_attention":
        heads = int(re.search(r"heads\((\d+)\)", operand_text)[1])
        return [ref.causal_attention(a[0], a[1], a[2], heads)]
    if op == "lmc.gelu":
        mode = {"tanh": "tanh", "exact": "none"}[operand_text.split()[-1]]
        return [ref.gelu(a[0], mode)]
    if op == "lmc.cross_entropy":
        return [np.float64(ref.cross_entropy(a[0], a[1]))]
    if op == "lmc.rms_norm":
        eps = float(re.search(r"eps\(([^)]+)\)", operand_text)[1])
        return [rms_norm(a[0], a[1], eps)]
    if op == "lmc.rope":
        head_dim = int(re.search(r"head_dim\((\d+)\)", operand_text)[1])
        theta = float(re.search(r"theta\(([^)]+)\)", operand_text)[1])
        offset = re.search(r"offset=(\d+)", operand_text)
        return [rope(a[0], head_dim, theta, int(offset[1]) if offset else 0,
                     " inverse" in operand_text)]
    if op == "lmc.silu":
        return [ref.silu(a[0])]
    if op == "lmc.mul":
        return [a[0] * a[1]]
    raise AssertionError(f"unknown op {op}")
