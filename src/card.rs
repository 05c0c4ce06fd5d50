//! `luhnCheck`, `cardBrand` and `maskPan`.

use paysecure_core::{card, limits};
use wasm_bindgen::prelude::*;

use crate::args::string_arg;
use crate::error::{to_js, JsResult};
use crate::stack_wipe::StackWipe;
use crate::wasm_input;

/// Whether a card number passes the Luhn check. Spaces and hyphens are
/// ignored; anything that is not 12-19 digits (or over 256 characters) is
/// `false`. Never throws.
///
/// @example
/// ```ts
/// luhnCheck('4111 1111 1111 1111'); // true
/// ```
#[wasm_bindgen(js_name = luhnCheck)]
pub fn luhn_check_js(#[wasm_bindgen(unchecked_param_type = "string")] pan: JsValue) -> bool {
    let _wipe = StackWipe;
    wasm_input::string(&pan, limits::SHORT_TEXT, "").is_ok_and(|p| card::luhn_check(&p))
}

/// The card brand from the leading digits (partial numbers are fine).
/// Throws `INVALID_PAN` for anything but digits, spaces and hyphens.
///
/// @example
/// ```ts
/// cardBrand('2221000000000009'); // 'MASTERCARD'
/// ```
#[wasm_bindgen(js_name = cardBrand, unchecked_return_type = "CardBrand")]
pub fn card_brand_js(
    #[wasm_bindgen(unchecked_param_type = "string")] pan: JsValue,
) -> JsResult<String> {
    let _wipe = StackWipe;
    let pan = string_arg(&pan, "the PAN must be a string")?;
    card::card_brand(&pan)
        .map(|b| b.as_str().to_owned())
        .map_err(to_js)
}

/// Masks a card number for display: first 6 and last 4 digits kept.
/// Throws `INVALID_PAN` unless it is 12-19 digits (spaces, hyphens ignored).
///
/// @example
/// ```ts
/// maskPan('4444333322221111'); // '444433******1111'
/// ```
#[wasm_bindgen(js_name = maskPan)]
pub fn mask_pan_js(
    #[wasm_bindgen(unchecked_param_type = "string")] pan: JsValue,
) -> JsResult<String> {
    let _wipe = StackWipe;
    let pan = string_arg(&pan, "the PAN must be a string")?;
    card::mask_pan(&pan).map_err(to_js)
}
