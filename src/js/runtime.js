// ---- paysecure-wasm: loading the module --------------------------------
// Appended by scripts/build.sh to wasm-bindgen's `--target web` glue (after
// glue_guard.js), which the build patches so that
// * `wasm` starts as `__ps_uninit`, a proxy whose every property read comes
//   here (`__ps_whenUninitialized`) instead of failing with "Cannot read
//   properties of undefined";
// * the glue no longer computes a default URL itself (each entry point passes
//   its source: `new URL('./paysecure_wasm_bg.wasm', import.meta.url)` in the
//   browser entry, where bundlers see it; the file itself in Node; inline
//   bytes in `paysecure-wasm/inline`);
// The package's `isPaySecureError` is the one below (plain JavaScript, the
// module has none): it works before the module is loaded, which is when
// loading errors need it.
// The entry points (src/js/entry-*.js) import `__paysecure` from here and
// re-export the API; `__paysecure` itself is not part of the package's API.

/** Every code a PaySecureError can carry (filled in by scripts/build.sh from the declarations). */
const __ps_codes = new Set(/*@ERROR_CODES@*/);

/** `paySecureError` of src/js/input.js, which the build inlines into the glue. */
const __ps_error = paySecureError;

/** Set by the Node entry point: loads the module on first use. */
let __ps_autoInit = null;

function __ps_whenUninitialized(prop) {
  if (__ps_autoInit !== null) {
    __ps_autoInit();
    if (wasm !== __ps_uninit) return wasm[prop];
  }
  throw __ps_error(
    'NOT_INITIALIZED',
    'paysecure-wasm is not initialized: `await initAsync()` (or `initSync({ module })`) once before ' +
      'any other call, e.g. `import { initAsync, Session } from "paysecure-wasm"; await initAsync();`',
  );
}

/**
 * Whether the JavaScript engine refuses to compile WebAssembly here: a
 * Content-Security-Policy without 'wasm-unsafe-eval' (or 'unsafe-eval'), or a
 * platform with WebAssembly turned off. A minimal empty module compiles
 * everywhere else.
 */
function __ps_compileRefused() {
  if (typeof WebAssembly !== 'object' || WebAssembly === null) return true;
  try {
    new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    return false;
  } catch {
    return true;
  }
}

/** After a failed load: back to the uninitialized state (a load can fail after the glue took the instance). */
function __ps_reset() {
  wasm = __ps_uninit;
  wasmModule = undefined;
  wasmInstance = undefined;
}

function __ps_loadError(e) {
  __ps_reset();
  if (__ps_compileRefused()) {
    return __ps_error(
      'WASM_BLOCKED_BY_CSP',
      "WebAssembly may not be compiled on this page: its Content-Security-Policy needs 'wasm-unsafe-eval' " +
        "in script-src (e.g. `script-src 'self' 'wasm-unsafe-eval'`), or WebAssembly is disabled",
      e,
    );
  }
  const why = e instanceof Error ? e.message : String(e);
  return __ps_error('WASM_LOAD_FAILED', `paysecure-wasm could not load its WebAssembly module: ${why}`, e);
}

/** `input` is the module itself, its bytes, or `{ module }` / `{ module_or_path }` as wasm-bindgen takes them. */
function __ps_unwrap(input, key) {
  if (input !== null && typeof input === 'object' && Object.getPrototypeOf(input) === Object.prototype) {
    return input[key] !== undefined ? input[key] : input.module;
  }
  return input;
}

export const __paysecure = {
  isInitialized: () => wasm !== __ps_uninit,
  /** Synchronous: `source` is a WebAssembly.Module or the module's bytes. */
  initSync(source) {
    if (wasm !== __ps_uninit) return;
    const module = __ps_unwrap(source, 'module');
    if (!(module instanceof WebAssembly.Module) && !ArrayBuffer.isView(module) && !(module instanceof ArrayBuffer)) {
      throw __ps_error(
        'INVALID_INPUT',
        'initSync needs the WebAssembly module or its bytes ({ module }); in a browser use `await initAsync()`',
      );
    }
    try {
      initSync({ module });
    } catch (e) {
      throw __ps_loadError(e);
    }
  },
  /** `source`: a URL, a string URL, a Request, a Response (or a promise of one), bytes or a WebAssembly.Module. */
  async initAsync(source) {
    if (wasm !== __ps_uninit) return;
    const module_or_path = __ps_unwrap(source, 'module_or_path');
    if (module_or_path === undefined) throw __ps_error('INVALID_INPUT', 'initAsync needs where to load the module from');
    try {
      await __wbg_init({ module_or_path });
    } catch (e) {
      throw __ps_loadError(e);
    }
  },
  setAutoInit(load) {
    __ps_autoInit = load;
  },
  error: __ps_error,
};

/**
 * Whether `e` is an error thrown by this package (see the declarations).
 * Plain JavaScript, so that it works before the module is loaded; never
 * throws (a throwing getter or proxy trap reads as `false`).
 */
export function isPaySecureError(e) {
  try {
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return false;
    const { name, message, code } = e;
    return name === 'PaySecureError' && typeof message === 'string' && typeof code === 'string' && __ps_codes.has(code);
  } catch {
    return false;
  }
}
