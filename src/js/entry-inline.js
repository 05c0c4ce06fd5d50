// paysecure-wasm/inline: the same API with the WebAssembly module inside this
// file (base64), for environments with no way to load a separate .wasm file
// (some bundler set-ups, single-file builds, extensions). About a third
// larger than the .wasm; no streaming compilation. `initSync()` works with
// no argument (in a browser's main thread too: the module is small).
import { __paysecure } from './paysecure_wasm_core.js';
export { /*@API@*/ } from './paysecure_wasm_core.js';

const WASM_BASE64 = '/*@WASM_BASE64@*/';

function bytes() {
  const text = atob(WASM_BASE64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

export function initSync(source) {
  __paysecure.initSync(source === undefined ? bytes() : source);
}

export function initAsync(source) {
  return __paysecure.initAsync(source === undefined ? bytes() : source);
}

export function isInitialized() {
  return __paysecure.isInitialized();
}

export default initAsync;
