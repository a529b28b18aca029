"""The timed training loop of the PyTorch peers (utils/torch_gpt2_step.py,
utils/torch_llama_step.py): the command line (--config JSON, --batch, --seq,
--steps, --threads), random tokens from a seeded generator, and per step the
forward pass, backward pass, gradient clipping at 1 and the optimizer's
update, timed together and printed as one JSON line
{"step": i, "ms": ..., "loss": ...}. Imports nothing from lmc.
"""

import argparse
import json
import time

import torch


def run(description, build_model, make_optimizer):
    """Parses the command line, builds `build_model(config)` and
    `make_optimizer(parameters)`, and times the steps."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--config", required=True, help="the model, as JSON")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.loads(args.config)
    model = build_model(cfg)
    opt = make_optimizer(model.parameters())
    gen = torch.Generator().manual_seed(0)
    for step in range(args.steps):
        ids = torch.randint(0, cfg["vocab"], (args.batch, args.seq + 1),
                            generator=gen)
        start = time.perf_counter()
        loss = model(ids[:, :-1], ids[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ms = (time.perf_counter() - start) * 1e3
        print(json.dumps({"step": step, "ms": ms, "loss": loss.item()}),
              flush=True)
