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
