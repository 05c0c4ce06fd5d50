//! `PublicKey`: the issuer's RSA key, parsed once.

use paysecure_core::PublicKey;
use wasm_bindgen::prelude::*;

use crate::args::read_public_key;
use crate::error::JsResult;
use crate::session::{session_for, JsSession, SessionOptions};
use crate::stack_wipe::StackWipe;

/// An issuer's RSA public key, read and checked once: parse it when the page
/// loads, then make a session per request with {@link PublicKey.createSession}
/// (what `Session.create(pem)` does, without parsing the PEM every time).
///
/// @example
/// ```ts
/// import { PublicKey } from 'paysecure-wasm';
/// const issuer = PublicKey.parse(pem);   // once
/// const s = issuer.createSession();      // per request: v2, AES-256
/// headers['Session-Id'] = s.sessionId;
/// ```
#[wasm_bindgen(js_name = PublicKey)]
pub struct JsPublicKey {
    inner: PublicKey,
}

#[wasm_bindgen(js_class = PublicKey)]
impl JsPublicKey {
    /// Reads a PEM (SPKI or PKCS#1), bare base64 DER, or an RSA JWK (object
    /// or JSON text). Throws `INVALID_PUBLIC_KEY`, `WEAK_PUBLIC_KEY`
    /// (under 2048 bits), `PRIVATE_JWK` (a JWK with private members),
    /// `INPUT_TOO_LARGE` (over 16 KiB, or a JWK member over 16 KiB).
    pub fn parse(
        #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "PublicKeyInput")]
        public_key: JsValue,
    ) -> JsResult<JsPublicKey> {
        Ok(JsPublicKey {
            inner: read_public_key(&public_key)?,
        })
    }

    /// Modulus size in bits.
    #[wasm_bindgen(getter)]
    pub fn bits(&self) -> u32 {
        self.inner.bits() as u32
    }

    /// A fresh session whose key is wrapped under this key; the options and
    /// errors are those of {@link Session.create}.
    #[wasm_bindgen(js_name = createSession, unchecked_return_type = "SessionWithId")]
    pub fn create_session(&self, options: Option<SessionOptions>) -> JsResult<JsSession> {
        let _wipe = StackWipe;
        session_for(&self.inner, options)
    }
}
