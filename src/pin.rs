//! `pinBlock`, `parsePinBlock` and `pinWeakness`.

use paysecure_core::{pin_block, pin_policy, Pin, PinBlockFormat};
use wasm_bindgen::prelude::*;

use crate::args::{opt_field, opt_string, string_arg};
use crate::error::{invalid, to_js, JsResult};
use crate::stack_wipe::StackWipe;

#[wasm_bindgen]
extern "C" {
    /// `{ format?, pan? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "PinBlockOptions")]
    pub type PinBlockOptions;
    /// `{ pan? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "ParsePinBlockOptions")]
    pub type ParsePinBlockOptions;
}

/// Builds an ISO 9564-1 PIN block as 16 uppercase hex characters.
///
/// Formats 0 and 3 need `pan`. Throws `INVALID_PIN`, `INVALID_PAN`, `INVALID_INPUT`,
/// `INPUT_TOO_LARGE` (a PIN or PAN over 256 characters).
///
/// @example
/// ```ts
/// pinBlock('1432');                                        // '241432FFFFFFFFFF'
/// pinBlock('1234', { format: 0, pan: '43219876543210987' }); // '0412AC89ABCDEF67'
/// ```
#[wasm_bindgen(js_name = pinBlock, unchecked_return_type = "string")]
pub fn pin_block_js(
    #[wasm_bindgen(unchecked_param_type = "string")] pin: JsValue,
    options: Option<PinBlockOptions>,
) -> JsResult<JsValue> {
    let _wipe = StackWipe;
    let options = options.map(JsValue::from);
    let format = match opt_field(
        options.as_ref(),
        "format",
        "options.format must be 0, 1, 2 or 3",
    )? {
        None => PinBlockFormat::Iso2,
        Some(v) => v
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=3.0).contains(f))
            .map(|f| PinBlockFormat::from_number(f as u32))
            .ok_or_else(|| invalid("options.format must be 0, 1, 2 or 3"))?
            .map_err(to_js)?,
    };
    let pan = opt_string(options.as_ref(), "pan", "options.pan must be a string")?;
    let pin = Pin::new(&string_arg(&pin, "the PIN must be a string of digits")?).map_err(to_js)?;
    let block =
        pin_block::encode(&pin, format, pan.as_deref().map(String::as_str)).map_err(to_js)?;
    Ok(JsValue::from_str(&block))
}

/// Reads the PIN out of an ISO 9564-1 PIN block (formats 0-3, detected from
/// the first digit). Formats 0 and 3 need `pan`.
///
/// @example
/// ```ts
/// parsePinBlock('241432FFFFFFFFFF');                                // '1432'
/// parsePinBlock('0412AC89ABCDEF67', { pan: '43219876543210987' }); // '1234'
/// ```
#[wasm_bindgen(js_name = parsePinBlock, unchecked_return_type = "string")]
pub fn parse_pin_block_js(
    #[wasm_bindgen(unchecked_param_type = "string")] block: JsValue,
    options: Option<ParsePinBlockOptions>,
) -> JsResult<JsValue> {
    let _wipe = StackWipe;
    let options = options.map(JsValue::from);
    let pan = opt_string(options.as_ref(), "pan", "options.pan must be a string")?;
    let block = string_arg(&block, "the PIN block must be a string")?;
    let (pin, _) = pin_block::decode(&block, pan.as_deref().map(String::as_str)).map_err(to_js)?;
    Ok(JsValue::from_str(pin.expose()))
}

/// Why a PIN is too easy to guess, as a stable code, or `null` when it is
/// fine: the rules the issuer server applies when a PIN is set (it answers
/// `400 WEAK_PIN`), so a form can say so before sending. Checked in this
/// order: `'REPEATED_DIGIT'`, `'SEQUENCE'`, `'REPEATED_PAIR'`, `'COMMON'`.
///
/// Throws `INVALID_PIN` unless the PIN is 4 to 12 decimal digits,
/// `INVALID_INPUT` for anything but a string.
///
/// @example
/// ```ts
/// pinWeakness('1234'); // 'SEQUENCE'
/// pinWeakness('1432'); // null
/// ```
#[wasm_bindgen(js_name = pinWeakness, unchecked_return_type = "PinWeaknessCode | null")]
pub fn pin_weakness_js(
    #[wasm_bindgen(unchecked_param_type = "string")] pin: JsValue,
) -> JsResult<JsValue> {
    let _wipe = StackWipe;
    let pin = Pin::new(&string_arg(&pin, "the PIN must be a string of digits")?).map_err(to_js)?;
    Ok(pin_policy::pin_weakness(&pin).map_or(JsValue::NULL, |w| JsValue::from_str(w.code())))
}
