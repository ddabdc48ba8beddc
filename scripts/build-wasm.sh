#!/usr/bin/env bash
# Builds the wasm engine into www/pkg (with hies.d.ts, the types of every value that crosses the
# boundary, which www/ reads through JSDoc).   scripts/build-wasm.sh [dist|release]
#   dist    : fat LTO + wasm-opt, the shipped build (about 20 min clean on 2 cores)
#   release : no LTO, no wasm-opt, for tests (minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dist}
. scripts/env.sh

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown
# wasm-bindgen-cli must be the exact version in Cargo.lock (no prebuilt downloads here, no --locked).
want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
  echo "build-wasm: installing wasm-bindgen-cli $want (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$want"
fi

cargo build --lib --target wasm32-unknown-unknown --profile "$profile"
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/hies.wasm"
# wasm-bindgen and wasm-opt again only when cargo produced a new module.
signature="$profile $(stat -c %Y:%s "$wasm")"
if [ "$(cat www/pkg/.built-from 2>/dev/null)" = "$signature" ]; then
  echo "build-wasm: www/pkg is up to date"
  exit 0
fi
rm -rf www/pkg
wasm-bindgen --target web --out-dir www/pkg "$wasm"
if [ "$profile" = dist ]; then
  # npm binaryen 132: Debian's binaryen 108 breaks wasm-bindgen's externref table.
  echo "build-wasm: wasm-opt -O3 (a minute or two)"
  node_modules/.bin/wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    www/pkg/hies_bg.wasm -o www/pkg/hies_bg.opt.wasm
  mv www/pkg/hies_bg.opt.wasm www/pkg/hies_bg.wasm
fi
echo "$signature" > www/pkg/.built-from
ls -l www/pkg/hies_bg.wasm
