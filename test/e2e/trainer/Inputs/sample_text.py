"""Checks the sample a trainer printed (what follows its `sample (N tokens):`
line): valid UTF-8, printable text (newlines and tabs allowed), with letters,
and not a list of token ids; with --prefix, that it starts with the prompt.

    sample_text.py OUTPUT.txt [--prefix TEXT]
"""

import re
import sys


def main(argv):
    with open(argv[1], "rb") as f:
        out = f.read()
    marker = re.search(rb"^sample \(\d+ tokens\):\n", out, re.M)
    if not marker:
        print("FAIL: no sample line")
        return 1
    try:
        text = out[marker.end():].decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"FAIL: the sample is not UTF-8: {e}")
        return 1
    bad = [c for c in text if not (c.isprintable() or c in "\n\t")]
    if bad:
        print(f"FAIL: unprintable characters {bad[:5]!r}")
        return 1
    if re.fullmatch(r"[\d\s]*", text) or not re.search(r"[A-Za-z]{2}", text):
        print(f"FAIL: not text: {text[:80]!r}")
        return 1
    if len(argv) > 3 and argv[2] == "--prefix" and not text.startswith(argv[3]):
        print(f"FAIL: does not start with {argv[3]!r}: {text[:80]!r}")
        return 1
    print(f"OK: a text sample of {len(text.rstrip())} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
