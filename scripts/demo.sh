#!/usr/bin/env bash
# `make demo`: from a fresh clone to the demo page, installing only what the
# demo needs (the wasm32 target, the npm build tools; no Chromium, JDK,
# cargo-fuzz or schemathesis). Then starts paysecure-server in demo mode
# (embedded SQLite in .demo-data/, a demo tenant with three cards, PIN 1432 on
# the VISA) and prints the URL. Ctrl-C stops it.
#   PORT=8080 scripts/demo.sh
# Order, to keep both cores busy while the network works: the wasm-bindgen
# generator and then the server (a debug build: the one the tests use too)
# compile from the start; npm ci and the wasm32 build run beside them; the web
# package is assembled as soon as the generator, npm tools and .wasm are
# there, while the server still compiles. A second run rebuilds nothing.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
port="${PORT:-8080}"
t0=$(date +%s)
logs="${CARGO_TARGET_DIR:-$ROOT/target}/demo-logs"
mkdir -p "$logs"
command -v node >/dev/null || { echo "demo: Node.js (node, npm) is required: apt-get install nodejs npm" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# step name command...: runs in the background, output in $logs/name.log.
step() {
  local name=$1; shift
  "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_${name//-/_}=$!"
}
finish() { # name: waits for the step, shows its log's tail if it failed
  local name=$1 pid_var="pid_${1//-/_}"
  if ! wait "${!pid_var}"; then
    tail -n 30 "$logs/$name.log" >&2
    echo "demo: $name failed (log: $logs/$name.log)" >&2
    exit 1
  fi
  log "$name done ($(( $(date +%s) - t0 )) s)"
}

log "building the wasm-bindgen generator, then paysecure-server (debug); logs in $logs/"
rm -f "$logs/generator.ready"
# Two cargo runs, not one with both packages: each then unifies features as
# scripts/build.sh and the tests do, so neither rebuilds what the other built.
step native bash -c "cargo build -p wasm-bindgen-tool --bin wasm-bindgen && touch '$logs/generator.ready' \
  && cargo build -p paysecure-server --bin paysecure-server"
step npm bash scripts/setup.sh npm
bash scripts/setup.sh wasm-target
step wasm wasm_release_build -p paysecure-wasm --lib
finish wasm
finish npm
while [ ! -f "$logs/generator.ready" ]; do
  kill -0 "$pid_native" 2>/dev/null || finish native
  sleep 1
done
# The npm package, while the server compiles.
WASM_BINDGEN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/wasm-bindgen" bash scripts/build.sh
finish native
trap - EXIT

log "demo: open http://localhost:${port}/demo/  (card widgets are served from http://127.0.0.1:${port}; Ctrl-C stops)"
# The demo's throwaway master key stays with its data (a real deployment keeps
# it outside the data directory: see docs/deployment.md).
demo_data="${DEMO_DATA:-.demo-data}"
exec "${CARGO_TARGET_DIR:-target}/debug/paysecure-server" --data-dir "$demo_data" \
  --master-key-file "$demo_data/master.key" serve --demo --listen "127.0.0.1:${port}"
