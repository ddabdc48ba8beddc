#!/usr/bin/env bash
# One command for the benchmarks (not part of the tests):  npm run bench
# Sets up what it needs (a Python venv with PyTorch + onnxruntime in .venv/bench, transformers.js
# in bench/node_modules), builds hies natively (release) and the shipped wasm, runs the three
# measurement scripts and writes bench/RESULTS.md and bench/results.json.  RUNS=3 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. scripts/env.sh
runs=${RUNS:-3}
mkdir -p bench/.cache

venv=.venv/bench
if [ ! -x $venv/bin/python ] || ! $venv/bin/python -c 'import torch, onnxruntime, transformers' 2>/dev/null; then
  echo "bench: installing PyTorch, onnxruntime and transformers into $venv (large, once)"
  python3 -m venv $venv
  $venv/bin/pip install --progress-bar off -r bench/requirements.txt
fi
npm ci --ignore-scripts --prefix bench --no-audit --no-fund >/dev/null
node bench/simd-probe.mjs

# The native release build may live elsewhere (BENCH_TARGET_DIR), so it does not evict the test cache.
native_dir=${BENCH_TARGET_DIR:-$CARGO_TARGET_DIR}
cargo build --release --bin hies --target-dir "$native_dir"
export HIES_PROFILE=${HIES_PROFILE:-dist}
bash scripts/build-web.sh "$HIES_PROFILE"

echo "bench: hies natively"
"$native_dir/release/hies" bench --model probe --preset bertology --alpha 0.5 --runs "$runs" --calibration-out bench/.cache/calibration.tsv > bench/.cache/hies.json
echo "bench: PyTorch and onnxruntime"
$venv/bin/python bench/native_bench.py --calibration bench/.cache/calibration.tsv --runs "$runs" > bench/.cache/python.json
# transformers.js reads the same ONNX file from a local model folder.
m=bench/.cache/models/minilm
cp assets/models/all-MiniLM-L6-v2/config.json assets/models/all-MiniLM-L6-v2/tokenizer.json $m/
echo '{"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": 512, "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}' > $m/tokenizer_config.json
echo "bench: browser"
XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" node bench/browser.mjs "$runs"
node bench/report.mjs
