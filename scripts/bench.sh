#!/usr/bin/env bash
# The Get PAN server load benchmark alone, printing its table: the limit
# (`openssl speed` RSA-2048 and aws-lc-rs on the same cores), then per
# configuration (one node on SQLite, one and two nodes on PostgreSQL) peak
# req/s, p50/p99 at peak and at 80% of peak, peak RSS and CPU per request,
# against a release build of paysecure-server (healthz as the HTTP baseline).
#   scripts/bench.sh [requests] [concurrency] [get_pan_bench options...]
#     e.g. scripts/bench.sh 6000 16 --sqlite-only --json /tmp/server.json
# The full report with every benchmark and the #20 targets judged is
# `make bench` (bench/report.mjs). PostgreSQL: $PAYSECURE_BENCH_POSTGRES, else
# $PAYSECURE_TEST_POSTGRES, else postgres://root@127.0.0.1:5432/postgres.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
requests="${1:-6000}"; concurrency="${2:-16}"
shift $(( $# < 2 ? $# : 2 ))
cargo build --quiet --release -p paysecure-server --bin paysecure-server --example get_pan_bench
target="${CARGO_TARGET_DIR:-target}/release"
"$target/examples/get_pan_bench" "$target/paysecure-server" "$requests" "$concurrency" \
  "${PAYSECURE_BENCH_POSTGRES:-${PAYSECURE_TEST_POSTGRES:-postgres://root@127.0.0.1:5432/postgres}}" "$@"
