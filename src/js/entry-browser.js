// paysecure-wasm for browsers, module workers, bundlers (Vite, webpack,
// Rollup, esbuild, Next.js, Parcel) and Deno: nothing happens on import.
// `await initAsync()` loads the WebAssembly module once, by URL (bundlers
// see the `new URL(…, import.meta.url)` below and ship the file); every
// other call before that throws a PaySecureError with code NOT_INITIALIZED.
import { __paysecure } from './paysecure_wasm_core.js';
export { /*@API@*/ } from './paysecure_wasm_core.js';

export function initAsync(source) {
  return __paysecure.initAsync(source === undefined ? new URL('./paysecure_wasm_bg.wasm', import.meta.url) : source);
}

export function initSync(source) {
  __paysecure.initSync(source);
}

export function isInitialized() {
  return __paysecure.isInitialized();
}

export default initAsync;
