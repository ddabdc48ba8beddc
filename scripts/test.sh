#!/usr/bin/env bash
# Sets up and runs every test:  npm test
#   checks: rustfmt, clippy (native and wasm, warnings are errors), eslint; after the wasm build,
#           tsc on the page and its worker against the generated hies.d.ts
#   native: unit tests, parity against the float64 reference, head masks, the session, bad input,
#           the CLI, wgpu (lavapipe)
#   JS:     node --test for the page's pure modules (ranking against the engine's golden file,
#           URL state), the static server, and the int8 weights the build wrote (= `hies quantize`)
#   browser: the built page in headless Chromium, CPU and WebGPU (SwiftShader), against the same
#            fixture and the native CLI's numbers
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. scripts/env.sh

echo "== checks"
cargo fmt --check
node_modules/.bin/eslint .
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --quiet -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features relaxed-simd --quiet -- -D warnings

echo "== native tests"
# lavapipe and Chromium's Vulkan want a runtime dir; CI has none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cargo test --all-targets -- --test-threads=1

echo "== native reference numbers for the browser tests"
mkdir -p artifacts
# The page downloads the int8 weights by default (model.int8.safetensors): the native numbers it
# is checked against come from the same bytes (`--weights int8` quantises in memory).
cal=tests/fixtures/calibration.tsv
hies="$CARGO_TARGET_DIR/debug/hies"
"$hies" score --weights int8 --data $cal --n 16 --seed 0 --alpha 0.5 --json --csv artifacts/native-score.csv > artifacts/native-score.json
"$hies" prune --weights int8 --data $cal --dev $cal --n 16 --seed 0 --alpha 0.5 --criterion hies --ratio 0.5 --structural --json > artifacts/native-prune.json
"$hies" prune --weights int8 --data $cal --dev $cal --n 16 --seed 3 --criterion random --ratio 0.5 --json > artifacts/native-prune-random.json
"$hies" curve --weights int8 --data $cal --dev $cal --n 8 --alpha 0.5 --criteria hies,random --ratios 0,0.5 --seeds 0,1 --json > artifacts/native-curve.json
"$hies" alpha-sweep --weights int8 --data $cal --validation $cal --n 8 --alphas 0,0.5,1 --ratios 0.2,0.6 --seeds 0,1 --json > artifacts/native-sweep.json
"$hies" paper-check --weights int8 --data $cal --dev $cal --n 8 --alpha 0.5 --seeds 0,1 --sizes 4,8,16 --json > artifacts/native-paper-check.json
"$hies" prune --weights int8 --data $cal --dev $cal --n 16 --seed 0 --alpha 0.5 --criterion hies --ratio 0.5 --structural --compute q8 --json > artifacts/native-prune-q8.json
cut -f2 $cal | "$hies" classify --weights int8 --compute q8 > artifacts/native-classify-q8.jsonl
"$hies" inspect --weights int8 --text "The acting is wooden, but the score soars." --prune 0.1,3.4,5.11 > artifacts/native-inspect.json
rm -rf artifacts/native-export && "$hies" export --weights int8 --out artifacts/native-export --prune 0.1,3.4,5.11 > /dev/null
"$hies" quantize --in assets/models/all-MiniLM-L6-v2/model.safetensors --out artifacts/native-int8.safetensors
# What the page computes with its defaults: 32 calibration sentences (seed 0), the 800 dev sentences.
"$hies" score --weights int8 --n 32 --seed 0 --json > artifacts/native-score-default.json
"$hies" prune --weights int8 --n 32 --seed 0 --criterion hies --ratio 0.3 --json > artifacts/native-prune-default.json
"$hies" score --weights int8 --model probe --preset bertology --n 32 --seed 0 --json > artifacts/native-score-probe.json

echo "== page build (wasm test profile + Vite) into dist-test/ (dist/ stays the shipped build)"
bash scripts/build-web.sh release dist-test

echo "== JS unit tests and types"
node_modules/.bin/tsc -p www
node_modules/.bin/tsc -p www/tsconfig.worker.json
node --test tests/js/

echo "== browser tests"
node --test --test-concurrency=1 tests/browser/
