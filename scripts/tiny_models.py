#!/usr/bin/env python3
"""Writes tests/fixtures/tiny/: small random-initialised checkpoints made with transformers 4.57.6,
and what PyTorch (float64) computes on them, for the tests of each architecture and task.

    python3 scripts/tiny_models.py    # installs bench/requirements.txt into .venv/bench once

Each folder holds what a researcher's checkpoint folder holds (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt where the tokenizer
has one), a labelled data file `data.tsv`, and `expected.json`:
- per example: transformers' fast tokenizer's input_ids and token_type_ids, the logits, the
  logits with MASK_OFF's heads masked (head_mask) and with them sliced out (prune_heads);
- for ATTENTION_EXAMPLES: every layer's attention probabilities [L, H, T, T];
- over the whole data file: his_raw = mean over examples of |dL/dxi| and his_token_mean = mean of
  |dL/dxi| / (real tokens) (arXiv 2510.13832 Eq. 2), L the cross-entropy against the gold label
  (for the regression head, transformers' MSELoss against the gold score), xi the head_mask at 1;
- for the regression head (STS-B-style, num_labels = 1): the first example's |d score / d xi|
  (the per-sentence importance); Pearson's r and Spearman's rho of the
  full and the masked scores against the gold scores, and the share of examples whose masked
  score lies within 5 % of the gold scores' range of the full one (our definition of agreement
  for regression).
The weights are seeded; the tokenizer is trained here with the tokenizers library on CORPUS.
Weights are stored in the dtype named per model (fp16 and bf16 too) and the reference runs on
exactly those stored values, cast to float64.
"""
import json
import os
import shutil
import tempfile

import bench_venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tiny")


bench_venv.ensure("tiny_models")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification, AutoTokenizer, BertConfig, DistilBertConfig, ElectraConfig, PreTrainedTokenizerFast,
    RobertaConfig, XLMRobertaConfig,
)

# Premise / hypothesis pairs with NLI labels (made up here), and single sentences for the
# pre-training checkpoint. Long enough to exercise truncation is not needed: the engine's
# truncation is tested on MiniLM.
PAIRS = [
    ("entailment", "A man is playing a guitar on the stage.", "A man plays music."),
    ("contradiction", "A man is playing a guitar on the stage.", "Nobody is playing anything."),
    ("neutral", "A man is playing a guitar on the stage.", "The man is a famous singer."),
    ("entailment", "Two children are running in the park.", "Kids are outside."),
    ("contradiction", "Two children are running in the park.", "The children are asleep in bed."),
    ("neutral", "Two children are running in the park.", "The children are racing to the swings."),
    ("entailment", "The woman is reading a long book by the window.", "Someone is reading."),
    ("contradiction", "The woman is reading a long book by the window.", "The woman is swimming."),
    ("neutral", "The woman is reading a long book by the window.", "The book is about the sea."),
    ("entailment", "A dog catches a red ball in the air.", "An animal is playing."),
    ("contradiction", "A dog catches a red ball in the air.", "The dog is sleeping on the sofa."),
    ("neutral", "A dog catches a red ball in the air.", "The dog belongs to a child."),
    ("entailment", "The chef cuts fresh vegetables for the soup.", "Food is being prepared."),
    ("contradiction", "The chef cuts fresh vegetables for the soup.", "The kitchen is empty."),
    ("neutral", "The chef cuts fresh vegetables for the soup.", "The soup will be served at noon."),
    ("entailment", "It rained all day in the small town.", "The weather was wet."),
]
# Similarity scores 0–5 for the same pairs (made up here, STS-B style) for the regression head.
# Two pairs of ties (3.8, 0.6), so Spearman's tie rule is checked against numpy's.
STS_SCORES = [4.2, 0.6, 2.4, 3.8, 0.4, 3.8, 4.6, 0.2, 1.8, 3.4, 0.6, 2.2, 4.0, 1.0, 2.6, 4.4]
STS_PAIRS = [(f"{s:.1f}", a, b) for s, (_, a, b) in zip(STS_SCORES, PAIRS)]
SINGLES = [
    "the film is a quiet, moving story",
    "nothing in this movie works",
    "a bright and funny ride",
    "slow, dull and far too long",
]
CORPUS = [s for _, a, b in PAIRS for s in (a, b)] + SINGLES
MASK_OFF = [[0, 1], [1, 0], [1, 2], [1, 3]]  # heads removed in the masked/sliced runs: most of layer 1
ONE_OFF = [[1, 1]]  # the regression head's second removal: small enough that agreement is neither 0 nor 1
ATTENTION_EXAMPLES = 1  # [L, H, T, T] floats: the largest part of the fixture


