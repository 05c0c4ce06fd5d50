#!/usr/bin/env bash
# Runs the demo on a fresh machine: installs what is missing, builds the web
# package, and serves www/ at http://127.0.0.1:${PORT:-8080}/ until Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/build.sh web
log "demo: open http://127.0.0.1:${PORT:-8080}/ (Ctrl-C stops it)"
exec node scripts/static-server.mjs --host "${HOST:-127.0.0.1}" --port "${PORT:-8080}" /=www /pkg/=pkg/web
