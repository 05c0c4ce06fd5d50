#!/usr/bin/env bash
# Runs the demo on a fresh machine: installs what is missing, builds the web
# package and the server, starts paysecure-server in demo mode (embedded
# SQLite in .demo-data/, a demo tenant with three cards, PIN 1432 on the
# VISA) and prints the URL. Ctrl-C stops it.
#   PORT=8080 bash scripts/demo.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
port="${PORT:-8080}"
bash scripts/setup.sh
bash scripts/build.sh web
log "building paysecure-server (release)"
cargo build --quiet --release -p paysecure-server
log "demo: open http://localhost:${port}/demo/  (card widgets are served from http://127.0.0.1:${port}; Ctrl-C stops)"
# The demo's throwaway master key stays with its data (a real deployment keeps
# it outside the data directory: see docs/deployment.md).
demo_data="${DEMO_DATA:-.demo-data}"
exec target/release/paysecure-server --data-dir "$demo_data" --master-key-file "$demo_data/master.key" \
  serve --demo --listen "127.0.0.1:${port}"
