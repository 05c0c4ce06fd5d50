//! `pinBlock`, `parsePinBlock` and `pinWeakness`.

use paysecure_core::limits::Limit;
use paysecure_core::pin_block4::{self, Format4Key};
use paysecure_core::{pin_block, pin_policy, Pin, PinBlockFormat};
use wasm_bindgen::prelude::*;

use crate::args::{opt_field, opt_string, string_arg};
use crate::error::{invalid, to_js, JsResult};
use crate::stack_wipe::StackWipe;
use crate::wasm_input;

/// An AES key is 16, 24 or 32 bytes; anything longer is refused unread.
const AES_KEY: Limit = Limit {
    max: 32,
    message: "options.key (an AES key) is at most 32 bytes",
};

/// `options.key`: the AES key of a format-4 block, a `Uint8Array` or an
/// `ArrayBuffer` of 16, 24 or 32 bytes.
fn format4_key(options: Option<&JsValue>) -> JsResult<Format4Key> {
    const WHAT: &str = "options.key must be a Uint8Array or ArrayBuffer of 16, 24 or 32 bytes";
    let v = opt_field(options, "key", WHAT)?.ok_or_else(|| invalid(WHAT))?;
    let bytes = wasm_input::bytes(&v, AES_KEY)
        .map_err(to_js)?
        .ok_or_else(|| invalid(WHAT))?;
    Format4Key::new(&bytes).map_err(to_js)
}

#[wasm_bindgen]
extern "C" {
    /// `{ format?, pan? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "PinBlockOptions")]
    pub type PinBlockOptions;
    /// `{ pan? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "ParsePinBlockOptions")]
    pub type ParsePinBlockOptions;
}

/// Builds an ISO 9564-1 PIN block: formats 0-3 as 16 uppercase hex
/// characters; format 4 (the AES PIN block) enciphered under `key` as 32
/// uppercase hex characters, with fresh random fill (two calls never give
/// the same block).
///
/// Formats 0, 3 and 4 need `pan`; format 4 needs `key` (16, 24 or 32
/// bytes). Throws `INVALID_PIN`, `INVALID_PAN`, `INVALID_INPUT`,
/// `INVALID_KEY_SIZE`, `INPUT_TOO_LARGE` (a PIN or PAN over 256
/// characters, a key over 32 bytes).
///
/// @example
/// ```ts
/// pinBlock('1432');                                        // '241432FFFFFFFFFF'
/// pinBlock('1234', { format: 0, pan: '43219876543210987' }); // '0412AC89ABCDEF67'
/// pinBlock('1234', { format: 4, pan: '432198765432109870', key }); // 32 hex characters
/// ```
#[wasm_bindgen(js_name = pinBlock, unchecked_return_type = "string")]
pub fn pin_block_js(
    #[wasm_bindgen(unchecked_param_type = "string")] pin: JsValue,
    options: Option<PinBlockOptions>,
) -> JsResult<JsValue> {
    let _wipe = StackWipe;
    let options = options.map(JsValue::from);
    const BAD_FORMAT: &str = "options.format must be 0, 1, 2, 3 or 4";
    let number = match opt_field(options.as_ref(), "format", BAD_FORMAT)? {
        None => 2,
        Some(v) => v
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=4.0).contains(f))
            .ok_or_else(|| invalid(BAD_FORMAT))? as u32,
    };
    let pan = opt_string(options.as_ref(), "pan", "options.pan must be a string")?;
    let pin = Pin::new(&string_arg(&pin, "the PIN must be a string of digits")?).map_err(to_js)?;
    if number == 4 {
        let key = format4_key(options.as_ref())?;
        let pan = pan.ok_or_else(|| {
            to_js(paysecure_core::Error::InvalidPan(
                "PIN block format 4 needs the PAN",
            ))
        })?;
        let block = pin_block4::encipher_hex(&key, &pin, &pan).map_err(to_js)?;
        return Ok(JsValue::from_str(&block));
    }
    let format = PinBlockFormat::from_number(number).map_err(to_js)?;
    let block =
        pin_block::encode(&pin, format, pan.as_deref().map(String::as_str)).map_err(to_js)?;
    Ok(JsValue::from_str(&block))
}

/// Reads the PIN out of an ISO 9564-1 PIN block: formats 0-3 (16 hex
/// characters, the format detected from the first digit; formats 0 and 3
/// need `pan`), or, when `key` is given, a format-4 block (32 hex
/// characters, deciphered under `key` for `pan`). A format-4 block that does
/// not decipher to a PIN under that key and PAN throws one
/// `INVALID_PIN_BLOCK`, whatever the cause.
///
/// @example
/// ```ts
/// parsePinBlock('241432FFFFFFFFFF');                                // '1432'
/// parsePinBlock('0412AC89ABCDEF67', { pan: '43219876543210987' }); // '1234'
/// parsePinBlock('CC17F65586BFD0953010226C4FC5B3CA', { pan: '432198765432109870', key }); // '1234'
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
    if opt_field(options.as_ref(), "key", "options must be an object")?.is_some() {
        let key = format4_key(options.as_ref())?;
        let pan = pan.ok_or_else(|| {
            to_js(paysecure_core::Error::InvalidPan(
                "PIN block format 4 needs the PAN",
            ))
        })?;
        let pin = pin_block4::decipher_hex(&key, &block, &pan).map_err(to_js)?;
        return Ok(JsValue::from_str(pin.expose()));
    }
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
