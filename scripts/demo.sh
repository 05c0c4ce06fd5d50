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
exec target/release/paysecure-server --data-dir "${DEMO_DATA:-.demo-data}" serve --demo --listen "127.0.0.1:${port}"
