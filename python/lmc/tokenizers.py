"""The tokenizers of `python3 -m lmc.data prepare`, and the files they leave
beside the shards for the C++ trainer.

byte   each byte is its own token (vocabulary 256).
bpe    a byte-level BPE of --vocab-size tokens trained on the corpus with
       Hugging Face `tokenizers` (GPT-2's pre-tokenizer regex, the 256 bytes
       as the initial alphabet, no special tokens: no end-of-text token).
       Saved as tokenizer.json (loadable by `tokenizers.Tokenizer.from_file`).
gpt2   GPT-2's own encoding (50257 tokens, end-of-text 50256) through
       `tiktoken`, from its two encoding files in tiktoken's local cache; no
       download is attempted (see Gpt2Encoding).

Every tokenizer also writes, beside the shards (docs/Runtime.md):

tokenizer.bin  the decode table, llm.c's tokenizer format: a header of 256
    little-endian uint32 -- [0] magic 20240328, [1] version 2, [2] vocab
    size, [3] end-of-text token id (0xFFFFFFFF: none), the rest 0 -- then for
    each token id in order a uint8 byte length and the token's bytes (tokens
    are 1 to 255 bytes long).
merges.bin     what encoding a prompt needs: a header of 256 little-endian
    uint32 -- [0] magic 20261206, [1] version 1, [2] vocab size, [3] merge
    rule (0: the merges listed, in priority order, as Hugging Face's BPE
    applies them; 1: any adjacent pair whose concatenated bytes are a token,
    the one of lowest token id first, as tiktoken applies them), [4] merge
    count M, [5] letter range count RL, [6] number range count RN, the rest
    0 -- then M x (left id, right id, merged id), then RL x (first, last)
    inclusive code point ranges of Unicode letters (\\p{L}) and RN x (first,
    last) ranges of numbers (\\p{N}), the classes of the pre-tokenizer:
    GPT-2's split 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+|
    ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+ of the text before BPE.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import unicodedata

import numpy as np

from lmc.fileio import atomic_write

TOKENIZER_MAGIC = 20240328
TOKENIZER_VERSION = 2
MERGES_MAGIC = 20261206
MERGES_VERSION = 1
NO_EOT = 0xFFFFFFFF
RULE_MERGES, RULE_RANKS = 0, 1
MAX_VOCAB = 65536  # token ids are stored as uint16 in the shards
NAMES = ("byte", "bpe", "gpt2")

# GPT-2's two encoding files, as tiktoken names and checks them.
GPT2_FILES = (
    ("vocab.bpe",
     "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
     "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
    ("encoder.json",
     "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
     "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
)


class TokenizerError(Exception):
    """A user-facing error: a missing library or file, a bad setting."""


class Tokenized:
    """The result of a tokenizer: the tokens and what the trainer needs."""

    def __init__(self, tokens, table, eot=None, rule=RULE_MERGES, merges=()):
        self.tokens = tokens  # np.ndarray of token ids
        self.table = table    # list of bytes, one per token id
        self.eot = eot        # end-of-text id or None
        self.rule = rule
        self.merges = merges  # [(left, right, merged)] in priority order


# ----------------------------------------------------------------------------
# The files
# ----------------------------------------------------------------------------

def tokenizer_bin(table, eot=None) -> bytes:
    """The decode table in llm.c's tokenizer format."""
    header = np.zeros(256, dtype="<u4")
    header[:4] = (TOKENIZER_MAGIC, TOKENIZER_VERSION, len(table),
                  NO_EOT if eot is None else eot)
    parts = [header.tobytes()]
    for i, token in enumerate(table):
        if not 1 <= len(token) <= 255:
            raise TokenizerError(f"token {i} is {len(token)} bytes long; the "
                                 f"decode table holds 1 to 255 bytes a token")
        parts.append(bytes([len(token)]) + token)
    return b"".join(parts)


