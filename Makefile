# The project's one front door. Every target calls a script in scripts/ (the
# implementation); `make` alone lists them. Nothing here needs wasm-pack or a
# `cargo install`ed wasm-bindgen: crates/wasm-bindgen-tool builds the pinned
# generator (and, for the wasm tests, its test runner) in this workspace.
# Options:
#   PORT=8080 make demo
#   FUZZ_SECONDS=3600 make fuzz          (per target; FUZZ_TARGETS="a b" for a subset)
#   make bench OUT=/tmp/perf BENCH_FLAGS="--no-server"   (or --server-only,
#     --server-sqlite-only, --server-requests N, --server-concurrency N: bench/report.mjs)
#   PAYSECURE_TEST_POSTGRES / PAYSECURE_BENCH_POSTGRES   (default postgres://root@127.0.0.1:5432/postgres)

OUT ?= docs
QUICK_OUT ?= target/bench-quick
BENCH_FLAGS ?=
# Only `make fuzz` defaults to an hour per target; the test layers' smoke run
# is scripts/fuzz.sh's default (10 s) unless FUZZ_SECONDS is in the environment.
FUZZ_SECONDS ?= 3600
# ~/.cargo/bin only when cargo is not on PATH already (a fresh rustup install).
CARGO_BIN := $(if $(shell command -v cargo),,$(HOME)/.cargo/bin:)
export PATH := $(CURDIR)/node_modules/.bin:$(CARGO_BIN)$(PATH)

.PHONY: help setup build lint test test-rust test-pg test-hsm test-fuzz test-schemathesis test-wasm \
	test-js test-browser test-integration test-bench-smoke demo bench bench-quick api-doc fuzz

help: ## this list
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  make %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

demo: ## build only what the demo needs and serve it at http://localhost:8080/demo/ (PORT=...)
	@bash scripts/demo.sh

setup: ## install everything the tests need (idempotent: seconds when done)
	@bash scripts/setup.sh all

build: ## the npm packages: pkg/paysecure-wasm (+ target/npm/*.tgz), pkg/elements (no wasm-pack)
	@bash scripts/setup.sh demo
	@bash scripts/build.sh

lint: ## cargo fmt --check, clippy -D warnings (native and wasm32)
	@bash scripts/test.sh lint

test: ## every test layer (installs what is missing), then the pass/fail/seconds table
	@bash scripts/test.sh

test-rust: ## cargo test --workspace
	@bash scripts/test.sh rust

test-pg: ## the server's tests again on PostgreSQL
	@bash scripts/test.sh rust-pg

test-hsm: ## the server's suite with the PKCS#11 key custody (SoftHSM2), SQLite and PostgreSQL
	@bash scripts/test.sh rust-hsm

test-fuzz: ## smoke run of every cargo-fuzz target, server (fuzz/) and client (fuzz-client/)
	@bash scripts/test.sh fuzz fuzz-client

test-schemathesis: ## schemathesis --checks all against a live server's /openapi.json
	@bash scripts/test.sh schemathesis

test-wasm: ## wasm-bindgen tests in Node and in headless Chromium
	@bash scripts/test.sh wasm-node wasm-chrome

test-js: build ## node --test tests/js (API, interop, server end to end)
	@bash scripts/test.sh js

test-browser: build ## node --test tests/browser (headless Chromium)
	@bash scripts/test.sh browser

test-integration: build ## the npm tarballs in Vite, webpack, Rollup, esbuild, Next.js, Node, Deno, Bun (MATRIX_ONLY=regex)
	@bash scripts/test.sh integration

test-bench-smoke: build ## the benchmarks as a smoke run (no timing asserted)
	@bash scripts/test.sh bench-smoke

bench: ## every benchmark (release server) -> docs/performance.md, docs/perf/ (OUT=dir)
	@bash scripts/setup.sh all
	@bash scripts/build.sh
	node bench/report.mjs --out $(OUT) $(BENCH_FLAGS)

bench-quick: ## the benchmarks as a smoke run -> target/bench-quick/performance.md
	@bash scripts/setup.sh all
	@bash scripts/build.sh
	node bench/report.mjs --quick --out $(QUICK_OUT) $(BENCH_FLAGS)

api-doc: ## docs/api.md from a real run (scripts/gen-api-doc.mjs)
	@bash scripts/setup.sh demo
	@bash scripts/build.sh
	cargo build --quiet -p paysecure-server
	node scripts/gen-api-doc.mjs

fuzz: ## the long fuzz run: FUZZ_SECONDS (default 3600) per target, release + ASan
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh
