"""Copies a safetensors file with one F32 element set to NaN.

usage: poke_nan.py IN OUT TENSOR INDEX
"""

import json
import struct
import sys

src, dst, name, index = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = bytearray(open(src, "rb").read())
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8 : 8 + n])
entry = header[name]
assert entry["dtype"] == "F32", entry
at = 8 + n + entry["data_offsets"][0] + 4 * index
data[at : at + 4] = struct.pack("<f", float("nan"))
open(dst, "wb").write(data)
