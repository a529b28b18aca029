"""Checks a trainer's `--logits` file made from the first batch of --data
against lmc's NumPy reference.

Usage: logits_reference.py PARAMS.safetensors LOGITS.safetensors SHARD OUT.txt

PARAMS holds the GPT-2 `tiny` parameters the trainer used, SHARD the --data
shard, OUT.txt the trainer's standard output. Checks that the file's tokens
are the shard's first B*T tokens (rows of T), that its logits are the NumPy
reference's (float64) on them within 1e-5 absolute, and that the printed
next-token loss is the mean cross-entropy of those logits against the
shard's next tokens (1e-5 relative). Prints one line per check.
"""

import re
import sys

import numpy as np

from lmc import reference as ref
from lmc import safetensors
from lmc.data import read_shard
from lmc.models import gpt2


def main(params_path, logits_path, shard, out_path) -> int:
    params, _ = safetensors.load(params_path)
    dump, meta = safetensors.load(logits_path)
    tokens, logits = dump["tokens"], dump["logits"]
    B, T = tokens.shape
    data = read_shard(shard).astype(np.int64)
    same = np.array_equal(tokens.reshape(-1), data[:B * T])
    print(f"{meta['format']}: tokens {tokens.dtype} {tokens.shape} the shard's "
          f"first {B * T}: {same}")
    want = ref.forward_logits(params, tokens, gpt2.PRESETS["tiny"])
    err = float(np.abs(logits - want).max())
    print(f"logits {logits.dtype} {logits.shape} vs NumPy: max abs {err:.2e} "
          f"{err <= 1e-5}")
    targets = data[1:B * T + 1].reshape(B, T)
    ce = ref.cross_entropy(logits.astype(np.float64), targets)
    printed = float(re.search(r"next-token loss (\S+)",
                              open(out_path).read())[1])
    close = abs(printed - ce) <= 1e-5 * ce
    print(f"printed loss {printed} vs cross-entropy {ce:.6f}: {close}")
    ok = same and err <= 1e-5 and close
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