def wordpiece_tokenizer(folder, types=True):
    """A lower-casing BERT WordPiece tokenizer over CORPUS, saved as transformers saves one.

    The vocabulary is built here, not trained (the tokenizers trainer breaks ties differently
    from run to run): the special tokens, every character alone and as a continuation (##c),
    and the whole words of at most 6 letters, so longer words split into word pieces."""
    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = sorted({w for text in CORPUS for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text))})
    chars = sorted({c for w in words for c in w})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = specials + chars + ["##" + c for c in chars] + [w for w in words if 1 < len(w) <= 6]
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
        model_max_length=64, model_input_names=["input_ids", "token_type_ids", "attention_mask"] if types else ["input_ids", "attention_mask"],
    )
    fast.save_pretrained(folder)
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("".join(t + "\n" for t, _ in vocab))
    return tok.get_vocab_size()


def byte_level_tokenizer(folder):
    """A RoBERTa-style byte-level BPE tokenizer over CORPUS, trained here with the tokenizers
    library (one thread's order: the trainer is deterministic for a fixed corpus and vocab size;
    rerunning this script checks that by reproducing the fixture)."""
    from tokenizers import trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials, min_frequency=2,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.post_processor = processors.RobertaProcessing(sep=("</s>", tok.token_to_id("</s>")), cls=("<s>", tok.token_to_id("<s>")))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>", pad_token="<pad>",
        cls_token="<s>", mask_token="<mask>", model_max_length=62, model_input_names=["input_ids", "attention_mask"],
    )
    fast.save_pretrained(folder)
    return tok.get_vocab_size()


