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
tests/integration/export.rs exports the same folders and compares. Rerun it after retraining
the adapter (the bytes change).
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bench")
REQUIREMENTS = os.path.join(ROOT, "bench", "requirements.txt")
OUT = os.path.join(ROOT, "tests", "fixtures", "export-transformers.json")


def ensure_venv():
    """Re-run this script inside the bench venv (PyTorch, transformers), installing it once."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([python, "-c", "import torch, transformers"], capture_output=True).returncode != 0:
        print("transformers_check: installing PyTorch and transformers into .venv/bench (large, once)", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--progress-bar", "off", "-r", REQUIREMENTS], check=True)
    os.execv(python, [python, *sys.argv])


ensure_venv()

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def check(folder, prune, texts):
    model, info = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        sys.exit(f"transformers_check: {folder}: from_pretrained reported {problems}")
    model = model.double().eval()
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
        "files": {name: sha256(os.path.join(folder, name)) for name in ("model.safetensors", "config.json")},
        "loading_info": {k: list(v) for k, v in info.items()},
        "heads_per_layer": [layer.attention.self.num_attention_heads for layer in model.bert.encoder.layer],
        "pruned_heads": {str(k): sorted(v) for k, v in sorted(model.config.pruned_heads.items())},
        "sentences": sentences,
    }


def main():
    export = json.load(open(os.path.join(ROOT, "tests", "fixtures", "export.json")))
    texts = [s["text"] for s in export["sentences"]]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for prune in ([], export["prune"]):
            folder = os.path.join(tmp, "pruned" if prune else "full")
            args = [os.environ.get("HIES_BIN") or os.path.join(ROOT, "scripts", "hies"), "export", "--out", folder]
            if prune:
                args += ["--prune", ",".join(f"{l}.{h}" for l, h in prune)]
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
            cases.append(check(folder, prune, texts))
    out = {"generator": "scripts/transformers_check.py (AutoModelForSequenceClassification, float64)",
           "transformers": transformers.__version__, "torch": torch.__version__, "cases": cases}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: heads per layer {[c['heads_per_layer'] for c in cases]}")


if __name__ == "__main__":
    main()
