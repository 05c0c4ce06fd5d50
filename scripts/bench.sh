#!/usr/bin/env bash
# Measures Get PAN requests per second (one node on SQLite, one and two nodes
# on PostgreSQL) against a release build of
# paysecure-server (healthz measured in the same run as the baseline).
#   scripts/bench.sh [requests] [concurrency]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo build --quiet --release -p paysecure-server --bin paysecure-server --example get_pan_bench
target/release/examples/get_pan_bench target/release/paysecure-server "${1:-4000}" "${2:-16}" "${PAYSECURE_BENCH_POSTGRES:-postgres://root@127.0.0.1:5432/postgres}"
