"""What the reference generators share: a word-level tokenizer for
pre-tokenized data, fixed calibration ids, llm-compressor's oneshot +
save_pretrained on one recipe, transformers' NLL on held-out rows, and the
versions that wrote it.

Used by backend/job/testdata/make_oneshot_reference.py,
backend/job/testdata/awq/make_awq_reference.py,
backend/job/testdata/families/make_family_oneshot_references.py,
backend/job/testdata/gptq/make_gptq_{reference,perplexity}.py and
backend/spinquant/testdata/make_spinquant_reference.py; each builds its own
model. Needs a PyTorch env with transformers, llmcompressor and
compressed-tensors from PyPI (not needed by the build or the tests).
"""
import json
import os

import torch
import transformers
from datasets import Dataset

import compressed_tensors
import llmcompressor
from llmcompressor import oneshot


def save_word_level_tokenizer(model_dir, vocab_size):
    """oneshot wants a processor even for pre-tokenized data: tokens t0..tN."""
    from tokenizers import Tokenizer, models
    vocab = {f"t{i}": i for i in range(vocab_size)}
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="t2")),
        bos_token="t0", eos_token="t1", unk_token="t2")
    tokenizer.save_pretrained(model_dir)
    return tokenizer


def write_calibration_ids(out, num_samples, seq_len, vocab_size):
    """Fixed token ids (seed 1, ids >= 2) as calibration.jsonl; returns them."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(2, vocab_size, (num_samples, seq_len), generator=generator).tolist()
    with open(os.path.join(out, "calibration.jsonl"), "w") as f:
        for row in ids:
            f.write(json.dumps({"input_ids": row}) + "\n")
    return ids


def write_recipe(out, name, text):
    os.makedirs(os.path.join(out, "recipes"), exist_ok=True)
    path = os.path.join(out, "recipes", name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def run_oneshot(model_dir, tokenizer, ids, recipe_path, out_dir, pipeline="sequential"):
    """oneshot on a fresh copy of the model, unshuffled, one sample per batch
    (as `wring compress --noshuffle`), then save_pretrained(save_compressed)
    without the files wring's references do not compare. Returns the model.

    `pipeline`: "sequential" runs every modifier in one pass per layer;
    "independent" (oneshot's own default) gives each modifier its own pass
    over the whole model, in recipe order."""
    fresh = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    seq_len = len(ids[0])
    dataset = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * seq_len] * len(ids)})
    oneshot(model=fresh, processor=tokenizer, dataset=dataset, recipe=recipe_path,
            num_calibration_samples=len(ids), max_seq_length=seq_len,
            shuffle_calibration_samples=False, pipeline=pipeline)
    fresh.save_pretrained(out_dir, save_compressed=True)
    for extra in ("recipe.yaml", "generation_config.json"):
        path = os.path.join(out_dir, extra)
        if os.path.exists(path):
            os.remove(path)
    return fresh


def nll_of(model, rows):
    """Summed next-token NLL of `model` over `rows` (token-id lists) and the
    number of tokens scored: what wring's quality report sums for its
    perplexity."""
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row])
            log_probs = torch.log_softmax(model(input_ids=ids, use_cache=False).logits.float()[0, :-1], -1)
            nll -= float(log_probs.gather(-1, ids[0, 1:, None]).sum())
            tokens += len(row) - 1
    return nll, tokens


def write_versions(out):
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__,
                   "llmcompressor": llmcompressor.__version__,
                   "compressed_tensors": compressed_tensors.__version__}, f, indent=1)