def read_tokenizer_bin(path):
    """(table, eot) of a decode table; eot is None when there is none."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 1024:
        raise TokenizerError(f"{path}: shorter than the 1024-byte header")
    header = np.frombuffer(blob[:1024], dtype="<u4")
    if header[0] != TOKENIZER_MAGIC or header[1] != TOKENIZER_VERSION:
        raise TokenizerError(f"{path}: not a version-2 tokenizer file (magic "
                             f"{header[0]}, version {header[1]})")
    table, pos = [], 1024
    for i in range(int(header[2])):
        if pos >= len(blob) or pos + 1 + blob[pos] > len(blob):
            raise TokenizerError(f"{path}: truncated at token {i}")
        n = blob[pos]
        table.append(blob[pos + 1:pos + 1 + n])
        pos += 1 + n
    if pos != len(blob):
        raise TokenizerError(f"{path}: {len(blob) - pos} bytes after the "
                             f"last token")
    eot = int(header[3])
    return table, (None if eot == NO_EOT else eot)


def unicode_ranges(predicate):
    """Inclusive (first, last) code point ranges where `predicate(cp)`."""
    ranges, start = [], None
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and predicate(cp)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            ranges.append((start, cp - 1))
            start = None
    return ranges


@functools.lru_cache(maxsize=None)
def _category_ranges(prefix):
    return unicode_ranges(
        lambda cp: unicodedata.category(chr(cp)).startswith(prefix))


def merges_bin(vocab_size, rule, merges) -> bytes:
    """The encoder file (module docstring)."""
    letters, numbers = _category_ranges("L"), _category_ranges("N")
    header = np.zeros(256, dtype="<u4")
    header[:7] = (MERGES_MAGIC, MERGES_VERSION, vocab_size, rule, len(merges),
                  len(letters), len(numbers))
    return b"".join([
        header.tobytes(),
        np.asarray(merges, dtype="<u4").reshape(-1, 3).tobytes(),
        np.asarray(letters, dtype="<u4").reshape(-1, 2).tobytes(),
        np.asarray(numbers, dtype="<u4").reshape(-1, 2).tobytes(),
    ])


def write_files(out_dir, result: Tokenized):
    """Write tokenizer.bin and merges.bin into `out_dir`; return the paths."""
    paths = [os.path.join(out_dir, "tokenizer.bin"),
             os.path.join(out_dir, "merges.bin")]
    atomic_write(paths[0], [tokenizer_bin(result.table, result.eot)])
    atomic_write(paths[1], [merges_bin(len(result.table), result.rule,
                                       result.merges)])
    return paths


# ----------------------------------------------------------------------------
# byte
# ----------------------------------------------------------------------------

def byte_tokenize(data: bytes) -> Tokenized:
    tokens = np.frombuffer(data, dtype=np.uint8).astype(np.uint16)
    return Tokenized(tokens, [bytes([i]) for i in range(256)])


# ----------------------------------------------------------------------------
# bpe (Hugging Face tokenizers)
# ----------------------------------------------------------------------------

def _hf():
    try:
        import tokenizers
    except ImportError:
        raise TokenizerError(
            "--tokenizer bpe needs the Python package 'tokenizers' "
            "(utils/setup.sh installs it: python3 -m pip install tokenizers)"
        ) from None
    return tokenizers


def byte_level_alphabet():
    """GPT-2's map from bytes to the printable characters that byte-level
    BPE vocabularies are written in: {byte: char}."""
    keep = (list(range(ord("!"), ord("~") + 1)) +
            list(range(ord("\u00a1"), ord("\u00ac") + 1)) +
            list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def _chunks(text: str, size: int = 1 << 16):
    """`text` cut into pieces of about `size` characters, each cut after a
    newline that a non-space follows: there the pre-tokenizer splits the
    whole text too, so the pieces pre-tokenize as the whole does."""
    start, n = 0, len(text)
    while start < n:
        end = start + size
        while end < n and not (text[end - 1] == "\n" and
                               not text[end].isspace()):
            end += 1
        yield text[start:min(end, n)]
        start = end


def train_bpe(text: str, vocab_size: int):
    """A byte-level BPE tokenizer of at most `vocab_size` tokens trained on
    `text` (a `tokenizers.Tokenizer`)."""
    tk = _hf()
    if not 256 < vocab_size <= MAX_VOCAB:
        raise TokenizerError(f"--vocab-size: {vocab_size} is out of range "
                             f"(257 to {MAX_VOCAB}: the 256 bytes, merges, "
                             f"and ids that fit the uint16 shards)")
    tokenizer = tk.Tokenizer(tk.models.BPE())
    tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(
        add_prefix_space=False, use_regex=True)
    tokenizer.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=[],
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=255, show_progress=False)
    tokenizer.train_from_iterator(_chunks(text), trainer=trainer)
    return tokenizer


def bpe_tables(tokenizer):
    """(table, merges) of a trained byte-level BPE tokenizer."""
    import json
    model = json.loads(tokenizer.to_str())["model"]
    to_byte = {c: b for b, c in byte_level_alphabet().items()}
    vocab = model["vocab"]
    table = [b""] * len(vocab)
    for piece, i in vocab.items():
        table[i] = bytes(to_byte[c] for c in piece)
    merges = []
    for m in model["merges"]:
        left, right = m.split(" ") if isinstance(m, str) else m
        merges.append((vocab[left], vocab[right], vocab[left + right]))
    return table, merges


def bpe_encode_text(tokenizer, text: str) -> np.ndarray:
    ids = []
    for piece in tokenizer.encode_batch(list(_chunks(text))):
        ids.extend(piece.ids)
    return np.asarray(ids, dtype=np.uint16)


def bpe_tokenize(data: bytes, vocab_size: int, out_dir) -> Tokenized:
    text = _decode_utf8(data, "bpe")
    tokenizer = train_bpe(text, vocab_size)
    table, merges = bpe_tables(tokenizer)
    os.makedirs(out_dir, exist_ok=True)
    atomic_write(os.path.join(out_dir, "tokenizer.json"),
                 [tokenizer.to_str(pretty=True).encode()])
    return Tokenized(bpe_encode_text(tokenizer, text), table,
                     rule=RULE_MERGES, merges=merges)


def _decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TokenizerError(f"--tokenizer {name} reads UTF-8 text; byte "
                             f"{e.start} of the input is not UTF-8") from None


# ----------------------------------------------------------------------------
# gpt2 (tiktoken, offline)
# ----------------------------------------------------------------------------

def tiktoken_cache_dir() -> str:
    """The directory tiktoken reads its cached files from."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return os.environ[var]
    import tempfile
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def gpt2_missing():
    """The message for GPT-2's encoding files missing from tiktoken's cache,
    or None when both are there with the right contents."""
    cache = tiktoken_cache_dir()
    missing = []
    for name, url, sha256 in GPT2_FILES:
        path = os.path.join(cache, hashlib.sha1(url.encode()).hexdigest())
        if os.path.exists(path):
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() == sha256:
                    continue
            missing.append(f"  {path}  (present but not {name}: its sha256 "
                           f"is not {sha256})")
        else:
            missing.append(f"  {path}  <- {name} from {url}")
    if not missing:
        return None
    return ("--tokenizer gpt2 needs GPT-2's encoding files in tiktoken's cache "
            f"({cache}; set TIKTOKEN_CACHE_DIR to use another directory), "
            "and nothing is downloaded here. Put:\n" + "\n".join(missing) +
            "\nOn a machine with a network, either download those URLs to "
            "those names, or run\n  TIKTOKEN_CACHE_DIR=DIR python3 -c "
            "'import tiktoken; tiktoken.get_encoding(\"gpt2\")'\nand copy "
            "DIR's files here.")


