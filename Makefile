# The project's one-word entry points (the scripts they call are the real thing).
#   make bench          every benchmark of issue #8 (client in headless Chromium and
#                       Node, sizes, the Get PAN server load test against a release
#                       build) -> docs/performance.md, docs/perf/*.svg, docs/perf/results.json
#   make bench-quick    the same as a smoke run (few rounds, debug server build,
#                       200 requests) -> target/bench-quick/performance.md
#   make test           every test layer (scripts/test.sh)
# bench and bench-quick first run scripts/setup.sh (installs whatever is missing,
# idempotent), then build the web and nodejs packages (pkg/, what the
# client benchmarks load) from the current source: scripts/build.sh web nodejs.
# Options: make bench OUT=/tmp/perf writes elsewhere; BENCH_FLAGS="--no-server"
# (or --server-only, --server-sqlite-only, --server-requests N, --server-concurrency N)
# is passed to bench/report.mjs. PostgreSQL: $PAYSECURE_BENCH_POSTGRES, else
# $PAYSECURE_TEST_POSTGRES, else postgres://root@127.0.0.1:5432/postgres.

OUT ?= docs
QUICK_OUT ?= target/bench-quick
BENCH_FLAGS ?=
NODE ?= node
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: bench bench-quick test pkg setup

bench: pkg
	$(NODE) bench/report.mjs --out $(OUT) $(BENCH_FLAGS)

bench-quick: pkg
	$(NODE) bench/report.mjs --quick --out $(QUICK_OUT) $(BENCH_FLAGS)

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

pkg: setup
	bash scripts/build.sh web nodejs
