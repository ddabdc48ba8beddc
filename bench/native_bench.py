"""What users would run instead, on the same machine, weights and sentences as `hies bench`:
PyTorch (transformers' BertModel over the same safetensors) and onnxruntime (an ONNX export of the
same weights), both fp32 with the thread count given. Writes JSON to stdout.

  forward: tokenize + encode + mean-pool + L2-normalise the dev sentences, batched exactly as
           `hies embed` batches (length-sorted, ≤ 64 sentences and ≤ 4096 padded tokens)
  score:   bertology's compute_heads_importance on the calibration sentences that `hies bench`
           wrote: a head_mask with requires_grad (one row per example, so |∂L/∂ξ| is per example),
           loss.backward(), plus attention entropy over real tokens; the HIS table is returned so
           the race can be checked for fairness.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "assets/models/all-MiniLM-L6-v2"
CLASSIFIER = ROOT / "classifiers/minilm-rotten-tomatoes.safetensors"


def plan(lens, max_tokens, max_batch):
    """src/batch.rs `plan`: sorted by (length, index), greedy under both limits."""
    order = sorted(range(len(lens)), key=lambda i: (lens[i], i))
    batches, cur = [], []
    for i in order:
        if cur and ((len(cur) + 1) * lens[i] > max_tokens or len(cur) >= max_batch):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def read_tsv(path):
    rows = []
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        if "\t" in line:
            label, text = line.split("\t", 1)
            rows.append((int(label) if label.isdigit() else ["negative", "positive"].index(label.lower()), text))
    return rows


def load_model():
    config = BertConfig.from_json_file(MODEL / "config.json")
    config._attn_implementation = "eager"  # attention probabilities and head_mask need the eager path
    model = BertModel(config, add_pooling_layer=False)
    state = {k: v for k, v in load_file(MODEL / "model.safetensors").items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
    return model.eval()


def tokenizer():
    tok = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(512)
    return tok


def pad(encs, idx):
    t = max(len(encs[i].ids) for i in idx)
    ids = np.zeros((len(idx), t), dtype=np.int64)
    mask = np.zeros((len(idx), t), dtype=np.int64)
    for r, i in enumerate(idx):
        n = len(encs[i].ids)
        ids[r, :n] = encs[i].ids
        mask[r, :n] = 1
    return ids, mask


def pool(hidden, mask):
    m = mask[..., None].astype(hidden.dtype)
    v = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def median_time(runs, f):
    f()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def export_onnx(model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.ones((2, 8), dtype=torch.int64)
    mask = torch.ones((2, 8), dtype=torch.int64)

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    torch.onnx.export(Encoder(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                                    "last_hidden_state": {0: "batch", 1: "sequence"}})


def quantize_q8(fp32, out):
    """transformers.js's dtype "q8" file, made as Hugging Face makes its q8 exports: onnxruntime's
    dynamic quantisation (int8 weights, activations quantised per tensor at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QUInt8)


def torch_scores(model, calibration, tok):
    """bertology's compute_heads_importance with per-example gates, plus entropy (real rows/keys)."""
    classifier = load_file(CLASSIFIER)
    w, b = classifier["classifier.weight"], classifier["classifier.bias"]
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    encs = [tok.encode(t) for _, t in calibration]
    lens = [len(e.ids) for e in encs]
    grad_sum = np.zeros((L, H))
    ent_sum = np.zeros((L, H))
    for idx in plan(lens, 2048, 16):
        ids, mask = pad(encs, idx)
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        head_mask = torch.ones((L, len(idx), H, 1, 1), requires_grad=True)  # ξ, one row per example
        out = model(input_ids=ids_t, attention_mask=mask_t, head_mask=head_mask, output_attentions=True)
        m = mask_t[..., None].float()
        v = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1e-9)
        v = torch.nn.functional.normalize(v, dim=1)
        logits = v @ w.T + b
        labels = torch.tensor([calibration[i][0] for i in idx])
        loss = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
        loss.backward()
        grad_sum += head_mask.grad.abs().sum(dim=(3, 4)).sum(1).detach().numpy()  # Σ_b |∂L/∂ξ_b|, [L, H]
        with torch.no_grad():
            for layer, att in enumerate(out.attentions):  # [B, H, T, T]
                for r, i in enumerate(idx):
                    n = lens[i]
                    p = att[r, :, :n, :n].double()
                    row_h = -(p * torch.log(p.clamp(min=1e-30))).sum(-1)  # [H, n]
                    if n > 1:  # one token: entropy 0, as in src/analysis.rs
                        ent_sum[layer] += (row_h.mean(-1) / np.log(n)).numpy()
    return grad_sum / len(calibration), ent_sum / len(calibration)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default=ROOT / "assets/data/rotten-tomatoes/dev.tsv")
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--onnx", default=ROOT / "bench/.cache/models/minilm/onnx/model.onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model()
    tok = tokenizer()
    texts = [t for _, t in read_tsv(a.dev)]
    onnx_path = Path(a.onnx)
    if not onnx_path.exists():
        export_onnx(load_model(), onnx_path)  # its own copy: exporting rewrites modules in place
    quantized = onnx_path.parent / "model_quantized.onnx"
    if not quantized.exists():
        quantize_q8(onnx_path, quantized)
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])

    def run(engine):
        encs = tok.encode_batch(texts)
        out = [None] * len(texts)
        for idx in plan([len(e.ids) for e in encs], 4096, 64):
            ids, mask = pad(encs, idx)
            if engine == "torch":
                with torch.inference_mode():
                    hidden = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
            else:
                hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            for r, v in zip(idx, pool(hidden, mask)):
                out[r] = v
        return np.stack(out)

    emb_torch, emb_ort = run("torch"), run("ort")
    results = {"threads": a.threads, "torch_version": torch.__version__, "onnxruntime_version": ort.__version__,
               "max_abs_diff_torch_vs_ort": float(np.abs(emb_torch - emb_ort).max())}
    for engine in ("torch", "ort"):
        med, runs = median_time(a.runs, lambda: run(engine))
        results[f"forward_{engine}"] = {"median_s": med, "runs_s": runs, "sentences_per_s": len(texts) / med}
        print(f"{engine}: {len(texts) / med:.1f} sentences/s", file=sys.stderr)
    calibration = read_tsv(a.calibration)
    holder = {}
    med, runs = median_time(a.runs, lambda: holder.update(zip(("his_raw", "entropy"), torch_scores(model, calibration, tok))))
    results["score_torch"] = {"n": len(calibration), "median_s": med, "runs_s": runs, "his_raw": holder["his_raw"].tolist(), "entropy": holder["entropy"].tolist()}
    np.save(Path(a.onnx).parent.parent / "embeddings-torch.npy", emb_torch)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
