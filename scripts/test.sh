#!/usr/bin/env bash
# The one test command: installs what is missing (scripts/setup.sh), then runs
# every layer and checks that each test runner really ran tests.
#   lint      cargo fmt --check, clippy (native and wasm32) with -D warnings
#   rust      cargo test: unit, known-answer vectors, tamper and property tests;
#             the server's router tests, real-process tests (restart, TLS,
#             concurrency) and two-node cluster tests on PostgreSQL
#   rust-pg   the server's router, token-API, process and attack tests again, on PostgreSQL
#   fuzz      every cargo-fuzz target for FUZZ_SECONDS (default 20) from its seed
#             corpus, after replaying its regression inputs (scripts/fuzz.sh)
#   schemathesis  schemathesis --checks all (stateful phase included) against a
#             live server's /openapi.json, with a tenant key and an ephemeral
#             key (scripts/schemathesis.sh)
#   wasm      wasm-bindgen tests in Node and in headless Chromium
#   package   wasm-pack build for web, bundler and nodejs; TypeScript check
#   js        node --test: API, node-forge, WebCrypto, OpenSSL, Java JCE interop,
#             and end to end against a real paysecure-server with three clients;
#             the residue scan of the module's memory (tests/js/residue.test.mjs)
#             and the constant-time check of the RSA kernel's wasm
#             (tests/js/ct-kernel.test.mjs, scripts/ct-check.mjs)
#             the fast-check hostile-input property test (~45 s)
#   browser   node --test + playwright-core: Chromium WebCrypto interop, demo e2e,
#             the residue scan in Chromium
#   fuzz-client  cargo fuzz smoke run of every client parser (FUZZ_SECONDS each, default 10)
#   bench     smoke runs of the client and server benchmarks (must run; no timing asserted)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)
logs=$(mktemp -d)
declare -A passed failed

bash scripts/setup.sh

# The test data must be the shared reference vectors, byte for byte.
if [ -f ../shared/vectors/paysecure-v1-v2.json ]; then
  cmp -s ../shared/vectors/paysecure-v1-v2.json tests/data/paysecure-v1-v2.json \
    || { echo "tests/data/paysecure-v1-v2.json differs from ../shared/vectors" >&2; exit 1; }
fi

# Sums the "N passed; M failed" lines of cargo / wasm-bindgen-test output.
count_cargo() { # layer logfile
  local p f
  p=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$2" | awk '{ s += $4 } END { print s + 0 }')
  f=$(grep -Eo '[0-9]+ failed' "$2" | awk '{ s += $1 } END { print s + 0 }')
  passed[$1]=$(( ${passed[$1]:-0} + p )); failed[$1]=$(( ${failed[$1]:-0} + f ))
  [ "$p" -gt 0 ] || { echo "$1: the runner reported no passed tests" >&2; exit 1; }
}
count_lines() { # layer logfile pass-regex fail-regex: one line per passed / failed run
  local p f
  p=$(grep -Ec "$3" "$2" || true); f=$(grep -Ec "$4" "$2" || true)
  passed[$1]=$(( ${passed[$1]:-0} + p )); failed[$1]=$(( ${failed[$1]:-0} + f ))
  [ "$p" -gt 0 ] || [ "$f" -gt 0 ] || { echo "$1: no run reported" >&2; exit 1; }
}
count_node() { # layer logfile
  local p f
  p=$(awk '/^# pass / { print $3 }' "$2"); f=$(awk '/^# fail / { print $3 }' "$2")
  passed[$1]=$(( ${passed[$1]:-0} + p )); failed[$1]=$(( ${failed[$1]:-0} + f ))
  [ "$p" -gt 0 ] || { echo "$1: node --test reported no passed tests" >&2; exit 1; }
}

log "lint"
cargo fmt --all --check
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo clippy --quiet -p paysecure-wasm --all-targets --target wasm32-unknown-unknown -- -D warnings

