#!/usr/bin/env python3
"""Writes tests/fixtures/parity.json: what an independent implementation says the model computes.

Independent of the Rust code on every step: token ids from Hugging Face transformers' pure-Python
BertTokenizer (vocab.txt, not tokenizer.json), and the encoder written out in float64 numpy from
the safetensors file. The Rust tests (native, wgpu, wasm in Chromium) compare against this file.

    python3 scripts/reference.py          # installs its pinned packages into .venv/reference once
    python3 scripts/reference.py --finetuned-only   # only tests/fixtures/finetuned.json
    python3 scripts/reference.py --export DIR       # tests/fixtures/export.json from `hies export` (see EXPORT_PRUNE)

Rerunning it reproduces the committed fixture (the sampling below is seeded).
"""
import hashlib
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "reference")
PACKAGES = ["numpy==2.4.6", "scipy==1.17.1", "safetensors==0.8.0", "transformers==4.57.6"]
MODEL = os.path.join(ROOT, "assets", "models", "all-MiniLM-L6-v2")
OUT = os.path.join(ROOT, "tests", "fixtures", "parity.json")
SCORES_OUT = os.path.join(ROOT, "tests", "fixtures", "scores.json")
CALIBRATION_TSV = os.path.join(ROOT, "tests", "fixtures", "calibration.tsv")
CLASSIFIER = os.path.join(ROOT, "classifiers", "minilm-rotten-tomatoes.safetensors")


def ensure_venv():
    """Re-run this script inside a venv that has the pinned packages."""
    python = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, "hies-packages.txt")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if not os.path.exists(stamp) or open(stamp).read() != "\n".join(PACKAGES):
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PACKAGES], check=True)
        with open(stamp, "w") as f:
            f.write("\n".join(PACKAGES))
    os.execv(python, [python, *sys.argv])


ensure_venv()

import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from scipy.special import erf  # noqa: E402
from transformers import BertTokenizer  # noqa: E402

LONG = " ".join(["the film's long, winding middle section tests everyone's patience"] * 60)
SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "",
    "wonderful",
    "?!?... --- ((( ))) ;;; @#$%^&*",
    "Crème brûlée, naïve café, résumé — Señor Müller's façade.",
    "I loved it 😍🎬 but my friend hated it 😡",
    "東京は美しい街です and Zürich too",
    "a gorgeously elaborate continuation of the lord of the rings trilogy",
    "The plot is thin, the acting wooden, and the ending never arrives.",
    "NOT BAD AT ALL. Honestly? Better than I expected!!!",
    "2 hours, 17 minutes and $150 million later: meh.",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines inside",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a",
    LONG,
]
# Gated runs: (sentence index, heads set to 0 as [layer, head]); the last removes a whole layer.
GATED = [
    (0, [[0, 2]]),
    (9, [[0, 0], [1, 5], [3, 0], [3, 1], [3, 2], [3, 3], [5, 11]]),
    (10, [[4, h] for h in range(12)]),
]
FULL_ATTENTION = 0  # this sentence's maps are stored whole
SAMPLES = 256  # attention entries sampled per sentence


