// paysecure-wasm for Node.js (ESM; the CommonJS build is made from this
// file), Bun and server bundles: nothing happens on import; the first call
// that needs the WebAssembly module reads and compiles it synchronously
// (about 2 ms). initSync() / initAsync() do it ahead of time.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { __paysecure } from './paysecure_wasm_core.js';
export { /*@API@*/ } from './paysecure_wasm_core.js';

const wasmUrl = new URL('./paysecure_wasm_bg.wasm', import.meta.url);

function load() {
  let bytes;
  try {
    bytes = readFileSync(fileURLToPath(wasmUrl));
  } catch (e) {
    throw __paysecure.error('WASM_LOAD_FAILED', `paysecure-wasm could not read ${wasmUrl.href}: ${e.message}`, e);
  }
  __paysecure.initSync(bytes);
}
__paysecure.setAutoInit(load);

export function initSync(source) {
  if (source === undefined) load();
  else __paysecure.initSync(source);
}

export async function initAsync(source) {
  if (source === undefined) load();
  else await __paysecure.initAsync(source);
}

export function isInitialized() {
  return __paysecure.isInitialized();
}

export default initAsync;
