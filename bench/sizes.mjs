// Sizes of what a page downloads, per entry point of the npm package, and of
// the libraries the PaySecure document's JavaScript example loads
// (forge.min.js, and sjcl.js when installed): raw, gzip -9 (zlib level 9) and
// brotli (zlib.brotliCompressSync, quality 11, the maximum). JSON on stdout.
//   node bench/sizes.mjs
// Entry points: every pkg/paysecure-wasm/<stem>_bg.wasm is one, its JS glue the
// two files a page loads for it, <stem>_core.js (wasm-bindgen's glue) and
// <stem>.js (the entry). The two of issue #20 are always listed; one that is
// not built is reported as such ("built": false), not as an error.
// For each module, where the bytes go: its sections (raw and each section
// compressed alone), the function bodies by size, the largest functions (named
// by the name section when present, else by export name).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgRel = 'pkg/paysecure-wasm';
const pkgDir = path.join(root, pkgRel);

export const ENTRIES = [
  { name: 'paysecure-wasm', stem: 'paysecure_wasm', what: 'every feature (V1, JWE capture, encrypted bodies)' },
  { name: 'paysecure-wasm/reveal', stem: 'paysecure_wasm_reveal', what: 'a reveal/PIN page: session, RSA-OAEP, AES-GCM, PIN blocks, decrypt' },
];

const gzip9 = (b) => zlib.gzipSync(b, { level: 9 }).length;
const brotli = (b) => zlib.brotliCompressSync(b, {
  params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
    [zlib.constants.BROTLI_PARAM_LGWIN]: zlib.constants.BROTLI_MAX_WINDOW_BITS,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
  },
}).length;
const measure = (bytes) => ({ raw: bytes.length, gzip9: gzip9(bytes), brotli: brotli(bytes) });

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count', 'tag'];

/** A reader over a byte array: unsigned LEB128, names, bytes. */
function reader(b, pos = 0, end = b.length) {
  const r = {
    pos,
    end,
    byte() {
      if (r.pos >= r.end) throw new Error('wasm: truncated');
      return b[r.pos++];
    },
    u32() {
      let x = 0;
      let shift = 0;
      for (;;) {
        const c = r.byte();
        x += (c & 0x7f) * 2 ** shift;
        if (!(c & 0x80)) return x;
        shift += 7;
        if (shift > 35) throw new Error('wasm: LEB128 too long');
      }
    },
    name() {
      const n = r.u32();
      const s = new TextDecoder().decode(b.subarray(r.pos, r.pos + n));
      r.pos += n;
      return s;
    },
  };
  return r;
}

