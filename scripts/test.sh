#!/usr/bin/env bash
# Sets up and runs every test:  npm test
#   native: unit tests, parity against the float64 reference, gates, bad input, wgpu (lavapipe)
#   browser: the page in headless Chromium, CPU and WebGPU (SwiftShader), against the same fixture
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. scripts/env.sh

echo "== native tests"
# lavapipe and Chromium's Vulkan want a runtime dir; CI has none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cargo test --all-targets -- --test-threads=1

echo "== native reference numbers for the browser tests"
mkdir -p artifacts
cal=tests/fixtures/calibration.tsv
"$CARGO_TARGET_DIR/debug/hies" score --data $cal --n 16 --seed 0 --json > artifacts/native-score.json
"$CARGO_TARGET_DIR/debug/hies" prune --data $cal --dev $cal --n 16 --seed 0 --criterion hies --ratio 0.5 --structural --json > artifacts/native-prune.json

echo "== wasm build (test profile)"
bash scripts/build-wasm.sh release

echo "== browser tests"
node --test --test-concurrency=1 tests/browser/
