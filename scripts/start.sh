#!/usr/bin/env bash
# Sets up, builds the shipped wasm and serves the page:  npm start   (PORT=8080 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-wasm.sh "${HIES_PROFILE:-dist}"
exec node scripts/serve.mjs "${PORT:-8080}"
