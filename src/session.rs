//! `Session`: session keys, session ids and the encrypt/decrypt methods.

use js_sys::{Reflect, Uint8Array};
use paysecure_core::limits::{self, Limit};
use paysecure_core::{
    EncryptedValue, Error, KeySize, Pin, PublicKey, Session, SessionKey, Version,
};
use secrecy::ExposeSecret;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::args::{opt_field, read_public_key, string_arg, string_arg_max};
use crate::error::{invalid, to_js, JsResult};
use crate::stack_wipe::StackWipe;
use crate::wasm_input;

#[wasm_bindgen]
extern "C" {
    /// `{ version?, keyBits? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type SessionOptions;
    /// `{ version? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "FromKeyOptions")]
    pub type FromKeyOptions;
}

/// `options.allowLegacyCbc`: absent or a boolean.
fn read_allow_legacy_cbc(options: Option<&JsValue>) -> JsResult<bool> {
    const WHAT: &str = "options.allowLegacyCbc must be a boolean";
    opt_field(options, "allowLegacyCbc", WHAT)?
        .map_or(Ok(false), |v| v.as_bool().ok_or_else(|| invalid(WHAT)))
}

fn read_version(options: Option<&JsValue>) -> JsResult<Version> {
    match opt_field(
        options,
        "version",
        "options.version must be 'v1', 'v2' or 'v3'",
    )? {
        None => Ok(Version::default()),
        Some(v) => {
            let s = wasm_input::string(&v, limits::SHORT_TEXT, "").map_err(|e| match e {
                Error::InputTooLarge(_) => to_js(e),
                _ => to_js(Error::UnsupportedVersion),
            })?;
            Version::parse(&s).map_err(to_js)
        }
    }
}

fn read_encrypted(value: &JsValue) -> JsResult<EncryptedValue> {
    const WHAT: &str = "expected an object { data, iv } with base64 strings";
    if !value.is_object() {
        return Err(invalid(WHAT));
    }
    let field = |k: &JsValue, limit: Limit| {
        let v = Reflect::get(value, k).map_err(|_| invalid(WHAT))?;
        string_arg_max(&v, limit, WHAT).map(|s| s.to_string())
    };
    // The property names cross into JS once per thread, not twice per call.
    ENCRYPTED_KEYS.with(|(data, iv)| {
        Ok(EncryptedValue {
            data: field(data, limits::ENCRYPTED_DATA)?,
            iv: field(iv, limits::IV)?,
        })
    })
}

thread_local! {
    /// The names "data" and "iv" of an `EncryptedValue`, as JS strings.
    static ENCRYPTED_KEYS: (JsValue, JsValue) =
        (JsValue::from_str("data"), JsValue::from_str("iv"));
}

/// `{ data, iv }` as a plain object, made in one crossing: the JSON text
/// of the two base64 strings (nothing in them needs escaping), parsed by
/// `JSON.parse`, which defines both properties on a fresh object (no setter
/// on `Object.prototype` runs, unlike an assignment). Both values are
/// public: ciphertext and IV.
pub(crate) fn write_encrypted(v: EncryptedValue) -> JsResult<JsValue> {
    let mut json = String::with_capacity(v.data.len() + v.iv.len() + 20);
    json.push_str("{\"data\":\"");
    json.push_str(&v.data);
    json.push_str("\",\"iv\":\"");
    json.push_str(&v.iv);
    json.push_str("\"}");
    // Base64 text in a JSON string literal always parses; were it ever not
    // to, the caller gets an error, never `undefined` in place of a value.
    js_sys::JSON::parse(&json).map_err(|_| to_js(Error::EncryptionFailed))
}

pub(crate) fn session_for(
    public_key: &PublicKey,
    options: Option<SessionOptions>,
) -> JsResult<JsSession> {
    let options = options.map(JsValue::from);
    let version = read_version(options.as_ref())?;
    let size = match opt_field(
        options.as_ref(),
        "keyBits",
        "options.keyBits must be 128, 192 or 256",
    )? {
        None => KeySize::Aes256,
        Some(v) => {
            let bits = v
                .as_f64()
                .filter(|b| b.fract() == 0.0 && (0.0..=1024.0).contains(b))
                .ok_or_else(|| to_js(Error::InvalidKeySize))?;
            KeySize::from_bits(bits as u32).map_err(to_js)?
        }
    };
    let allow_legacy_cbc = read_allow_legacy_cbc(options.as_ref())?;
    let inner = Session::generate(version, size).map_err(to_js)?;
    let session_id = inner.session_id(public_key).map_err(to_js)?;
    Ok(JsSession {
        inner,
        session_id: Some(session_id),
        allow_legacy_cbc,
    })
}