def unigram_tokenizer(folder):
    """An XLM-R-style SentencePiece Unigram tokenizer (NFKC, Metaspace ▁, <s> A </s></s> B </s>)
    over CORPUS. Its pieces and scores are set here, not trained (the Unigram trainer differs
    from run to run): the special tokens, ▁ and every character (score −10), and ▁word for the
    words of at most 5 characters (score −1), so longer words split into pieces."""
    words = sorted({w for text in CORPUS for w in text.split()})
    chars = sorted({c for w in words for c in w})
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    pieces = [(t, 0.0) for t in specials] + [("▁", -10.0)] + [(c, -10.0) for c in chars] + [("▁" + w, -1.0) for w in words if len(w) <= 5]
    tok = Tokenizer(models.Unigram(pieces, unk_id=specials.index("<unk>"), byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    s, e = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", s), ("</s>", e)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>", pad_token="<pad>",
        cls_token="<s>", mask_token="<mask>", model_max_length=62, model_input_names=["input_ids", "attention_mask"],
    )
    fast.save_pretrained(folder)
    return tok.get_vocab_size()


def save_weights(model, folder, dtype):
    """model.safetensors in `dtype` (as save_pretrained with torch_dtype), then the model reloaded
    from exactly those values in float64."""
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    path = os.path.join(folder, "model.safetensors")
    save_file(state, path, metadata={"format": "pt"})
    stored = load_file(path)
    model.load_state_dict({k: v.to(torch.float64) for k, v in stored.items()}, strict=True)
    return model


def ranks(x):
    """Ranks 1..n, ties sharing their mean rank (as scipy.stats.rankdata's "average")."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        r[x == v] = r[x == v].mean()
    return r


def regression_metrics(rows, gold):
    """Pearson and Spearman of the full and masked scores against the gold ones, and agreement."""
    full = np.array([r["logits"][0] for r in rows])
    masked = np.array([r["masked_logits"][0] for r in rows])
    gold = np.array(gold, dtype=np.float64)
    pearson = lambda a, b: float(np.corrcoef(a, b)[0, 1])
    tolerance = 0.05 * (gold.max() - gold.min())
    return {
        "pearson": pearson(full, gold), "spearman": pearson(ranks(full), ranks(gold)),
        "masked_pearson": pearson(masked, gold), "masked_spearman": pearson(ranks(masked), ranks(gold)),
        "masked_agreement": float(np.mean(np.abs(masked - full) <= tolerance)),
        "one_off": ONE_OFF,
        "one_off_agreement": float(np.mean(np.abs(np.array([r["one_off_logits"][0] for r in rows]) - full) <= tolerance)),
    }


def reference(model, tokenizer, examples, labels_by_name):
    """float64 outputs for `examples` [(label, text, text_pair or None)]; `labels_by_name` None
    for a regression head (the label is the score)."""
    config = model.config
    n_layers, n_heads = config.num_hidden_layers, config.num_attention_heads
    out = []
    his_raw = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    his_tok = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    mask_off = torch.ones(n_layers, n_heads, dtype=torch.float64)
    for l, h in MASK_OFF:
        mask_off[l, h] = 0.0
    pruned = AutoModelForSequenceClassification.from_config(config).double().eval()
    pruned.load_state_dict(model.state_dict())
    by_layer = {}
    for l, h in MASK_OFF:
        by_layer.setdefault(l, []).append(h)
    pruned.prune_heads(by_layer)
    pruned = pruned.double()  # prune_heads builds its new Linear layers in the default dtype
    for i, (label, text, pair) in enumerate(examples):
        enc = tokenizer(text, pair, return_tensors="pt") if pair is not None else tokenizer(text, return_tensors="pt")
        gate = torch.ones(n_layers, n_heads, dtype=torch.float64, requires_grad=True)
        o = model(**enc, head_mask=gate, output_attentions=True)
        if labels_by_name is None:  # transformers' regression loss: MSELoss(logits.squeeze(), labels.squeeze())
            loss = torch.nn.functional.mse_loss(o.logits.squeeze(), torch.tensor(float(label), dtype=torch.float64))
        else:
            loss = torch.nn.functional.cross_entropy(o.logits, torch.tensor([labels_by_name[label]]))
        loss.backward()
        g = gate.grad.abs()
        n = int(enc["input_ids"].shape[1])
        his_raw += g
        his_tok += g / n
        with torch.no_grad():
            masked = model(**enc, head_mask=mask_off).logits[0]
            sliced = pruned(**enc).logits[0]
            one_off = torch.ones(n_layers, n_heads, dtype=torch.float64)
            for l, h in ONE_OFF:
                one_off[l, h] = 0.0
            one_off = model(**enc, head_mask=one_off).logits[0]
        row = {
            "label": label, "text": text, "text_pair": pair,
            "input_ids": enc["input_ids"][0].tolist(),
            "token_type_ids": enc["token_type_ids"][0].tolist() if "token_type_ids" in enc else [0] * n,
            "logits": o.logits[0].tolist(),
            "masked_logits": masked.tolist(),
            "sliced_logits": sliced.tolist(),
        }
        if labels_by_name is None:
            row["one_off_logits"] = one_off.tolist()
            if i == 0:  # the page's per-sentence importance for a regression head: |d score / d xi|
                gate = torch.ones(n_layers, n_heads, dtype=torch.float64, requires_grad=True)
                model(**enc, head_mask=gate).logits[0, 0].backward()
                row["score_grad"] = gate.grad.abs().tolist()
        if i < ATTENTION_EXAMPLES:
            row["attentions"] = torch.stack([a[0] for a in o.attentions]).flatten().tolist()  # [L, H, T, T]
        out.append(row)
    k = len(examples)
    result = {
        "examples": out,
        "mask_off": MASK_OFF,
        "his_raw": (his_raw / k).tolist(),
        "his_token_mean": (his_tok / k).tolist(),
    }
    if labels_by_name is None:
        result.update(regression_metrics(out, [float(label) for label, _, _ in examples]))
    return result


LABELS = ["entailment", "neutral", "contradiction"]
# The same small shape for every architecture: 2 layers of 4 heads, hidden 64. initializer_range
# 0.2 (not 0.02): weights 10x the usual init give logits of order 1 and attention far from
# uniform, so a wrong token type, position or head shows in the numbers.
SHAPE = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=64, intermediate_size=128, initializer_range=0.2)
HEAD = dict(num_labels=3, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})


def classifier(folder, config, dtype, pairs=PAIRS):
    """A seeded random *ForSequenceClassification in `config`, saved in `dtype` with the data
    file; the reference outputs on `pairs` (scores for a one-output head)."""
    config._attn_implementation = "eager"  # head_mask and output_attentions need it
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config).double().eval()
    model = save_weights(model, folder, dtype)
    config.save_pretrained(folder)
    with open(os.path.join(folder, "data.tsv"), "w") as f:
        f.write("".join(f"{l}\t{a}\t{b}\n" for l, a, b in pairs))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.is_fast
    return reference(model, tokenizer, pairs, None if config.num_labels == 1 else {l: i for i, l in enumerate(LABELS)})


def bert_pair(folder):
    """BertForSequenceClassification on sentence pairs (an MNLI-style 3-way task), fp16 weights."""
    vocab = wordpiece_tokenizer(folder)
    config = BertConfig(vocab_size=vocab, max_position_embeddings=64, type_vocab_size=2, architectures=["BertForSequenceClassification"],
                        **SHAPE, **HEAD)
    return classifier(folder, config, torch.float16)


def bert_sts(folder):
    """BertForSequenceClassification with one output (num_labels = 1, problem_type unset, which
    transformers reads as regression: an STS-B-style similarity score), fp16 weights."""
    vocab = wordpiece_tokenizer(folder)
    config = BertConfig(vocab_size=vocab, max_position_embeddings=64, type_vocab_size=2, architectures=["BertForSequenceClassification"],
                        num_labels=1, **SHAPE)
    return classifier(folder, config, torch.float16, STS_PAIRS)


def distilbert(folder):
    """DistilBertForSequenceClassification (q_lin/…/out_lin, sa_layer_norm, ffn, pre_classifier +
    ReLU; no token types), f32 weights."""
    vocab = wordpiece_tokenizer(folder, types=False)
    config = DistilBertConfig(vocab_size=vocab, max_position_embeddings=64, dim=SHAPE["hidden_size"], n_layers=SHAPE["num_hidden_layers"],
                              n_heads=SHAPE["num_attention_heads"], hidden_dim=SHAPE["intermediate_size"], initializer_range=0.2,
                              architectures=["DistilBertForSequenceClassification"], **HEAD)
    return classifier(folder, config, torch.float32)


def roberta(folder, xlm=False):
    """RobertaForSequenceClassification (positions from padding_idx + 1, one token type,
    classifier.dense + tanh + out_proj), byte-level BPE, bf16 weights; with `xlm`,
    XLMRobertaForSequenceClassification with a SentencePiece Unigram tokenizer."""
    vocab = unigram_tokenizer(folder) if xlm else byte_level_tokenizer(folder)
    kind, arch = (XLMRobertaConfig, "XLMRobertaForSequenceClassification") if xlm else (RobertaConfig, "RobertaForSequenceClassification")
    config = kind(vocab_size=vocab, max_position_embeddings=64, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                  architectures=[arch], **SHAPE, **HEAD)
    return classifier(folder, config, torch.bfloat16)


def electra(folder):
    """ElectraForSequenceClassification with embedding_size 32 < hidden 64 (embeddings_project),
    classifier.dense + GELU + out_proj, fp16 weights."""
    vocab = wordpiece_tokenizer(folder)
    config = ElectraConfig(vocab_size=vocab, embedding_size=32, max_position_embeddings=64, type_vocab_size=2,
                           architectures=["ElectraForSequenceClassification"], **SHAPE, **HEAD)
    return classifier(folder, config, torch.float16)


def bert_pair_sharded(folder):
    """The same checkpoint as transformers saves one too large for a file: shards of at most
    100 kB and model.safetensors.index.json (the test compares it to bert-pair's expected.json)."""
    source = os.path.join(OUT, "bert-pair")
    model = AutoModelForSequenceClassification.from_pretrained(source, torch_dtype=torch.float16)
    model.save_pretrained(folder, max_shard_size="100KB", safe_serialization=True)
    for name in ("tokenizer.json",):
        shutil.copy(os.path.join(source, name), folder)
    shards = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    assert len(shards) > 1 and not os.path.exists(os.path.join(folder, "model.safetensors")), shards
    return None


def rounded(v):
    """Floats to 10 significant digits: far below every tolerance (1e-5 at the tightest), and
    the fixture half the size."""
    if isinstance(v, float):
        return float(f"{v:.10g}")
    if isinstance(v, list):
        return [rounded(x) for x in v]
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    return v


def main():
    makers = {"bert-pair": bert_pair, "bert-pair-sharded": bert_pair_sharded, "bert-sts": bert_sts, "distilbert": distilbert, "roberta": roberta,
              "xlm-roberta": lambda folder: roberta(folder, xlm=True), "electra": electra}
    os.makedirs(OUT, exist_ok=True)
    for name, make in makers.items():
        folder = os.path.join(OUT, name)
        with tempfile.TemporaryDirectory() as tmp:
            expected = make(tmp)
            if expected is not None:
                expected["generator"] = "scripts/tiny_models.py (transformers, float64)"
                expected["transformers"] = transformers.__version__
                expected["torch"] = torch.__version__
                with open(os.path.join(tmp, "expected.json"), "w") as f:
                    json.dump(rounded(expected), f, indent=None, separators=(",", ":"))
                    f.write("\n")
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(tmp, folder)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print(f"wrote {os.path.relpath(folder, ROOT)} ({size // 1024} KB)")


if __name__ == "__main__":
    main()
