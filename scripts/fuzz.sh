#!/usr/bin/env bash
# Fuzzes what Godwit reads from a project folder (fuzz/fuzz_targets) for FUZZ_SECONDS each
# (default 120), with cargo-fuzz on the nightly toolchain (both installed here if missing). A crash
# stops the run and leaves its input in fuzz/artifacts/TARGET/: turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$HOME/.cache/godwit/tools"
seconds="${FUZZ_SECONDS:-120}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
[ -x "$TOOLS/bin/cargo-fuzz" ] || cargo install cargo-fuzz --locked --root "$TOOLS"
export PATH="$TOOLS/bin:$PATH"
# Its own target folder: sanitizer builds share nothing with the others.
export CARGO_TARGET_DIR="$HOME/.cache/godwit/fuzz-target"

# Seeds: the migrations this repository holds.
mkdir -p fuzz/corpus/split fuzz/corpus/godwit_toml
find demo tests -name '*.sql' -size -64k -exec cp {} fuzz/corpus/split/ \; 2>/dev/null || true
find . -path ./node_modules -prune -o -name godwit.toml -print | head -50 | while read -r f; do
  cp "$f" "fuzz/corpus/godwit_toml/$(echo "$f" | tr / _)"
done

for target in ${FUZZ_TARGETS:-split migration_file godwit_toml}; do
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" -- -max_total_time="$seconds" -max_len=4096
done
