#!/usr/bin/env bash
# Installs whatever this machine lacks to build and test paysecure-wasm.
# Idempotent: every step checks first, so a second run takes seconds.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# 1. Rust's wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-pack (from crates.io; the npm package downloads from GitHub).
if ! command -v wasm-pack >/dev/null; then
  log "installing wasm-pack (about 2 minutes)"
  cargo install wasm-pack --locked
fi

# 3. The wasm-bindgen CLI, exactly the version Cargo.lock pins (otherwise
#    wasm-pack tries to download one). Not --locked: its lockfile pins a crate
#    the registry lacks.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (have: ${have:-none}; about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# 4. System packages: Chromium and its driver (browser tests), a JDK (Java
#    interop tests), Node.js (JS tests).
pkgs=()
[ -x "$CHROMIUM_BIN" ] || pkgs+=(chromium)
[ -x "$CHROMEDRIVER_BIN" ] || pkgs+=(chromium-driver)
command -v javac >/dev/null || pkgs+=(default-jdk-headless)
command -v node >/dev/null || pkgs+=(nodejs npm)
if [ ${#pkgs[@]} -gt 0 ]; then
  log "installing ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# 5. PostgreSQL for the server's second test pass and cluster tests: this
#    machine kind runs one at 127.0.0.1:5432 (trust auth); start it if stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }
fi

# 6. npm tools (binaryen's wasm-opt, esbuild, node-forge, playwright-core, typescript),
#    reinstalled only when package-lock.json changes.
stamp=node_modules/.paysecure-lock.sha256
sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  log "installing npm dev tools"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$sum" > "$stamp"
fi

log "ready: $(rustc --version | cut -d' ' -f1-2), $(wasm-pack --version), wasm-bindgen $want, $(node --version), $(wasm-opt --version | cut -d' ' -f1-3), $("$CHROMIUM_BIN" --version 2>/dev/null | cut -d' ' -f1-2), javac $(javac -version 2>&1 | cut -d' ' -f2)"
