#!/usr/bin/env python3
"""Writes tests/fixtures/export-transformers.json: what Hugging Face transformers 4.57.6 (PyTorch,
float64) makes of the folders `hies export` writes.

    python3 scripts/transformers_check.py    # installs bench/requirements.txt into .venv/bench once
    HIES_BIN=path/to/hies python3 scripts/transformers_check.py    # another build of the CLI

Two folders: the default model as loaded (the fine-tuned one, merged) and the same with the heads
of tests/fixtures/export.json's "prune" list sliced out (a whole layer among them). For each:
the sha256 of model.safetensors and config.json (so the test knows it checks the bytes that
transformers read), what from_pretrained reported (missing, unexpected and mismatched weights
must all be empty), the heads each layer was built with, config.pruned_heads as loaded, and per
sentence the fast tokenizer's ids and AutoModelForSequenceClassification's logits.
Then, under "families", each tiny checkpoint of tests/fixtures/tiny/ (BERT, BERT regression, DistilBERT, RoBERTa,
XLM-RoBERTa, ELECTRA) exported with its expected.json's 4 heads pruned, and DistilBERT with a
whole layer gone: the bytes, the architecture and heads transformers built, and its logits on
the sentence pairs (a problem reported by from_pretrained stops the script).
tests/integration/export.rs exports the same folders and compares. Rerun it after retraining
the adapter or regenerating the tiny checkpoints (the bytes change).
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import bench_venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "export-transformers.json")


bench_venv.ensure("transformers_check")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def hies_export(folder, prune, model=None):
    """`hies export` of `model` (the default one when None) to `folder` with `prune` sliced out."""
    args = [os.environ.get("HIES_BIN") or os.path.join(ROOT, "scripts", "hies"), "export", "--out", folder]
    if model:
        args += ["--model", model]
    if prune:
        args += ["--prune", ",".join(f"{l}.{h}" for l, h in prune)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def load_checked(folder):
    """AutoModelForSequenceClassification of `folder` in float64, and what from_pretrained
    reported; a missing, unexpected or mismatched weight stops the script."""
    model, info = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        sys.exit(f"transformers_check: {folder}: from_pretrained reported {problems}")
    return model.double().eval(), info


def digests(folder):
    return {name: sha256(os.path.join(folder, name)) for name in ("model.safetensors", "config.json")}


def check(folder, prune, texts):
    model, info = load_checked(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.is_fast, "tokenizer.json is read"
    max_len = model.config.max_position_embeddings
    sentences = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, truncation=True, max_length=max_len, return_tensors="pt")
            logits = model(**enc).logits[0]
            sentences.append({"text": text, "ids": enc["input_ids"][0].tolist(), "logits": [float(x) for x in logits]})
    return {
        "prune": prune,
        "files": digests(folder),
        "loading_info": {k: list(v) for k, v in info.items()},
        "heads_per_layer": layer_heads(model),
        "pruned_heads": {str(k): sorted(v) for k, v in sorted(model.config.pruned_heads.items())},
        "sentences": sentences,
    }


def layer_heads(model):
    """Heads each layer was built with, whatever the family's attribute names."""
    base = model.base_model
    if hasattr(base, "transformer"):  # DistilBERT
        return [layer.attention.n_heads for layer in base.transformer.layer]
    return [layer.attention.self.num_attention_heads for layer in base.encoder.layer]


def check_family(name, prune, tmp):
    """`hies export` of a tiny checkpoint (tests/fixtures/tiny/NAME) with `prune`, loaded by
    transformers; logits on its sentence pairs."""
    source = os.path.join(ROOT, "tests", "fixtures", "tiny", name)
    folder = os.path.join(tmp, f"{name}-{len(prune)}")
    hies_export(folder, prune, model=source)
    model, _ = load_checked(folder)
    tokenizer = AutoTokenizer.from_pretrained(source)
    expected = json.load(open(os.path.join(source, "expected.json")))
    sentences = []
    with torch.no_grad():
        for e in expected["examples"]:
            enc = tokenizer(e["text"], e["text_pair"], return_tensors="pt")
            sentences.append({"text": e["text"], "text_pair": e["text_pair"], "logits": [float(x) for x in model(**enc).logits[0]]})
    return {
        "model": name, "prune": prune, "architectures": model.config.architectures,
        "files": digests(folder),
        "heads_per_layer": layer_heads(model),
        "sentences": sentences,
    }


def main():
    families = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("bert-pair", "bert-sts", "distilbert", "roberta", "xlm-roberta", "electra"):
            mask_off = json.load(open(os.path.join(ROOT, "tests", "fixtures", "tiny", name, "expected.json")))["mask_off"]
            families.append(check_family(name, mask_off, tmp))
        # A whole layer gone, in DistilBERT's names: the zero stand-in head.
        families.append(check_family("distilbert", [[0, 1]] + [[1, h] for h in range(4)], tmp))
    export = json.load(open(os.path.join(ROOT, "tests", "fixtures", "export.json")))
    texts = [s["text"] for s in export["sentences"]]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for prune in ([], export["prune"]):
            folder = os.path.join(tmp, "pruned" if prune else "full")
            hies_export(folder, prune)
            cases.append(check(folder, prune, texts))
    out = {"generator": "scripts/transformers_check.py (AutoModelForSequenceClassification, float64)",
           "transformers": transformers.__version__, "torch": torch.__version__, "cases": cases, "families": families}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: heads per layer {[c['heads_per_layer'] for c in cases + families]}")


if __name__ == "__main__":
    main()
