"""Copies a safetensors file with one F32 element set to NaN.

The tensor's checksum (`checksum.<TENSOR>` in the metadata, which lmc
checkpoints record) is dropped, as in a file written by another tool, so
that what the reader meets is the NaN, not a checksum mismatch.

usage: poke_nan.py IN OUT TENSOR INDEX
"""

import json
import struct
import sys

src, dst, name, index = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = bytearray(open(src, "rb").read())
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8 : 8 + n])
body = data[8 + n :]
entry = header[name]
assert entry["dtype"] == "F32", entry
at = entry["data_offsets"][0] + 4 * index
body[at : at + 4] = struct.pack("<f", float("nan"))
header.get("__metadata__", {}).pop(f"checksum.{name}", None)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + body)
