// paysecure-wasm for Node.js (ESM; the CommonJS build is made from this
// file), Bun and server bundles: nothing happens on import; the first call
// that needs the WebAssembly module reads and compiles it synchronously
// (about 2 ms). initSync() / initAsync() do it ahead of time.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { __paysecure } from './paysecure_wasm_core.js';
export { /*@API@*/ } from './paysecure_wasm_core.js';

// Where the .wasm is: beside this file (Node, Deno, Bun: `import.meta.url` is
// this file's URL; server bundles that ship assets rewrite the `new URL` to
// their copy, which is tried first when it is a file). Some server bundles
// (Next.js with webpack) rewrite it to a public path instead: then the
// package's own copy, at the path `import.meta.url` names (the source module,
// as those bundlers define it), is read. The base is a variable so that no
// bundler takes the second URL for an asset of its own.
const here = import.meta.url;
const candidates = () => {
  const list = [];
  const asset = new URL('./paysecure_wasm_bg.wasm', import.meta.url);
  if (asset.protocol === 'file:') list.push(fileURLToPath(asset));
  if (typeof here === 'string' && here.startsWith('file:')) {
    list.push(fileURLToPath(here.replace(/[?#].*$/, '').replace(/[^/]*$/, 'paysecure_wasm_bg.wasm')));
  }
  return list;
};

function load() {
  const tried = [];
  for (const file of candidates()) {
    let bytes;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      tried.push(`${file} (${e.code ?? e.message})`);
      continue;
    }
    __paysecure.initSync(bytes);
    return;
  }
  throw __paysecure.error(
    'WASM_LOAD_FAILED',
    `paysecure-wasm could not find its WebAssembly module (tried: ${tried.join(', ') || 'no file path'}); ` +
      'pass its bytes to initSync({ module }) or use paysecure-wasm/inline',
  );
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
