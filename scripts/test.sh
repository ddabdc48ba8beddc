#!/usr/bin/env bash
# Sets up and runs every test:  npm test
#   native: unit tests, parity against the float64 reference, gates, bad input, wgpu (lavapipe)
#   browser: the page in headless Chromium, CPU and WebGPU (SwiftShader), against the same fixture
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. scripts/env.sh

echo "== native tests"
cargo test --all-targets -- --test-threads=1

echo "== wasm build (test profile)"
bash scripts/build-wasm.sh release

echo "== browser tests"
node --test --test-concurrency=1 tests/browser/
