// paysecure-wasm for browsers, module workers, bundlers (Vite, webpack,
// Rollup, esbuild, Next.js client code): nothing happens on import.
// `await initAsync()` loads the WebAssembly module once, by URL (bundlers
// see the `new URL(…, import.meta.url)` below and ship the file); every
// other call before that throws a PaySecureError with code NOT_INITIALIZED.
import { __paysecure } from './paysecure_wasm_core.js';
export { /*@API@*/ } from './paysecure_wasm_core.js';

// Vite 7's dev server (dependency pre-bundling) serves this module from
// node_modules/.vite/deps/ without the .wasm beside it; the package's own copy
// is then at node_modules/paysecure-wasm/. (Vite 8, and every production build,
// ship the file next to the code.) Computed as text, so that no bundler takes
// it for an asset of its own.
const PRE_BUNDLED = /\/node_modules\/\.vite\/deps(?:_[^/]*)?\/[^/]*$/;
const here = String(import.meta.url).replace(/[?#].*$/, '');

export async function initAsync(source) {
  if (source !== undefined) return __paysecure.initAsync(source);
  try {
    await __paysecure.initAsync(new URL('./paysecure_wasm_bg.wasm', import.meta.url));
  } catch (e) {
    if (!PRE_BUNDLED.test(here) || e.code !== 'WASM_LOAD_FAILED') throw e;
    await __paysecure.initAsync(here.replace(PRE_BUNDLED, '/node_modules/paysecure-wasm/paysecure_wasm_bg.wasm'));
  }
}

export function initSync(source) {
  __paysecure.initSync(source);
}

export function isInitialized() {
  return __paysecure.isInitialized();
}

export default initAsync;