def gpt2_encoding():
    """tiktoken's GPT-2 encoding, from the local cache only."""
    try:
        import tiktoken
    except ImportError:
        raise TokenizerError(
            "--tokenizer gpt2 needs the Python package 'tiktoken' "
            "(utils/setup.sh installs it: python3 -m pip install tiktoken)"
        ) from None
    message = gpt2_missing()
    if message:
        raise TokenizerError(message)
    return tiktoken.get_encoding("gpt2")


def gpt2_tokenize(data: bytes) -> Tokenized:
    enc = gpt2_encoding()
    text = _decode_utf8(data, "gpt2")
    tokens = np.asarray(enc.encode_ordinary(text), dtype=np.uint16)
    table = [enc.decode_single_token_bytes(i) for i in range(enc.n_vocab)]
    return Tokenized(tokens, table, eot=enc.eot_token, rule=RULE_RANKS)


def tokenize(data: bytes, name: str, vocab_size=None, out_dir=None
             ) -> Tokenized:
    if name == "byte":
        result = byte_tokenize(data)
    elif name == "bpe":
        if vocab_size is None:
            raise TokenizerError("--tokenizer bpe needs --vocab-size N")
        result = bpe_tokenize(data, vocab_size, out_dir)
    elif name == "gpt2":
        result = gpt2_tokenize(data)
    else:
        raise TokenizerError(f"unknown tokenizer {name!r} "
                             f"(available: {', '.join(NAMES)})")
    if name != "bpe" and vocab_size is not None and vocab_size != len(
            result.table):
        raise TokenizerError(f"--vocab-size: the {name} tokenizer's "
                             f"vocabulary is {len(result.table)}, not "
                             f"{vocab_size}")
    return result
