//! Core errors as JavaScript `PaySecureError`s, and the list of their codes.
//!
//! `isPaySecureError` is plain JavaScript (`src/js/runtime.js`): it must
//! work before the module is loaded, so the module carries no copy of it.

use paysecure_core::{Error, ErrorCode};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/src/js/input.js")]
extern "C" {
    /// `new Error(message)` with own `name` (`"PaySecureError"`) and `code`
    /// properties, made with the engine's own `Error` and
    /// `Reflect.defineProperty` (taken when the glue loaded). Never throws.
    #[wasm_bindgen(js_name = paySecureError)]
    fn pay_secure_error(code: &str, message: &str) -> JsValue;
}

/// Converts a core error into a `PaySecureError`.
pub(crate) fn to_js(e: Error) -> JsValue {
    pay_secure_error(e.code().as_str(), &e.message())
}

/// What an exported function returns: its value, or a thrown `PaySecureError`.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// An `INVALID_INPUT` error whose message says what the argument must be.
pub(crate) fn invalid(what: &'static str) -> JsValue {
    to_js(Error::InvalidInput(what))
}

/// The codes only the JavaScript side throws: `OBJECT_FREED` (a method
/// called after `free()`, `src/js/glue_guard.js`) and the loading errors of
/// `src/js/runtime.js`.
pub const JS_ONLY_CODES: [&str; 4] = [
    "OBJECT_FREED",
    "NOT_INITIALIZED",
    "WASM_BLOCKED_BY_CSP",
    "WASM_LOAD_FAILED",
];

/// Every code a `PaySecureError` can carry: those of [`Error::code`] (in the
/// order of [`ErrorCode::ALL`]), then [`JS_ONLY_CODES`]. The package's
/// `isPaySecureError` is plain JavaScript (it must work before the module
/// is loaded) with the list of the `PaySecureErrorCode` declaration;
/// tests/js/package.test.mjs checks that list against this one.
// Evaluated at compile time: an index out of range fails the build.
#[allow(clippy::indexing_slicing)]
pub const ERROR_CODES: [&str; ErrorCode::ALL.len() + JS_ONLY_CODES.len()] = {
    let mut codes = [""; ErrorCode::ALL.len() + JS_ONLY_CODES.len()];
    let mut i = 0;
    while i < ErrorCode::ALL.len() {
        codes[i] = ErrorCode::ALL[i].as_str();
        i += 1;
    }
    let mut j = 0;
    while j < JS_ONLY_CODES.len() {
        codes[i + j] = JS_ONLY_CODES[j];
        j += 1;
    }
    codes
};

#[cfg(test)]
mod tests {
    use super::ERROR_CODES;

    /// The package's `isPaySecureError` (JavaScript, src/js/runtime.js)
    /// accepts the codes of the `PaySecureErrorCode` declaration: it must be
    /// exactly this list, in any order.
    #[test]
    fn the_declared_error_codes_are_the_codes() {
        let dts = include_str!("paysecure.d.ts");
        let start = dts
            .find("export type PaySecureErrorCode =")
            .expect("the declaration");
        let end = start + dts[start..].find(';').expect("its end");
        let mut declared: Vec<&str> = dts[start..end].split('\'').skip(1).step_by(2).collect();
        let mut codes = ERROR_CODES.to_vec();
        declared.sort_unstable();
        codes.sort_unstable();
        assert_eq!(declared, codes);
    }
}
