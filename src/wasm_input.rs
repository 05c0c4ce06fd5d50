//! Reading JavaScript arguments safely, for the adapters.
//!
//! Two rules, so that no argument can crash or corrupt the instance:
//!
//! * **Caller code runs only inside a `catch`.** A getter, a Proxy trap or
//!   a forged prototype can throw. An exception thrown through a wasm-bindgen
//!   import that is not declared `catch` unwinds the WebAssembly frames
//!   without running their epilogues: the shadow-stack pointer is never
//!   restored, borrows are never released and buffers never wiped. So values
//!   are inspected only with `typeof` (which runs no code), with `Reflect`
//!   (whose js-sys bindings catch), and with the engine's own functions
//!   taken when the glue loaded (`src/js/input.js`, whose functions catch
//!   everything and never throw), never with `instanceof` or a property
//!   read that a caller can redefine.
//! * **Lengths are checked before copying.** A string's `.length` and a
//!   buffer's `byteLength` are read first and checked against its
//!   [`Limit`], so an oversized argument never reaches linear memory.

use js_sys::Reflect;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use zeroize::{Zeroize, Zeroizing};

use paysecure_core::limits::Limit;
use paysecure_core::{Error, JwkMember, Result};

fn key(k: &str) -> JsValue {
    JsValue::from_str(k)
}

/// The `.length` of a string primitive (UTF-16 code units); `None` for
/// anything else. Runs no caller code.
pub(crate) fn string_length(v: &JsValue) -> Option<usize> {
    let len = string_length_of(v);
    (len >= 0.0).then_some(len as usize)
}

/// A string argument of at most `limit` code units, copied into a buffer
/// wiped on drop, leaving no other copy in linear memory. `InvalidInput(what)` for anything but a string.
pub(crate) fn string(v: &JsValue, limit: Limit, what: &'static str) -> Result<Zeroizing<String>> {
    let len = string_length(v).ok_or(Error::InvalidInput(what))?;
    limit.check(len)?;
    read_units(v, len).ok_or(Error::InvalidInput(what))
}

/// `obj[key]` through `Reflect.get`; `None` for `undefined`. A throwing
/// getter or trap, or a non-object `obj`, is `InvalidInput(what)`.
pub(crate) fn get(obj: &JsValue, name: &str, what: &'static str) -> Result<Option<JsValue>> {
    if !obj.is_object() {
        return Err(Error::InvalidInput(what));
    }
    let v = Reflect::get(obj, &key(name)).map_err(|_| Error::InvalidInput(what))?;
    Ok((!v.is_undefined()).then_some(v))
}

#[wasm_bindgen(module = "/src/js/input.js")]
extern "C" {
    /// The byte length of a `Uint8Array` or an `ArrayBuffer`, read through
    /// the engine's own getters (taken when the glue loaded); -1 for
    /// anything else. Never throws.
    #[wasm_bindgen(js_name = byteSourceLength)]
    fn byte_source_length(v: &JsValue) -> f64;
    /// Copies those bytes into `dest` (a view of this module's memory) with
    /// the engine's own `%TypedArray%.prototype.set`; `false` if their
    /// length is no longer `dest.len()`. Never throws.
    #[wasm_bindgen(js_name = copyByteSource)]
    fn copy_byte_source(v: &JsValue, dest: &mut [u8]) -> bool;
    /// `Array.isArray` (the engine's own); `false` for a revoked Proxy, for
    /// which it throws. Never throws.
    #[wasm_bindgen(js_name = isArray)]
    pub(crate) fn is_array(v: &JsValue) -> bool;
    /// The `.length` of a string primitive; -1 for anything else.
    #[wasm_bindgen(js_name = stringLength)]
    fn string_length_of(v: &JsValue) -> f64;
    /// `TextEncoder.prototype.encodeInto(text, dest)` (the engine's own):
    /// the bytes written, or -1 unless all of `text` fit in `dest`. Never
    /// throws.
    #[wasm_bindgen(js_name = encodeString)]
    fn encode_string(text: &JsValue, dest: &mut [u8]) -> f64;
    /// Milliseconds since the epoch of a real `Date` (NaN for an invalid
    /// one), through the engine's own `Date.prototype.getTime`; `None` for
    /// anything else, including objects that only pretend to be one
    /// (`encryptCard`'s `captureTime`). Never throws.
    #[cfg(feature = "capture")]
    #[wasm_bindgen(js_name = dateMillis)]
    pub(crate) fn date_millis(v: &JsValue) -> Option<f64>;
}

