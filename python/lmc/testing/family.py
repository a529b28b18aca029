"""The model families the test-case generators know: builder and NumPy
reference of each, behind one interface.

    fam = family.get("llama")          # or family.of(cfg)
    fam.add_config_args(parser); cfg = fam.config_from_args(parser, args)
    fam.emit_model(cfg, extra), fam.param_specs(cfg), fam.init_params(cfg, seed)
    fam.forward_loss(params, tokens, targets, cfg)
    fam.train(params, batches, cfg, hp, steps) -> (history, params, m, v)
    fam.forward_backward(params, tokens, targets, cfg) -> (loss, grads)
    fam.decay_mask(cfg)

A generator takes `--family gpt2|llama` (default gpt2) before the builder's
own options; see add_family_arg.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

FAMILIES = ("gpt2", "llama")


@dataclass(frozen=True)
class Family:
    name: str
    config_type: type
    presets: dict
    add_config_args: Callable
    config_from_args: Callable
    emit_model: Callable
    param_specs: Callable
    init_params: Callable
    forward_loss: Callable
    forward_logits: Callable
    forward_backward: Callable
    train: Callable
    decay_mask: Callable


def get(name: str) -> Family:
    """The family called `name` (imported on first use)."""
    if name == "gpt2":
        from lmc import reference, reference_train
        from lmc.models import gpt2
        return Family("gpt2", gpt2.GPT2Config, gpt2.PRESETS, gpt2.add_config_args,
                      gpt2.config_from_args, gpt2.emit_model, gpt2.param_specs,
                      reference.init_params, reference.forward_loss,
                      reference.forward_logits, reference_train.forward_backward,
                      reference_train.train, reference_train.decay_mask)
    if name == "llama":
        from lmc import reference_llama as rl
        from lmc.models import llama
        return Family("llama", llama.LlamaConfig, llama.PRESETS,
                      llama.add_config_args, llama.config_from_args,
                      llama.emit_model, llama.param_specs, rl.init_params,
                      rl.forward_loss, rl.forward_logits, rl.forward_backward,
                      rl.train, rl.decay_mask)
    raise ValueError(f"unknown model family {name!r}; choose from {FAMILIES}")


def of(cfg) -> Family:
    """The family of a config object."""
    for name in FAMILIES:
        fam = get(name)
        if isinstance(cfg, fam.config_type):
            return fam
    raise TypeError(f"{type(cfg).__name__} is not the config of a known family")


def add_family_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=FAMILIES, default="gpt2",
                        help="model family (default gpt2); the options after "
                             "it are that family's builder's")


def family_from_argv(argv: list[str] | None) -> Family:
    """The --family of a command line (parsed ahead of the rest, so that
    the parser can be given that family's options)."""
    pre = argparse.ArgumentParser(add_help=False)
    add_family_arg(pre)
    known, _ = pre.parse_known_args(argv)
    return get(known.family)
