//! `Session.encryptBody` and `Session.decryptBody`: the account API's
//! encrypted bodies (the `body` feature; not in `paysecure-wasm/reveal`).

use paysecure_core::limits;
use paysecure_core::Error;
use wasm_bindgen::prelude::*;

use crate::args::string_arg_max;
use crate::error::{to_js, JsResult};
use crate::session::JsSession;
use crate::stack_wipe::StackWipe;

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// Encrypts text (a JSON body, a path id) the way the Account APIs document's account API
    /// carries everything: lowercase hex of `nonce || ciphertext || tag`,
    /// AES-GCM under the session key with a 26-byte nonce made of the UTC
    /// time (`yyyyMMddHHmmss`) and 12 random hex digits. The server refuses
    /// it after 5 minutes, and a second time. Throws `INPUT_TOO_LARGE` over
    /// 1 MiB.
    ///
    /// @example
    /// ```ts
    /// const s = Session.create(pem);
    /// const res = await fetch(`/account/${s.encryptBody(uuid)}/paymentinfo`, {
    ///   method: 'POST', headers: { 'Session-Id': s.sessionId, Authorization: `PLTOKEN ${token}`,
    ///     'Content-Type': 'application/x-www-form-urlencoded' },
    ///   body: new URLSearchParams({ data: s.encryptBody(JSON.stringify(paymentInfo)) }) });
    /// const { data } = JSON.parse(s.decryptBody(await res.text()));
    /// ```
    #[wasm_bindgen(js_name = encryptBody)]
    pub fn encrypt_body(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    ) -> JsResult<String> {
        let _wipe = StackWipe;
        let text = string_arg_max(&text, limits::BODY, "the body must be a string")?;
        limits::BODY.check(text.len()).map_err(to_js)?;
        let now = (js_sys::Date::now() / 1000.0) as u64;
        paysecure_core::body::seal(self.inner.key(), text.as_bytes(), now).map_err(to_js)
    }

    /// Decrypts a body made by {@link Session.encryptBody} (or by the
    /// server) to its text. Throws `DECRYPTION_FAILED` for anything that is
    /// not such a body under this session's key, `INPUT_TOO_LARGE` over
    /// 2 MiB of hex.
    #[wasm_bindgen(js_name = decryptBody, unchecked_return_type = "string")]
    pub fn decrypt_body(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] hex: JsValue,
    ) -> JsResult<JsValue> {
        let _wipe = StackWipe;
        let hex = string_arg_max(&hex, limits::BODY_HEX, "the body must be a hex string")?;
        let opened = paysecure_core::body::open(self.inner.key(), &hex).map_err(to_js)?;
        let text =
            core::str::from_utf8(&opened.plaintext).map_err(|_| to_js(Error::InvalidUtf8))?;
        Ok(JsValue::from_str(text))
    }
}