log "rust: cargo test --workspace (the wasm crate's core, and paysecure-server in-process and as a process)"
cargo test --workspace 2>&1 | tee "$logs/rust.log"
count_cargo rust "$logs/rust.log"
cargo build --quiet -p paysecure-server   # the binary the JS end-to-end suite starts

log "rust-pg: the server suite again, on PostgreSQL (a fresh database per test)"
PAYSECURE_TEST_POSTGRES="${PAYSECURE_TEST_POSTGRES:-postgres://root@127.0.0.1:5432/postgres}" \
  cargo test -p paysecure-server --test api --test tokens --test ni_cvv2 --test accounts --test process --test attacks -- --skip cluster_ 2>&1 | tee "$logs/rust-pg.log"
count_cargo rust-pg "$logs/rust-pg.log"

log "fuzz: cargo fuzz, every target for ${FUZZ_SECONDS:-20} s from its seeds, regression inputs first"
bash scripts/fuzz.sh 2>&1 | tee "$logs/fuzz.log" || true
count_lines fuzz "$logs/fuzz.log" '^fuzz: [a-z_]+ passed: Done [0-9]+ runs' '^fuzz: [a-z_]+ FAILED'

log "schemathesis: --checks all against a live server's /openapi.json (tenant key, ephemeral key)"
bash scripts/schemathesis.sh 2>&1 | tee "$logs/schemathesis.log" || true
count_lines schemathesis "$logs/schemathesis.log" '^schemathesis: [a-z]+ run passed' '^schemathesis: ([a-z]+ run FAILED|server answered [1-9]|.*logged [1-9])'

log "wasm: wasm-bindgen tests in Node"
wasm-pack test --node -- --test wasm_node 2>&1 | tee "$logs/wasm-node.log"
count_cargo wasm-node "$logs/wasm-node.log"

log "wasm: wasm-bindgen tests in headless Chromium"
wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER_BIN" -- --test wasm_browser 2>&1 | tee "$logs/wasm-chrome.log"
count_cargo wasm-chrome "$logs/wasm-chrome.log"

log "package: build web, bundler, nodejs"
bash scripts/build.sh
tsc -p tests/types
log "TypeScript: tests/types/usage.ts compiles under --strict"

log "js: node --test tests/js (API and interop: node-forge, WebCrypto, OpenSSL, Java JCE)"
node --test tests/js/ 2>&1 | tee "$logs/js.log"
count_node js "$logs/js.log"

log "browser: node --test tests/browser (headless Chromium via playwright-core)"
node --test tests/browser/ 2>&1 | tee "$logs/browser.log"
count_node browser "$logs/browser.log"

log "fuzz-client: cargo fuzz, every client parser, regression inputs then ${FUZZ_SECONDS:-10} s each"
bash scripts/fuzz-client.sh 2>&1 | tee "$logs/fuzz-client.log"
count_node fuzz-client "$logs/fuzz-client.log"

# Benchmarks, smoke versions: they must run end to end (every implementation
# checked against the others before timing, every Get PAN answered); timings
# are not asserted here. The full run is `make bench` (bench/report.mjs).
log "bench-smoke: bench/report.mjs --quick: client benchmarks (browser and Node) and the Get PAN load generator (debug build, 200 requests)"
if ! node bench/report.mjs --quick --out target/bench-smoke >"$logs/bench.log" 2>&1; then
  tail -n 40 "$logs/bench.log" >&2
  echo "bench-smoke: node bench/report.mjs --quick failed (last 40 lines above)" >&2
  exit 1
fi
tail -n 7 "$logs/bench.log"

total_p=0; total_f=0
echo
echo "layer          passed  failed"
for layer in rust rust-pg fuzz schemathesis wasm-node wasm-chrome js browser fuzz-client; do
  printf '%-14s %6d  %6d\n' "$layer" "${passed[$layer]}" "${failed[$layer]}"
  total_p=$(( total_p + passed[$layer] )); total_f=$(( total_f + failed[$layer] ))
done
echo "took $(( $(date +%s) - start )) s"
echo "total: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
