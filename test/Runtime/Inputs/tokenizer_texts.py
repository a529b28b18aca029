"""Texts for test/Runtime/tokenizer-hf.test, and Hugging Face's encoding of
them.

    tokenizer_texts.py write DIR          writes DIR/NN.txt (UTF-8)
    tokenizer_texts.py hf TOKENIZER.json FILE...
        prints, for each file, its token ids by `tokenizers` on one line
"""

import sys

TEXTS = [
    "Hello, world! It's a test of the GNU General Public License.\n",
    # Contractions, upper case ones too (the regex takes only lower case).
    "we'll they're I'd you've she's don't 'S 'LL y'all ''quoted''",
    # Whitespace runs: spaces, tabs, newlines, CR, trailing, leading.
    "  two   three    four\t\ttabs\n\n\nlines  \r\n end   ",
    " \n \n  ",
    # Punctuation runs and numbers.
    "a+b=c; (x, y) -> [1, 22, 333]... 3.14159 1,000,000 $5 #tag @you!!",
    # UTF-8: Latin, CJK, Cyrillic, Arabic digits, symbols, emoji, NBSP,
    # combining marks, a U+2028 line separator, a three-space ideograph run.
    "naïve café — 東京タワー ёлка ٣٤٥ ½ €5 😀🎉 non\u00a0breaking e\u0301\u2028x\u3000\u3000y",
    # Digits next to letters and letters next to marks.
    "abc123def 4x4 x² Ⅻ",
]


def main(argv):
    if argv[1] == "write":
        for i, text in enumerate(TEXTS):
            with open(f"{argv[2]}/{i:02d}.txt", "w", encoding="utf-8",
                      newline="") as f:
                f.write(text)
        return 0
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(argv[2])
    for path in argv[3:]:
        with open(path, encoding="utf-8", newline="") as f:
            print(" ".join(map(str, tok.encode(f.read()).ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
