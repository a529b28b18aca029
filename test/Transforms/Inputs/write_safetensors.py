"""Writes the safetensors files of lmc-bind-params.test.

Usage: write_safetensors.py KIND OUT

The well-formed files are written with lmc.safetensors.save; the corrupted
ones, which save() refuses to produce, are assembled byte by byte (u64
little-endian header length, JSON header, data) with struct and json.
"""

import json
import struct
import sys

import numpy as np

from lmc.safetensors import save

# The declared parameters of the test model: w : 2x3, b : 3.
W = (np.arange(6, dtype=np.float64).reshape(2, 3) * 0.5 - 1.0)
B = np.array([1.5, -2.0, 3.25])


def raw(header, data: bytes, header_len=None) -> bytes:
    """A file from a header (dict, or bytes used as they are) and data."""
    if isinstance(header, dict):
        header = json.dumps(header).encode()
    length = len(header) if header_len is None else header_len
    return struct.pack("<Q", length) + header + data


def valid_header(w_offsets=(0, 24), b_offsets=(24, 36), w_dtype="F32"):
    return {
        "w": {"dtype": w_dtype, "shape": [2, 3], "data_offsets": list(w_offsets)},
        "b": {"dtype": "F32", "shape": [3], "data_offsets": list(b_offsets)},
    }


DATA = W.astype("<f4").tobytes() + B.astype("<f4").tobytes()  # 36 bytes


def main(kind: str, out: str) -> None:
    f32 = {"w": W.astype(np.float32), "b": B.astype(np.float32)}
    saved = {
        "ok": f32,
        "ok-f64": {"w": W, "b": B},
        "missing": {"w": f32["w"]},
        "wrong-shape": {"w": f32["w"].reshape(3, 2), "b": f32["b"]},
        "wrong-dtype": {"w": W, "b": f32["b"]},
        "extra": {**f32, "c": np.zeros(1, np.float32)},
    }
    if kind in saved:
        save(out, saved[kind], {"format": "lmc"})
        return
    corrupt = {
        # Shorter than the 8-byte header length.
        "truncated": b"\x10\x00\x00",
        # The header length points past the end of the file.
        "header-too-long": raw(valid_header(), DATA, header_len=4096),
        # The header is not JSON.
        "bad-json": raw(b'{"w": {"dtype": "F32", "shape": [2, 3],', DATA),
        # The header is JSON but not an object.
        "not-object": raw(b"[1, 2, 3]", DATA),
        # b's data ends after the 36 data bytes.
        "offsets-out-of-range": raw(valid_header(b_offsets=(24, 40)), DATA),
        # w's offsets cover 20 bytes where 2x3 F32 needs 24.
        "size-mismatch": raw(valid_header(w_offsets=(0, 20), b_offsets=(24, 36)), DATA),
        # w and b share bytes 20..24.
        "overlap": raw(valid_header(w_offsets=(0, 24), b_offsets=(20, 32)), DATA),
        # A dtype that safetensors does not define.
        "unknown-dtype": raw(valid_header(w_dtype="F12"), DATA),
    }
    with open(out, "wb") as f:
        f.write(corrupt[kind])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
