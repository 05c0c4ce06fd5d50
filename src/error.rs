//! Core errors as JavaScript `PaySecureError`s, and `isPaySecureError`.

use js_sys::Reflect;
use paysecure_core::{limits, Error, ErrorCode};
use wasm_bindgen::prelude::*;

use crate::wasm_input;

/// Converts a core error into a `PaySecureError`.
pub(crate) fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("PaySecureError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from_str(e.code().as_str()),
    );
    err.into()
}

/// What an exported function returns: its value, or a thrown `PaySecureError`.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// An `INVALID_INPUT` error whose message says what the argument must be.
pub(crate) fn invalid(what: &'static str) -> JsValue {
    to_js(Error::InvalidInput(what))
}

/// Every code a `PaySecureError` can carry: those of [`Error::code`] (in the
/// order of [`ErrorCode::ALL`]), and last `OBJECT_FREED`, which the
/// JavaScript glue throws for a method called after `free()` (see
/// `src/glue_guard.js`).
// Evaluated at compile time: an index out of range fails the build.
#[allow(clippy::indexing_slicing)]
pub const ERROR_CODES: [&str; ErrorCode::ALL.len() + 1] = {
    let mut codes = ["OBJECT_FREED"; ErrorCode::ALL.len() + 1];
    let mut i = 0;
    while i < ErrorCode::ALL.len() {
        codes[i] = ErrorCode::ALL[i].as_str();
        i += 1;
    }
    codes
};

/// Whether `e` is an error thrown by this package: an object whose `name`
/// is `'PaySecureError'`, whose `message` is a string and whose `code` is
/// one of the stable codes. Never throws (a throwing getter reads as
/// `false`).
///
/// @example
/// ```ts
/// try { session.decrypt(value) } catch (e) {
///   if (isPaySecureError(e) && e.code === 'DECRYPTION_FAILED') askAgain();
///   else throw e;
/// }
/// ```
#[wasm_bindgen(js_name = isPaySecureError, unchecked_return_type = "e is PaySecureError")]
pub fn is_pay_secure_error_js(
    #[wasm_bindgen(unchecked_param_type = "unknown")] e: JsValue,
) -> bool {
    let text = |key: &str| {
        wasm_input::get(&e, key, "")
            .ok()
            .flatten()
            .and_then(|v| wasm_input::string(&v, limits::SHORT_TEXT, "").ok())
    };
    text("name").is_some_and(|n| n.as_str() == "PaySecureError")
        && text("message").is_some()
        && text("code").is_some_and(|c| ERROR_CODES.contains(&c.as_str()))
}
