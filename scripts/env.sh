# Sourced by the scripts: one cargo target folder outside the clone, so CI and fresh clones reuse
# builds (a clean build is tens of minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hies/target}"
export PATH="$HOME/.cargo/bin:$PATH"
