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
//!   (whose js-sys bindings catch), and with the engine's own intrinsic
//!   getters called through `Reflect.apply`, never with `instanceof` or a
//!   property read that a caller can redefine.
//! * **Lengths are checked before copying.** A string's `.length` and a
//!   buffer's `byteLength` are read first and checked against its
//!   [`Limit`], so an oversized argument never reaches linear memory.

use js_sys::{Array, ArrayBuffer, Function, JsString, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use zeroize::{Zeroize, Zeroizing};

use paysecure_core::limits::Limit;
use paysecure_core::{Error, JwkMember, Result};

#[wasm_bindgen]
extern "C" {
    /// `Array.isArray`, which throws for a revoked Proxy: caught.
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn array_is_array(v: &JsValue) -> core::result::Result<bool, JsValue>;
}

/// Whether `v` is an array (a revoked Proxy is not).
pub(crate) fn is_array(v: &JsValue) -> bool {
    array_is_array(v).unwrap_or(false)
}

fn key(k: &str) -> JsValue {
    JsValue::from_str(k)
}

/// The prototype of a fresh intrinsic object (`Uint8Array.prototype` for a
/// new `Uint8Array`), so that what a caller does to an argument's prototype
/// or own properties cannot change which functions are used below.
fn proto_of(fresh: &JsValue) -> Result<Object> {
    Reflect::get_prototype_of(fresh)
        .map_err(|_| Error::InvalidInput("this JavaScript engine lacks typed arrays or Date"))
}

/// The engine's own getter `proto[name]` (looked up on an intrinsic
/// prototype, never on the argument), called on `this`; `None` if it throws.
fn call_getter(proto: &Object, name: &JsValue, this: &JsValue) -> Option<JsValue> {
    let desc = Reflect::get_own_property_descriptor(proto, name).ok()?;
    let get: Function = Reflect::get(&desc, &key("get")).ok()?.dyn_into().ok()?;
    Reflect::apply(&get, this, &Array::new()).ok()
}

/// The engine's own method `proto[name]`.
fn method(proto: &Object, name: &str) -> Result<Function> {
    Reflect::get(proto, &key(name))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(Error::InvalidInput(
            "this JavaScript engine lacks typed arrays or Date",
        ))
}

/// The `.length` of a string primitive (UTF-16 code units); `None` for
/// anything else. Runs no caller code.
pub(crate) fn string_length(v: &JsValue) -> Option<usize> {
    v.is_string()
        .then(|| v.unchecked_ref::<JsString>().length() as usize)
}

/// A string argument of at most `limit` code units, copied into a buffer
/// wiped on drop, leaving no other copy in linear memory. `InvalidInput(what)` for anything but a string.
pub(crate) fn string(v: &JsValue, limit: Limit, what: &'static str) -> Result<Zeroizing<String>> {
    let len = string_length(v).ok_or(Error::InvalidInput(what))?;
    limit.check(len)?;
    // Copied by `TextEncoder.encodeInto` into a pre-sized buffer wiped on
    // drop (no reallocation, no copy the glue frees unwiped): a string
    // primitive runs no caller code. `string_length` checked that it is one.
    read_units(v.unchecked_ref::<JsString>(), len).ok_or(Error::InvalidInput(what))
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

/// The bytes of a `Uint8Array` or an `ArrayBuffer` of at most `limit`
/// bytes, read through the engine's intrinsic accessors
/// (`%TypedArray%.prototype[Symbol.toStringTag]` and `.byteLength`,
/// `ArrayBuffer.prototype.byteLength`, `%TypedArray%.prototype.set`);
/// `Ok(None)` when `v` is neither.
pub(crate) fn bytes(v: &JsValue, limit: Limit) -> Result<Option<Zeroizing<Vec<u8>>>> {
    if !v.is_object() {
        return Ok(None);
    }
    let u8_proto = proto_of(&Uint8Array::new_with_length(0))?;
    let typed_array = proto_of(&u8_proto)?;
    let length = |proto: &Object| {
        call_getter(proto, &key("byteLength"), v)
            .and_then(|l| l.as_f64())
            .map(|l| l as usize)
    };
    let tag = call_getter(&typed_array, &js_sys::Symbol::to_string_tag(), v);
    let (source, len) = if tag.and_then(|t| t.as_string()).as_deref() == Some("Uint8Array") {
        let len =
            length(&typed_array).ok_or(Error::InvalidInput("the Uint8Array cannot be read"))?;
        limit.check(len)?;
        (v.clone(), len)
    } else if let Some(len) = length(&proto_of(&ArrayBuffer::new(0))?) {
        limit.check(len)?;
        if len == 0 {
            // Empty, or detached (a view of which cannot be made).
            return Ok(Some(Zeroizing::new(Vec::new())));
        }
        let view = Reflect::construct(&method(&u8_proto, "constructor")?, &Array::of1(v))
            .map_err(|_| Error::InvalidInput("the ArrayBuffer cannot be read"))?;
        (view, len)
    } else {
        return Ok(None);
    };
    let mut out = Zeroizing::new(vec![0u8; len]);
    if len > 0 {
        let set = method(&typed_array, "set")?;
        // SAFETY: the view covers exactly `out`, which outlives it, and is
        // used for this one `set` only, before anything can allocate (and so
        // grow or move linear memory). The crate's only unsafe code.
        #[allow(unsafe_code)]
        let view = unsafe { Uint8Array::view_mut_raw(out.as_mut_ptr(), len) };
        Reflect::apply(&set, &view, &Array::of1(&source))
            .map_err(|_| Error::InvalidInput("the bytes cannot be read"))?;
    }
    Ok(Some(out))
}

/// Milliseconds since the epoch of a real `Date` (through the intrinsic
/// `Date.prototype.getTime`); `None` for anything else, including objects
/// that only pretend to be one. (`encryptCard`'s `captureTime`.)
#[cfg(feature = "capture")]
pub(crate) fn date_millis(v: &JsValue) -> Option<f64> {
    if !v.is_object() {
        return None;
    }
    let get_time = method(&proto_of(&js_sys::Date::new_0()).ok()?, "getTime").ok()?;
    Reflect::apply(&get_time, v, &Array::new()).ok()?.as_f64()
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

#[wasm_bindgen]
extern "C" {
    /// `TextEncoder`, to read strings into wiped buffers.
    #[wasm_bindgen(js_name = TextEncoder)]
    type Utf8Encoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Utf8Encoder;
    /// `encodeInto(text, dest)`: UTF-8 of `text` written into `dest`, which
    /// the glue passes as a view of this module's memory.
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &Utf8Encoder, text: &JsString, dest: &mut [u8]) -> EncodeIntoResult;
    /// `{ read, written }`.
    type EncodeIntoResult;
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeIntoResult) -> f64;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> f64;
}

thread_local! {
    static ENCODER: Utf8Encoder = Utf8Encoder::new();
}

/// A JavaScript string's UTF-8 text (`units` UTF-16 code units long) in a
/// buffer wiped on drop, written there by `TextEncoder.encodeInto` and never
/// reallocated. Lone surrogates read as U+FFFD, as with `as_string`.
fn read_units(text: &JsString, units: usize) -> Option<Zeroizing<String>> {
    ENCODER.with(|encoder| {
        // First as if it were ASCII (one byte per UTF-16 unit); otherwise
        // again, from the start, into a fresh buffer sized for the worst case
        // (three bytes per unit) while the first one is wiped. Every unit
        // read gives at least one byte, so when all `units` were read into
        // `units` bytes, exactly `units` were written (no `written` to ask).
        let mut buf = Zeroizing::new(vec![0u8; units]);
        let done = encoder.encode_into(text, &mut buf);
        if (done.read() as usize) < units {
            buf = Zeroizing::new(vec![0u8; 3 * units]);
            let written = encoder.encode_into(text, &mut buf).written() as usize;
            buf.truncate(written);
        }
        match String::from_utf8(core::mem::take(&mut *buf)) {
            Ok(s) => Some(Zeroizing::new(s)),
            Err(e) => {
                e.into_bytes().zeroize();
                None
            }
        }
    })
}
