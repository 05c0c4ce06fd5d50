#!/usr/bin/env bash
# Builds the publishable @paysecure/elements package (the widgets' host SDK,
# its React and Vue components and its testing entry) from www/elements/:
#   pkg/elements/                      the package directory (npm publish pkg/elements)
#   target/npm/paysecure-elements.tgz  the packed tarball, under a fixed name
# No compile step: the sources are plain ESM JavaScript with hand-written
# declarations, shipped as they are. The same src/index.js is what the server
# serves to script-tag users at /sdk/paysecure-embed.js.
#   scripts/build-elements.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

src=www/elements
out=pkg/elements
tgz_dir="${CARGO_TARGET_DIR:-$ROOT/target}/npm"

log "@paysecure/elements: $src -> $out"
tmp="pkg/.elements.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/src"
# Exactly the files package.json lists (plus package.json and README.md, which
# npm always packs); the licence files are the repository's own (LICENSE-*).
node -e '
  const fs = require("fs"), path = require("path");
  const [src, tmp] = process.argv.slice(1);
  const pkg = JSON.parse(fs.readFileSync(path.join(src, "package.json"), "utf8"));
  for (const f of [...pkg.files, "package.json", "README.md"]) {
    const from = f.startsWith("LICENSE") ? f : path.join(src, f);
    fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
    fs.copyFileSync(from, path.join(tmp, f));
  }
' "$src" "$tmp"
rm -rf "$out"
mv "$tmp" "$out"

mkdir -p "$tgz_dir"
name=$(cd "$out" && npm pack --silent --pack-destination "$tgz_dir" | tail -1)
mv "$tgz_dir/$name" "$tgz_dir/paysecure-elements.tgz"
log "@paysecure/elements: $tgz_dir/paysecure-elements.tgz = $(stat -c %s "$tgz_dir/paysecure-elements.tgz") bytes; index.js $(stat -c %s "$out/src/index.js") bytes raw, $(gzip -9c "$out/src/index.js" | wc -c) bytes gzip -9"
