"""Writes a safetensors file of F32 tensors in half precision, as Hugging
Face's save_pretrained does for an f16 or bf16 model, and the same values in
F32 (each rounded to the half format, so the two files hold equal numbers).

Usage: half_safetensors.py IN.safetensors F16|BF16 OUT_HALF OUT_F32

BF16 rounds to nearest, ties to even (torch's float32 -> bfloat16); F16 is
NumPy's float16 conversion (the same rounding).
"""

import json
import struct
import sys

import numpy as np

from lmc import safetensors


def to_bf16_bits(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def main() -> None:
    src, dtype, out_half, out_f32 = sys.argv[1:5]
    tensors, _ = safetensors.load(src)
    header, blobs, rounded, offset = {}, [], {}, 0
    for name, value in tensors.items():
        a = np.asarray(value, dtype=np.float32)
        if dtype == "BF16":
            bits = to_bf16_bits(a)
            rounded[name] = (bits.astype("<u4") << 16).view("<f4").reshape(a.shape)
        elif dtype == "F16":
            bits = a.astype("<f2").view("<u2")
            rounded[name] = a.astype(np.float16).astype(np.float32)
        else:
            raise SystemExit(f"unknown dtype {dtype}")
        data = bits.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(out_half, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    safetensors.save(out_f32, rounded)
    print(f"{len(tensors)} tensors as {dtype}")


if __name__ == "__main__":
    main()
