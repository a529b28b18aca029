"""Exits 0 when two safetensors files hold the same tensors, bit for bit
(their metadata may differ); else prints the first that differs, exits 1.

usage: same_tensors.py A B
"""

import json
import struct
import sys


def tensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    return {
        k: data[8 + n + v["data_offsets"][0] : 8 + n + v["data_offsets"][1]]
        for k, v in header.items()
    }


a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
if a.keys() != b.keys():
    sys.exit("different tensor names")
for k in sorted(a):
    if a[k] != b[k]:
        print("differs:", k)
        sys.exit(1)
