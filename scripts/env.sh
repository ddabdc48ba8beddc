# Sourced by the scripts: one cargo target folder outside the clone, so CI and fresh clones reuse
# builds (a clean build is tens of minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hies/target}"
export PATH="$HOME/.cargo/bin:$PATH"

# Clones share that folder. Cargo reuses what it built from another checkout when this one's files
# are older than that build, and the hies binaries carry their checkout's path (the assets, the
# test fixtures): when the folder was last built from another checkout, this one's crate roots are
# touched so that cargo builds the hies crate again (the dependencies stay built).
hies_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$CARGO_TARGET_DIR"
if [ "$(cat "$CARGO_TARGET_DIR/.checkout" 2>/dev/null)" != "$hies_root" ]; then
  touch "$hies_root/src/lib.rs" "$hies_root/src/main.rs" "$hies_root/tests/integration/main.rs"
  echo "$hies_root" > "$CARGO_TARGET_DIR/.checkout"
fi
