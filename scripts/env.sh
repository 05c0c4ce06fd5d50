# Sourced by the other scripts: paths and tool locations.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# ~/.cargo/bin only when cargo is not on PATH already (a fresh rustup install).
command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
export PATH="$ROOT/node_modules/.bin:$PATH"
export CHROMEDRIVER_BIN=/usr/bin/chromedriver
export CHROMIUM_BIN=/usr/bin/chromium
# Quieter npm.
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
log() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0" .sh)" "$*"; }
# The shipped module's release build (scripts/build.sh and scripts/demo.sh):
# `wasm_release_build [cargo build args...]` builds for wasm32-unknown-unknown
# with the wasm-release profile; every caller goes through it so that the
# demo, the package and the tests that run the package use one build.
# It uses the nightly toolchain (PAYSECURE_WASM_TOOLCHAIN, default `nightly`,
# the one cargo fuzz uses; scripts/setup.sh wasm-target installs it with
# rust-src and the wasm32 target) to rebuild std for the module
# (-Zbuild-std) with immediate-abort panics: no panic machinery, no
# formatting, no location strings (a panic is the `unreachable` trap, a
# RuntimeError in JavaScript, as with the stable panic=abort build). About
# 6 KB gzip less than the stable build. The flags are added to the
# .cargo/config.toml rustflags with --config (arrays are appended), so its
# `--cfg aes_compact` still applies; an explicit RUSTFLAGS would replace them
# and is not passed. Same target dir as the stable builds: the artifacts of a
# different compiler get their own hashes, so neither evicts the other.
wasm_release_build() {
  local tc="${PAYSECURE_WASM_TOOLCHAIN:-nightly}" flags std_features=()
  # Nightlies since 2025-10 have immediate-abort as a panic strategy;
  # older ones had it as a std feature.
  if rustc "+$tc" -Zunstable-options -Cpanic=immediate-abort --print cfg \
      --target wasm32-unknown-unknown >/dev/null 2>&1; then
    flags='"-Zunstable-options", "-Cpanic=immediate-abort", '
  else
    flags='"-Zunstable-options", '
    std_features=(-Zbuild-std-features=panic_immediate_abort)
  fi
  # Legacy symbol names, as the stable compiler gives (recent nightlies
  # default to v0): scripts/ct-check.mjs finds the RSA kernel's functions in
  # the module by those names. Names only (stripped), not code.
  flags+='"-Csymbol-mangling-version=legacy", "-Zlocation-detail=none"'
  log "wasm release build: $(rustc "+$tc" --version), -Zbuild-std=std,panic_abort, immediate-abort panics"
  cargo "+$tc" build --quiet --target wasm32-unknown-unknown --profile wasm-release \
    -Zbuild-std=std,panic_abort "${std_features[@]}" \
    --config "target.wasm32-unknown-unknown.rustflags=[$flags]" "$@"
}
# Native debug builds in the test run: every one selects the whole workspace
# with its dev-dependencies, as `cargo test --workspace` does. Cargo unifies
# a dependency's features over the packages a command selects, so
# `cargo build -p paysecure-server` or `cargo test -p paysecure-server`
# after `cargo test --workspace` recompiles most of the dependency tree
# under other hashes (35–85 s each on a 2-core machine).
# `debug_server`: target/debug/paysecure-server (and the get_pan_bench
# example), the binary the JS suites, schemathesis and the smoke bench
# start: the same build the Rust tests run. A no-op after `cargo test --workspace`.
debug_server() {
  cargo build --quiet --workspace --bin paysecure-server --example get_pan_bench
}
# `server_it ARGS...`: the server's tests/it binary (built with the
# workspace's feature set) run with libtest ARGS, from server/ as cargo runs it.
server_it() {
  local bin
  bin=$(cargo test --quiet --workspace --test it --no-run --message-format=json |
    grep -F '/server#paysecure-server@' | grep -F '"kind":["test"]' |
    grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
  [ -n "$bin" ] && [ -x "$bin" ] || { echo "server_it: no tests/it binary of paysecure-server" >&2; return 1; }
  (cd "$ROOT/server" && "$bin" "$@")
}
