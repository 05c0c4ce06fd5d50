
// ---- paysecure-wasm: guard for the exported classes --------------------
// Appended by scripts/build.sh to wasm-bindgen's glue (it uses the glue's
// `wasm`, `Session`, `PublicKey` and their `*Finalization` registries; the
// build checks that they exist). wasm-bindgen hands the Rust object's
// address to every method as `this.__wbg_ptr` and sets it to 0 on `free()`,
// so on its own a method after `free()` throws a plain Error ("null pointer
// passed to rust") from inside WebAssembly, and a forged or edited
// `__wbg_ptr` reaches Rust as an address. Here every object's address is
// kept in a private WeakMap, recorded when the glue wraps it:
// * a method or getter of a freed object throws a PaySecureError with code
//   OBJECT_FREED; of anything that is not one of this module's objects of
//   that class, INVALID_INPUT; the object's own `__wbg_ptr` is never read;
// * `free()` (and `[Symbol.dispose]()`) releases the object once (calling it
//   again does nothing) and is safe during a call on the same object (say,
//   from a getter of an argument): the Rust object is then wiped and
//   released when that call returns.
(() => {
  const fail = paySecureError; // src/js/input.js, inlined above
  const guard = (C, registry, release) => {
    // One map per class: a Session's address must never reach a PublicKey
    // method (or the other way round).
    const live = new WeakMap();
    const freed = new WeakSet();
    const wrap = C.__wrap;
    Object.defineProperty(C, '__wrap', {
      value(ptr) {
        const obj = wrap.call(C, ptr);
        live.set(obj, ptr);
        return obj;
      },
    });
    const addressOf = (obj) => {
      const ptr = live.get(obj);
      if (ptr !== undefined) return ptr;
      throw freed.has(obj)
        ? fail('OBJECT_FREED', `this ${C.name} was freed (free() was called)`)
        : fail('INVALID_INPUT', `not a ${C.name} made by this module`);
    };
    const proto = C.prototype;
    for (const key of Reflect.ownKeys(proto)) {
      if (key === 'constructor' || key === 'free' || key === Symbol.dispose || key === '__destroy_into_raw') continue;
      const d = Object.getOwnPropertyDescriptor(proto, key);
      if (d.get) {
        const get = d.get;
        Object.defineProperty(proto, key, { ...d, get() { return get.call({ __wbg_ptr: addressOf(this) }); } });
      } else if (typeof d.value === 'function') {
        const f = d.value;
        Object.defineProperty(proto, key, {
          ...d,
          value: { [f.name](...args) { return f.apply({ __wbg_ptr: addressOf(this) }, args); } }[f.name],
        });
      }
    }
    const free = function free() {
      const ptr = live.get(this);
      if (ptr === undefined) return;
      live.delete(this);
      freed.add(this);
      registry.unregister(this);
      // allow_delayed = 1: if a call on this object is running (this free()
      // came from inside it), Rust drops the object when that call ends.
      release(ptr);
    };
    Object.defineProperty(proto, 'free', { value: free, writable: true, configurable: true });
    if (Symbol.dispose) Object.defineProperty(proto, Symbol.dispose, { value: free, writable: true, configurable: true });
  };
  guard(Session, SessionFinalization, (ptr) => wasm.__wbg_session_free(ptr, 1));
  guard(PublicKey, PublicKeyFinalization, (ptr) => wasm.__wbg_publickey_free(ptr, 1));
})();
