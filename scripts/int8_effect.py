#!/usr/bin/env python3
"""What int8 does to the science, on the built-in fine-tuned model and the 800 dev sentences:
the int8 weights file (the page's default download, computed in f32) and the q8 compute path,
each against the fp32 weights computed in f32. Runs the hies CLI of this checkout (HIES_BIN, else
scripts/hies) and prints a Markdown table.   python3 scripts/int8_effect.py

- accuracy: dev accuracy (`hies classify` labels against the gold ones);
- agreement: share of the 800 predictions equal to fp32's;
- min cosine: lowest cosine between a sentence's pooled embedding and fp32's (the frozen encoder,
  `hies embed --model probe`);
- Spearman: of the HIES grid (`hies score --n 32 --seed 0`, the page's default) against fp32's;
  the q8 path scores in f32, so its grid is the weights' grid;
- pruned: heads in common among the 30 % that HIES prunes first.
Pure Python (no numpy), so it runs wherever the CLI does."""
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIES = [os.environ["HIES_BIN"]] if os.environ.get("HIES_BIN") else [os.path.join(ROOT, "scripts", "hies")]
DEV = os.path.join(ROOT, "assets", "data", "rotten-tomatoes", "dev.tsv")


def run(args, stdin=None):
    out = subprocess.run(HIES + args, input=stdin, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(f"hies {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r, i = [0.0] * len(xs), 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2  # ties: their mean rank
        i = j + 1
    return r


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def measure(weights, compute):
    flags = ["--weights", weights, "--compute", compute]
    texts = "".join(line.split("\t", 1)[1] for line in open(DEV, encoding="utf8"))
    labels = [json.loads(l)["label"] for l in run(["classify", *flags], texts).splitlines()]
    embeddings = [json.loads(l)["embedding"] for l in run(["embed", "--model", "probe", *flags], texts).splitlines()]
    score = json.loads(run(["score", "--weights", weights, "--n", "32", "--seed", "0", "--json"]))
    prune = json.loads(run(["prune", *flags, "--n", "32", "--seed", "0", "--criterion", "hies", "--ratio", "0.3", "--json"]))
    return {"labels": labels, "embeddings": embeddings, "hies": [x for row in score["hies"] for x in row], "pruned": {tuple(h) for h in prune["pruned"]}}


def main():
    gold = [int(line.split("\t", 1)[0]) for line in open(DEV, encoding="utf8")]
    base = measure("fp32", "exact")
    rows = [("fp32 weights, f32 (reference)", base)]
    rows += [("int8 weights, f32 (the page's default)", measure("int8", "exact")), ("fp32 weights, q8", measure("fp32", "q8")), ("int8 weights, q8", measure("int8", "q8"))]
    print("| weights, compute | dev accuracy | agreement | min cosine | Spearman (HIES grid) | same heads at 30 % |")
    print("|---|---|---|---|---|---|")
    for name, m in rows:
        accuracy = sum(p == g for p, g in zip(m["labels"], gold)) / len(gold)
        agreement = sum(p == q for p, q in zip(m["labels"], base["labels"])) / len(gold)
        cos = min(cosine(a, b) for a, b in zip(m["embeddings"], base["embeddings"]))
        rho = pearson(ranks(m["hies"]), ranks(base["hies"]))
        print(f"| {name} | {100 * accuracy:.2f} % | {100 * agreement:.2f} % | {cos:.5f} | {rho:.4f} | {len(m['pruned'] & base['pruned'])} of {len(base['pruned'])} |")


if __name__ == "__main__":
    main()
