#!/usr/bin/env bash
# cargo-fuzz (libFuzzer) over one fuzz crate:
#   fuzz/         every parser of paysecure-server that sees untrusted bytes
#   fuzz-client/  every client-side parser of paysecure-wasm (run natively):
#                 public keys (PEM/base64, DER, JWK), base64, PIN blocks,
#                 { data, iv } values, compact JWE, encrypted bodies, card input
# Each target first replays every file of <dir>/regressions/<target>/ (inputs
# that once failed), then fuzzes for FUZZ_SECONDS from the committed seeds
# <dir>/corpus/<target>/ plus a scratch corpus in target/fuzz/<dir>/corpus/
# (new inputs go there, never into the committed seeds).
#   scripts/fuzz.sh fuzz [fuzz-client ...]     # default: both
#   FUZZ_SECONDS   per target (default 10: the smoke run of `make test`)
#   FUZZ_TARGETS   space-separated subset (default: all of the crate)
#   FUZZ_JOBS      targets fuzzed at once (default: one per core)
#   FUZZ_BUILD     smoke: debug build, no sanitizer (fast to build, for short
#                  runs); full: release + AddressSanitizer + debug assertions
#                  (4-35x more execs/s). Default: smoke when FUZZ_SECONDS <= 60.
# The long run (`make fuzz`):  FUZZ_SECONDS=3600 scripts/fuzz.sh
# Both crates build into one target directory per mode (target/fuzz/<mode>),
# so what they share (paysecure-wasm and common crates) is compiled once.
# A crash leaves its input in <dir>/artifacts/<target>/; once fixed, copy it
# into <dir>/regressions/<target>/ (named for what it caught) so that every
# later run replays it. Per crate the output ends with "# pass N" / "# fail M"
# (targets), the lines scripts/test.sh counts. Installs cargo-fuzz and
# nightly's rust-src when missing.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(fuzz fuzz-client)
seconds="${FUZZ_SECONDS:-10}"
mode="${FUZZ_BUILD:-$([ "$seconds" -le 60 ] && echo smoke || echo full)}"

bash scripts/setup.sh fuzz

case "$mode" in
  smoke) flags=(--dev -s none); profile=debug ;;
  full) flags=(--release --debug-assertions); profile=release ;;
  *) echo "fuzz: FUZZ_BUILD must be smoke or full" >&2; exit 2 ;;
esac
target_dir="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz/$mode"
bins="$target_dir/$(rustc +nightly -vV | sed -n 's/^host: //p')/$profile"

fuzz_jobs="${FUZZ_JOBS:-$(nproc)}"

# One target: its regression inputs, then FUZZ_SECONDS of fuzzing. Prints
# "pass" or "fail" on its first line, then what to report.
fuzz_target() { # dir target work
  local dir=$1 t=$2 work=$3 scratch tlog regressions runs cov
  [ -x "$bins/$t" ] || { echo fail; echo "fuzz: $dir/$t FAILED: no binary $bins/$t"; return; }
  scratch="$work/corpus/$t"; tlog="$work/$t.log"
  mkdir -p "$scratch" "$dir/artifacts/$t"
  regressions=0
  if [ -d "$dir/regressions/$t" ] && [ -n "$(ls -A "$dir/regressions/$t")" ]; then
    regressions=$(find "$dir/regressions/$t" -type f | wc -l)
    if ! "$bins/$t" -runs=0 "$dir/regressions/$t" >"$work/$t-regressions.log" 2>&1; then
      echo fail
      tail -n 30 "$work/$t-regressions.log"
      echo "fuzz: $dir/$t FAILED on a regression input ($dir/regressions/$t)"
      return
    fi
  fi
  if "$bins/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/$t/" "$scratch" "$dir/corpus/$t" >"$tlog" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$tlog" | awk '{ print $2 }')
    cov=$(grep -Eo 'cov: [0-9]+' "$tlog" | tail -n 1 | awk '{ print $2 }')
    echo pass
    echo "fuzz: $dir/$t passed: ${runs:-?} runs in $seconds s ($(( ${runs:-0} / seconds )) execs/s, coverage ${cov:-?} edges, $regressions regression inputs replayed)"
  else
    echo fail
    tail -n 40 "$tlog"
    echo "fuzz: $dir/$t FAILED: input in $dir/artifacts/$t/ (add it to $dir/regressions/$t/ once fixed)"
  fi
}

status=0
for dir in "${dirs[@]}"; do
  [ -f "$dir/Cargo.toml" ] || { echo "fuzz: $dir is not a fuzz crate" >&2; exit 2; }
  start=$(date +%s)
  log "$dir: building the fuzz targets ($mode: cargo +nightly fuzz build ${flags[*]})"
  cargo +nightly fuzz build --fuzz-dir "$dir" "${flags[@]}" --target-dir "$target_dir"
  log "$dir: built in $(( $(date +%s) - start )) s"

  read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo +nightly fuzz list --fuzz-dir "$dir" | tr '\n' ' ')}"
  [ ${#targets[@]} -gt 0 ] || { echo "fuzz: $dir has no targets" >&2; exit 1; }
  work="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz/$dir"
  mkdir -p "$work"
  # Up to FUZZ_JOBS targets at once (default: one per core), each fuzzing
  # on one core for its full time; each writes its report to $work/$t.result
  # (its first line "pass" or "fail"), printed in target order afterwards.
  for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$fuzz_jobs" ]; do wait -n || true; done
    fuzz_target "$dir" "$t" "$work" >"$work/$t.result" 2>&1 &
  done
  wait || true
  pass=0; fail=0
  for t in "${targets[@]}"; do
    if [ "$(head -n 1 "$work/$t.result" 2>/dev/null)" = pass ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    tail -n +2 "$work/$t.result"
  done
  echo "fuzz: $dir: ${#targets[@]} targets, $(( $(date +%s) - start )) s in all"
  echo "# pass $pass"
  echo "# fail $fail"
  [ "$fail" -eq 0 ] || status=1
done
exit "$status"
