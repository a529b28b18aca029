"""Checks a loss-spike guard run: LOG (JSONL) has skipped steps, "skips"
counts them, and with the checkpoints of every step in DIR, a skipped
step's checkpoint holds the tensors of the step before, bit for bit, and an
applied step's does not.

usage: check_spikes.py LOG DIR
"""

import json
import os
import subprocess
import sys

log, ckpt = sys.argv[1], sys.argv[2]
steps = [o for o in map(json.loads, open(log)) if "loss" in o]
total = 0
for o in steps:
    assert "skipped" in o and "skips" in o, o
    total += o["skipped"]
    assert o["skips"] == total, o
assert total > 0, "no step was skipped"
same = os.path.join(os.path.dirname(__file__), "same_tensors.py")
for o in steps[1:]:
    s = o["step"]
    a = os.path.join(ckpt, "ckpt_%08d.safetensors" % (s - 1))
    b = os.path.join(ckpt, "ckpt_%08d.safetensors" % s)
    equal = subprocess.run([sys.executable, same, a, b],
                           stdout=subprocess.DEVNULL).returncode == 0
    assert equal == o["skipped"], (s, o["skipped"], equal)
print("skipped %d of %d steps" % (total, len(steps)))
