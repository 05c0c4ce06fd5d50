//! `encryptCard`: browser-side card capture as a compact JWE.

use paysecure_core::capture::CardCapture;
use paysecure_core::{limits, Error};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::args::{opt_field, opt_string, read_public_key, string_arg};
use crate::error::{invalid, to_js, JsResult};
use crate::stack_wipe::StackWipe;
use crate::wasm_input;

/// The TypeScript of `encryptCard`'s arguments (`CardInput`,
/// `EncryptCardOptions`): only in the builds that have it.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = concat!("\n", include_str!("capture.d.ts"));

#[wasm_bindgen]
extern "C" {
    /// `{ cardNumber, expiryMonth, expiryYear, cvv?, ... }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "CardInput")]
    pub type CardInput;
    /// `{ keyAlias, captureTime? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "EncryptCardOptions")]
    pub type EncryptCardOptions;
}

/// A whole number (a JS number or a string of digits) in `0..=9999`.
fn small_number(v: &JsValue, what: &'static str) -> JsResult<u32> {
    let text = match wasm_input::string_length(v) {
        Some(len) if len <= 4 => wasm_input::string(v, limits::SHORT_TEXT, what).ok(),
        Some(_) => return Err(to_js(Error::InvalidCard(what))),
        None => None,
    };
    let n = match text {
        // At most four ASCII digits: the value by hand (no `str::parse`).
        Some(s) if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
        }
        Some(_) => None,
        None => v
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=9999.0).contains(f))
            .map(|f| f as u32),
    };
    n.ok_or_else(|| to_js(Error::InvalidCard(what)))
}

/// Encrypts a card the cardholder typed, in the browser, so that the
/// merchant's servers only ever hold the result: the `encrypted_card` of the
/// token APIs (`PUT /api/v2/card`) and of the Client POST capture
/// (`POST /v3/clientpost/card`).
///
/// The card becomes one line of JSON (`cardNumber`, `expiryMonth`,
/// `expiryYear`, `cvv`, `cardholderName`, ..., and `captureTime` in RFC 3339
/// UTC), encrypted as a compact JWE: a fresh AES-256-GCM key wrapped with
/// RSA-OAEP-256 under `publicKey`, whose id `options.keyAlias` becomes the
/// JWE `kid`. The server refuses it 15 minutes after capture.
///
/// Throws `INVALID_PAN` (digits, length, Luhn), `INVALID_CARD` (expiry, an
/// expired card, CVV, name), `INVALID_PUBLIC_KEY`, `WEAK_PUBLIC_KEY`,
/// `PRIVATE_JWK`, `INVALID_INPUT`, `INPUT_TOO_LARGE` (a card field over 256
/// characters, a key over 16 KiB).
///
/// @example
/// ```ts
/// const { publicKey: pem, keyId } = await (await fetch('/v2/public-key')).json();
/// const encryptedCard = encryptCard(
///   { cardNumber: '4444 3333 2222 1111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
///   pem, { keyAlias: keyId });
/// ```
#[wasm_bindgen(js_name = encryptCard)]
pub fn encrypt_card_js(
    card: CardInput,
    #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "PublicKeyInput")]
    public_key: JsValue,
    options: EncryptCardOptions,
) -> JsResult<String> {
    const CARD: &str = "the card must be an object { cardNumber, expiryMonth, expiryYear, ... }";
    let _wipe = StackWipe;
    let card = JsValue::from(card);
    let options = JsValue::from(options);
    if !card.is_object() {
        return Err(invalid(CARD));
    }
    let get = |key: &str| opt_field(Some(&card), key, CARD);
    let text = |key: &str, what: &'static str| -> JsResult<Option<Zeroizing<String>>> {
        get(key)?.map(|v| string_arg(&v, what)).transpose()
    };
    let number = text("cardNumber", "card.cardNumber must be a string")?
        .ok_or_else(|| invalid("card.cardNumber is required"))?;
    let month = get("expiryMonth")?
        .ok_or_else(|| invalid("card.expiryMonth is required"))
        .and_then(|v| small_number(&v, "the month must be 1 to 12"))?;
    let year = get("expiryYear")?
        .ok_or_else(|| invalid("card.expiryYear is required"))
        .and_then(|v| small_number(&v, "the year must be YY or YYYY (2000 to 2099)"))?;
    let mut capture = CardCapture::new(&number, month, year).map_err(to_js)?;
    if let Some(cvv) = text("cvv", "card.cvv must be a string")? {
        capture = capture.with_cvv(&cvv).map_err(to_js)?;
    }
    if let Some(name) = text("cardholderName", "card.cardholderName must be a string")? {
        capture = capture.with_cardholder_name(&name).map_err(to_js)?;
    }
    if let Some(seq) = text("sequenceNumber", "card.sequenceNumber must be a string")? {
        capture = capture.with_sequence_number(&seq).map_err(to_js)?;
    }
    match (get("startMonth")?, get("startYear")?) {
        (None, None) => {}
        (Some(m), Some(y)) => {
            let m = small_number(&m, "the month must be 1 to 12")?;
            let y = small_number(&y, "the year must be YY or YYYY (2000 to 2099)")?;
            capture = capture.with_start_date(m, y).map_err(to_js)?;
        }
        _ => return Err(invalid("card.startMonth and card.startYear go together")),
    }
    const OPTS: &str = "options must be { keyAlias: string, captureTime?: Date | number }";
    if !options.is_object() {
        return Err(invalid(OPTS));
    }
    let alias = opt_string(Some(&options), "keyAlias", OPTS)?
        .ok_or_else(|| invalid("options.keyAlias (the server's key id) is required"))?;
    let millis = match opt_field(Some(&options), "captureTime", OPTS)? {
        None => js_sys::Date::now(),
        Some(v) => wasm_input::date_millis(&v)
            .or_else(|| v.as_f64())
            .ok_or_else(|| invalid(OPTS))?,
    };
    if !(0.0..=4_102_444_800_000.0).contains(&millis) {
        return Err(invalid("options.captureTime is out of range"));
    }
    let public_key = read_public_key(&public_key)?;
    capture
        .encrypt(&public_key, &alias, (millis / 1000.0) as u64)
        .map_err(to_js)
}
