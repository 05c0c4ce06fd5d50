#!/usr/bin/env bash
# schemathesis (PyPI) against a live paysecure-server's /openapi.json: every
# check (--checks all), the examples, coverage, fuzzing and stateful phases,
# once authenticated with a tenant API key and once with an ephemeral key
# (every scope) for a real card. Starts a debug server (release with
# SCHEMATHESIS_RELEASE=1) on a free port with a fresh data directory, stops
# it, and exits non-zero on any failure. Installs schemathesis into
# target/schemathesis-venv (idempotent).
#   SCHEMATHESIS_EXAMPLES  test cases per operation and phase (default 12)
#   SCHEMATHESIS_MAX_TIME  seconds per run (default 75)
#   SCHEMATHESIS_RUNS      "tenant ephemeral" (default), or one of them
# Settings: scripts/schemathesis.toml; hooks (real session ids, encrypted
# values, signed forms for positive cases): scripts/schemathesis_hooks.py.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

version=4.32.5
venv="${CARGO_TARGET_DIR:-$ROOT/target}/schemathesis-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  log "installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" "cryptography>=42"
fi

profile=debug
if [ "${SCHEMATHESIS_RELEASE:-0}" = 1 ]; then profile=release; fi
if [ "$profile" = release ]; then cargo build --quiet --release -p paysecure-server --bin paysecure-server; else debug_server; fi
bin="${CARGO_TARGET_DIR:-$ROOT/target}/$profile/paysecure-server"

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cli() { "$bin" --data-dir "$work/data" "$@"; }

created=$(cli tenant create schemathesis)
tenant=$(sed -n 's/^tenant \(ten_[^ ]*\) created.*/\1/p' <<<"$created")
tenant_key=$(tail -n 1 <<<"$created")
paythru=$(cli tenant paythru-credentials "$tenant")
data_key=$(cli tenant data-key "$tenant" | tail -n 1)

# schemathesis sends hundreds of requests a second at the run's one card
# with one ephemeral key, far past what a cardholder's browser does: the
# per-card and per-credential rates (whose 429s have their own attack tests,
# server/tests/it/attacks/limits.rs) are raised for this run so that every
# answer is the operation's own. The failed-authentication throttle stays as
# it ships.
"$bin" --data-dir "$work/data" serve --listen 127.0.0.1:0 \
  --card-rate 5000 --card-burst 10000 --credential-rate 5000 --credential-burst 10000 \
  >"$work/stdout" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/stdout" 2>/dev/null && break; sleep 0.1; done
url=$(awk '/listening on/ { print $NF; exit }' "$work/stdout")
[ -n "$url" ] || { cat "$work/server.log" >&2; echo "schemathesis: the server did not start" >&2; exit 1; }

api() { # method path body -> JSON
  curl -sf -X "$1" "$url$2" -H "Authorization: Bearer $tenant_key" -H 'Content-Type: application/json' -d "$3"
}
card=$(api POST /v2/cards '{"accountId":"schemathesis"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
ephemeral=$(api POST /v2/ephemeral-keys \
  "{\"token\":\"$card\",\"scopes\":[\"pan\",\"cvv2\",\"pin:read\",\"pin:write\",\"pin:verify\",\"cvv2:verify\",\"reveal\",\"digitize\"],\"ttlSeconds\":900}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

export PS_URL="$url" PS_TENANT_KEY="$tenant_key" PS_CARD="$card" PS_DATA_KEY="$data_key"
export PS_PAYTHRU_API_KEY=$(sed -n 's/^apiKey=//p' <<<"$paythru")
export PS_PAYTHRU_API_PASSWORD=$(sed -n 's/^apiPassword=//p' <<<"$paythru")
export PS_PAYTHRU_SHA_KEY=$(sed -n 's/^shaKey=//p' <<<"$paythru")

# Client POST sessions for the capture route's positive cases, opened before
# any run (the runs' failed-credential probes get this address blocked).
for run in ${SCHEMATHESIS_RUNS:-tenant ephemeral}; do
  PS_AUTH_KEY=unused "$venv/bin/python" scripts/schemathesis_hooks.py sessions 80 >"$work/sessions-$run"
done

status=0
for run in ${SCHEMATHESIS_RUNS:-tenant ephemeral}; do
  export PS_CAPTURE_SESSIONS="$work/sessions-$run"
  case "$run" in
    tenant) export PS_AUTH_KEY="$tenant_key" ;;
    ephemeral) export PS_AUTH_KEY="$ephemeral" ;;
    *) echo "schemathesis: unknown run $run" >&2; exit 2 ;;
  esac
  log "schemathesis ($run key) against $url/openapi.json"
  set +e
  "$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "$url/openapi.json" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-12}" --max-time "${SCHEMATHESIS_MAX_TIME:-75}" \
    --workers 1 --seed "${SCHEMATHESIS_SEED:-1}" --no-color --suppress-health-check all \
    --report junit --report-junit-path "$work/junit-$run.xml" 2>&1 | tee "$work/$run.log"
  rc=${PIPESTATUS[0]}
  set -e
  # The line scripts/test.sh counts.
  if [ "$rc" -eq 0 ]; then echo "schemathesis: $run run passed"; else echo "schemathesis: $run run FAILED"; status=1; fi
done
# 0 5xx: none counted by the server's metrics, no error in its log.
fivexx=$(curl -sf "$url/metrics" | awk '/^paysecure_http_requests_total\{.*status="5/ { s += $NF } END { print s + 0 }')
errors=$(grep -c 'ERROR' "$work/server.log" || true)
echo "schemathesis: server answered $fivexx 5xx, logged $errors errors"
if [ "$fivexx" -ne 0 ] || [ "$errors" -ne 0 ]; then grep 'ERROR' "$work/server.log" | head -20 >&2; status=1; fi
exit "$status"
