"""Tests of lmc.tokenizers: `prepare --tokenizer byte|bpe|gpt2` and the files
it writes beside the shards for the trainer (tokenizer.bin, merges.bin)."""

import hashlib
import json
import os
import struct
import unicodedata

import numpy as np
import pytest

from lmc import data, tokenizers

CORPUS = "/usr/share/common-licenses/GPL-3"


def header(path):
    with open(path, "rb") as f:
        return struct.unpack("<256I", f.read(1024))


def corpus_text():
    if not os.path.exists(CORPUS):
        pytest.skip(f"{CORPUS} (Debian's base-files) is absent")
    with open(CORPUS, "rb") as f:
        return f.read()


def test_tokenizer_bin_layout(tmp_path):
    table = [b"a", b"bc", bytes(range(255)), "é".encode()]
    path = tmp_path / "tokenizer.bin"
    path.write_bytes(tokenizers.tokenizer_bin(table, eot=1))
    fields = header(path)
    assert fields[:4] == (20240328, 2, 4, 1)
    assert not any(fields[4:])
    blob = path.read_bytes()[1024:]
    assert blob == (b"\x01a" + b"\x02bc" + b"\xff" + bytes(range(255)) +
                    b"\x02" + "é".encode())
    assert tokenizers.read_tokenizer_bin(path) == (table, 1)
    path.write_bytes(tokenizers.tokenizer_bin(table))
    assert header(path)[3] == 0xFFFFFFFF
    assert tokenizers.read_tokenizer_bin(path) == (table, None)


def test_tokenizer_bin_rejects_long_and_empty_tokens():
    with pytest.raises(tokenizers.TokenizerError, match="256 bytes long"):
        tokenizers.tokenizer_bin([b"x" * 256])
    with pytest.raises(tokenizers.TokenizerError, match="0 bytes long"):
        tokenizers.tokenizer_bin([b""])


def test_merges_bin_layout():
    blob = tokenizers.merges_bin(300, tokenizers.RULE_MERGES,
                                 [(1, 2, 256), (256, 3, 257)])
    fields = struct.unpack_from("<256I", blob)
    m, rl, rn = fields[4:7]
    assert fields[:4] == (20261206, 1, 300, 0) and m == 2
    assert not any(fields[7:])
    assert len(blob) == 1024 + 12 * m + 8 * (rl + rn)
    merges = struct.unpack_from(f"<{3 * m}I", blob, 1024)
    assert merges == (1, 2, 256, 256, 3, 257)
    ranges = np.frombuffer(blob, dtype="<u4", offset=1024 + 12 * m)
    letters = ranges[:2 * rl].reshape(-1, 2)
    numbers = ranges[2 * rl:].reshape(-1, 2)
    # Sorted, disjoint, and what unicodedata says.
    for table, prefix in ((letters, "L"), (numbers, "N")):
        assert np.all(table[:, 0] <= table[:, 1])
        assert np.all(table[1:, 0] > table[:-1, 1] + 1)
        for cp in (ord("a"), ord("Z"), ord("é"), ord("東"), ord("5"),
                   ord("½"), ord("٣"), ord(" "), ord("!"), ord("€")):
            inside = bool(np.any((table[:, 0] <= cp) & (cp <= table[:, 1])))
            assert inside == unicodedata.category(chr(cp)).startswith(prefix)


