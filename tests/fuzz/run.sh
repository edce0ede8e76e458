#!/usr/bin/env bash
# Runs one fuzz target (or all) for SECONDS each: tests/fuzz/run.sh [TARGET|all] [SECONDS].
# From the repository root. Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly
# toolchain; without nightly it uses the stable one with RUSTC_BOOTSTRAP=1 and no sanitizer.
# The corpus grows in tests/fuzz/corpus/TARGET (not committed); seeds come from
# tests/fuzz/seeds and the test vectors. A crash is saved under tests/fuzz/artifacts/TARGET
# and makes this script fail.
set -euo pipefail
target=${1:-all}
seconds=${2:-60}
targets=(vault_open stanza enrollment roster bundle bundle_payload schema text)
[ "$target" = all ] || targets=("$target")
# grep without -q reads all of rustup's output, so pipefail never sees a SIGPIPE.
if rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=(-s address)
else
  echo "run.sh: no nightly toolchain; fuzzing with stable, RUSTC_BOOTSTRAP=1, no sanitizer" >&2
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  sanitizer=(-s none)
fi
seeds_of() {
  case "$1" in
    vault_open) echo tests/data ;;
    bundle) echo tests/data/sync ;;
    *) echo "tests/fuzz/seeds/$1" ;;
  esac
}
for t in "${targets[@]}"; do
  mkdir -p "tests/fuzz/corpus/$t"
  echo "== $t: ${seconds}s" >&2
  "${fuzz[@]}" run --fuzz-dir tests/fuzz "${sanitizer[@]}" -O "$t" "tests/fuzz/corpus/$t" "$(seeds_of "$t")" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 -close_fd_mask=3
done
