// ---- paysecure-wasm: reading arguments, making errors -----------------
// Imported by src/wasm_input.rs and src/error.rs (`#[wasm_bindgen(module =
// ...)]`); scripts/wasm-imports.mjs inlines it into the package's glue. The engine's own
// functions are taken once, when the module is evaluated, so that nothing a
// caller does later to `Uint8Array`, `ArrayBuffer`, `Date`, their
// prototypes or `Reflect` changes what is called here; an argument's own
// properties and prototype are never read. No function here throws: a
// failure is a return value (an exception through a WebAssembly import that
// is not declared `catch` would skip the Rust frames' epilogues).
const __ps_apply = Reflect.apply;
const __ps_getter = (proto, key) => Reflect.getOwnPropertyDescriptor(proto, key).get;
const __ps_U8 = Uint8Array;
const __ps_TypedArray = Reflect.getPrototypeOf(Uint8Array.prototype);
const __ps_tag = __ps_getter(__ps_TypedArray, Symbol.toStringTag);
const __ps_viewLength = __ps_getter(__ps_TypedArray, 'byteLength');
const __ps_set = __ps_TypedArray.set;
const __ps_bufferLength = __ps_getter(ArrayBuffer.prototype, 'byteLength');
const __ps_getTime = Date.prototype.getTime;
const __ps_isArray = Array.isArray;
const __ps_encoder = new TextEncoder();
const __ps_encodeInto = TextEncoder.prototype.encodeInto;
const __ps_Error = Error;
const __ps_define = Reflect.defineProperty;

/** Whether `v` is a real `Uint8Array` (subclasses included), whatever its prototype says. */
const __ps_isU8 = (v) => __ps_apply(__ps_tag, v, []) === 'Uint8Array';

/**
 * The byte length of a `Uint8Array` or an `ArrayBuffer` (0 once detached);
 * -1 for anything else (other typed arrays, `DataView`, `SharedArrayBuffer`,
 * objects that only inherit from one of them, revoked proxies).
 */
export function byteSourceLength(v) {
  if (typeof v !== 'object' || v === null) return -1;
  try {
    return __ps_apply(__ps_isU8(v) ? __ps_viewLength : __ps_bufferLength, v, []);
  } catch {
    return -1;
  }
}

/**
 * Copies the bytes of `v` (as `byteSourceLength` read it) into `dest`, a view
 * of the module's memory of exactly that length; `false` if it cannot (the
 * length changed, the buffer was detached).
 */
export function copyByteSource(v, dest) {
  try {
    // Not a Uint8Array: an ArrayBuffer (the getter throws for anything else,
    // SharedArrayBuffer included), viewed whole.
    const source = __ps_isU8(v) ? v : (__ps_apply(__ps_bufferLength, v, []), new __ps_U8(v));
    if (__ps_apply(__ps_viewLength, source, []) !== __ps_apply(__ps_viewLength, dest, [])) return false;
    __ps_apply(__ps_set, dest, [source]);
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds since the epoch of a real `Date` (NaN for an invalid one); `undefined` for anything else. */
export function dateMillis(v) {
  try {
    return __ps_apply(__ps_getTime, v, []);
  } catch {
    return undefined;
  }
}

/** `Array.isArray`; `false` for a revoked proxy (for which it throws). */
export function isArray(v) {
  try {
    return __ps_isArray(v);
  } catch {
    return false;
  }
}

/** The `.length` of a string primitive (UTF-16 code units); -1 for anything else. */
export function stringLength(v) {
  return typeof v === 'string' ? v.length : -1;
}

/**
 * The UTF-8 of the string `text` written into `dest` (a view of the module's
 * memory, which the module wipes); the bytes written, or -1 unless all of
 * `text` fit.
 */
export function encodeString(text, dest) {
  try {
    const { read, written } = __ps_apply(__ps_encodeInto, __ps_encoder, [text, dest]);
    return read === text.length ? written : -1;
  } catch {
    return -1;
  }
}

/**
 * A `PaySecureError`: an `Error` (with `cause` when given) whose `name` and
 * `code` are defined as own properties, so that no setter a page put on
 * `Error.prototype` runs. The glue's own errors (src/js/glue_guard.js,
 * src/js/runtime.js) are made here too.
 */
export function paySecureError(code, message, cause) {
  const e = new __ps_Error(message, cause === undefined ? undefined : { cause });
  const own = (value) => ({ value, writable: true, enumerable: true, configurable: true });
  __ps_define(e, 'name', own('PaySecureError'));
  __ps_define(e, 'code', own(code));
  return e;
}
