#!/usr/bin/env bash
# Builds the npm package for each wasm-bindgen target into pkg/<target>/,
# size-optimised, and reports sizes. No wasm-pack: the steps are
#   1. cargo build --target wasm32-unknown-unknown --profile wasm-release -p paysecure-wasm
#   2. wasm-bindgen --target <t> (crates/wasm-bindgen-tool: the generator of the
#      wasm-bindgen release Cargo.lock pins, built in this workspace)
#   3. wasm-opt -Oz (npm binaryen), the class guard appended to the glue
#      (src/glue_guard.js), esbuild over the JS glue
#   4. package.json (from the root crate's Cargo.toml) and README.md
#      ($NPM_README, default src/npm-README.md, else README.md)
#   scripts/build.sh            # web, bundler and nodejs
#   scripts/build.sh web        # just one
# A target whose inputs (the .wasm, this script, the guard, the README) are
# unchanged since its last build is skipped: the second run takes seconds.
# WASM_BINDGEN=/path/to/wasm-bindgen uses that binary instead of the tool crate.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(web bundler nodejs)

# The features rustc's wasm32-unknown-unknown target enables by default.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue)

target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
input="$target_dir/wasm32-unknown-unknown/wasm-release/paysecure_wasm.wasm"
readme="${NPM_README:-src/npm-README.md}"
[ -f "$readme" ] || readme=README.md

log "cargo build --target wasm32-unknown-unknown --profile wasm-release -p paysecure-wasm"
cargo build --quiet --target wasm32-unknown-unknown --profile wasm-release -p paysecure-wasm --lib
if [ -z "${WASM_BINDGEN:-}" ]; then
  cargo build --quiet -p wasm-bindgen-tool --bin wasm-bindgen
  WASM_BINDGEN="$target_dir/debug/wasm-bindgen"
fi

# What a package is built from: its stamp says whether to build it again.
inputs_sum() { # target
  { echo "$1"; "$WASM_BINDGEN" --version; wasm-opt --version
    sha256sum "$input" scripts/build.sh src/glue_guard.js "$readme" Cargo.toml; } | sha256sum | cut -d' ' -f1
}

# package.json as wasm-pack 0.13 wrote it, from the root package's metadata.
package_json() { # target out
  cargo metadata --no-deps --format-version 1 | node -e '
    const [target, out] = process.argv.slice(1);
    const meta = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const p = meta.packages.find((p) => p.name === "paysecure-wasm");
    const stem = p.name.replace(/-/g, "_");
    const js = `${stem}.js`, dts = `${stem}.d.ts`, wasm = `${stem}_bg.wasm`;
    const files = target === "bundler" ? [wasm, js, `${stem}_bg.js`, dts] : [wasm, js, dts];
    const pkg = { name: p.name };
    if (target !== "nodejs") pkg.type = "module";
    Object.assign(pkg, { description: p.description, version: p.version, license: p.license, files, main: js });
    if (target === "bundler") pkg.module = js;
    pkg.types = dts;
    if (target === "bundler") pkg.sideEffects = [`./${js}`, "./snippets/*"];
    if (target === "web") pkg.sideEffects = ["./snippets/*"];
    if (p.keywords.length) pkg.keywords = p.keywords;
    require("fs").writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n");
  ' "$1" "$2"
}

for t in "${targets[@]}"; do
  case "$t" in web | bundler | nodejs) ;; *) echo "build.sh: unknown target $t" >&2; exit 2 ;; esac
  out="pkg/$t"
  sum=$(inputs_sum "$t")
  if [ -f "$out/.build-stamp" ] && [ "$(cat "$out/.build-stamp")" = "$sum" ]; then
    log "$t: up to date ($out)"
    continue
  fi
  log "wasm-bindgen --target $t -> $out"
  tmp="pkg/.$t.tmp"
  rm -rf "$tmp"
  "$WASM_BINDGEN" --target "$t" --out-dir "$tmp" "$input"
  wasm="$tmp/paysecure_wasm_bg.wasm"
  # The RSA kernel's functions stay out of line so that scripts/ct-check.mjs
  # finds them by name and checks them as they ship.
  wasm-opt "$wasm" --no-inline='*paysecure_montgomery*Modulus*' -Oz --strip-debug --strip-producers \
    "${WASM_OPT_FEATURES[@]}" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  # Guard the exported classes (use after free(), forged objects; see the
  # file). It relies on names of the glue of the pinned wasm-bindgen: check.
  glue="$tmp/paysecure_wasm.js"; [ "$t" = bundler ] && glue="$tmp/paysecure_wasm_bg.js"
  for name in 'class Session' 'class PublicKey' SessionFinalization PublicKeyFinalization \
    __wbg_session_free __wbg_publickey_free 'static __wrap(ptr)' 'let wasm'; do
    grep -q "$name" "$glue" || { echo "build.sh: '$name' not in $glue (wasm-bindgen changed?)" >&2; exit 1; }
  done
  cat src/glue_guard.js >>"$glue"
  # The JS glue repeats every doc comment of the .d.ts; ship it without
  # comments and whitespace (identifiers kept, so stack traces stay readable).
  # The declarations keep the docs and examples.
  for js in "$tmp"/*.js; do
    esbuild "$js" --minify-whitespace --minify-syntax --legal-comments=none \
      --log-level=warning --allow-overwrite --outfile="$js"
  done
  package_json "$t" "$tmp/package.json"
  cp "$readme" "$tmp/README.md"
  echo "$sum" >"$tmp/.build-stamp"
  rm -rf "$out"
  mv "$tmp" "$out"
  wasm="$out/paysecure_wasm_bg.wasm"
  glue="$out/paysecure_wasm.js"
  log "$t: $wasm = $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) bytes gzip -9; $glue = $(stat -c %s "$glue") bytes raw, $(gzip -9c "$glue" | wc -c) bytes gzip -9"
done
