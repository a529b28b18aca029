"""Evaluate the @forward function of emitted lmc MLIR text with NumPy.

Only understands the op forms that lmc.models.gpt2 prints. It checks that
operand shapes agree with the printed types, so tests can confirm the
emitted program computes the same loss as lmc.reference.
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
}


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
        operand_text, type_text = rest.rsplit(" : ", 1)
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
    raise AssertionError(f"unknown op {op}")
