
// `Session` and `PublicKey` have `[Symbol.dispose]()` (for `using`): declared here as
// lib.esnext.disposable and @types/node declare it, so that projects with an older `lib` compile.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/**
 * Where {@link initAsync} loads the WebAssembly module from: its URL (a `URL` or a string), a
 * `Request`, a `Response` (or a promise of one, e.g. `fetch(url)`), its bytes, or a compiled
 * `WebAssembly.Module`.
 */
export type WasmSource =
  | URL | string | Request | Response | PromiseLike<Response>
  | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

/**
 * Loads the WebAssembly module, once (later calls return at once). In browsers, workers and
 * bundlers call it (and await it) before anything else: every other call before it throws a
 * `PaySecureError` with code `NOT_INITIALIZED`. With no argument it loads the `.wasm` file next to
 * this package's JavaScript (bundlers copy it; the `paysecure-wasm/inline` entry has it inside).
 * In Node.js it is optional: the first call loads the module synchronously.
 *
 * Rejects with `WASM_BLOCKED_BY_CSP` when the page's Content-Security-Policy forbids compiling
 * WebAssembly (add `'wasm-unsafe-eval'` to `script-src`), `WASM_LOAD_FAILED` when the file cannot be
 * fetched or is not the module (the `cause` says why), `INVALID_INPUT` for a source of another type.
 *
 * @example
 * ```ts
 * import { initAsync, Session } from 'paysecure-wasm';
 * await initAsync();
 * const s = Session.create(issuerPublicKeyPem);
 * ```
 */
export function initAsync(source?: WasmSource | { module_or_path: WasmSource }): Promise<void>;

/**
 * Loads the WebAssembly module synchronously from a compiled `WebAssembly.Module` or its bytes
 * (once; later calls return at once). In Node.js and from `paysecure-wasm/inline` the argument is
 * optional. Throws like {@link initAsync}.
 *
 * @example
 * ```ts
 * initSync({ module: await WebAssembly.compileStreaming(fetch(wasmUrl)) });
 * ```
 */
export function initSync(
  source?: ArrayBuffer | ArrayBufferView | WebAssembly.Module | { module: ArrayBuffer | ArrayBufferView | WebAssembly.Module },
): void;

/** Whether the WebAssembly module is loaded (after {@link initAsync} or {@link initSync}, or the first call in Node.js). */
export function isInitialized(): boolean;

export default initAsync;
