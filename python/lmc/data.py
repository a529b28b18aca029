"""Token shards in llm.c's format, and preparing them from text.

A shard is a header of 256 little-endian int32 -- [0] magic 20240520,
[1] version 1, [2] token count, the rest zero -- followed by the tokens as
little-endian uint16. The lmc trainer (`--data`, `--val`) reads them.

    python3 -m lmc.data prepare --input TEXT --out DIR \
        [--tokenizer byte|bpe|gpt2] [--vocab-size N] [--val-fraction 0.1]
        writes DIR/train_000000.bin and DIR/val_000000.bin, and beside them
        the tokenizer's files for the trainer: tokenizer.bin (the decode
        table, llm.c's format) and merges.bin (what encoding a prompt
        needs); bpe also writes tokenizer.json (Hugging Face's). The byte
        tokenizer maps each byte of the file to its value (vocabulary 256);
        bpe trains a byte-level BPE of --vocab-size tokens on the file; gpt2
        is GPT-2's encoding (50257 tokens) from tiktoken's local cache
        (lmc.tokenizers). The last --val-fraction of the tokens becomes the
        validation shard.
    python3 -m lmc.data info FILE
        prints a shard's header fields and token statistics.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys

import numpy as np

from lmc import tokenizers
from lmc.fileio import atomic_write

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
TOKENIZERS = tokenizers.NAMES


class DataError(Exception):
    """A user-facing error: bad input or a malformed shard."""


def write_shard(path, tokens) -> None:
    """Write `tokens` (integers in [0, 65536)) as a shard at `path`, atomically."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise DataError(f"{path}: tokens must be one-dimensional")
    if tokens.size and (tokens.min() < 0 or tokens.max() > 0xFFFF):
        raise DataError(f"{path}: token ids must fit in uint16")
    if tokens.size >= 2**31:
        raise DataError(f"{path}: too many tokens for one shard")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[0], header[1], header[2] = MAGIC, VERSION, tokens.size
    atomic_write(path, [header.tobytes(), tokens.astype("<u2").tobytes()])


def read_header(path):
    """Validate a shard's header and size; return (magic, version, count)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError as e:
        raise DataError(f"{path}: {e.strerror}") from None
    if len(head) < HEADER_BYTES:
        raise DataError(f"{path}: file is {size} bytes, shorter than the "
                        f"{HEADER_BYTES}-byte header")
    magic, version, count = struct.unpack_from("<iii", head)
    if magic != MAGIC:
        raise DataError(f"{path}: bad magic {magic} at byte offset 0 "
                        f"(expected {MAGIC})")
    if version != VERSION:
        raise DataError(f"{path}: unsupported version {version} at byte "
                        f"offset 4 (expected {VERSION})")
    if count < 0 or size - HEADER_BYTES != 2 * count:
        raise DataError(f"{path}: header token count {count} at byte offset "
                        f"8 does not match the {size - HEADER_BYTES} bytes of "
                        f"tokens")
    return magic, version, count


def read_shard(path) -> np.ndarray:
    """The tokens of a validated shard, as uint16."""
    _, _, count = read_header(path)
    return np.fromfile(path, dtype="<u2", count=count, offset=HEADER_BYTES)


def tokenize(data: bytes, tokenizer: str) -> np.ndarray:
    """The tokens of `data` for a tokenizer that needs no training."""
    try:
        return tokenizers.tokenize(data, tokenizer).tokens
    except tokenizers.TokenizerError as e:
        raise DataError(str(e)) from None


def prepare(input_path, out_dir, tokenizer="byte", val_fraction=0.1,
            vocab_size=None):
    """Tokenize `input_path` and write the train and val shards and the
    tokenizer's files (tokenizer.bin, merges.bin; tokenizer.json for bpe).

    Returns the shards' paths and token counts: [(train, n), (val, n)].
    """
    return prepare_files(input_path, out_dir, tokenizer, val_fraction,
                         vocab_size)[:2]


def prepare_files(input_path, out_dir, tokenizer="byte", val_fraction=0.1,
                  vocab_size=None):
    """prepare(), returning every file written with its size: [(train, n
    tokens), (val, n tokens), (tokenizer.bin, vocab size), (merges.bin,
    merge count)]."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    try:
        with open(input_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"{input_path}: {e.strerror}") from None
    if not data:
        raise DataError(f"{input_path}: the input is empty")
    try:
        result = tokenizers.tokenize(data, tokenizer, vocab_size, out_dir)
    except tokenizers.TokenizerError as e:
        raise DataError(str(e)) from None
    tokens = result.tokens
    n_val = max(1, int(round(tokens.size * val_fraction)))
    if tokens.size - n_val < 2 or n_val < 2:
        raise DataError(f"{input_path}: {tokens.size} tokens are too few to "
                        f"split into train and val shards")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, part in (("train", tokens[:-n_val]), ("val", tokens[-n_val:])):
        path = os.path.join(out_dir, f"{name}_000000.bin")
        write_shard(path, part)
        written.append((path, int(part.size)))
    table_path, merges_path = tokenizers.write_files(out_dir, result)
    written.append((table_path, len(result.table)))
    written.append((merges_path, len(result.merges)))
    return written


def info(path) -> str:
    magic, version, count = read_header(path)
    lines = [f"file:    {path}", f"magic:   {magic}", f"version: {version}",
             f"tokens:  {count}"]
    if count:
        tokens = read_shard(path)
        lines.append(f"ids:     min {int(tokens.min())}, max {int(tokens.max())}, "
                     f"{len(np.unique(tokens))} distinct")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lmc.data",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="tokenize a text file into shards")
    p.add_argument("--input", required=True, help="text file")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--tokenizer", default="byte", choices=TOKENIZERS,
                   help="byte (256 tokens), bpe (trained on the input), "
                        "gpt2 (tiktoken's, from its local cache)")
    p.add_argument("--vocab-size", type=int, default=None,
                   help="tokens of the bpe vocabulary (257 to 65536); the "
                        "model's --vocab must equal the vocabulary written")
    p.add_argument("--val-fraction", type=float, default=0.1)
    i = sub.add_parser("info", help="print a shard's header")
    i.add_argument("file")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            written = prepare_files(args.input, args.out, args.tokenizer,
                              args.val_fraction, args.vocab_size)
            for path, n in written[:2]:
                print(f"wrote {path}: {n} tokens")
            print(f"wrote {written[2][0]}: vocabulary {written[2][1]}")
            print(f"wrote {written[3][0]}: {written[3][1]} merges")
            if args.tokenizer == "bpe":
                print(f"wrote {os.path.join(args.out, 'tokenizer.json')}")
                if written[2][1] != args.vocab_size:
                    print(f"note: the corpus gave {written[2][1]} tokens, "
                          f"fewer than --vocab-size {args.vocab_size}: build "
                          f"the model with --vocab {written[2][1]}")
        else:
            print(info(args.file))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
