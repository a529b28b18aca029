"""Checks of trainer-vocab-padding.test on what the trainer wrote.

    vocab_padding_checks.py rows CKPT NAME...      the shape of each tensor
    vocab_padding_checks.py sample FILE VOCAB      the ids of --generate's last
                                                   line: how many, and whether
                                                   all are below VOCAB
    vocab_padding_checks.py logits A B             the logits' shape in A, and
                                                   whether A and B agree (1e-4)
    vocab_padding_checks.py pad IN OUT ROWS        writes the parameters of IN
                                                   with the embedding wte.weight
                                                   padded to ROWS rows of zeros
"""

import sys

import numpy as np

from lmc import safetensors


def main(argv):
    cmd = argv[1]
    if cmd == "rows":
        tensors, _ = safetensors.load(argv[2])
        for name in argv[3:]:
            print(f"{name} {tuple(tensors[name].shape)}")
    elif cmd == "sample":
        with open(argv[2]) as f:
            ids = [int(w) for w in f.read().splitlines()[-1].split()]
        vocab = int(argv[3])
        bad = [i for i in ids if not 0 <= i < vocab]
        print(f"{len(ids)} ids, " + ("all real" if not bad else
                                    f"{len(bad)} outside the vocabulary: {bad[:5]}"))
    elif cmd == "logits":
        a = safetensors.load(argv[2])[0]["logits"]
        b = safetensors.load(argv[3])[0]["logits"]
        diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
        print(f"logits {tuple(a.shape)} vs {tuple(b.shape)}: "
              + ("same" if diff <= 1e-4 else f"DIFFER by {diff}"))
    elif cmd == "pad":
        tensors, _ = safetensors.load(argv[2])
        params = {k: v for k, v in tensors.items() if not k.startswith("exp_avg")}
        wte = params["wte.weight"]
        rows = np.zeros((int(argv[4]), wte.shape[1]), dtype=wte.dtype)
        rows[: wte.shape[0]] = wte
        params["wte.weight"] = rows
        safetensors.save(argv[3], params, {})
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
