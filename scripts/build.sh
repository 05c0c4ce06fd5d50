#!/usr/bin/env bash
# Builds the npm package `paysecure-wasm` (one package for browsers, workers,
# bundlers, Node.js, Deno and Bun) into pkg/paysecure-wasm/ and packs it to
# target/npm/paysecure-wasm.tgz; then the widget SDK `@paysecure/elements`
# (scripts/build-elements.sh) when it is there. No wasm-pack: the steps are
#   1. cargo build --target wasm32-unknown-unknown --profile wasm-release -p paysecure-wasm
#   2. wasm-bindgen --target web (crates/wasm-bindgen-tool: the generator of the
#      wasm-bindgen release Cargo.lock pins, built in this workspace)
#   3. wasm-opt -Oz (npm binaryen)
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

target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
input="$target_dir/wasm32-unknown-unknown/wasm-release/paysecure_wasm.wasm"
out=pkg/paysecure-wasm
tgz="$target_dir/npm/paysecure-wasm.tgz"

log "cargo build --target wasm32-unknown-unknown --profile wasm-release -p paysecure-wasm"
wasm_release_build -p paysecure-wasm --lib
if [ -z "${WASM_BINDGEN:-}" ]; then
  cargo build --quiet -p wasm-bindgen-tool --bin wasm-bindgen
  WASM_BINDGEN="$target_dir/debug/wasm-bindgen"
fi

sum=$({ "$WASM_BINDGEN" --version; wasm-opt --version
  sha256sum "$input" scripts/build.sh scripts/package-npm.mjs src/js/* src/npm-README.md \
    Cargo.toml LICENSE-MIT LICENSE-APACHE; } | sha256sum | cut -d' ' -f1)
if [ -f "$out/.build-stamp" ] && [ "$(cat "$out/.build-stamp")" = "$sum" ] && [ -f "$tgz" ]; then
  log "paysecure-wasm: up to date ($out)"
else
  gen="$target_dir/wasm-bindgen-web"
  rm -rf "$gen"
  log "wasm-bindgen --target web"
  "$WASM_BINDGEN" --target web --out-dir "$gen" "$input"
  # The RSA kernel's functions stay out of line so that scripts/ct-check.mjs
  # finds them by name and checks them as they ship.
  wasm-opt "$gen/paysecure_wasm_bg.wasm" --no-inline='*paysecure_montgomery*Modulus*' -Oz --strip-debug \
    --strip-producers "${WASM_OPT_FEATURES[@]}" -o "$gen/paysecure_wasm_bg.wasm.opt"
  mv "$gen/paysecure_wasm_bg.wasm.opt" "$gen/paysecure_wasm_bg.wasm"
  tmp="pkg/.paysecure-wasm.tmp"
  node scripts/package-npm.mjs "$gen" "$tmp"
  rm -rf "$out" pkg/web pkg/bundler pkg/nodejs
  mv "$tmp" "$out"
  mkdir -p "$(dirname "$tgz")"
  packed=$(cd "$out" && npm pack --silent --pack-destination "$(dirname "$tgz")" | tail -1)
  mv "$(dirname "$tgz")/$packed" "$tgz"
  echo "$sum" >"$out/.build-stamp"
  wasm="$out/paysecure_wasm_bg.wasm"
  log "paysecure-wasm: $wasm = $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) bytes gzip -9;" \
    "glue $(cat "$out/paysecure_wasm_core.js" "$out/paysecure_wasm.js" | gzip -9c | wc -c) bytes gzip -9;" \
    "$tgz = $(stat -c %s "$tgz") bytes"
fi

if [ -f scripts/build-elements.sh ]; then
  bash scripts/build-elements.sh
fi