def layer_norm(x, w, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def forward(w, cfg, ids, gate, start=0, x=None, inputs=None):
    """One sentence, no padding. Returns (token states [T, D], attention [L, H, T, T]).
    With `start` and `x`, runs layers start.. on x; `inputs` (a list) collects each layer's input."""
    t, d, nh = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    dh, eps = d // nh, cfg["layer_norm_eps"]
    if x is None:
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    maps = []
    for l in range(start, cfg["num_hidden_layers"]):
        if inputs is not None:
            inputs.append(x)
        p = f"encoder.layer.{l}."
        lin = lambda name, v: v @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        heads = lambda v: v.reshape(t, nh, dh).transpose(1, 0, 2)  # [H, T, dh]
        q, k, v = (heads(lin(f"attention.self.{n}", x)) for n in ("query", "key", "value"))
        probs = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(dh))  # [H, T, T]
        maps.append(probs)
        probs = probs * gate[l][:, None, None]  # HF head_mask
        ctx = (probs @ v).transpose(1, 0, 2).reshape(t, d)
        a = layer_norm(lin("attention.output.dense", ctx) + x,
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        ff = lin("output.dense", gelu(lin("intermediate.dense", a)))
        x = layer_norm(ff + a, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return x, np.stack(maps) if maps else None


def embed(states):
    v = states.mean(0)  # mean over real tokens (one sentence: all of them)
    return v / max(np.linalg.norm(v), 1e-12)  # modules.json declares Normalize


def r(x):
    return float(f"{x:.9g}")


def main():
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(MODEL, "model.safetensors")).items()
         if k != "embeddings.position_ids"}
    tok = BertTokenizer(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
    # The bare encoder is used as sentence-transformers uses it: truncated at max_seq_length.
    max_len = min(cfg["max_position_embeddings"], json.load(open(os.path.join(MODEL, "sentence_bert_config.json")))["max_seq_length"])
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    rng = np.random.default_rng(20261129)

    out = {"model": "all-MiniLM-L6-v2", "layers": L, "heads": H,
           "generator": "scripts/reference.py (numpy float64, transformers BertTokenizer)", "sentences": []}
    ones = np.ones((L, H))
    for i, text in enumerate(SENTENCES):
        full = tok(text)["input_ids"]
        ids = tok(text, truncation=True, max_length=max_len)["input_ids"]
        states, maps = forward(w, cfg, ids, ones)
        t = len(ids)
        idx = np.stack([rng.integers(0, L, SAMPLES), rng.integers(0, H, SAMPLES),
                        rng.integers(0, t, SAMPLES), rng.integers(0, t, SAMPLES)], axis=1)
        entry = {"text": text, "ids": ids, "truncated": len(full) > len(ids),
                 "embedding": [r(x) for x in embed(states)],
                 "attention_samples": [[int(a), int(b), int(c), int(d), r(maps[a, b, c, d])] for a, b, c, d in idx]}
        if i == FULL_ATTENTION:
            entry["attention"] = [r(x) for x in maps.reshape(-1)]
        out["sentences"].append(entry)
        print(f"{i:2d} T={t:3d} {'(truncated) ' if entry['truncated'] else ''}{text[:50]!r}", flush=True)

    out["gated"] = []
    for i, off in GATED:
        gate = np.ones((L, H))
        for l, h in off:
            gate[l, h] = 0.0
        states, _ = forward(w, cfg, out["sentences"][i]["ids"], gate)
        out["gated"].append({"sentence": i, "off": off, "embedding": [r(x) for x in embed(states)]})

    e = [np.array(out["sentences"][i]["embedding"]) for i in range(3)]
    out["cosines"] = {"0,1": r(e[0] @ e[1]), "0,2": r(e[0] @ e[2]), "1,2": r(e[1] @ e[2])}
    print("cosines", out["cosines"])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT) // 1024} KB)")


# Calibration examples of our own (the Rotten Tomatoes data may not be committed): 1 = positive.
CALIBRATION = [
    (1, "a warm, funny and beautifully acted film"),
    (0, "the plot is a mess and the jokes fall flat"),
    (1, "one of the most moving stories i have seen this year"),
    (0, "tedious, overlong and painfully predictable"),
    (1, "the cast is terrific and the script sparkles"),
    (0, "a lifeless remake that nobody asked for"),
    (1, "smart, stylish and surprisingly touching"),
    (0, "i kept checking my watch"),
    (1, "an absolute delight from start to finish"),
    (0, "the dialogue is clumsy and the pacing drags"),
    (1, "gorgeous to look at and a joy to watch"),
    (0, "neither funny nor scary, just dull"),
    (1, "a bold, original vision"),
    (0, "wooden acting and a script full of clichés"),
    (1, "it will make you laugh and cry"),
    (0, "bad"),
]
FD_STEP = 1e-4  # central differences on each gate, in float64


