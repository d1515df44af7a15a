"""Generates backend/data/internal/unicode_tables.cc from the reference library.

The tables must agree with what Hugging Face `tokenizers` does, not with the
newest Unicode: its Split regexes run on Oniguruma (whose \\p{L}, \\p{N}, \\s
come from one Unicode version) and its NFC comes from the Rust crate
unicode-normalization-alignments (an older Unicode version). So every property
is probed through `tokenizers` itself; Python's unicodedata only supplies the
one-level canonical decomposition mappings, which never change once assigned.

Rerun (from the repository root, with a Python that has `tokenizers`):
  /work/refenv/venv/bin/python backend/data/testdata/gen_unicode_tables.py
"""
import os
import random
import unicodedata

import tokenizers
from tokenizers import Regex, normalizers, pre_tokenizers

OUT = os.path.join(os.path.dirname(__file__), "..", "internal", "unicode_tables.cc")
CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]


def matched_by(regex):
    """Code points the Split regex engine of `tokenizers` matches."""
    text = "".join(chr(c) for c in CODE_POINTS)
    pieces = pre_tokenizers.Split(Regex(regex), "removed").pre_tokenize_str(text)
    unmatched = set()
    for _, (begin, end) in pieces:
        unmatched.update(range(begin, end))
    return [CODE_POINTS[i] for i in range(len(CODE_POINTS)) if i not in unmatched]


def to_ranges(code_points):
    ranges = []
    for c in code_points:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return ranges


def nfc_tables():
    nfc, nfd = normalizers.NFC(), normalizers.NFD()
    # Combining classes are immutable once assigned, so a mark the crate knows
    # has Python's class; a mark it does not know acts as a starter (class 0).
    # Probe: a known class-240 mark before it is reordered after it only when
    # the crate gives it a nonzero class below 240.
    ccc = {}
    for c in CODE_POINTS:
        value = unicodedata.combining(chr(c))
        if value == 0:
            continue
        if value < 240:
            probe = "q\u0345" + chr(c)
            if nfd.normalize_str(probe) != "q" + chr(c) + "\u0345":
                continue
        ccc[c] = value
    decompositions = []
    for c in CODE_POINTS:
        if 0xAC00 <= c < 0xAC00 + 11172 or nfd.normalize_str(chr(c)) == chr(c):
            continue  # Hangul syllables decompose by formula
        mapping = unicodedata.decomposition(chr(c))
        assert mapping and not mapping.startswith("<"), hex(c)
        parts = [int(p, 16) for p in mapping.split()]
        assert len(parts) in (1, 2), hex(c)
        second = parts[1] if len(parts) == 2 else 0
        composes = len(parts) == 2 and nfc.normalize_str(chr(c)) == chr(c)
        decompositions.append((c, parts[0], second, composes))
    return ccc, decompositions


