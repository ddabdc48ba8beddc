#!/usr/bin/env bash
# Builds the static site into dist/:  scripts/build-web.sh [dist|release]
#   the wasm engine (scripts/build-wasm.sh), the page (Vite: relative paths, so dist/ works from
#   any sub-path), and the default model, head and data copied beside it (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dist}
bash scripts/build-wasm.sh "$profile"
node_modules/.bin/vite build --logLevel warn
m=assets/models/all-MiniLM-L6-v2
mkdir -p dist/models/all-MiniLM-L6-v2/1_Pooling dist/heads dist/data/rotten-tomatoes
cp $m/config.json $m/tokenizer.json $m/modules.json $m/model.safetensors dist/models/all-MiniLM-L6-v2/
cp $m/1_Pooling/config.json dist/models/all-MiniLM-L6-v2/1_Pooling/
cp heads/minilm-rotten-tomatoes.safetensors heads/minilm-rotten-tomatoes.json dist/heads/
cp assets/data/rotten-tomatoes/train.tsv assets/data/rotten-tomatoes/dev.tsv dist/data/rotten-tomatoes/
echo "build-web: dist/ ($(du -sh dist | cut -f1))"
