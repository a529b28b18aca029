"""What the model builders share to write the lmc dialect's text: tensor
types, parameter declarations, the forward function's body, and the
command-line type of their sizes. (lmc.models.gpt2, lmc.models.llama.)"""

from __future__ import annotations

import argparse
import re
from typing import Callable

# MLIR bare identifier, as accepted for a symbol name like @tiny.
SYMBOL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$.]*$")


def tensor_type(shape, dt: str) -> str:
    """`tensor<AxBxdt>` of a static shape."""
    return "tensor<" + "".join(f"{d}x" for d in shape) + dt + ">"


def param_decl(name: str, shape, kind: str, std: float | None, dt: str,
               fmt: Callable[[float], str]) -> str:
    """One `lmc.param` line of a model (`fmt` prints the std)."""
    init = f"normal, std = {fmt(std)}" if kind == "normal" else kind
    return f'  lmc.param @"{name}" : {tensor_type(shape, dt)} init({init})'


class Body:
    """Collects the forward function's lines and checks SSA uniqueness."""

    def __init__(self, dt: str):
        self.dt = dt
        self.lines: list[str] = []
        self.defined: set[str] = set()

    def act(self, n: int) -> str:
        """The type of a [B, T, n] activation."""
        return f"tensor<?x?x{n}x{self.dt}>"

    def define(self, names: str | list[str], rhs: str) -> None:
        """`%a[, %b...] = rhs`."""
        names = [names] if isinstance(names, str) else names
        for n in names:
            if n in self.defined:
                raise AssertionError(f"SSA value %{n} defined twice")
            self.defined.add(n)
        lhs = ", ".join("%" + n for n in names)
        self.lines.append(f"    {lhs} = {rhs}")

    def comment(self, text: str) -> None:
        self.lines.append(f"    // {text}")

    def param_ref(self, ssa: str, pname: str, shape) -> None:
        self.define(ssa, f'lmc.param_ref @"{pname}" : '
                    f"{tensor_type(shape, self.dt)}")


def positive_int(text: str) -> int:
    """argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def padded_size(vocab: int, multiple: int) -> int:
    """`vocab` rounded up to a multiple of `multiple` (50257, 64 -> 50304)."""
    if not isinstance(multiple, int) or isinstance(multiple, bool) or multiple <= 0:
        raise ValueError(f"the padding multiple must be a positive integer, "
                         f"got {multiple!r}")
    return -(-vocab // multiple) * multiple


def pad_vocab(cfg, multiple: int):
    """`cfg` (a GPT2Config or LlamaConfig) with its embedding and LM head
    padded to a multiple of `multiple` rows (padded_vocab; none when the
    vocabulary already is one)."""
    from dataclasses import replace
    rows = padded_size(cfg.vocab, multiple)
    return replace(cfg, padded_vocab=rows if rows != cfg.vocab else 0)


def check_padded_vocab(vocab: int, padded: int) -> None:
    """Raise ValueError unless `padded` is 0 (none) or at least `vocab`."""
    if not isinstance(padded, int) or isinstance(padded, bool) or padded < 0:
        raise ValueError(f"padded_vocab must be a non-negative integer, got "
                         f"{padded!r}")
    if padded and padded < vocab:
        raise ValueError(f"padded_vocab ({padded}) must be at least vocab "
                         f"({vocab})")


def classes_suffix(vocab: int, rows: int) -> str:
    """The ` classes(N)` of lmc.cross_entropy over `rows` logits of which the
    first `vocab` are tokens; empty when nothing is padding."""
    return f" classes({vocab})" if rows != vocab else ""
