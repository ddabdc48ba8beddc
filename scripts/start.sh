#!/usr/bin/env bash
# Sets up, builds the shipped page into dist/ and serves it:  npm start   (PORT=8080 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-web.sh "${HIES_PROFILE:-dist}"
exec node scripts/serve.mjs "${PORT:-8080}" dist
