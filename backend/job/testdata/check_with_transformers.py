"""Loads a checkpoint written by `wring compress` with transformers (its
compressed-tensors support) and prints the perplexity on held-out samples,
to compare with the "compressed" perplexity wring's quality report printed
for the same samples. Needs torch, transformers and compressed-tensors
(PyPI); CPU is enough for small models.

    wring compress --model M --recipe R --dataset data.jsonl --output OUT \
        --num-samples 8 --eval-samples 2 --noshuffle
    python check_with_transformers.py OUT data.jsonl 8 2

With --noshuffle, wring evaluates on the samples right after the
calibration ones, which is what `skip` and `count` select here.
"""
import json
import math
import sys

import torch
import transformers


def main():
    path, dataset, skip, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rows = [json.loads(line)["input_ids"] for line in open(dataset) if line.strip()]
    rows = rows[skip:skip + count]
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype="auto")
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row])
            log_probs = torch.log_softmax(model(ids).logits.float()[0, :-1], -1)
            nll -= log_probs.gather(-1, ids[0, 1:, None]).sum().item()
            tokens += len(row) - 1
    print("transformers perplexity %.6g over %d tokens" % (math.exp(nll / tokens), tokens))


if __name__ == "__main__":
    main()
