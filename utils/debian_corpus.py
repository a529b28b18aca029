#!/usr/bin/env python3
"""Writes the main job's English corpus from the licence texts every Debian
system has (/usr/share/common-licenses, package base-files, which is
Essential: Apache-2.0, Artistic, BSD, CC0-1.0, GFDL-1.2/1.3, GPL-1/2/3,
LGPL-2/2.1/3, MPL-1.1/2.0; about 200 KB, six times the GPL-3 alone).

Deterministic for given files: the files are read once each (symbolic links
such as GPL -> GPL-3 resolved), split into paragraphs at blank lines, each
paragraph kept once (compared with its whitespace collapsed: the licences
share many), and the paragraphs written in the order of their SHA-256. That
order mixes the licences, so that the last tenth of the file, which
`python3 -m lmc.data prepare` holds out as the validation set, is drawn from
all of them rather than being the end of one.

    python3 utils/debian_corpus.py -o corpus.txt
"""

import argparse
import glob
import hashlib
import os
import re
import sys

LICENSES = "/usr/share/common-licenses"


def paragraphs(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in block.split("\n")]
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        if lines:
            yield "\n".join(lines)


def build(files):
    seen, kept = set(), []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for p in paragraphs(f.read()):
                key = " ".join(p.split())
                if key not in seen:
                    seen.add(key)
                    kept.append(p)
    kept.sort(key=lambda p: hashlib.sha256(p.encode("utf-8")).hexdigest())
    return "\n\n".join(kept) + "\n", len(kept)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", required=True, help="corpus file")
    parser.add_argument("--dir", default=LICENSES,
                        help=f"the licence texts (default {LICENSES})")
    args = parser.parse_args(argv)
    files = sorted({os.path.realpath(p)
                    for p in glob.glob(os.path.join(args.dir, "*"))
                    if os.path.isfile(p)})
    if not files:
        sys.exit(f"debian_corpus: no files in {args.dir} (package base-files)")
    text, count = build(files)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.output}: {len(text.encode('utf-8'))} bytes, "
          f"{count} paragraphs from {len(files)} files in {args.dir}")


if __name__ == "__main__":
    main()