def test_prepare_byte_writes_decode_table(tmp_path, run_cli):
    src = tmp_path / "in.txt"
    src.write_text("hello\n" * 20)
    out = tmp_path / "out"
    result = run_cli("lmc.data", "prepare", "--input", src, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "tokenizer.bin: vocabulary 256" in result.stdout
    table, eot = tokenizers.read_tokenizer_bin(out / "tokenizer.bin")
    assert table == [bytes([i]) for i in range(256)] and eot is None
    assert header(out / "merges.bin")[2:5] == (256, 0, 0)


def test_prepare_bpe(tmp_path, run_cli):
    pytest.importorskip("tokenizers", reason="utils/setup.sh installs it")
    text = corpus_text()
    src = tmp_path / "in.txt"
    src.write_bytes(text)
    out = tmp_path / "out"
    result = run_cli("lmc.data", "prepare", "--input", src, "--out", out,
                     "--tokenizer", "bpe", "--vocab-size", "512")
    assert result.returncode == 0, result.stderr
    assert "tokenizer.bin: vocabulary 512" in result.stdout
    table, eot = tokenizers.read_tokenizer_bin(out / "tokenizer.bin")
    assert len(table) == 512 and eot is None
    # Every byte has its own token; the shards decode to the corpus.
    assert {t for t in table if len(t) == 1} == {bytes([i]) for i in range(256)}
    ids = np.concatenate([data.read_shard(out / "train_000000.bin"),
                          data.read_shard(out / "val_000000.bin")])
    assert ids.max() < 512
    assert b"".join(table[i] for i in ids) == text
    assert len(ids) < len(text) / 2  # merges compress English text
    # The shards equal Hugging Face's encoding of the whole text by the saved
    # tokenizer.json, and merges.bin lists its merges in order.
    import tokenizers as hf
    saved = hf.Tokenizer.from_file(str(out / "tokenizer.json"))
    assert saved.encode(text.decode()).ids == ids.tolist()
    fields = header(out / "merges.bin")
    assert fields[2:5] == (512, 0, 256)
    merges = np.fromfile(out / "merges.bin", dtype="<u4", count=3 * 256,
                         offset=1024).reshape(-1, 3)
    model = json.loads((out / "tokenizer.json").read_text())["model"]
    for (left, right, merged), pair in zip(merges, model["merges"]):
        pair = pair.split(" ") if isinstance(pair, str) else pair
        assert [model["vocab"][pair[0]], model["vocab"][pair[1]],
                model["vocab"]["".join(pair)]] == [left, right, merged]
        assert table[merged] == table[left] + table[right]


def test_prepare_bpe_vocab_size_errors(tmp_path, run_cli):
    src = tmp_path / "in.txt"
    src.write_text("hello world\n" * 20)
    for size, message in (("65537", "out of range"), ("256", "out of range")):
        result = run_cli("lmc.data", "prepare", "--input", src, "--out",
                         tmp_path / "o", "--tokenizer", "bpe",
                         "--vocab-size", size)
        assert result.returncode == 1
        assert message in result.stderr and "--vocab-size" in result.stderr
    result = run_cli("lmc.data", "prepare", "--input", src, "--out",
                     tmp_path / "o", "--tokenizer", "bpe")
    assert result.returncode == 1 and "--vocab-size" in result.stderr
    result = run_cli("lmc.data", "prepare", "--input", src, "--out",
                     tmp_path / "o", "--vocab-size", "300")
    assert result.returncode == 1
    assert "byte tokenizer's vocabulary is 256" in result.stderr


def test_prepare_bpe_small_corpus_says_vocab(tmp_path, run_cli):
    pytest.importorskip("tokenizers", reason="utils/setup.sh installs it")
    src = tmp_path / "in.txt"
    src.write_text("abab cdcd\n" * 30)
    result = run_cli("lmc.data", "prepare", "--input", src, "--out",
                     tmp_path / "o", "--tokenizer", "bpe", "--vocab-size",
                     "1000")
    assert result.returncode == 0, result.stderr
    n = len(tokenizers.read_tokenizer_bin(tmp_path / "o/tokenizer.bin")[0])
    assert 256 < n < 1000
    assert f"build the model with --vocab {n}" in result.stdout


def test_gpt2_message_names_the_files(tmp_path, run_cli):
    """Offline: an empty cache gives one message naming both files, their
    paths in the cache and how to fetch them; nothing is downloaded."""
    src = tmp_path / "in.txt"
    src.write_text("hello world\n" * 20)
    env_cache = tmp_path / "cache"
    old = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(env_cache)
    try:
        result = run_cli("lmc.data", "prepare", "--input", src, "--out",
                         tmp_path / "o", "--tokenizer", "gpt2")
    finally:
        if old is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = old
    assert result.returncode == 1
    for name, url, _ in tokenizers.GPT2_FILES:
        key = hashlib.sha1(url.encode()).hexdigest()
        assert f"{env_cache / key}  <- {name} from {url}" in result.stderr
    assert "TIKTOKEN_CACHE_DIR=DIR python3 -c" in result.stderr
    assert not env_cache.exists()  # nothing fetched or created
    assert not (tmp_path / "o" / "train_000000.bin").exists()


def test_gpt2_message_on_a_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    name, url, sha = tokenizers.GPT2_FILES[0]
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"junk")
    message = tokenizers.gpt2_missing()
    assert f"present but not {name}" in message and sha in message


def test_gpt2_encoding(tmp_path, run_cli):
    """GPT-2's encoding, when its files are in the local cache."""
    pytest.importorskip("tiktoken", reason="utils/setup.sh installs it")
    if tokenizers.gpt2_missing():
        pytest.skip("GPT-2's encoding files are not in tiktoken's cache "
                    f"({tokenizers.tiktoken_cache_dir()}); not downloaded in "
                    "tests")
    src = tmp_path / "in.txt"
    src.write_text("Hello world, it's GPT-2.\n" * 20)
    out = tmp_path / "o"
    result = run_cli("lmc.data", "prepare", "--input", src, "--out", out,
                     "--tokenizer", "gpt2")
    assert result.returncode == 0, result.stderr
    table, eot = tokenizers.read_tokenizer_bin(out / "tokenizer.bin")
    assert len(table) == 50257 and eot == 50256
    ids = data.read_shard(out / "train_000000.bin").tolist()
    assert ids[:4] == [15496, 995, 11, 340]  # "Hello", " world", ",", " it"
    assert header(out / "merges.bin")[2:4] == (50257, 1)
