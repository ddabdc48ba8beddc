#!/usr/bin/env bash
# Everything a fresh Debian machine needs, installed once; later runs check and return quickly.
#   scripts/setup.sh          what serving the demo needs
#   scripts/setup.sh --test   plus what the tests need (Chromium, lavapipe, npm packages)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

need=()
command -v python3 >/dev/null || need+=(python3 python3-venv)
command -v node >/dev/null || need+=(nodejs npm)
if [ "${1:-}" = --test ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  # Vulkan on the CPU (Mesa lavapipe) for the native wgpu tests.
  [ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] \
    || ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
  ldconfig -p | grep -q libvulkan.so.1 || need+=(libvulkan1)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: Rust is missing: install it with rustup (https://rustup.rs)"; exit 1; }
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# The page's tools (Vite, d3, binaryen's wasm-opt, playwright-core, ESLint, tsc), once per lockfile:
# the stamp holds the lockfile's hash, so a second run needs no network.
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.hies-lock 2>/dev/null)" != "$lock" ]; then
  npm ci --no-audit --no-fund
  echo "$lock" > node_modules/.hies-lock
fi

python3 scripts/setup-assets.py
