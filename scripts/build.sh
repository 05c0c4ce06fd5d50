#!/usr/bin/env bash
# Builds the npm package for each wasm-pack target into pkg/<target>/,
# size-optimised (profile wasm-release, then wasm-opt -Oz), and reports sizes.
#   scripts/build.sh            # web, bundler and nodejs
#   scripts/build.sh web        # just one
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(web bundler nodejs)

# The features rustc's wasm32-unknown-unknown target enables by default.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue)

for t in "${targets[@]}"; do
  out="pkg/$t"
  log "wasm-pack build --target $t -> $out"
  wasm-pack --quiet build --no-opt --profile wasm-release --target "$t" --out-dir "$out" >/dev/null
  wasm="$out/paysecure_wasm_bg.wasm"
  # The RSA kernel's functions stay out of line so that scripts/ct-check.mjs
  # finds them by name and checks them as they ship.
  wasm-opt "$wasm" --no-inline='*paysecure_montgomery*Modulus*' -Oz --strip-debug --strip-producers \
    "${WASM_OPT_FEATURES[@]}" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  # Guard the exported classes (use after free(), forged objects; see the
  # file). It relies on names of the glue of the pinned wasm-bindgen: check.
  glue="$out/paysecure_wasm.js"; [ "$t" = bundler ] && glue="$out/paysecure_wasm_bg.js"
  for name in 'class Session' 'class PublicKey' SessionFinalization PublicKeyFinalization \
    __wbg_session_free __wbg_publickey_free 'static __wrap(ptr)' 'let wasm'; do
    grep -q "$name" "$glue" || { echo "build.sh: '$name' not in $glue (wasm-bindgen changed?)" >&2; exit 1; }
  done
  cat src/glue_guard.js >>"$glue"
  # The JS glue repeats every doc comment of the .d.ts; ship it without
  # comments and whitespace (identifiers kept, so stack traces stay readable).
  # The declarations keep the docs and examples.
  for js in "$out"/*.js; do
    esbuild "$js" --minify-whitespace --minify-syntax --legal-comments=none \
      --log-level=warning --allow-overwrite --outfile="$js"
  done
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9c "$wasm" | wc -c)
  glue="$out/paysecure_wasm.js"
  log "$t: $wasm = $raw bytes raw, $gz bytes gzip -9; $glue = $(stat -c %s "$glue") bytes raw, $(gzip -9c "$glue" | wc -c) bytes gzip -9"
done
