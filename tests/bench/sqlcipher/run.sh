#!/usr/bin/env bash
# The search benchmark with its SQLCipher side: builds tests/bench/sqlcipher (SQLCipher 4 from
# rusqlite's bundled source, linked against the system's OpenSSL: needs libssl-dev) and runs
# `cargo bench --bench search` with it. From the repository root; the search benchmark's own
# variables (KLUIS_BENCH_NOTES, KLUIS_BENCH_ROUNDS, ...) pass through.
set -euo pipefail
cargo build --locked --release --manifest-path tests/bench/sqlcipher/Cargo.toml
KLUIS_BENCH_SQLCIPHER="$PWD/tests/bench/sqlcipher/target/release/kluis-bench-sqlcipher" \
  cargo bench --locked --bench search