/// The bytes of a `Uint8Array` or an `ArrayBuffer` of at most `limit`
/// bytes, read through the engine's intrinsic accessors (src/js/input.js:
/// `%TypedArray%.prototype[Symbol.toStringTag]` and `.byteLength`,
/// `ArrayBuffer.prototype.byteLength`, `%TypedArray%.prototype.set`), so
/// that no caller code runs; `Ok(None)` when `v` is neither.
pub(crate) fn bytes(v: &JsValue, limit: Limit) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let len = byte_source_length(v);
    if len.is_nan() || len < 0.0 {
        return Ok(None);
    }
    let len = len as usize;
    limit.check(len)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    // Copied straight into the buffer wiped on drop: nothing allocates (and
    // so grows or moves linear memory) between the view's making and its use.
    if len > 0 && !copy_byte_source(v, &mut out) {
        return Err(Error::InvalidInput("the bytes cannot be read"));
    }
    Ok(Some(out))
}

/// One JWK member, for [`paysecure_core::PublicKey::from_jwk_members`]: strings of
/// at most `limit`, and arrays (read as array-likes through `Reflect`) of
/// at most `list_limit` strings.
pub(crate) fn jwk_member(
    jwk: &JsValue,
    name: &str,
    limit: Limit,
    list_limit: Limit,
) -> Result<JwkMember> {
    const WHAT: &str = "a JWK member cannot be read";
    let Some(v) = get(jwk, name, WHAT)? else {
        return Ok(JwkMember::Absent);
    };
    if v.is_string() {
        return string(&v, limit, WHAT).map(|s| JwkMember::Text(s.to_string()));
    }
    if !v.is_object() {
        return Ok(JwkMember::Other);
    }
    let Some(len) = get(&v, "length", WHAT)?.and_then(|l| l.as_f64()) else {
        return Ok(JwkMember::Other);
    };
    if !(len >= 0.0 && len.fract() == 0.0) {
        return Ok(JwkMember::Other);
    }
    if len > list_limit.max as f64 {
        return Err(Error::InputTooLarge(list_limit.message));
    }
    let mut items = Vec::new();
    for index in 0..len as u32 {
        let item = Reflect::get_u32(&v, index).map_err(|_| Error::InvalidInput(WHAT))?;
        if !item.is_string() {
            return Ok(JwkMember::Other);
        }
        items.push(string(&item, limit, WHAT)?.to_string());
    }
    Ok(JwkMember::TextList(items))
}

/// A JavaScript string's UTF-8 text (`units` UTF-16 code units long) in a
/// buffer wiped on drop, written there by `TextEncoder.encodeInto` (no
/// reallocation, no copy the glue frees unwiped). Lone surrogates read as
/// U+FFFD, as with `as_string`.
fn read_units(text: &JsValue, units: usize) -> Option<Zeroizing<String>> {
    // First as if it were ASCII (one byte per UTF-16 unit); otherwise again,
    // from the start, into a fresh buffer sized for the worst case (three
    // bytes per unit) while the first one is wiped.
    let mut buf = Zeroizing::new(vec![0u8; units]);
    let mut written = encode_string(text, &mut buf);
    if written < 0.0 {
        buf = Zeroizing::new(vec![0u8; 3 * units]);
        written = encode_string(text, &mut buf);
    }
    if written.is_nan() || written < 0.0 {
        return None;
    }
    buf.truncate(written as usize);
    match String::from_utf8(core::mem::take(&mut *buf)) {
        Ok(s) => Some(Zeroizing::new(s)),
        Err(e) => {
            e.into_bytes().zeroize();
            None
        }
    }
}
