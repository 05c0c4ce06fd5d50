#!/usr/bin/env bash
# Builds the npm package `paysecure-wasm` (one package for browsers, workers,
# bundlers, Node.js, Deno and Bun) into pkg/paysecure-wasm/ and packs it to
# target/npm/paysecure-wasm.tgz; then the widget SDK `@paysecure/elements`
# (scripts/build-elements.sh) when it is there. No wasm-pack: the steps are
#   1. cargo +nightly build -Zbuild-std --target wasm32-unknown-unknown --profile
#      wasm-release -p paysecure-wasm with immediate-abort panics (scripts/env.sh
#      `wasm_release_build`; `bash scripts/setup.sh wasm-target` installs the
#      nightly's rust-src), twice: every feature (the `paysecure-wasm` entry
#      point) and --no-default-features (the `paysecure-wasm/reveal` entry point)
#   2. wasm-bindgen --target web (crates/wasm-bindgen-tool: the generator of the
#      wasm-bindgen release Cargo.lock pins, built in this workspace)
#   3. wasm-opt -Oz --converge (npm binaryen; WASM_OPT_PASSES below)
#   4. scripts/package-npm.mjs: the patched glue, the entry points, the
#      declarations, package.json with its `exports` map, README, licences
#   5. npm pack
# When the inputs (the .wasm, the scripts, src/js, the README, the
# declarations) are unchanged since the last build, it is skipped: the second
# run takes seconds.
# WASM_BINDGEN=/path/to/wasm-bindgen uses that binary instead of the tool crate.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

[ $# -eq 0 ] || { echo "build.sh: takes no arguments (one package for every environment)" >&2; exit 2; }

# The features rustc's wasm32-unknown-unknown target enables by default.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue)
# wasm-opt's passes (scripts/ct-check.mjs repeats them to rebuild the shipped module).
WASM_OPT_PASSES=(-Oz --converge --low-memory-unused --zero-filled-memory)

target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
built="$target_dir/wasm32-unknown-unknown/wasm-release/paysecure_wasm.wasm"
# The two builds of the crate, copied out of cargo's output one after the
# other (both write $built) into $inputs, where scripts/ct-check.mjs reads them
# too: every feature (the `paysecure-wasm` entry point) and none
# (`paysecure-wasm/reveal`: V2/V3 sessions, public keys, PIN blocks,
# card helpers). wasm-bindgen names its output after the input file.
inputs="$target_dir/wasm-entries"
out=pkg/paysecure-wasm
tgz="$target_dir/npm/paysecure-wasm.tgz"
mkdir -p "$inputs"

log "cargo build --target wasm32-unknown-unknown --profile wasm-release -p paysecure-wasm (no default features; all features)"
# $built is removed first (cargo puts it back, from its cache when fresh), so
# that a build writing elsewhere stops here instead of copying a stale module.
rm -f "$built"
wasm_release_build -p paysecure-wasm --lib --no-default-features
cp "$built" "$inputs/paysecure_wasm_reveal.wasm"
# The full build last, so that cargo's artifact stays the full module.
rm -f "$built"
wasm_release_build -p paysecure-wasm --lib
cp "$built" "$inputs/paysecure_wasm.wasm"
if [ -z "${WASM_BINDGEN:-}" ]; then
  cargo build --quiet -p wasm-bindgen-tool --bin wasm-bindgen
  WASM_BINDGEN="$target_dir/debug/wasm-bindgen"
fi

# raw, gzip -9 and brotli (quality 11) sizes of the concatenation of the files given.
sizes() {
  node -e 'const fs = require("node:fs"), z = require("node:zlib");
    const b = Buffer.concat(process.argv.slice(1).map((f) => fs.readFileSync(f)));
    const br = z.brotliCompressSync(b, { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    process.stdout.write(`${b.length} raw / ${z.gzipSync(b, { level: 9 }).length} gzip -9 / ${br} brotli`);' "$@"
}

sum=$({ "$WASM_BINDGEN" --version; wasm-opt --version
  sha256sum "$inputs"/paysecure_wasm.wasm "$inputs"/paysecure_wasm_reveal.wasm scripts/build.sh \
    scripts/package-npm.mjs scripts/wasm-imports.mjs src/js/* src/npm-README.md Cargo.toml LICENSE-MIT LICENSE-APACHE; } | sha256sum | cut -d' ' -f1)
if [ -f "$out/.build-stamp" ] && [ "$(cat "$out/.build-stamp")" = "$sum" ] && [ -f "$tgz" ]; then
  log "paysecure-wasm: up to date ($out)"
else
  gen="$target_dir/wasm-bindgen-web"
  rm -rf "$gen"
  for stem in paysecure_wasm paysecure_wasm_reveal; do
    log "wasm-bindgen --target web ($stem)"
    "$WASM_BINDGEN" --target web --out-dir "$gen" "$inputs/$stem.wasm"
    # The RSA kernel's functions stay out of line so that scripts/ct-check.mjs
    # finds them by name and checks them as they ship. WASM_OPT_PASSES: -Oz
    # to a fixed point, assuming what holds for these modules: the low 1 KiB
    # of memory is never touched (the 1 MiB stack starts at address 1 MiB and
    # grows down; no call goes anywhere near that deep) and the memory starts
    # zeroed (it is the module's own, not imported). About 400 B gzip less.
    wasm-opt "$gen/${stem}_bg.wasm" --no-inline='*paysecure_montgomery*Modulus*' "${WASM_OPT_PASSES[@]}" --strip-debug \
      --strip-producers --strip-target-features "${WASM_OPT_FEATURES[@]}" -o "$gen/${stem}_bg.wasm.opt"
    mv "$gen/${stem}_bg.wasm.opt" "$gen/${stem}_bg.wasm"
  done
  tmp="pkg/.paysecure-wasm.tmp"
  node scripts/package-npm.mjs "$gen" "$tmp"
  rm -rf "$out" pkg/web pkg/bundler pkg/nodejs
  mv "$tmp" "$out"
  mkdir -p "$(dirname "$tgz")"
  packed=$(cd "$out" && npm pack --silent --pack-destination "$(dirname "$tgz")" | tail -1)
  mv "$(dirname "$tgz")/$packed" "$tgz"
  echo "$sum" >"$out/.build-stamp"
  for stem in paysecure_wasm paysecure_wasm_reveal; do
    entry=$([ "$stem" = paysecure_wasm ] && echo "paysecure-wasm" || echo "paysecure-wasm/reveal")
    log "$entry: $out/${stem}_bg.wasm $(sizes "$out/${stem}_bg.wasm");" \
      "glue (${stem}_core.js + ${stem}.js) $(sizes "$out/${stem}_core.js" "$out/$stem.js")"
  done
  log "$tgz = $(stat -c %s "$tgz") bytes"
fi

if [ -f scripts/build-elements.sh ]; then
  bash scripts/build-elements.sh
fi
