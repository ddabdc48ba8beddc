#!/usr/bin/env bash
# Builds the wasm engine three times, each with hies.d.ts (the types of every value that crosses the
# boundary, which www/ reads through JSDoc):   scripts/build-wasm.sh [dist|release]
#   www/pkg      the CPU module (no `gpu` feature: 5.3 MB instead of 18.9, dist)
#   www/pkg-relaxed  the same with the relaxed-SIMD q8 kernel, which the page loads instead of
#                pkg/ where the browser validates relaxed SIMD (www/worker.js)
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
  local dir="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile"
  # The two CPU modules share a profile (and so every compiled dependency: a profile of their
  # own would build them all again, 20 minutes clean with fat LTO), and cargo keeps one hies.wasm
  # per profile: each module's own copy is kept beside it with what it was built from, and cargo
  # runs again only when that changed.
  local kept="$dir/hies.${out##*/}.wasm" rustc_version sources
  rustc_version=$(rustc --version)
  sources="$profile $* $rustc_version $(env | { grep -E '^(RUSTFLAGS|CARGO_ENCODED_RUSTFLAGS|CARGO_BUILD_|CARGO_PROFILE_)' || true; } | LC_ALL=C sort | tr '\n' ' ')"
  sources="$sources $(cat Cargo.toml Cargo.lock .cargo/config.toml $(find src -type f | LC_ALL=C sort) | sha256sum | cut -c1-16)"
  if [ ! -f "$kept" ] || [ "$(cat "$kept.sources" 2>/dev/null)" != "$sources" ]; then
    mkdir -p "$dir"
    # One build at a time per profile folder (clones share it): another could replace hies.wasm
    # between this build and the copy.
    (
      flock 9
      cargo build --lib --target wasm32-unknown-unknown --profile "$profile" "$@"
      cp "$dir/hies.wasm" "$kept"
    ) 9> "$dir/.build-wasm.lock"
    echo "$sources" > "$kept.sources"
  fi
  # wasm-bindgen and wasm-opt again only when cargo produced a new module.
  local signature="$profile $(stat -c %Y:%s "$kept")"
  if [ "$(cat "$out/.built-from" 2>/dev/null)" = "$signature" ]; then
    echo "build-wasm: $out is up to date"
    return
  fi
  rm -rf "$out"
  # --out-name: the module's name inside `out` stays hies.js / hies_bg.wasm whatever the copy's.
  wasm-bindgen --target web --out-dir "$out" --out-name hies "$kept"
  case $profile in dist*)
    # npm binaryen 132: Debian's binaryen 108 breaks wasm-bindgen's externref table.
    echo "build-wasm: wasm-opt -O3 on $out (a minute or two)"
    # Relaxed SIMD only where it belongs: wasm-opt refuses any other module that holds some.
    local relaxed=()
    [ "$out" = www/pkg-relaxed ] && relaxed=(--enable-relaxed-simd)
    node_modules/.bin/wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue "${relaxed[@]}" \
      "$out/hies_bg.wasm" -o "$out/hies_bg.opt.wasm"
    mv "$out/hies_bg.opt.wasm" "$out/hies_bg.wasm"
  esac
  echo "$signature" > "$out/.built-from"
  ls -l "$out/hies_bg.wasm"
}

module "$profile" www/pkg --no-default-features
module "$profile" www/pkg-relaxed --no-default-features --features relaxed-simd
module "$profile-gpu" www/pkg-gpu
