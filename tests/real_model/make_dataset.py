"""Turns the Debian FAQ (Debian package `debian-faq`, plain-text edition)
into fixed-length windows of token ids for the real-model test: one JSON
object per line, {"input_ids": [...]}, as `wring compress --dataset` and
llm-compressor's oneshot both read.

    python make_dataset.py FAQ.txt.gz tokenizer.json OUT.jsonl WINDOWS LENGTH

The table of contents is dropped, the hard-wrapped paragraphs are joined
into running prose and the text is tokenized once; consecutive windows of
LENGTH tokens are cut from the front, so the same package version and
tokenizer always give the same ids. Needs the `tokenizers` package (PyPI).
"""
import gzip
import json
import re
import sys

from tokenizers import Tokenizer


def faq_prose(raw):
    lines = raw.replace("\u00a0", " ").splitlines()
    # The body starts at chapter 1's heading (the table of contents before
    # it lists the chapters as "1. Definitions ...").
    starts = [i for i, line in enumerate(lines) if re.match(r"^Chapter 1\. ", line)]
    if not starts:
        raise SystemExit("make_dataset: no \"Chapter 1.\" heading; not the Debian FAQ's layout")
    paragraphs, current = [], []
    for line in lines[starts[0]:]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def write_windows(faq, tokenizer_path, out, windows, length):
    with gzip.open(faq, "rt", encoding="utf-8") as f:
        text = faq_prose(f.read())
    ids = Tokenizer.from_file(tokenizer_path).encode(text, add_special_tokens=False).ids
    if len(ids) < windows * length:
        sys.exit("make_dataset: %d tokens, fewer than %d windows of %d" % (len(ids), windows, length))
    with open(out, "w") as f:
        for w in range(windows):
            f.write(json.dumps({"input_ids": ids[w * length:(w + 1) * length]}) + "\n")


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: make_dataset.py FAQ.txt.gz tokenizer.json OUT.jsonl WINDOWS LENGTH")
    write_windows(*sys.argv[1:4], int(sys.argv[4]), int(sys.argv[5]))


if __name__ == "__main__":
    main()