/// A PaySecure session: a fresh AES session key and, when created for an
/// issuer's public key, the session id that carries it.
///
/// Call {@link Session.free} (or use `using`) when done: it wipes the key
/// from WebAssembly memory. Garbage collection frees it too, but later.
///
/// @example
/// ```ts
/// import { Session } from 'paysecure-wasm';
/// const s = Session.create(issuerPublicKeyPem); // v2, AES-256
/// const res = await fetch(`/v2/cards/${token}/pan`, {
///   method: 'POST',
///   headers: { 'Session-Id': s.sessionId, Authorization: `Bearer ${ephemeralKey}` },
/// });
/// const { pan } = await res.json();
/// console.log(s.decrypt(pan)); // '4111111111111111'
/// s.free();
/// ```
#[wasm_bindgen(js_name = Session)]
pub struct JsSession {
    pub(crate) inner: Session,
    session_id: Option<String>,
    /// V1 decryption enabled (`allowLegacyCbc: true`).
    allow_legacy_cbc: bool,
}

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// Makes a fresh session key from the platform CSPRNG
    /// (`crypto.getRandomValues`) and wraps it under the issuer's RSA public
    /// key: OAEP with SHA-1 for `v2`/`v3`, PKCS#1 v1.5 for `v1`.
    ///
    /// Throws `INVALID_PUBLIC_KEY`, `WEAK_PUBLIC_KEY` (under 2048 bits),
    /// `PRIVATE_JWK`, `UNSUPPORTED_VERSION`, `INVALID_KEY_SIZE`,
    /// `INPUT_TOO_LARGE` (a key over 16 KiB), `RANDOM_UNAVAILABLE`.
    /// `'v1'` sessions decrypt only with `allowLegacyCbc: true`
    /// (see {@link FromKeyOptions.allowLegacyCbc}); from the
    /// `paysecure-wasm/reveal` entry point `'v1'` throws `V1_NOT_IN_ENTRY`.
    ///
    /// @example
    /// ```ts
    /// const s = Session.create(pem, { version: 'v2', keyBits: 256 });
    /// headers['Session-Id'] = s.sessionId; // a string: see SessionWithId
    /// ```
    #[wasm_bindgen(unchecked_return_type = "SessionWithId")]
    pub fn create(
        #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "PublicKeyInput")]
        public_key: JsValue,
        options: Option<SessionOptions>,
    ) -> JsResult<JsSession> {
        let _wipe = StackWipe;
        let public_key = read_public_key(&public_key)?;
        session_for(&public_key, options)
    }

    /// A session over a known key (base64 of 16, 24 or 32 bytes), e.g. on
    /// the issuer side or in tests. It has no `sessionId`. `'v1'` sessions
    /// decrypt only with `allowLegacyCbc: true` (and throw `V1_NOT_IN_ENTRY`
    /// from `paysecure-wasm/reveal`).
    ///
    /// @example
    /// ```ts
    /// const s = Session.fromKey('YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=', { version: 'v2' });
    /// ```
    #[wasm_bindgen(js_name = fromKey)]
    pub fn from_key(
        #[wasm_bindgen(js_name = keyBase64, unchecked_param_type = "string")] key_base64: JsValue,
        options: Option<FromKeyOptions>,
    ) -> JsResult<JsSession> {
        let _wipe = StackWipe;
        let options = options.map(JsValue::from);
        let version = read_version(options.as_ref())?;
        let allow_legacy_cbc = read_allow_legacy_cbc(options.as_ref())?;
        let text = string_arg_max(
            &key_base64,
            limits::SESSION_KEY,
            "the key must be a base64 string",
        )?;
        let key = SessionKey::from_base64(&text).map_err(to_js)?;
        Ok(JsSession {
            inner: Session::new(version, key),
            session_id: None,
            allow_legacy_cbc,
        })
    }

    /// The session id (base64) to send in the `Session-Id` header;
    /// `undefined` for sessions made with {@link Session.fromKey}.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> Option<String> {
        self.session_id.clone()
    }

    /// The protocol version: `'v1'`, `'v2'` or `'v3'`.
    #[wasm_bindgen(getter, unchecked_return_type = "PaySecureVersion")]
    pub fn version(&self) -> String {
        self.inner.version().as_str().to_owned()
    }

    /// The session key size in bits: 128, 192 or 256.
    #[wasm_bindgen(getter, js_name = keyBits, unchecked_return_type = "KeyBits")]
    pub fn key_bits(&self) -> u32 {
        self.inner.key().size().bits()
    }

    /// Encrypts text (as UTF-8) or bytes (a `Uint8Array` or an
    /// `ArrayBuffer`) under a fresh random 16-byte IV. Throws
    /// `INPUT_TOO_LARGE` over 32 KiB.
    ///
    /// @example
    /// ```ts
    /// const body = { cvv2: s.encrypt('024') }; // { data, iv }
    /// ```
    #[wasm_bindgen(unchecked_return_type = "EncryptedValue")]
    pub fn encrypt(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] plaintext: JsValue,
    ) -> JsResult<JsValue> {
        let _wipe = StackWipe;
        const WHAT: &str = "plaintext must be a string or a Uint8Array";
        let bytes: Zeroizing<Vec<u8>> = if plaintext.is_string() {
            let mut text = string_arg_max(&plaintext, limits::PLAINTEXT, WHAT)?;
            limits::PLAINTEXT.check(text.len()).map_err(to_js)?;
            Zeroizing::new(core::mem::take(&mut *text).into_bytes())
        } else {
            wasm_input::bytes(&plaintext, limits::PLAINTEXT)
                .map_err(to_js)?
                .ok_or_else(|| invalid(WHAT))?
        };
        self.inner
            .encrypt(&bytes)
            .map_err(to_js)
            .and_then(write_encrypted)
    }

    /// Decrypts a value holding UTF-8 text (a PAN, a CVV2).
    ///
    /// Throws `DECRYPTION_FAILED` for any wrong key, tag, padding or length;
    /// `INVALID_BASE64`, `INVALID_IV`, `INVALID_INPUT` for malformed values,
    /// `INPUT_TOO_LARGE` for a `data` over 64 KiB or an `iv` over 256.
    /// V1: `LEGACY_CBC_DISABLED` without `allowLegacyCbc`, and with it every
    /// failure is `DECRYPTION_FAILED` (V1 is unauthenticated AES-CBC).
    ///
    /// @example
    /// ```ts
    /// const pan = s.decrypt(response.pan); // '4111111111111111'
    /// ```
    #[wasm_bindgen(unchecked_return_type = "string")]
    pub fn decrypt(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EncryptedValue")] value: JsValue,
    ) -> JsResult<JsValue> {
        let _wipe = StackWipe;
        let value = self.read_value(&value)?;
        let text = self.inner.decrypt_string(&value).map_err(to_js)?;
        Ok(JsValue::from_str(text.expose_secret()))
    }

    /// Decrypts a value to bytes; throws as {@link Session.decrypt} does.
    #[wasm_bindgen(js_name = decryptBytes)]
    pub fn decrypt_bytes(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EncryptedValue")] value: JsValue,
    ) -> JsResult<Uint8Array> {
        let _wipe = StackWipe;
        let value = self.read_value(&value)?;
        let bytes = self.inner.decrypt(&value).map_err(to_js)?;
        Ok(Uint8Array::from(bytes.expose_secret()))
    }

    /// Builds the ISO 9564 format-2 PIN block (`'241432FFFFFFFFFF'` for
    /// `'1432'`) and encrypts it. Throws `INVALID_PIN` unless the PIN is
    /// 4 to 12 decimal digits.
    ///
    /// @example
    /// ```ts
    /// await fetch(`/v2/cards/${token}/pin`, { method: 'PUT', headers,
    ///   body: JSON.stringify({ pinBlock: s.encryptPin('1432') }) });
    /// ```
    #[wasm_bindgen(js_name = encryptPin, unchecked_return_type = "EncryptedValue")]
    pub fn encrypt_pin(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] pin: JsValue,
    ) -> JsResult<JsValue> {
        let _wipe = StackWipe;
        let text = string_arg(&pin, "the PIN must be a string of digits")?;
        let pin = Pin::new(&text).map_err(to_js)?;
        self.inner
            .encrypt_pin(&pin)
            .map_err(to_js)
            .and_then(write_encrypted)
    }

    /// Decrypts an encrypted format-2 PIN block and returns the PIN digits;
    /// throws as {@link Session.decrypt} does, and `INVALID_PIN_BLOCK` (V2/V3).
    ///
    /// @example
    /// ```ts
    /// const pin = s.decryptPin(response.pinBlock); // '1432'
    /// ```
    #[wasm_bindgen(js_name = decryptPin, unchecked_return_type = "string")]
    pub fn decrypt_pin(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EncryptedValue")] value: JsValue,
    ) -> JsResult<JsValue> {
        let _wipe = StackWipe;
        let value = self.read_value(&value)?;
        let pin = self.inner.decrypt_pin(&value).map_err(to_js)?;
        Ok(JsValue::from_str(pin.expose()))
    }

    /// The `{ data, iv }` argument of the decrypt methods. V1 (unauthenticated
    /// AES-CBC) needs the session's explicit opt-in, and then every failure,
    /// a malformed argument included, is the one opaque `DECRYPTION_FAILED`.
    fn read_value(&self, value: &JsValue) -> JsResult<EncryptedValue> {
        if self.inner.version().is_authenticated() {
            return read_encrypted(value);
        }
        if !self.allow_legacy_cbc {
            return Err(to_js(Error::LegacyCbcDisabled));
        }
        read_encrypted(value).map_err(|_| to_js(Error::DecryptionFailed))
    }

    /// The raw session key as base64. Explicit on purpose: only for interop
    /// and tests. The returned string cannot be wiped by this package.
    #[wasm_bindgen(js_name = exportKey, unchecked_return_type = "string")]
    pub fn export_key(&self) -> JsValue {
        let _wipe = StackWipe;
        JsValue::from_str(&self.inner.key().to_base64())
    }
}
