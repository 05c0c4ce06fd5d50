#!/usr/bin/env bash
# Fuzzes every client-side parser of paysecure-wasm (fuzz-client/: cargo-fuzz,
# libFuzzer + AddressSanitizer, debug assertions on, natively): public keys
# (PEM/base64 text, DER, JWK JSON), base64, PIN blocks, { data, iv } values,
# compact JWE, encrypted bodies, card input.
#   scripts/fuzz-client.sh                      # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=3600 scripts/fuzz-client.sh    # the long run (an hour per target)
#   FUZZ_TARGETS="jwe body" scripts/fuzz-client.sh
# Per target: first the files in fuzz-client/regressions/<target>/ (inputs
# that once failed), then a run of FUZZ_SECONDS (default 10) from the seed
# corpus fuzz-client/corpus/<target>/. New inputs go to a scratch corpus in
# target/fuzz-client-corpus/, so the committed seeds stay as they are. A crash
# leaves its input in fuzz-client/artifacts/<target>/: once fixed, copy it to
# fuzz-client/regressions/<target>/. Ends with "# pass N" / "# fail M" (targets).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

secs=${FUZZ_SECONDS:-10}
dir=fuzz-client
# Flags shared by build and run, so that run does not rebuild.
flags=(--fuzz-dir "$dir" --release --debug-assertions)

# Tools, idempotent: the nightly toolchain with rust-src, and cargo-fuzz.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component list --toolchain nightly --installed | grep -q '^rust-src' \
  || rustup component add rust-src --toolchain nightly
command -v cargo-fuzz >/dev/null || { log "installing cargo-fuzz"; cargo install cargo-fuzz --locked; }

read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo +nightly fuzz list --fuzz-dir "$dir" | tr '\n' ' ')}"
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-client: no targets" >&2; exit 1; }

start=$(date +%s)
log "building ${#targets[@]} targets (nightly, ASan, debug assertions)"
cargo +nightly fuzz build "${flags[@]}"
log "built in $(( $(date +%s) - start )) s"

logs=$(mktemp -d)
pass=0; fail=0
for t in "${targets[@]}"; do
  ok=1
  regressions=()
  [ -d "$dir/regressions/$t" ] && mapfile -t regressions < <(find "$dir/regressions/$t" -type f | sort)
  if [ ${#regressions[@]} -gt 0 ]; then
    if ! cargo +nightly fuzz run "${flags[@]}" "$t" "${regressions[@]}" >"$logs/$t.regressions.log" 2>&1; then
      tail -n 30 "$logs/$t.regressions.log" >&2
      echo "fuzz-client: $t: a regression input fails again" >&2
      ok=0
    fi
  fi
  scratch="target/fuzz-client-corpus/$t"
  mkdir -p "$scratch"
  if cargo +nightly fuzz run "${flags[@]}" "$t" "$scratch" "$dir/corpus/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$logs/$t.log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$logs/$t.log" | tail -n 1 | awk '{ print $2 }')
    echo "fuzz-client: $t: ${execs:-?} execs in $secs s (${#regressions[@]} regression inputs, coverage ${cov:-?} edges), no crash"
  else
    tail -n 40 "$logs/$t.log" >&2
    echo "fuzz-client: $t: CRASH (input in $dir/artifacts/$t/)" >&2
    ok=0
  fi
  if [ "$ok" = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz-client: ${#targets[@]} targets, $(( $(date +%s) - start )) s in all"
echo "# pass $pass"
echo "# fail $fail"
[ "$fail" -eq 0 ]
