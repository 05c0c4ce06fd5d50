// Assembles the one npm package `paysecure-wasm` from wasm-bindgen's
// `--target web` output (scripts/build.sh runs wasm-bindgen and wasm-opt,
// then this):
//   node scripts/package-npm.mjs <wasm-bindgen out dir> <package dir>
//
// The package (see the `exports` map below):
//   paysecure_wasm_core.js      the glue, patched (src/js/runtime.js says how),
//                               with src/js/glue_guard.js and src/js/runtime.js
//   paysecure_wasm.js           browsers, workers, bundlers, Deno (ESM)
//   paysecure_wasm.node.mjs     Node.js ESM, Bun; paysecure_wasm.node.cjs: require()
//   paysecure_wasm.inline.js    `paysecure-wasm/inline`: the module as base64
//   paysecure_wasm_bg.wasm      one copy, shared by all (its imports renamed
//                               short, with the glue: scripts/wasm-imports.mjs)
//   paysecure_wasm.d.ts (.d.cts for require): wasm-bindgen's declarations
//                               (with src/paysecure.d.ts) minus its init
//                               functions, plus src/js/init.d.ts
// and the same files again as paysecure_wasm_reveal* for the second entry
// point `paysecure-wasm/reveal` (and `paysecure-wasm/reveal/inline`): the
// crate built with no default features (no V1, no encryptCard, no encrypted
// bodies), with a module, glue and declarations of its own. The wasm-bindgen
// out dir holds both builds' output (paysecure_wasm*, paysecure_wasm_reveal*).
// Every patch of the generated glue is checked: if wasm-bindgen changes the
// code a patch expects, the build stops here rather than ship a glue that
// misbehaves.
import { readFileSync, writeFileSync, copyFileSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { shortenImports, renameGlueImports } from './wasm-imports.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [genDir, outDir] = process.argv.slice(2).map((p) => path.resolve(p));
if (!genDir || !outDir) {
  console.error('usage: node scripts/package-npm.mjs <wasm-bindgen out dir> <package dir>');
  process.exit(2);
}
const read = (p) => readFileSync(p, 'utf8');
const src = (p) => read(path.join(root, 'src', p));
const fail = (msg) => {
  console.error(`package-npm: ${msg}`);
  process.exit(1);
};

/** Replaces `from` in `text` exactly `times` times, or stops the build. */
function patch(text, from, to, times = 1) {
  const n = text.split(from).length - 1;
  if (n !== times) fail(`expected ${times} × ${JSON.stringify(from)} in the glue, found ${n} (wasm-bindgen changed?)`);
  return text.split(from).join(to);
}

// ---- one entry point: its glue, entry files and declarations --------------
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const out = (name) => path.join(outDir, name);

/**
 * Writes the files of one build of the crate: `stem` is wasm-bindgen's name
 * for it (`paysecure_wasm`, `paysecure_wasm_reveal`), `entry` the import path
 * users write (`paysecure-wasm`, `paysecure-wasm/reveal`). The files of
 * src/js name the main entry's files; other entries get them renamed (each
 * entry has its own glue and module: two entries loaded are two modules).
 */
function writeEntry(stem, entry) {
  // ---- declarations
  let dts = read(path.join(genDir, `${stem}.d.ts`));
  const cut = dts.indexOf('export type InitInput');
  if (cut < 0) fail(`no InitInput in the generated declarations of ${stem}`);
  dts = dts.slice(0, cut).trimEnd() + '\n' + src('js/init.d.ts');
  const union = /export type PaySecureErrorCode =([^;]*);/.exec(dts);
  if (!union) fail('no PaySecureErrorCode in the declarations');
  const codes = [...union[1].matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]);
  /** src/js text for this entry: its own file names and import path. */
  const rename = (text) => stem === 'paysecure_wasm' ? text : text
    .split('paysecure_wasm_core.js').join(`${stem}_core.js`)
    .split('paysecure_wasm_bg.wasm').join(`${stem}_bg.wasm`)
    .split('"paysecure-wasm"').join(`"${entry}"`)
    .split('paysecure-wasm/inline').join(`${entry}/inline`);

  // ---- the module with short import names, and the patched glue
  const { wasm, renames } = shortenImports(readFileSync(path.join(genDir, `${stem}_bg.wasm`)));
  let core = renameGlueImports(read(path.join(genDir, `${stem}.js`)), renames, (p) => read(path.join(genDir, p)));
  core = patch(core, 'let wasmModule, wasmInstance, wasm;',
    'const __ps_uninit = new Proxy({}, { get: (_, prop) => __ps_whenUninitialized(prop) });\n' +
    'let wasmModule, wasmInstance, wasm = __ps_uninit;');
  core = patch(core, 'if (wasm !== undefined) return wasm;', 'if (wasm !== __ps_uninit) return wasm;', 2);
  core = patch(core, `module_or_path = new URL('${stem}_bg.wasm', import.meta.url);`,
    "throw new Error('no module source');");
  core = patch(core, 'export { initSync, __wbg_init as default };', '');
  if (core.includes('import.meta')) fail('import.meta left in the glue');
  // The class guard relies on these names of the pinned wasm-bindgen's glue.
  for (const name of ['class Session', 'class PublicKey', 'SessionFinalization', 'PublicKeyFinalization',
    '__wbg_session_free', '__wbg_publickey_free', 'static __wrap(ptr)']) {
    if (!core.includes(name)) fail(`'${name}' not in the glue (wasm-bindgen changed?)`);
  }
  const api = [...core.matchAll(/^export (?:class|function) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  api.push('isPaySecureError');
  core += '\n' + src('js/glue_guard.js') + '\n' +
    rename(patch(src('js/runtime.js'), '/*@ERROR_CODES@*/', JSON.stringify(codes)));

  // ---- the files
  writeFileSync(out(`${stem}_bg.wasm`), wasm);
  writeFileSync(out(`${stem}_core.js`), core);
  const entryFile = (file) => rename(patch(src(`js/${file}`), '/*@API@*/', api.join(', ')));
  writeFileSync(out(`${stem}.js`), entryFile('entry-browser.js'));
  writeFileSync(out(`${stem}.node.mjs`), entryFile('entry-node.mjs'));
  writeFileSync(out(`${stem}.inline.js`),
    patch(entryFile('entry-inline.js'), '/*@WASM_BASE64@*/', Buffer.from(wasm).toString('base64')));
  // require(): one CommonJS file (the node entry and the glue); import.meta.url
  // becomes the file's own URL.
  esbuild.buildSync({
    entryPoints: [out(`${stem}.node.mjs`)], bundle: true, format: 'cjs', platform: 'node',
    target: 'node20', outfile: out(`${stem}.node.cjs`), logLevel: 'warning',
    define: { 'import.meta.url': '__ps_import_meta_url' },
    banner: { js: "const __ps_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    minifyWhitespace: true, minifySyntax: true, legalComments: 'none',
  });
  // The glue repeats every doc comment of the declarations: ship the JS without
  // comments and whitespace (identifiers kept, so stack traces stay readable).
  for (const f of [`${stem}_core.js`, `${stem}.js`, `${stem}.node.mjs`, `${stem}.inline.js`]) {
    const r = esbuild.transformSync(read(out(f)), {
      format: 'esm', minifyWhitespace: true, minifySyntax: true, legalComments: 'none', target: 'es2022',
    });
    writeFileSync(out(f), r.code);
  }
  writeFileSync(out(`${stem}.d.ts`), dts);
  writeFileSync(out(`${stem}.d.cts`), dts);

  // ---- its part of the `exports` map. Conditions are tried in this order;
  // bundlers for the browser skip `node`.
  const sub = entry === 'paysecure-wasm' ? '.' : `./${entry.slice('paysecure-wasm/'.length)}`;
  return {
    [sub]: {
      types: { import: `./${stem}.d.ts`, require: `./${stem}.d.cts` },
      node: { import: `./${stem}.node.mjs`, require: `./${stem}.node.cjs` },
      worker: `./${stem}.js`,
      browser: `./${stem}.js`,
      default: `./${stem}.js`,
    },
    [sub === '.' ? './inline' : `${sub}/inline`]: { types: `./${stem}.d.ts`, default: `./${stem}.inline.js` },
    [`./${stem}_bg.wasm`]: `./${stem}_bg.wasm`,
  };
}

// The full entry point (every feature) and `paysecure-wasm/reveal` (V2/V3
// sessions, public keys, PIN blocks, card helpers: no V1, no encryptCard, no
// encrypted bodies; a smaller module for reveal and PIN pages).
const entries = { ...writeEntry('paysecure_wasm', 'paysecure-wasm'), ...writeEntry('paysecure_wasm_reveal', 'paysecure-wasm/reveal') };
copyFileSync(path.join(root, 'src', 'npm-README.md'), out('README.md'));
for (const l of ['LICENSE-MIT', 'LICENSE-APACHE']) copyFileSync(path.join(root, l), out(l));

const meta = JSON.parse(execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'],
  { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })).packages.find((p) => p.name === 'paysecure-wasm');
const pkg = {
  name: 'paysecure-wasm',
  version: meta.version,
  description: meta.description,
  keywords: meta.keywords,
  license: meta.license,
  repository: { type: 'git', url: `git+${meta.repository}.git` },
  homepage: `${meta.repository}#readme`,
  bugs: { url: `${meta.repository}/issues` },
  type: 'module',
  exports: { ...entries, './package.json': './package.json' },
  // For tools that predate `exports`.
  main: './paysecure_wasm.node.cjs',
  module: './paysecure_wasm.js',
  types: './paysecure_wasm.d.ts',
  // The Node entry's one top-level statement (loading the module on first
  // use) must run when anything is imported through it: bundlers that honour
  // `sideEffects` would otherwise bind the imports straight to the glue and skip it.
  sideEffects: ['./paysecure_wasm.node.mjs', './paysecure_wasm.node.cjs',
    './paysecure_wasm_reveal.node.mjs', './paysecure_wasm_reveal.node.cjs'],
  files: readdirSync(outDir).filter((f) => f !== 'package.json' && f !== 'README.md').sort(),
  engines: { node: '>=20' },
};
writeFileSync(out('package.json'), JSON.stringify(pkg, null, 2) + '\n');
