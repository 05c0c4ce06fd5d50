#!/usr/bin/env bash
# The test command (`make test`): installs what is missing (scripts/setup.sh),
# runs every layer, checks that each runner really ran tests, and prints one
# table: passed / failed / seconds per layer.
#   scripts/test.sh                 every layer (`make test`)
#   scripts/test.sh rust js ...     just those (the `make test-*` targets)
# Layers:
#   lint      cargo fmt --check, clippy (native and wasm32) and rustdoc with -D
#             warnings, and the import rules (server/tests/it/layers.rs, see ARCHITECTURE.md)
#   rust      cargo test --workspace: unit, known-answer vectors, tamper and
#             property tests; the server's router tests, real-process tests
#             (restart, TLS, concurrency) and two-node cluster tests on PostgreSQL
#   rust-pg   the server's suite again, on PostgreSQL (a fresh database per test)
#   rust-hsm  the server's suite again with --key-custody pkcs11, on SQLite and on
#             PostgreSQL (the rust-pg skips), the two passes at once: RSA private
#             keys and the PIN key in SoftHSM2 tokens made for the run
#             (target/softhsm-run/<pass>-<shard>, each with its own SOFTHSM2_CONF
#             and random PINs); PAYSECURE_TEST_KEY_CUSTODY=pkcs11 tells
#             the in-process harness, PAYSECURE_KEY_CUSTODY and PAYSECURE_PKCS11_*
#             the server processes the tests start
#   fuzz      cargo fuzz, every target of fuzz/ (server parsers) for FUZZ_SECONDS
#             (default 10) after replaying its regression inputs (scripts/fuzz.sh)
#   schemathesis  --checks all (stateful phase included) against a live
#             server's /openapi.json, with a tenant key and an ephemeral key
#             (scripts/schemathesis.sh). It waits on two processes for a fixed
#             time, so in a full run it runs in the background while the
#             wasm-node, wasm-chrome and package layers compile.
#   wasm-node, wasm-chrome   wasm-bindgen tests in Node and in headless Chromium
#             (cargo test --target wasm32-unknown-unknown, runner:
#             wasm-bindgen-test-runner from crates/wasm-bindgen-tool)
#   package   the npm packages (scripts/build.sh: paysecure-wasm, @paysecure/elements); tsc
#   js        node --test tests/js: API, node-forge, WebCrypto, OpenSSL, Java JCE
#             interop, end to end against a real paysecure-server with three
#             clients, the residue scan of the module's memory, the
#             constant-time check of the RSA kernel's wasm, the fast-check
#             hostile-input property test (~45 s full entry + ~20 s reveal)
#   browser   node --test tests/browser + playwright-core: Chromium WebCrypto
#             interop, demo e2e, the residue scan in Chromium
#   integration  the packed npm tarballs in fixture apps built with real tools
#             (Vite 7/8 dev and build, webpack 5 old and new, Rollup, esbuild,
#             Next.js 16 Turbopack and webpack, Node ESM/CJS, Deno, Bun, a
#             module Worker, strict CSP; the widget components in Vite), each
#             running a real session against a real server in Chromium or the
#             runtime (tests/integration/matrix.test.mjs; table in
#             target/integration/matrix.md)
#   fuzz-client  cargo fuzz, every client parser of fuzz-client/ (scripts/fuzz.sh)
#   bench-smoke  smoke runs of the client and server benchmarks (must run; no
#             timing asserted)
# A failing layer does not stop the others; the exit status is non-zero if any
# layer failed. Logs: target/test-logs/<layer>.log.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)
logs="${CARGO_TARGET_DIR:-$ROOT/target}/test-logs"
rm -rf "$logs"; mkdir -p "$logs"
declare -A passed failed seconds broken
# Test threads per Rust test binary: twice the cores; test files at once per
# node --test suite: the cores + 1. Most of the server's tests wait on a
# server process, the database's fsync or a browser; at one per core they
# left a 2-core machine half idle (server suite on SQLite 71 -> 39 s, on
# PostgreSQL 95 -> 56 s; tests/js 150 -> 88 s at 3 files at once).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-$(( 2 * $(nproc) ))}"
node_concurrency="${NODE_TEST_CONCURRENCY:-$(( $(nproc) + 1 ))}"
all=(lint rust rust-pg rust-hsm fuzz schemathesis wasm-node wasm-chrome package js browser integration fuzz-client bench-smoke)
counted=(rust rust-pg rust-hsm fuzz schemathesis wasm-node wasm-chrome js browser integration fuzz-client)

