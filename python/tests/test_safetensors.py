"""Tests for the NumPy safetensors reader/writer."""

import json
import os
import struct

import numpy as np
import pytest

from lmc import safetensors as st


def write_raw(path, header, data=b"", header_len=None):
    """Write a hand-made file: header is a dict (JSON-encoded) or raw bytes."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(raw) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + raw + data)
    return path


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "w": rng.standard_normal((3, 5)).astype(np.float32),
        "d": rng.standard_normal((2, 2, 2)),
        "i": np.arange(-4, 5, dtype=np.int32),
        "s": np.float32(1.5),
        "e": np.zeros((0, 4), dtype=np.float32),
        "big_endian": np.arange(4, dtype=">f8"),
    }
    path = tmp_path / "t.safetensors"
    st.save(path, tensors, {"format": "lmc"})
    loaded, meta = st.load(path)
    assert meta == {"format": "lmc"}
    assert list(loaded) == list(tensors)
    for name, value in tensors.items():
        got = loaded[name]
        assert got.shape == np.shape(value)
        assert got.dtype == np.asarray(value).dtype.newbyteorder("=")
        np.testing.assert_array_equal(got, value)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_file_layout(tmp_path):
    path = tmp_path / "t.safetensors"
    st.save(path, {"a": np.array([1.0, 2.0], np.float32)})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8:8 + n])
    assert header == {"a": entry("F32", [2], 0, 8)}
    assert raw[8 + n:] == struct.pack("<2f", 1.0, 2.0)
    assert st.load(path)[1] is None


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        st.save(tmp_path / "x", {"c": np.zeros(2, np.complex64)})
    with pytest.raises(ValueError):
        st.save(tmp_path / "x", {"__metadata__": np.zeros(2)})
    with pytest.raises(ValueError):
        st.save(tmp_path / "x", {"a": np.zeros(2)}, {"k": 1})
    assert os.listdir(tmp_path) == []


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "t.safetensors"
    st.save(path, {"a": np.zeros(3)})
    st.save(path, {"b": np.ones(2, np.int32)})
    assert list(st.load(path)[0]) == ["b"]


GOOD = {"a": entry("F32", [2], 0, 8)}
DATA = b"\0" * 8


@pytest.mark.parametrize("header, data, header_len, problem", [
    (GOOD, DATA, 10_000, "exceeds"),                       # length > file
    (b"{not json", DATA, None, "not valid JSON"),
    (b"[1, 2]", b"", None, "not a JSON object"),
    ({"a": entry("Q8", [2], 0, 8)}, DATA, None, "unknown dtype"),
    ({"a": entry("F32", [2], 0, 16)}, DATA, None, "out of range"),
    ({"a": entry("F32", [2], -8, 0)}, DATA, None, "out of range"),
    ({"a": entry("F32", [2], 8, 0)}, DATA, None, "out of range"),
    ({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)},
     b"\0" * 12, None, "overlaps"),
    ({"a": entry("F32", [3], 0, 8)}, DATA, None, "does not match"),
    ({"a": entry("F32", [2], 0, 8)}, b"\0" * 12, None, "trailing bytes"),
    ({"a": entry("F32", [1], 4, 8)}, DATA, None, "gap"),
    ({"a": {"dtype": "F32", "shape": [2]}}, DATA, None, "missing"),
    ({"a": entry("F32", [-2], 0, 8)}, DATA, None, "shape"),
    ({"a": entry("F32", [2], 0, 8.0)}, DATA, None, "data_offsets"),
    ({"__metadata__": {"k": 3}, **GOOD}, DATA, None, "__metadata__"),
])
def test_load_validation_errors(tmp_path, header, data, header_len, problem):
    path = write_raw(tmp_path / "bad.safetensors", header, data, header_len)
    with pytest.raises(ValueError) as e:
        st.load(path)
    assert str(path) in str(e.value)
    assert problem in str(e.value)


def test_truncated_files(tmp_path):
    good = tmp_path / "good.safetensors"
    st.save(good, {"a": np.arange(4, dtype=np.float32)})
    raw = good.read_bytes()
    for cut in (0, 5, 20, len(raw) - 1):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=str(bad)):
            st.load(bad)


def test_load_bf16_as_float32(tmp_path):
    # bfloat16 is the top half of a float32: these values are exact in it.
    values = np.array([[1.0, -2.5], [3.140625, 0.0]], dtype=np.float32)
    patterns = (values.view(np.uint32) >> 16).astype("<u2")
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 2],
                               "data_offsets": [0, 8]},
                         "__metadata__": {"format": "pt"}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + patterns.tobytes())
    tensors, meta = st.load(path)
    assert tensors["w"].dtype == np.float32 and meta == {"format": "pt"}
    np.testing.assert_array_equal(tensors["w"], values)
