"""Read and write safetensors files using NumPy only.

Layout: u64 little-endian header length N, N bytes of JSON header, then the
tensor data. The header maps each name to {"dtype", "shape", "data_offsets"}
(offsets relative to the start of the data) plus an optional "__metadata__"
object of string -> string. load() validates every field before use; it
reads BF16 tensors too, returned as float32.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

from lmc.fileio import atomic_write

# safetensors dtype tag -> little-endian NumPy dtype.
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U64": np.dtype("<u8"), "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_TAG_BY_KIND = {(dt.kind, dt.itemsize): tag for tag, dt in DTYPES.items()}
# bfloat16 (what Hugging Face checkpoints often hold) has no NumPy dtype:
# load() reads it as its 16-bit patterns and returns it widened to float32,
# which holds every bfloat16 value exactly. save() does not write it.
BF16 = "BF16"
METADATA_KEY = "__metadata__"
# Refuse absurd headers before reading them (the format caps them at 100 MB).
MAX_HEADER_BYTES = 100 * 1024 * 1024


def _tag_for(array: np.ndarray) -> str:
    tag = _TAG_BY_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if tag is None:
        raise ValueError(f"unsupported array dtype {array.dtype}")
    return tag


def save(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write `tensors` (name -> array) to `path` atomically, in dict order."""
    header: dict = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("metadata keys and values must be strings")
        header[METADATA_KEY] = dict(metadata)
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == METADATA_KEY:
            raise ValueError(f"invalid tensor name {name!r}")
        array = np.asarray(value)
        tag = _tag_for(array)
        data = np.ascontiguousarray(array, dtype=DTYPES[tag]).tobytes()
        header[name] = {"dtype": tag, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # align the data to 8 bytes

    atomic_write(path, [struct.pack("<Q", len(header_bytes)), header_bytes,
                        *blobs])


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _parse_header(raw: bytes, data_size: int, fail):
    """Validate the JSON header; return (entries, metadata)."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"header is not valid JSON ({e})")
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            fail("__metadata__ must be an object of string -> string")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            fail(f"tensor {name!r}: entry is not an object")
        missing = {"dtype", "shape", "data_offsets"} - info.keys()
        if missing:
            fail(f"tensor {name!r}: missing {sorted(missing)}")
        tag, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if tag not in DTYPES and tag != BF16:
            fail(f"tensor {name!r}: unknown dtype {tag!r}")
        dtype = DTYPES[tag] if tag != BF16 else np.dtype("<u2")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            fail(f"tensor {name!r}: shape must be a list of non-negative ints")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o) for o in offsets)):
            fail(f"tensor {name!r}: data_offsets must be two integers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            fail(f"tensor {name!r}: data_offsets [{begin}, {end}] out of range "
                 f"for {data_size} data bytes")
        expected = math.prod(shape) * dtype.itemsize
        if end - begin != expected:
            fail(f"tensor {name!r}: data size {end - begin} does not match "
                 f"dtype {tag} and shape {shape} ({expected} bytes)")
        entries.append((name, dtype, tuple(shape), begin, end, tag))

    previous, position = None, 0
    for name, _, _, begin, end, _ in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin < position:
            fail(f"tensor {name!r} overlaps tensor {previous!r}")
        if begin > position:
            fail(f"gap in data before tensor {name!r} (bytes {position}..{begin})")
        previous, position = name, end
    if position != data_size:
        fail(f"{data_size - position} trailing bytes after the last tensor")
    return entries, metadata


def load(path) -> tuple[dict[str, np.ndarray], dict[str, str] | None]:
    """Read `path`; return (name -> array in header order, metadata or None).

    Raises ValueError naming the file and the problem on any malformed input.
    """
    def fail(problem):
        raise ValueError(f"{path}: invalid safetensors file: {problem}")

    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) < 8:
            fail(f"file is {file_size} bytes, too short for the 8-byte header length")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > file_size - 8:
            fail(f"header length {header_len} exceeds the {file_size - 8} "
                 f"bytes after the length prefix")
        if header_len > MAX_HEADER_BYTES:
            fail(f"header length {header_len} exceeds {MAX_HEADER_BYTES}")
        raw = f.read(header_len)
        data_size = file_size - 8 - header_len
        entries, metadata = _parse_header(raw, data_size, fail)
        data = bytearray(data_size)
        if f.readinto(data) != data_size:
            fail("file changed size while reading")

    tensors = {}
    for name, dtype, shape, begin, end, tag in entries:
        if end == begin:
            array = np.zeros(shape, dtype=dtype.newbyteorder("="))
        else:
            array = np.frombuffer(data, dtype=dtype,
                                  count=(end - begin) // dtype.itemsize,
                                  offset=begin).reshape(shape)
            array = array.astype(dtype.newbyteorder("="), copy=False)
        if tag == BF16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array
    return tensors, metadata