layers=("$@")
if [ ${#layers[@]} -eq 0 ]; then
  layers=("${all[@]}")
  bash scripts/setup.sh all
fi
for l in "${layers[@]}"; do
  [[ " ${all[*]} " == *" $l "* ]] || { echo "test.sh: unknown layer $l (one of: ${all[*]})" >&2; exit 2; }
done
want() { [[ " ${layers[*]} " == *" $1 "* ]]; }

# The test data must be the shared reference vectors, byte for byte.
if [ -f ../shared/vectors/paysecure-v1-v2.json ]; then
  cmp -s ../shared/vectors/paysecure-v1-v2.json tests/data/paysecure-v1-v2.json \
    || { echo "tests/data/paysecure-v1-v2.json differs from ../shared/vectors" >&2; exit 1; }
fi

# Counting: each adds to passed[layer] / failed[layer] from the layer's log and
# marks the layer broken when its runner reported nothing.
count_cargo() { # layer: the "N passed; M failed" lines of cargo / wasm-bindgen-test
  local p f
  p=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$logs/$1.log" | awk '{ s += $4 } END { print s + 0 }')
  f=$(grep -Eo '[0-9]+ failed' "$logs/$1.log" | awk '{ s += $1 } END { print s + 0 }')
  passed[$1]=$p; failed[$1]=$f
  [ "$p" -gt 0 ] || { echo "$1: the runner reported no passed tests" >&2; broken[$1]=1; }
}
count_lines() { # layer pass-regex fail-regex: one line per passed / failed run
  local p f
  p=$(grep -Ec "$2" "$logs/$1.log" || true); f=$(grep -Ec "$3" "$logs/$1.log" || true)
  passed[$1]=$p; failed[$1]=$f
  [ "$p" -gt 0 ] || [ "$f" -gt 0 ] || { echo "$1: no run reported" >&2; broken[$1]=1; }
}
count_node() { # layer: node --test's (and scripts/fuzz.sh's) "# pass N" / "# fail M"
  local p f
  p=$(awk '/^# pass / { s += $3 } END { print s + 0 }' "$logs/$1.log")
  f=$(awk '/^# fail / { s += $3 } END { print s + 0 }' "$logs/$1.log")
  passed[$1]=$p; failed[$1]=$f
  [ "$p" -gt 0 ] || { echo "$1: the runner reported no passed tests" >&2; broken[$1]=1; }
}

# Runs one layer's command with its output on the terminal and in its log,
# times it, counts it; a non-zero exit marks the layer broken.
run() { # layer counter command...
  local layer=$1 counter=$2 t0 rc
  shift 2
  t0=$(date +%s)
  set +e
  "$@" 2>&1 | tee "$logs/$layer.log"
  rc=${PIPESTATUS[0]}
  set -e
  seconds[$layer]=$(( $(date +%s) - t0 ))
  [ "$rc" -eq 0 ] || { echo "$layer: exit status $rc (log: $logs/$layer.log)" >&2; broken[$layer]=1; }
  if [ "$counter" != - ]; then $counter "$layer"; fi
}

# The layers' commands.
lint() {
  cargo fmt --all --check &&
    cargo clippy --quiet --workspace --all-targets -- -D warnings &&
    cargo clippy --quiet -p paysecure-wasm --all-targets --target wasm32-unknown-unknown -- -D warnings &&
    # The paysecure-wasm/reveal build (no default features) of the facade and the core.
    cargo clippy --quiet -p paysecure-wasm --lib --no-default-features --target wasm32-unknown-unknown -- -D warnings &&
    cargo clippy --quiet -p paysecure-core --all-targets --no-default-features -- -D warnings &&
    # The API docs: no broken or private intra-doc link, in both core builds.
    RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p paysecure-core -p paysecure-montgomery \
      -p paysecure-server -p paysecure-wasm &&
    RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p paysecure-core --no-default-features &&
    # The import rules of ARCHITECTURE.md: server layers only downward, no
    # module cycle in the server, the core or the facade, frameworks confined.
    server_it layers::
}
rust_layer() {
  cargo test --workspace -- --skip layers:: &&   # layers:: runs in lint
    cargo test -p paysecure-core --no-default-features --lib   # the reveal build's core: V1 refused
}
rust_pg() {
  # The server's suite minus the two-node cluster tests (PostgreSQL-only, in
  # the rust layer), the OpenAPI document checks and the layer rules (no
  # database in either).
  PAYSECURE_TEST_POSTGRES="${PAYSECURE_TEST_POSTGRES:-postgres://root@127.0.0.1:5432/postgres}" \
    server_it --skip cluster_ --skip openapi:: --skip layers::
}
rust_hsm() ( # a subshell: the token's variables stay in it
  local root="${CARGO_TARGET_DIR:-$ROOT/target}/softhsm-run" sqlite pg rc_sqlite rc_pg
  # The two passes run at once, each with a SoftHSM2 token of its own in a
  # directory of its own (a pass alone keeps a 2-core machine about half
  # busy). One test thread per core in each: within one token, a file store
  # that all of a pass's servers share, 4-6 threads on 2 cores had one run in
  # six with a server that did not start.
  export RUST_TEST_THREADS="${PAYSECURE_HSM_TEST_THREADS:-$(nproc)}"
  export PAYSECURE_TEST_KEY_CUSTODY=pkcs11 PAYSECURE_KEY_CUSTODY=pkcs11 \
    PAYSECURE_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so PAYSECURE_PKCS11_TOKEN_LABEL=paysecure-test-run
  # hsm_shard NAME server_it-ARGS...: tests on a fresh token with random
  # PINs. Every test adds key objects and SoftHSM2 slows as they grow, so
  # each pass is two shards on two tokens, attacks:: and the rest (the
  # SQLite pass alone: 114 -> 93 s).
  hsm_shard() (
    local dir="$root/$1" so_pin
    shift
    export SOFTHSM2_CONF="$dir/softhsm2.conf"
    mkdir -p "$dir/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
      "$dir/tokens" >"$SOFTHSM2_CONF"
    PAYSECURE_PKCS11_PIN=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n'); so_pin=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
    export PAYSECURE_PKCS11_PIN
    softhsm2-util --init-token --free --label "$PAYSECURE_PKCS11_TOKEN_LABEL" --so-pin "$so_pin" --pin "$PAYSECURE_PKCS11_PIN" >/dev/null &&
      server_it "$@"
  )
  hsm_pass() { # NAME server_it-ARGS...
    local name=$1
    shift
    hsm_shard "$name-attacks" "$@" attacks:: && hsm_shard "$name-rest" "$@" --skip attacks::
  }
  rm -rf "$root"; mkdir -p "$root"
  server_it --list >/dev/null || return   # builds the suite once, before the passes
  hsm_pass sqlite --skip layers:: --skip openapi:: >"$root/sqlite.log" 2>&1 &
  sqlite=$!
  PAYSECURE_TEST_POSTGRES="${PAYSECURE_TEST_POSTGRES:-postgres://root@127.0.0.1:5432/postgres}" \
    hsm_pass postgres --skip cluster_ --skip openapi:: --skip layers:: >"$root/postgres.log" 2>&1 &
  pg=$!
  wait "$sqlite"; rc_sqlite=$?
  wait "$pg"; rc_pg=$?
  echo "rust-hsm: SQLite pass (exit $rc_sqlite)"; cat "$root/sqlite.log"
  echo "rust-hsm: PostgreSQL pass (exit $rc_pg)"; cat "$root/postgres.log"
  [ "$rc_sqlite" -eq 0 ] && [ "$rc_pg" -eq 0 ]
)
wasm_test() { # node|browser
  local runner="${WASM_BINDGEN_TEST_RUNNER:-}"
  if [ -z "$runner" ]; then
    cargo build --quiet -p wasm-bindgen-tool --features test-runner --bin wasm-bindgen-test-runner || return
    runner="${CARGO_TARGET_DIR:-$ROOT/target}/debug/wasm-bindgen-test-runner"
  fi
  # wasm_node.rs has no wasm_bindgen_test_configure!, so the runner picks
  # Node; wasm_browser.rs says run_in_browser, and CHROMEDRIVER picks the
  # driver (headless unless NO_HEADLESS is set). The ONLY_* variables make a
  # suite in the wrong environment report 0 tests (caught by count_cargo)
  # rather than run in the other one.
  if [ "$1" = node ]; then
    WASM_BINDGEN_TEST_ONLY_NODE=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$runner" \
      cargo test --target wasm32-unknown-unknown -p paysecure-wasm --test wasm_node
  else
    WASM_BINDGEN_TEST_ONLY_WEB=1 CHROMEDRIVER="$CHROMEDRIVER_BIN" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$runner" \
      cargo test --target wasm32-unknown-unknown -p paysecure-wasm --test wasm_browser
  fi
}
package() {
  bash scripts/build.sh && tsc -p tests/types && log "TypeScript: tests/types/usage.ts compiles under --strict"
}
bench_smoke() {
  # Every implementation is checked against the others before timing, every
  # Get PAN answered; timings are not asserted. The full run is `make bench`.
  node bench/report.mjs --quick --out "${CARGO_TARGET_DIR:-target}/bench-smoke"
}

if want lint; then log "lint: cargo fmt --check, clippy and rustdoc -D warnings (native, wasm32)"; run lint - lint; fi
if want rust; then log "rust: cargo test --workspace"; run rust count_cargo rust_layer; fi
if want rust-pg; then log "rust-pg: the server suite again, on PostgreSQL"; run rust-pg count_cargo rust_pg; fi
if want rust-hsm; then log "rust-hsm: the server suite with the PKCS#11 key custody (SoftHSM2), SQLite and PostgreSQL"; run rust-hsm count_cargo rust_hsm; fi

schemathesis_pid=
schemathesis_t0=
if want schemathesis; then
  # Needs the server binary; in the background when wasm layers follow.
  debug_server
  if want wasm-node || want wasm-chrome || want package; then
    log "schemathesis: started in the background (log: $logs/schemathesis.log)"
    schemathesis_t0=$(date +%s)
    bash scripts/schemathesis.sh >"$logs/schemathesis.log" 2>&1 &
    schemathesis_pid=$!
  else
    log "schemathesis: --checks all against a live server's /openapi.json (tenant key, ephemeral key)"
    run schemathesis - bash scripts/schemathesis.sh
  fi
fi
if want wasm-node; then log "wasm-node: wasm-bindgen tests in Node"; run wasm-node count_cargo wasm_test node; fi
if want wasm-chrome; then log "wasm-chrome: wasm-bindgen tests in headless Chromium"; run wasm-chrome count_cargo wasm_test browser; fi
if want package; then log "package: the npm packages (scripts/build.sh); tsc --strict"; run package - package; fi
if [ -n "$schemathesis_pid" ]; then
  log "schemathesis: waiting for the background run"
  wait "$schemathesis_pid" || { echo "schemathesis: exit status $?" >&2; broken[schemathesis]=1; }
  seconds[schemathesis]=$(( $(date +%s) - schemathesis_t0 ))
  grep -E '^schemathesis: |^(=+ |Summary|Test cases|Failures)' "$logs/schemathesis.log" || true
fi
if want schemathesis; then
  count_lines schemathesis '^schemathesis: [a-z]+ run passed' \
    '^schemathesis: ([a-z]+ run FAILED|server answered [1-9]|.*logged [1-9])'
fi
# The JS suites start target/debug/paysecure-server (a no-op build after rust).
node_suite() { debug_server && node --test --test-concurrency="$node_concurrency" "$1"; }
if want js; then log "js: node --test tests/js"; run js count_node node_suite tests/js/; fi
if want browser; then log "browser: node --test tests/browser (headless Chromium)"; run browser count_node node_suite tests/browser/; fi
if want integration; then
  log "integration: the npm tarballs in Vite, webpack, Rollup, esbuild, Next.js, Node, Deno, Bun (Chromium)"
  run integration count_node node_suite tests/integration/
fi
if want fuzz; then log "fuzz: the server's parsers (fuzz/)"; run fuzz count_node bash scripts/fuzz.sh fuzz; fi
if want fuzz-client; then log "fuzz-client: the client's parsers (fuzz-client/)"; run fuzz-client count_node bash scripts/fuzz.sh fuzz-client; fi
if want bench-smoke; then
  log "bench-smoke: bench/report.mjs --quick (client benchmarks in Chromium and Node, Get PAN load on a debug build)"
  run bench-smoke - bench_smoke
fi

total_p=0; total_f=0; status=0
echo
echo "layer          passed  failed  seconds"
for layer in "${counted[@]}"; do
  want "$layer" || continue
  note=; [ -z "${broken[$layer]:-}" ] || { note="  (runner failed: $logs/$layer.log)"; status=1; }
  printf '%-14s %6d  %6d  %7d%s\n' "$layer" "${passed[$layer]:-0}" "${failed[$layer]:-0}" "${seconds[$layer]:-0}" "$note"
  total_p=$(( total_p + ${passed[$layer]:-0} )); total_f=$(( total_f + ${failed[$layer]:-0} ))
done
for layer in lint package bench-smoke; do
  want "$layer" || continue
  note=ok; [ -z "${broken[$layer]:-}" ] || { note="FAILED ($logs/$layer.log)"; status=1; }
  printf '%-14s %6s  %6s  %7d  %s\n' "$layer" - - "${seconds[$layer]:-0}" "$note"
done
echo "took $(( $(date +%s) - start )) s"
echo "total: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ] && [ "$status" -eq 0 ]
