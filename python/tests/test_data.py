"""Tests of lmc.data: llm.c token shards and `python3 -m lmc.data`."""

import struct

import numpy as np
import pytest

from lmc import data


def header_fields(path):
    with open(path, "rb") as f:
        return struct.unpack("<256i", f.read(1024))


def test_write_and_read_shard(tmp_path):
    path = tmp_path / "s.bin"
    data.write_shard(path, [0, 1, 65535, 7])
    fields = header_fields(path)
    assert fields[:3] == (20240520, 1, 4)
    assert not any(fields[3:])
    assert path.stat().st_size == 1024 + 2 * 4
    assert data.read_shard(path).tolist() == [0, 1, 65535, 7]


def test_write_shard_rejects_out_of_range(tmp_path):
    with pytest.raises(data.DataError, match="uint16"):
        data.write_shard(tmp_path / "s.bin", [65536])
    with pytest.raises(data.DataError, match="uint16"):
        data.write_shard(tmp_path / "s.bin", [-1])


def test_prepare_byte_tokenizer(tmp_path, run_cli):
    text = "hello world\n" * 50
    src = tmp_path / "in.txt"
    src.write_text(text)
    out = tmp_path / "out"
    result = run_cli("lmc.data", "prepare", "--input", src, "--out", out,
                     "--tokenizer", "byte", "--val-fraction", "0.2")
    assert result.returncode == 0, result.stderr
    assert "train_000000.bin" in result.stdout
    train = data.read_shard(out / "train_000000.bin")
    val = data.read_shard(out / "val_000000.bin")
    assert train.size + val.size == len(text)
    assert val.size == round(len(text) * 0.2)
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    assert np.array_equal(np.concatenate([train, val]), raw)


def test_prepare_default_split(tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(bytes(range(256)) * 4)
    (train, n_train), (val, n_val) = data.prepare(src, tmp_path / "o")
    assert n_val == round(1024 * 0.1) and n_train == 1024 - n_val
    assert data.read_shard(train).max() == 255


def test_prepare_errors(tmp_path, run_cli):
    missing = run_cli("lmc.data", "prepare", "--input", tmp_path / "nope.txt",
                      "--out", tmp_path / "o")
    assert missing.returncode == 1
    assert "nope.txt" in missing.stderr and "error:" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = run_cli("lmc.data", "prepare", "--input", empty,
                     "--out", tmp_path / "o")
    assert result.returncode == 1
    assert "empty" in result.stderr
    tiny = tmp_path / "tiny.txt"
    tiny.write_bytes(b"ab")
    with pytest.raises(data.DataError, match="too few"):
        data.prepare(tiny, tmp_path / "o")
    with pytest.raises(data.DataError, match="val-fraction"):
        data.prepare(tiny, tmp_path / "o", val_fraction=1.5)
    bad_tok = run_cli("lmc.data", "prepare", "--input", tiny, "--out",
                      tmp_path / "o", "--tokenizer", "wordpiece")
    assert bad_tok.returncode == 2  # argparse: invalid choice


def test_info(tmp_path, run_cli):
    path = tmp_path / "s.bin"
    data.write_shard(path, [3, 1, 2, 3])
    result = run_cli("lmc.data", "info", path)
    assert result.returncode == 0, result.stderr
    assert "magic:   20240520" in result.stdout
    assert "version: 1" in result.stdout
    assert "tokens:  4" in result.stdout
    assert "min 1, max 3, 3 distinct" in result.stdout


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:100], "shorter than the 1024-byte header"),
    (lambda b: struct.pack("<i", 7) + b[4:], "bad magic 7 at byte offset 0"),
    (lambda b: b[:4] + struct.pack("<i", 2) + b[8:], "unsupported version 2"),
    (lambda b: b[:-2], "header token count 4 at byte offset 8"),
])
def test_info_rejects_bad_shards(tmp_path, run_cli, mutate, message):
    path = tmp_path / "s.bin"
    data.write_shard(path, [3, 1, 2, 3])
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(data.DataError, match=message.replace("(", r"\(")):
        data.read_header(path)
    result = run_cli("lmc.data", "info", path)
    assert result.returncode == 1
    assert message in result.stderr
