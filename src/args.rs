//! Reading optional fields, string arguments and public keys, with
//! `PaySecureError`s.

use js_sys::Reflect;
use paysecure_core::limits::{self, Limit};
use paysecure_core::{Error, PublicKey};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::error::{invalid, to_js, JsResult};
use crate::wasm_input;

/// Reads `obj[key]` from an optional options object; `undefined` and `null`
/// read as absent.
pub(crate) fn opt_field(
    obj: Option<&JsValue>,
    key: &str,
    what: &'static str,
) -> JsResult<Option<JsValue>> {
    let Some(obj) = obj.filter(|o| !o.is_undefined() && !o.is_null()) else {
        return Ok(None);
    };
    if !obj.is_object() {
        return Err(invalid(what));
    }
    let v = Reflect::get(obj, &JsValue::from_str(key)).map_err(|_| invalid(what))?;
    Ok(if v.is_undefined() || v.is_null() {
        None
    } else {
        Some(v)
    })
}

pub(crate) fn opt_string(
    obj: Option<&JsValue>,
    key: &str,
    what: &'static str,
) -> JsResult<Option<Zeroizing<String>>> {
    opt_field(obj, key, what)?
        .map(|v| string_arg(&v, what))
        .transpose()
}

/// A short string argument (a PIN, a PAN, ...: at most
/// [`limits::SHORT_TEXT`], else `INPUT_TOO_LARGE`), its length checked
/// before it is copied; `INVALID_INPUT` for anything but a string.
pub(crate) fn string_arg(v: &JsValue, what: &'static str) -> JsResult<Zeroizing<String>> {
    string_arg_max(v, limits::SHORT_TEXT, what)
}

/// [`string_arg`] with another limit.
pub(crate) fn string_arg_max(
    v: &JsValue,
    limit: Limit,
    what: &'static str,
) -> JsResult<Zeroizing<String>> {
    wasm_input::string(v, limit, what).map_err(to_js)
}

/// A public key argument: PEM or base64 text, JWK text, or a JWK object.
pub(crate) fn read_public_key(input: &JsValue) -> JsResult<PublicKey> {
    const WHAT: &str = "a public key must be a PEM or base64 string, or an RSA JWK";
    let jwk = if input.is_string() {
        let text = string_arg_max(input, limits::PUBLIC_KEY, WHAT)?;
        if !text.trim_start().starts_with('{') {
            return PublicKey::parse(&text).map_err(to_js);
        }
        js_sys::JSON::parse(&text)
            .map_err(|_| to_js(Error::InvalidPublicKey("the JWK text is not valid JSON")))?
    } else if input.is_object() && !wasm_input::is_array(input) {
        input.clone()
    } else {
        return Err(invalid(WHAT));
    };
    if !jwk.is_object() {
        return Err(to_js(Error::InvalidPublicKey("the JWK is not an object")));
    }
    PublicKey::from_jwk_members(|name| {
        wasm_input::jwk_member(&jwk, name, limits::PUBLIC_KEY, limits::JWK_KEY_OPS)
    })
    .map_err(to_js)
}
