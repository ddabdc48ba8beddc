#!/usr/bin/env bash
# The fast front-end loop:  npm run dev   Vite's dev server over the repository root (edits in
# www/ and index.html reload at once), with the wasm engine built once (release profile) and the
# default assets served from where setup put them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-wasm.sh release
node scripts/quantize-default.mjs
exec node_modules/.bin/vite --host 127.0.0.1 --port "${PORT:-5173}"
