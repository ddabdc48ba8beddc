#!/usr/bin/env bash
# Builds the wasm engine twice, each with hies.d.ts (the types of every value that crosses the
# boundary, which www/ reads through JSDoc):   scripts/build-wasm.sh [dist|release]
#   www/pkg      the CPU module the page loads first (no `gpu` feature: 5.3 MB instead of 18.9, dist)
#   www/pkg-gpu  the same engine with burn's wgpu backend, fetched when the reader picks WebGPU
# dist    : fat LTO + wasm-opt, the shipped build (about 20 min clean per module on 2 cores)
# release : no LTO, no wasm-opt, for tests (minutes)
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

# module PROFILE OUT [cargo args…]
module() {
  local profile=$1 out=$2
  shift 2
  cargo build --lib --target wasm32-unknown-unknown --profile "$profile" "$@"
  local wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/hies.wasm"
  # wasm-bindgen and wasm-opt again only when cargo produced a new module.
  local signature="$profile $(stat -c %Y:%s "$wasm")"
  if [ "$(cat "$out/.built-from" 2>/dev/null)" = "$signature" ]; then
    echo "build-wasm: $out is up to date"
    return
  fi
  rm -rf "$out"
  wasm-bindgen --target web --out-dir "$out" "$wasm"
  case $profile in dist*)
    # npm binaryen 132: Debian's binaryen 108 breaks wasm-bindgen's externref table.
    echo "build-wasm: wasm-opt -O3 on $out (a minute or two)"
    node_modules/.bin/wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$out/hies_bg.wasm" -o "$out/hies_bg.opt.wasm"
    mv "$out/hies_bg.opt.wasm" "$out/hies_bg.wasm"
  esac
  echo "$signature" > "$out/.built-from"
  ls -l "$out/hies_bg.wasm"
}

module "$profile" www/pkg --no-default-features
module "$profile-gpu" www/pkg-gpu