/** Where a module's bytes go: sections, function-size buckets, largest functions. */
export function wasmBreakdown(bytes) {
  const b = new Uint8Array(bytes);
  if (b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new Error('not a wasm module');
  const r = reader(b, 8);
  const sections = [];
  let importedFuncs = 0;
  const exportNames = new Map();
  const names = new Map();
  let bodies = [];
  while (r.pos < b.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const body = r.pos;
    const end = body + size;
    const s = reader(b, body, end);
    let label = SECTION_NAMES[id] ?? `unknown ${id}`;
    if (id === 0) {
      const name = s.name();
      label = `custom "${name}"`;
      if (name === 'name') {
        while (s.pos < end) {
          const sub = s.byte();
          const len = s.u32();
          const subEnd = s.pos + len;
          if (sub === 1) {
            const count = s.u32();
            for (let i = 0; i < count; i++) {
              const idx = s.u32();
              names.set(idx, s.name());
            }
          }
          s.pos = subEnd;
        }
      }
    } else if (id === 2) {
      const count = s.u32();
      for (let i = 0; i < count; i++) {
        s.name();
        s.name();
        const kind = s.byte();
        if (kind === 0) {
          s.u32();
          importedFuncs++;
        } else if (kind === 1) {
          s.byte();
          const flags = s.byte();
          s.u32();
          if (flags & 1) s.u32();
        } else if (kind === 2) {
          const flags = s.byte();
          s.u32();
          if (flags & 1) s.u32();
        } else if (kind === 3) {
          s.byte();
          s.byte();
        } else if (kind === 4) {
          s.byte();
          s.u32();
        } else throw new Error(`wasm: import kind ${kind}`);
      }
    } else if (id === 7) {
      const count = s.u32();
      for (let i = 0; i < count; i++) {
        const name = s.name();
        const kind = s.byte();
        const idx = s.u32();
        if (kind === 0) exportNames.set(idx, name);
      }
    } else if (id === 10) {
      const count = s.u32();
      bodies = [];
      for (let i = 0; i < count; i++) {
        const len = s.u32();
        bodies.push({ index: importedFuncs + i, bytes: len });
        s.pos += len;
      }
    }
    sections.push({ id, name: label, bytes: end - start, ...(() => { const m = measure(b.subarray(start, end)); return { gzip9Alone: m.gzip9, brotliAlone: m.brotli }; })() });
    r.pos = end;
  }
  const BUCKETS = [[0, 64], [64, 256], [256, 1024], [1024, 4096], [4096, 16384], [16384, Infinity]];
  const buckets = BUCKETS.map(([lo, hi]) => {
    const fs = bodies.filter((f) => f.bytes >= lo && f.bytes < hi);
    return { range: hi === Infinity ? `≥ ${lo} B` : `${lo}–${hi - 1} B`, functions: fs.length, bytes: fs.reduce((a, f) => a + f.bytes, 0) };
  });
  const largest = [...bodies].sort((x, y) => y.bytes - x.bytes).slice(0, 12).map((f) => ({
    index: f.index,
    bytes: f.bytes,
    name: names.get(f.index) ?? (exportNames.has(f.index) ? `export "${exportNames.get(f.index)}"` : null),
  }));
  return { sections, functions: bodies.length, importedFunctions: importedFuncs, hasNameSection: names.size > 0, buckets, largest };
}

function file(rel) {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return null;
  return { file: rel, ...measure(readFileSync(abs)) };
}

const sum = (parts) => ({
  raw: parts.reduce((a, p) => a + p.raw, 0),
  gzip9: parts.reduce((a, p) => a + p.gzip9, 0),
  brotli: parts.reduce((a, p) => a + p.brotli, 0),
});

if (!existsSync(path.join(pkgDir, 'paysecure_wasm_bg.wasm'))) {
  process.stderr.write(`[sizes] ${pkgRel}/paysecure_wasm_bg.wasm is missing (bash scripts/build.sh)\n`);
  process.exit(2);
}
const stems = new Set(ENTRIES.map((e) => e.stem));
const found = readdirSync(pkgDir).filter((f) => f.endsWith('_bg.wasm')).map((f) => f.slice(0, -'_bg.wasm'.length));
const entries = [...ENTRIES, ...found.filter((s) => !stems.has(s)).map((stem) => ({ name: stem, stem, what: '(found in pkg/, not an entry of #20)' }))];
const out = [];
for (const e of entries) {
  const wasmRel = `${pkgRel}/${e.stem}_bg.wasm`;
  const wasm = file(wasmRel);
  if (!wasm) {
    out.push({ ...e, built: false, wasmFile: wasmRel });
    continue;
  }
  const glueFiles = [`${pkgRel}/${e.stem}_core.js`, `${pkgRel}/${e.stem}.js`].map((f) => file(f) ?? { file: f, missing: true });
  const present = glueFiles.filter((g) => !g.missing);
  out.push({
    ...e,
    built: true,
    wasmFile: wasmRel,
    wasm,
    glue: { files: glueFiles, ...sum(present), complete: present.length === glueFiles.length },
    total: sum([wasm, ...present]),
    breakdown: wasmBreakdown(readFileSync(path.join(root, wasmRel))),
  });
}
const LIBS = [
  { name: 'node-forge forge.min.js', file: 'node_modules/node-forge/dist/forge.min.js' },
  { name: 'sjcl sjcl.js', file: 'node_modules/sjcl/sjcl.js', optional: true },
];
const libraries = [];
const missing = [];
for (const l of LIBS) {
  const f = file(l.file);
  if (f) libraries.push({ name: l.name, ...f });
  else if (l.optional) missing.push(l.file);
  else {
    process.stderr.write(`[sizes] ${l.file} is missing (npm ci)\n`);
    process.exit(2);
  }
}
process.stdout.write(`${JSON.stringify({ entries: out, libraries, missing, docsTotal: sum(libraries) }, null, 2)}\n`);
