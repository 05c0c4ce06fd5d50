#!/usr/bin/env bash
# Installs what this machine lacks, per purpose. Idempotent: every step checks
# first, so a second run takes seconds.
#   scripts/setup.sh demo     the wasm32 target (stable, and nightly with rust-src:
#                             the shipped module is a -Zbuild-std build, see
#                             env.sh wasm_release_build) and the npm build tools: all
#                             that `make demo` and `make build` need (the
#                             wasm-bindgen generator is the workspace's
#                             crates/wasm-bindgen-tool, built by scripts/build.sh)
#   scripts/setup.sh fuzz     nightly Rust with rust-src, cargo-fuzz
#   scripts/setup.sh npm | wasm-target   one step of `demo` (scripts/demo.sh
#                             runs them apart, to overlap them with compiling)
#   scripts/setup.sh all      (default) everything the tests need: the above,
#                             Chromium + chromedriver, a JDK, SoftHSM2 (the
#                             PKCS#11 token of the key-custody tests), PostgreSQL
#                             running, schemathesis, wasm-bindgen-test-runner,
#                             the integration matrix's tools (target/integration).
#                             Independent steps run at the same time (logs in
#                             target/setup/); apt, npm and pip wait on the
#                             network while cargo compiles.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

what="${1:-all}"
logs="${CARGO_TARGET_DIR:-$ROOT/target}/setup"
mkdir -p "$logs"

# The wasm32 target for stable (the wasm-bindgen test suites, clippy) and the
# shipped module's toolchain (env.sh wasm_release_build: nightly with rust-src,
# for -Zbuild-std, and its wasm32 target).
wasm_target() {
  local tc="${PAYSECURE_WASM_TOOLCHAIN:-nightly}"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! rustup toolchain list | grep -q "^$tc"; then
    log "installing the $tc toolchain (the shipped module's build)"
    rustup toolchain install "$tc" --profile minimal
  fi
  rustup component list --toolchain "$tc" --installed | grep -q '^rust-src' \
    || rustup component add rust-src --toolchain "$tc"
  rustup target list --toolchain "$tc" --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown --toolchain "$tc"
}

# binaryen's wasm-opt, esbuild, typescript, node-forge, playwright-core...,
# reinstalled only when package-lock.json changes.
npm_tools() {
  local stamp=node_modules/.paysecure-lock.sha256 sum
  sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return
  log "installing npm dev tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$sum" >"$stamp"
}

fuzz_tools() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  rustup component list --toolchain nightly --installed | grep -q '^rust-src' \
    || rustup component add rust-src --toolchain nightly
  command -v cargo-fuzz >/dev/null && return
  log "installing cargo-fuzz (about 1-2 minutes)"
  cargo install cargo-fuzz --locked --quiet
}

# Chromium and its driver (browser tests), a JDK (Java interop tests), the
# OpenSSL CLI (wallet provisioning tests), SoftHSM2 (the PKCS#11 token of the
# server's key-custody tests and of the rust-hsm layer).
system_packages() {
  local pkgs=()
  [ -x "$CHROMIUM_BIN" ] || pkgs+=(chromium)
  [ -x "$CHROMEDRIVER_BIN" ] || pkgs+=(chromium-driver)
  command -v javac >/dev/null || pkgs+=(default-jdk-headless)
  # The OpenSSL CLI: test certificates of the wallet suites and scripts/gen-api-doc.mjs.
  command -v openssl >/dev/null || pkgs+=(openssl)
  { command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ]; } || pkgs+=(softhsm2)
  [ ${#pkgs[@]} -gt 0 ] || return 0
  log "installing ${pkgs[*]} (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# The server's second test pass and cluster tests: this machine kind runs one
# at 127.0.0.1:5432 (trust auth); start it if stopped.
postgres() {
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && return
  if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2; return 1; }
}

schemathesis_venv() {
  local version=4.32.5 venv="${CARGO_TARGET_DIR:-$ROOT/target}/schemathesis-venv"
  "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version" && return
  log "installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" "cryptography>=42"
}

# The upstream wasm-bindgen-test-runner, compiled in this workspace (shares
# its dependencies with the rest of target/debug) instead of `cargo install`.
test_runner() {
  log "building wasm-bindgen-test-runner (crates/wasm-bindgen-tool)"
  cargo build --quiet -p wasm-bindgen-tool --features test-runner --bin wasm-bindgen-test-runner
}

# The integration matrix's bundlers and runtimes (tests/integration/install.mjs).
# and React 18 for the widget components' test (its own tree: npm cannot hold two react-dom).
integration_tools() {
  node tests/integration/install.mjs
  local r18=tests/browser/elements-react18 stamp
  stamp="$r18/node_modules/.paysecure-lock.sha256"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha256sum "$r18/package-lock.json" | cut -d' ' -f1)" ] && return
  npm ci --prefix "$r18" --no-audit --no-fund --loglevel=error
  sha256sum "$r18/package-lock.json" | cut -d' ' -f1 >"$stamp"
}

# Runs steps at the same time; each one's output goes to target/setup/<step>.log.
parallel() {
  local pids=() names=() i failed=0
  for step in "$@"; do
    "$step" >"$logs/$step.log" 2>&1 &
    pids+=($!); names+=("$step")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      tail -n 20 "$logs/${names[$i]}.log" >&2
      echo "setup: ${names[$i]} failed (log: $logs/${names[$i]}.log)" >&2
      failed=1
    fi
  done
  return "$failed"
}

command -v node >/dev/null || { echo "setup: Node.js (node, npm) is required: apt-get install nodejs npm" >&2; exit 1; }
case "$what" in
  demo)
    wasm_target
    npm_tools
    ;;
  fuzz) fuzz_tools ;;
  npm) npm_tools ;;
  wasm-target) wasm_target ;;
  all)
    wasm_target
    parallel npm_tools system_packages postgres schemathesis_venv fuzz_tools test_runner integration_tools
    log "ready: $(rustc --version | cut -d' ' -f1-2), $(node --version), $(wasm-opt --version | cut -d' ' -f1-3), $("$CHROMIUM_BIN" --version 2>/dev/null | cut -d' ' -f1-2), javac $(javac -version 2>&1 | cut -d' ' -f2), $(cargo fuzz --version)"
    ;;
  *)
    echo "usage: scripts/setup.sh [demo|fuzz|npm|wasm-target|all]" >&2; exit 2 ;;
esac
