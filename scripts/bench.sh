#!/usr/bin/env bash
# Measures Get PAN requests per second against a release build of
# paysecure-server (healthz measured in the same run as the baseline).
#   scripts/bench.sh [requests] [concurrency]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo build --quiet --release -p paysecure-server --bin paysecure-server --example get_pan_bench
target/release/examples/get_pan_bench target/release/paysecure-server "${1:-4000}" "${2:-16}"