def python_nfc(text, ccc, dmap, compose):
    """The algorithm internal/nfc.cc implements, to check the tables here."""
    S, L, V, T, NCOUNT, TCOUNT = 0xAC00, 0x1100, 0x1161, 0x11A7, 588, 28

    def decompose(c, out):
        if S <= c < S + 11172:
            i = c - S
            out += [L + i // NCOUNT, V + (i % NCOUNT) // TCOUNT]
            if i % TCOUNT:
                out.append(T + i % TCOUNT)
        elif c in dmap:
            a, b = dmap[c]
            decompose(a, out)
            if b:
                decompose(b, out)
        else:
            out.append(c)

    cps = []
    for ch in text:
        decompose(ord(ch), cps)
    i = 0
    while i < len(cps):  # stable sort of each run of nonzero classes
        if ccc.get(cps[i], 0) == 0:
            i += 1
            continue
        j = i
        while j < len(cps) and ccc.get(cps[j], 0) != 0:
            j += 1
        cps[i:j] = sorted(cps[i:j], key=lambda c: ccc[c])
        i = j
    # Canonical composition; last_class is -1 while the starter is the last
    # character kept, so a character is unblocked when last_class < its class.
    out, starter, last_class = [], None, -1
    for c in cps:
        cls = ccc.get(c, 0)
        if starter is not None and last_class < cls:
            a = out[starter]
            composite = None
            if L <= a < L + 19 and V <= c < V + 21:
                composite = S + ((a - L) * 21 + (c - V)) * TCOUNT
            elif S <= a < S + 11172 and (a - S) % TCOUNT == 0 and T < c < T + TCOUNT:
                composite = a + (c - T)
            else:
                composite = compose.get((a, c))
            if composite is not None:
                out[starter] = composite
                continue
        if cls == 0:
            starter, last_class = len(out), -1
        else:
            last_class = cls
        out.append(c)
    return "".join(chr(c) for c in out)


def check_nfc(ccc, decompositions):
    nfc = normalizers.NFC()
    dmap = {c: (a, b) for c, a, b, _ in decompositions}
    compose = {(a, b): c for c, a, b, ok in decompositions if ok}
    for c in CODE_POINTS:
        assert python_nfc(chr(c), ccc, dmap, compose) == nfc.normalize_str(chr(c)), hex(c)
    marks = sorted(ccc) + [0x0F73, 0x0F75, 0x0F81, 0x0344]
    bases = [0x41, 0x61, 0x65, 0x4F, 0x55, 0x3B1, 0x3C9, 0x1100, 0x1161, 0x11A8,
             0xAC00, 0x0627, 0x0915, 0x0B47, 0x0DD9, 0x1025, 0x1B05, 0x3099, 0x304B,
             0x05D0, 0x0CBF, 0x0CC6, 0x0D46, 0x0BC6, 0x09C7, 0x11131, 0x11347]
    rng = random.Random(7)
    for _ in range(200000):
        text = "".join(chr(rng.choice(bases if rng.random() < 0.4 else marks))
                       for _ in range(rng.randint(1, 6)))
        assert python_nfc(text, ccc, dmap, compose) == nfc.normalize_str(text), ascii(text)


def emit_ranges(lines, name, ranges):
    lines.append(f"const CodePointRange {name}[] = {{")
    row = []
    for a, b in ranges:
        row.append(f"{{0x{a:X}, 0x{b:X}}},")
        if len(row) == 6:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("};")
    lines.append(f"const size_t {name}Size = sizeof({name}) / sizeof({name}[0]);")
    lines.append("")


def main():
    letters, numbers = to_ranges(matched_by(r"\p{L}")), to_ranges(matched_by(r"\p{N}"))
    spaces = to_ranges(matched_by(r"\s"))
    ccc, decompositions = nfc_tables()
    check_nfc(ccc, decompositions)
    ccc_ranges = []
    for c in sorted(ccc):
        if ccc_ranges and ccc_ranges[-1][1] == c - 1 and ccc_ranges[-1][2] == ccc[c]:
            ccc_ranges[-1][1] = c
        else:
            ccc_ranges.append([c, c, ccc[c]])
    lines = [
        "// GENERATED by backend/data/testdata/gen_unicode_tables.py from",
        f"// tokenizers {tokenizers.__version__}; do not edit. Property ranges as the",
        "// reference's Split regexes see them, and NFC data as its normalizer has it.",
        '#include "backend/data/internal/unicode_tables.h"',
        "",
        "namespace wring {",
        "namespace backend {",
        "namespace data {",
        "namespace internal {",
        "",
    ]
    emit_ranges(lines, "kLetterRanges", letters)
    emit_ranges(lines, "kNumberRanges", numbers)
    emit_ranges(lines, "kWhiteSpaceRanges", spaces)
    lines.append("const CombiningClassRange kCombiningClassRanges[] = {")
    row = []
    for a, b, v in ccc_ranges:
        row.append(f"{{0x{a:X}, 0x{b:X}, {v}}},")
        if len(row) == 5:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("};")
    lines.append("const size_t kCombiningClassRangesSize =")
    lines.append("    sizeof(kCombiningClassRanges) / sizeof(kCombiningClassRanges[0]);")
    lines.append("")
    lines.append("const CanonicalDecomposition kCanonicalDecompositions[] = {")
    row = []
    for c, a, b, ok in decompositions:
        row.append(f"{{0x{c:X}, 0x{a:X}, 0x{b:X}, {1 if ok else 0}}},")
        if len(row) == 4:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("};")
    lines.append("const size_t kCanonicalDecompositionsSize =")
    lines.append("    sizeof(kCanonicalDecompositions) / sizeof(kCanonicalDecompositions[0]);")
    lines += ["", "}  // namespace internal", "}  // namespace data",
              "}  // namespace backend", "}  // namespace wring", ""]
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {OUT}: {len(letters)} letter, {len(numbers)} number, {len(spaces)} space ranges,"
          f" {len(ccc_ranges)} ccc ranges, {len(decompositions)} decompositions")


if __name__ == "__main__":
    main()
