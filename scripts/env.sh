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
wasm_release_build() {
  cargo build --quiet --target wasm32-unknown-unknown --profile wasm-release "$@"
}
