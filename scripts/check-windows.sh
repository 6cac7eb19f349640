#!/usr/bin/env bash
# Type-checks the core and the CLI for Windows (x86_64-pc-windows-gnu), so no Linux-only assumption
# creeps in. This machine cannot run Windows builds; the C parts of dependencies need MinGW's gcc.
set -euo pipefail
if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  echo "check-windows: installing gcc-mingw-w64-x86-64"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64
fi
rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
cargo check --target x86_64-pc-windows-gnu -p godwit --all-features
cargo clippy --target x86_64-pc-windows-gnu -p godwit -- -D warnings
