// Sizes of what a page downloads: the web build of paysecure-wasm (.wasm and
// JS glue) and the libraries the PaySecure document's JavaScript example loads (forge.min.js, and
// sjcl.js when it is installed), raw and gzip -9 (zlib level 9). JSON on stdout.
//   node bench/sizes.mjs
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const FILES = [
  { name: 'paysecure-wasm .wasm', group: 'paysecure-wasm', file: 'pkg/paysecure-wasm/paysecure_wasm_bg.wasm' },
  { name: 'paysecure-wasm JS glue', group: 'paysecure-wasm', file: 'pkg/paysecure-wasm/paysecure_wasm.js' },
  { name: 'node-forge forge.min.js', group: 'docs libraries', file: 'node_modules/node-forge/dist/forge.min.js' },
  { name: 'sjcl sjcl.js', group: 'docs libraries', file: 'node_modules/sjcl/sjcl.js', optional: true },
];

const files = [];
const missing = [];
for (const f of FILES) {
  const abs = path.join(root, f.file);
  if (!existsSync(abs)) {
    if (!f.optional) {
      process.stderr.write(`[sizes] ${f.file} is missing (bash scripts/build.sh, npm ci)\n`);
      process.exit(2);
    }
    missing.push(f.file);
    continue;
  }
  const raw = readFileSync(abs);
  files.push({
    name: f.name,
    group: f.group,
    file: f.file,
    raw: raw.length,
    gzip9: zlib.gzipSync(raw, { level: 9 }).length,
  });
}
const total = (group) => {
  const fs = files.filter((f) => f.group === group);
  return { raw: fs.reduce((s, f) => s + f.raw, 0), gzip9: fs.reduce((s, f) => s + f.gzip9, 0), files: fs.map((f) => f.file) };
};
process.stdout.write(`${JSON.stringify({
  files,
  missing,
  totals: { 'paysecure-wasm': total('paysecure-wasm'), 'docs libraries': total('docs libraries') },
}, null, 2)}\n`);