def scores_main():
    """AE, confidence and HIS (|dL/dgate| by central finite differences, plain and divided by each
    example's tokens) over CALIBRATION."""
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(MODEL, "model.safetensors")).items()
         if k != "embeddings.position_ids"}
    classifier = {k: v.astype(np.float64) for k, v in load_file(CLASSIFIER).items()}
    tok = BertTokenizer(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]

    def loss(states, label):
        z = classifier["classifier.weight"] @ embed(states) + classifier["classifier.bias"]
        z = z - z.max()
        return -(z[label] - np.log(np.exp(z).sum()))

    ent, nats, conf, his, his_tok = (np.zeros((L, H)) for _ in range(5))
    tokens = 0
    for k, (label, text) in enumerate(CALIBRATION):
        ids = tok(text, truncation=True, max_length=cfg["max_position_embeddings"])["input_ids"]
        n = len(ids)
        tokens += n
        ones = np.ones((L, H))
        inputs = []
        _, maps = forward(w, cfg, ids, ones, inputs=inputs)  # [L, H, n, n]
        p = np.where(maps > 0, maps, 1.0)
        row_h = -(maps * np.log(p)).sum(-1)  # [L, H, n]
        nats += row_h.mean(-1)
        ent += row_h.mean(-1) / math.log(n) if n > 1 else 0.0
        conf += maps.max(-1).mean(-1)
        for l in range(L):
            for h in range(H):
                g = ones.copy()
                g[l, h] = 1 + FD_STEP
                up = loss(forward(w, cfg, ids, g, start=l, x=inputs[l])[0], label)
                g[l, h] = 1 - FD_STEP
                down = loss(forward(w, cfg, ids, g, start=l, x=inputs[l])[0], label)
                g = abs((up - down) / (2 * FD_STEP))
                his[l, h] += g
                his_tok[l, h] += g / n  # the paper's Eq. 2: token-averaged per example
        print(f"calibration {k + 1}/{len(CALIBRATION)}", flush=True)
    m = len(CALIBRATION)
    grid = lambda a: [[r(x) for x in row] for row in a / m]
    out = {"generator": "scripts/reference.py (numpy float64, central differences)", "classifier": "classifiers/minilm-rotten-tomatoes.safetensors",
           "examples": [{"label": y, "text": t} for y, t in CALIBRATION], "tokens": tokens,
           "entropy": grid(ent), "entropy_nats": grid(nats), "confidence": grid(conf), "his_raw": grid(his),
           "his_token_mean": grid(his_tok)}
    with open(SCORES_OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    with open(CALIBRATION_TSV, "w") as f:
        f.writelines(f"{y}\t{t}\n" for y, t in CALIBRATION)
    print(f"wrote {os.path.relpath(SCORES_OUT, ROOT)} and {os.path.relpath(CALIBRATION_TSV, ROOT)}")


ADAPTER = os.path.join(ROOT, "classifiers", "minilm-rotten-tomatoes-lora")
FINETUNED_OUT = os.path.join(ROOT, "tests", "fixtures", "finetuned.json")


def finetuned_main():
    """Logits of the fine-tuned model: the PEFT LoRA adapter merged here, independently of the Rust
    loader (W + lora_alpha/r * B @ A, the saved pooler and classifier), then BertForSequenceClassification
    in float64: tanh(pooler.dense(h[CLS])) -> classifier."""
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(MODEL, "model.safetensors")).items()
         if k != "embeddings.position_ids"}
    acfg = json.load(open(os.path.join(ADAPTER, "adapter_config.json")))
    scale = acfg["lora_alpha"] / acfg["r"]
    adapter = {k: v.astype(np.float64) for k, v in load_file(os.path.join(ADAPTER, "adapter_model.safetensors")).items()}
    prefix = "base_model.model.bert."
    merged = 0
    for k, a in adapter.items():
        if k.endswith(".lora_A.weight"):
            module = k[len(prefix):-len(".lora_A.weight")]
            b = adapter[k.replace("lora_A", "lora_B")]
            w[module + ".weight"] = w[module + ".weight"] + scale * (b @ a)
            merged += 1
    w["pooler.dense.weight"] = adapter[prefix + "pooler.dense.weight"]
    w["pooler.dense.bias"] = adapter[prefix + "pooler.dense.bias"]
    cw, cb = adapter["base_model.model.classifier.weight"], adapter["base_model.model.classifier.bias"]
    tok = BertTokenizer(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    out = {"generator": "scripts/reference.py (numpy float64, PEFT adapter merged independently)",
           "adapter_sha256": hashlib.sha256(open(os.path.join(ADAPTER, "adapter_model.safetensors"), "rb").read()).hexdigest(),
           "merged_layers": merged, "sentences": []}
    for text in SENTENCES:
        ids = tok(text, truncation=True, max_length=cfg["max_position_embeddings"])["input_ids"]
        states, _ = forward(w, cfg, ids, np.ones((L, H)))
        pooled = np.tanh(w["pooler.dense.weight"] @ states[0] + w["pooler.dense.bias"])
        out["sentences"].append({"text": text, "logits": [r(x) for x in cw @ pooled + cb]})
    with open(FINETUNED_OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(FINETUNED_OUT, ROOT)} ({merged} LoRA matrices merged)")


EXPORT_OUT = os.path.join(ROOT, "tests", "fixtures", "export.json")
# The heads tests/integration/export.rs prunes before `hies export` (a whole layer among them).
EXPORT_PRUNE = [[0, 1], [0, 5], [3, 4], [5, 11]] + [[2, h] for h in range(12)]


def export_main(folder):
    """Logits of a checkpoint folder as transformers would load it: BertForSequenceClassification
    weights (`bert.` prefix, [out, in]) with config.json's `pruned_heads` already sliced out of
    query/key/value (rows) and attention.output.dense (columns); numpy float64."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    w = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in w.items()}
    pruned = {int(l): hs for l, hs in cfg.get("pruned_heads", {}).items()}
    tok = BertTokenizer(os.path.join(folder, "vocab.txt"), do_lower_case=True)
    d, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    dh = d // nh
    out = {"generator": "scripts/reference.py --export (numpy float64, pruned_heads honoured as transformers does)",
           "prune": EXPORT_PRUNE, "pruned_heads": cfg.get("pruned_heads", {}), "sentences": []}
    for text in SENTENCES[:12]:
        ids = tok(text, truncation=True, max_length=cfg["max_position_embeddings"])["input_ids"]
        t = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for l in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{l}."
            kept = nh - len(pruned.get(l, []))
            lin = lambda name, v: v @ w[p + name + ".weight"].T + w[p + name + ".bias"]
            if kept:
                heads = lambda v: v.reshape(t, kept, dh).transpose(1, 0, 2)
                q, k, v = (heads(lin(f"attention.self.{n}", x)) for n in ("query", "key", "value"))
                ctx = (softmax(q @ k.transpose(0, 2, 1) / math.sqrt(dh)) @ v).transpose(1, 0, 2).reshape(t, kept * dh)
                attn = lin("attention.output.dense", ctx)
            else:
                attn = np.broadcast_to(w[p + "attention.output.dense.bias"], (t, d))
            a = layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            ff = lin("output.dense", gelu(lin("intermediate.dense", a)))
            x = layer_norm(ff + a, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        pooled = np.tanh(w["pooler.dense.weight"] @ x[0] + w["pooler.dense.bias"])
        out["sentences"].append({"text": text, "logits": [r(v) for v in w["classifier.weight"] @ pooled + w["classifier.bias"]]})
    with open(EXPORT_OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(EXPORT_OUT, ROOT)}")


if __name__ == "__main__":
    if "--export" in sys.argv:
        # python3 scripts/reference.py --export DIR, DIR written by:
        #   hies export --out DIR --prune 0.1,0.5,3.4,5.11,2.0,2.1,…,2.11   (EXPORT_PRUNE)
        export_main(sys.argv[sys.argv.index("--export") + 1])
        sys.exit(0)
    if "--finetuned-only" in sys.argv:
        finetuned_main()
        sys.exit(0)
    if "--scores-only" not in sys.argv:
        main()
    scores_main()
    finetuned_main()
