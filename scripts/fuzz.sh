#!/usr/bin/env bash
# cargo-fuzz (libFuzzer) targets for every parser of paysecure-server that sees
# untrusted bytes (fuzz/fuzz_targets/*.rs): each target first replays every
# file of fuzz/regressions/<target>/ (inputs that once failed), then fuzzes
# for FUZZ_SECONDS from the committed seeds fuzz/corpus/<target>/ (new inputs
# go to a scratch corpus under fuzz/target/, never into the committed one).
# Installs cargo-fuzz and nightly's rust-src when missing.
#   FUZZ_SECONDS   per target (default 20: the CI smoke run)
#   FUZZ_TARGETS   space-separated subset (default: all)
#   FUZZ_BUILD     smoke: debug build, no sanitizer (fast to build, for short
#                  runs); full: release + AddressSanitizer (the cargo-fuzz
#                  default, 4-35x more execs/s). Default: smoke when
#                  FUZZ_SECONDS <= 60, else full.
# The long run:  FUZZ_SECONDS=3600 bash scripts/fuzz.sh
# A crash stops the run and leaves its input in fuzz/artifacts/<target>/;
# once fixed, copy it into fuzz/regressions/<target>/ (named for what it
# caught) so that every later run replays it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

seconds="${FUZZ_SECONDS:-20}"
mode="${FUZZ_BUILD:-$([ "$seconds" -le 60 ] && echo smoke || echo full)}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then rustup toolchain install nightly --profile minimal; fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
  rustup component add rust-src --toolchain nightly
fi

case "$mode" in
  smoke) flags=(--dev -s none); target_dir=fuzz/target/smoke; profile=debug ;;
  full) flags=(); target_dir=fuzz/target; profile=release ;;
  *) echo "fuzz: FUZZ_BUILD must be smoke or full" >&2; exit 2 ;;
esac
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bins="$target_dir/$triple/$profile"

start=$(date +%s)
log "building the fuzz targets ($mode: cargo +nightly fuzz build ${flags[*]})"
cargo +nightly fuzz build "${flags[@]}" --target-dir "$target_dir"
log "built in $(( $(date +%s) - start )) s"

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
status=0
for t in $targets; do
  scratch="fuzz/target/corpus/$t"
  mkdir -p "$scratch" "fuzz/artifacts/$t"
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    if ! "$bins/$t" -runs=0 "fuzz/regressions/$t" >"fuzz/target/$t-regressions.log" 2>&1; then
      tail -n 30 "fuzz/target/$t-regressions.log" >&2
      echo "fuzz: $t FAILED on a regression input (fuzz/regressions/$t)"; status=1; continue
    fi
    echo "fuzz: $t replayed $(ls "fuzz/regressions/$t" | wc -l) regression inputs"
  fi
  log "fuzzing $t for $seconds s"
  if "$bins/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" "$scratch" "fuzz/corpus/$t" >"fuzz/target/$t.log" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "fuzz/target/$t.log" | awk '{ print $2 }')
    cov=$(grep -Eo 'cov: [0-9]+' "fuzz/target/$t.log" | tail -n 1 | awk '{ print $2 }')
    # The line scripts/test.sh counts.
    echo "fuzz: $t passed: Done $runs runs in $seconds s ($(( runs / seconds )) execs/s, coverage $cov)"
  else
    tail -n 40 "fuzz/target/$t.log" >&2
    echo "fuzz: $t FAILED: input in fuzz/artifacts/$t/ (add it to fuzz/regressions/$t/ once fixed)"
    status=1
  fi
done
log "fuzzing took $(( $(date +%s) - start )) s"
exit "$status"
