// The browser side of the client benchmark (issues #8, #20): paysecure-wasm
// (pkg/paysecure-wasm), node-forge (global `forge` from forge.min.js), WebCrypto
// and noble + micro-rsa (noble.mjs, bundled by run-browser.mjs into
// /__fresh/noble.js) on this page, in this run, interleaved. Driven by run-browser.mjs, which reads
// `window.__results` (or `window.__error`); also usable by hand from any
// static server rooted at the repository (`node scripts/static-server.mjs /=.`).
import init, * as ps from '../../pkg/paysecure-wasm/paysecure_wasm.js';
import { PRESETS, makeImpls, checkImpls, runOps, stubImports, summarize } from './core.mjs';

const logEl = document.getElementById('log');
const lines = [];
const log = (msg) => {
  lines.push(msg);
  logEl.textContent = lines.join('\n');
  console.log(`[bench] ${msg}`);
};

const params = new URLSearchParams(location.search);
const quick = params.has('quick');
const preset = PRESETS[quick ? 'quick' : 'full'];
const freshAvailable = Number(params.get('fresh') || 0);
// The modules to instantiate (run-browser.mjs lists pkg/paysecure-wasm/*_bg.wasm).
const MODULES = (params.get('modules') || 'paysecure_wasm_bg.wasm').split(',').filter(Boolean);
const PKG = new URL('../../pkg/paysecure-wasm/', import.meta.url);

const hasToBase64 = typeof Uint8Array.prototype.toBase64 === 'function' && typeof Uint8Array.fromBase64 === 'function';
const b64encode = hasToBase64
  ? (bytes) => bytes.toBase64()
  : (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  };
const b64decode = hasToBase64
  ? (text) => Uint8Array.fromBase64(text)
  : (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * Fetch + compile + instantiate of the .wasm, each time from bytes V8 has not
 * compiled before (run-browser.mjs serves unique copies under /__fresh/):
 * - streamingMs: WebAssembly.instantiateStreaming(fetch(url), imports) with
 *   stub imports (nothing is called at instantiation);
 * - glueInitMs: a fresh instance of the wasm-bindgen glue module, then its
 *   `init({ module_or_path: url })`: the same plus the real import object and
 *   `__wbindgen_start`, i.e. what a page pays;
 * - fetchOnlyMs and fromBytesMs: fetch + arrayBuffer alone, then
 *   WebAssembly.instantiate(bytes, imports) alone: compile + instantiate
 *   without the network, which is what the #8 target states;
 * - fetchTinyMs: one fetch of a ~0.5 KB file, the fixed cost of a request
 *   to the loopback server in this browser.
 */
async function measureInstantiate(moduleName, n) {
  const WASM_URL = new URL(moduleName, PKG);
  // Its glue module (the entry points import it; a fresh copy per `?query`).
  const GLUE_URL = new URL(moduleName.replace(/_bg\.wasm$/, '_core.js'), PKG);
  const unique = freshAvailable >= 3 * n;
  const url = (i) => (unique ? new URL(`/__fresh/fresh-${moduleName}-${i}.wasm`, location.href) : new URL(`${WASM_URL}?n=${i}`));
  const module = await WebAssembly.compileStreaming(fetch(WASM_URL));
  const imports = stubImports(module);
  const streaming = [];
  const glue = [];
  const fetchOnly = [];
  const fromBytes = [];
  const fetchTiny = [];
  const TINY_URL = new URL('../../pkg/paysecure-wasm/package.json', import.meta.url);
  for (let i = 0; i < n; i++) {
    let t0 = performance.now();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(url(i)), imports);
    streaming.push(performance.now() - t0);
    if (!(instance instanceof WebAssembly.Instance)) throw new Error('no instance');

    const fresh = await import(`${GLUE_URL}?glue=${i}`);
    t0 = performance.now();
    await fresh.__paysecure.initAsync(url(n + i));
    glue.push(performance.now() - t0);
    if (fresh.pinBlock('1432') !== '241432FFFFFFFFFF') throw new Error('fresh glue instance does not work');

    // The two halves apart: fetch alone, then compile + instantiate from bytes in memory.
    t0 = performance.now();
    const bytes = await (await fetch(url(2 * n + i))).arrayBuffer();
    fetchOnly.push(performance.now() - t0);
    t0 = performance.now();
    await WebAssembly.instantiate(bytes, imports);
    fromBytes.push(performance.now() - t0);

    // The fixed cost of one fetch from this server (a ~0.5 KB file).
    t0 = performance.now();
    await (await fetch(`${TINY_URL}?n=${i}`)).arrayBuffer();
    fetchTiny.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 0));
  }
  return {
    streamingMs: summarize(streaming),
    glueInitMs: summarize(glue),
    fetchOnlyMs: summarize(fetchOnly),
    fromBytesMs: summarize(fromBytes),
    fetchTinyMs: summarize(fetchTiny),
    uniqueBytes: unique,
    note: unique
      ? 'each instantiation from a unique copy of the .wasm (appended custom section), so V8 compiled it anew'
      : 'same bytes each time (cache-busted URL only): V8 may reuse its in-process compiled module',
  };
}

async function main() {
  const started = performance.now();
  log(`preset: ${quick ? 'quick' : 'full'} ${JSON.stringify(preset)}`);
  const vectors = await (await fetch(new URL('../../tests/data/paysecure-v1-v2.json', import.meta.url))).json();
  await init();
  if (typeof forge === 'undefined') throw new Error('forge.min.js did not load');
  const noble = await import(new URL('/__fresh/noble.js', location.href));
  // The reveal entry point, when built: a second module on this page.
  let psReveal = null;
  if (MODULES.includes('paysecure_wasm_reveal_bg.wasm')) {
    psReveal = await import(new URL('paysecure_wasm_reveal.js', PKG));
    await psReveal.default();
  }
  const env = {
    ps,
    psReveal,
    forge: globalThis.forge,
    noble,
    sjcl: globalThis.sjcl,
    subtle: crypto.subtle,
    getRandomValues: (a) => crypto.getRandomValues(a),
    b64encode,
    b64decode,
    publicPem: vectors.rsa.public_spki_pem,
    privatePem: vectors.rsa.private_pkcs8_pem,
    now: () => performance.now(),
  };

  const modules = {};
  for (const m of MODULES) {
    log(`instantiate ${m}: measuring`);
    const r = await measureInstantiate(m, preset.instantiations);
    modules[m] = r;
    log(`instantiate ${m}: compile + instantiate median ${r.fromBytesMs.median.toFixed(2)} ms, instantiateStreaming ${r.streamingMs.median.toFixed(2)} ms, glue init ${r.glueInitMs.median.toFixed(2)} ms`);
  }
  // The top-level fields stay the full module's (the #8 shape); every module under `modules`.
  const instantiate = { ...(modules['paysecure_wasm_bg.wasm'] ?? Object.values(modules)[0]), modules };

  const built = await makeImpls(env);
  const checks = await checkImpls(env, built);
  checks.forEach(log);
  const ops = await runOps(built, { ...preset, now: env.now, log });
  built.dispose();

  window.__results = {
    kind: 'chromium',
    preset: { name: quick ? 'quick' : 'full', ...preset },
    env: {
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      base64: hasToBase64 ? 'Uint8Array.prototype.toBase64 / Uint8Array.fromBase64' : 'btoa/atob',
      forgeKeySource: built.forgeKeySource,
    },
    checks,
    instantiate,
    ops,
    elapsedMs: performance.now() - started,
  };
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  window.__error = String(e && e.stack ? e.stack : e);
  log(`ERROR ${window.__error}`);
});
