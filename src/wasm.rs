//! JavaScript bindings: thin adapters over the core.
//!
//! Public so that the `wasm-bindgen-test` suites can drive them from Rust;
//! they only work on `wasm32` (natively, any call into `js_sys` panics).
//!
//! Arguments arrive as `JsValue` and are checked here, so that a wrong type
//! is a `PaySecureError` with code `INVALID_INPUT` rather than a `TypeError`
//! from the glue. Every failure leaves as a JavaScript `Error` whose `name`
//! is `"PaySecureError"` and whose `code` is [`Error::code`].

use js_sys::{JsString, Object, Reflect, Uint8Array};
use secrecy::ExposeSecret;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use zeroize::{Zeroize, Zeroizing};

use crate::capture::CardCapture;
use crate::error::Error;
use crate::limits::{self, Limit};
use crate::wasm_input;
use crate::{
    card, pin_block, pin_policy, EncryptedValue, KeySize, Pin, PinBlockFormat, PublicKey, Session,
    SessionKey, Version,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** PaySecure protocol version: `v1` (RSA PKCS#1 v1.5 + AES-CBC), `v2` and `v3` (RSA-OAEP SHA-1 + AES-GCM). */
export type PaySecureVersion = 'v1' | 'v2' | 'v3';

/** AES session key size in bits. */
export type KeyBits = 128 | 192 | 256;

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /** Protocol version; default `'v2'`. `'v1'` is legacy: see {@link FromKeyOptions.allowLegacyCbc}. */
  version?: PaySecureVersion;
  /** Session key size; default `256`. */
  keyBits?: KeyBits;
  /** See {@link FromKeyOptions.allowLegacyCbc}. */
  allowLegacyCbc?: boolean;
}

/** Options of {@link Session.fromKey}. */
export interface FromKeyOptions {
  /** Protocol version; default `'v2'`. `'v1'` is legacy: see `allowLegacyCbc`. */
  version?: PaySecureVersion;
  /**
   * Allows a `'v1'` session to decrypt (`decrypt`, `decryptBytes`, `decryptPin`); default `false`,
   * and without it they throw `LEGACY_CBC_DISABLED`. V1 values are AES-CBC **without a MAC**:
   * unauthenticated, so anyone on the path can alter them undetected, and wherever an attacker can
   * observe whether a relayed V1 value decrypts, that is a padding oracle that reveals the plaintext.
   * Every V1 decryption failure is therefore the same `DECRYPTION_FAILED` error with the same
   * message. Use V2 or V3 (AES-GCM); enable this only to talk to an issuer that has nothing else.
   * It has no effect on `'v2'`/`'v3'` sessions or on encryption.
   */
  allowLegacyCbc?: boolean;
}

/**
 * An encrypted value as the PaySecure API exchanges it.
 * V2/V3: `data` is base64(ciphertext || 16-byte GCM tag). V1: base64 AES-CBC ciphertext.
 * `iv` is base64 of the 16-byte IV (V1 also accepts the 16-character text form on decryption).
 */
export interface EncryptedValue {
  data: string;
  iv: string;
}

/**
 * An RSA public key as a JSON Web Key (RFC 7517/7518). A JWK with any private or symmetric member
 * (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is refused with `PRIVATE_JWK`; `use`, if present,
 * must be `'enc'` and `key_ops`, if present, must include `'encrypt'` or `'wrapKey'`
 * (else `INVALID_PUBLIC_KEY`).
 */
export interface RsaJwk {
  kty: 'RSA';
  /** Modulus, base64url. */
  n: string;
  /** Public exponent, base64url. */
  e: string;
  alg?: string;
  kid?: string;
  use?: 'enc';
  key_ops?: string[];
}

/**
 * The issuer's RSA public key (at least 2048 bits): SPKI PEM (`-----BEGIN PUBLIC KEY-----`),
 * PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`), bare base64 of the SPKI DER, a JWK object,
 * or the JWK's JSON text.
 */
export type PublicKeyInput = string | RsaJwk;

/** ISO 9564-1 PIN block format. */
export type PinBlockFormat = 0 | 1 | 2 | 3;

/** Options of {@link pinBlock}. */
export interface PinBlockOptions {
  /** ISO 9564-1 format; default `2` (the PaySecure format). */
  format?: PinBlockFormat;
  /** The card number; required for formats 0 and 3. */
  pan?: string;
}

/** Options of {@link parsePinBlock}. */
export interface ParsePinBlockOptions {
  /** The card number; required for formats 0 and 3. */
  pan?: string;
}

/**
 * Why {@link pinWeakness} finds a PIN too easy to guess: one repeated digit (`1111`), a run of
 * consecutive digits up or down (`1234`, `4321`, `8901`), one repeated pair (`1212`), or one of the
 * most common PINs (`2580`, `1004`, ...). The issuer refuses such a PIN with `WEAK_PIN`.
 */
export type PinWeaknessCode = 'REPEATED_DIGIT' | 'SEQUENCE' | 'REPEATED_PAIR' | 'COMMON';

/** Card brands {@link cardBrand} recognises. */
export type CardBrand =
  | 'VISA' | 'MASTERCARD' | 'AMEX' | 'DISCOVER' | 'JCB'
  | 'DINERS' | 'UNIONPAY' | 'MAESTRO' | 'UNKNOWN';

/** The card a cardholder typed, as {@link encryptCard} takes it. */
export interface CardInput {
  /** 12 to 19 digits passing the Luhn check; spaces and hyphens are ignored. */
  cardNumber: string;
  /** 1 to 12. */
  expiryMonth: number | string;
  /** YYYY, or YY meaning 20YY. */
  expiryYear: number | string;
  /** 3 or 4 digits. */
  cvv?: string;
  /** As printed on the card, 1 to 50 characters. */
  cardholderName?: string;
  /** Card sequence number, 1 to 3 digits. */
  sequenceNumber?: string;
  /** "Valid from" month, 1 to 12 (with `startYear`). */
  startMonth?: number | string;
  /** "Valid from" year, YYYY or YY (with `startMonth`). */
  startYear?: number | string;
}

/** Options of {@link encryptCard}. */
export interface EncryptCardOptions {
  /** The id of the server key `publicKey` is (`keyId` of `GET /v2/public-key`): the JWE `kid`. */
  keyAlias: string;
  /** When the card was captured; default now. Sent as `captureTime`; the server refuses it 15 minutes later. */
  captureTime?: Date | number;
}

/**
 * Stable codes of {@link PaySecureError}.
 *
 * Input limits (`INPUT_TOO_LARGE`, checked before anything is copied into WebAssembly memory;
 * text in JavaScript `.length` units, and plaintexts and bodies again in UTF-8 bytes):
 * a public key (PEM, base64 DER, JWK text, each JWK member) 16 KiB, a JWK's `key_ops` 16 entries;
 * a value's `data` 64 KiB and `iv` 256; `encrypt` plaintext 32 KiB (text or bytes);
 * `encryptBody` 1 MiB, `decryptBody` 2 MiB of hex; a session key 256; everything else (PIN, PIN
 * block, PAN, CVV, names, key alias, version, option strings) 256.
 *
 * `RANDOM_UNAVAILABLE` is any failure of the platform CSPRNG, including during RSA padding.
 * `OBJECT_FREED`: a method or getter of a `Session` or `PublicKey` after its `free()`.
 * `LEGACY_CBC_DISABLED`: see {@link FromKeyOptions.allowLegacyCbc}.
 */
export type PaySecureErrorCode =
  | 'INVALID_PUBLIC_KEY' | 'WEAK_PUBLIC_KEY' | 'PRIVATE_JWK' | 'INVALID_KEY_SIZE'
  | 'UNSUPPORTED_VERSION' | 'INVALID_BASE64' | 'INVALID_IV' | 'DECRYPTION_FAILED' | 'INVALID_UTF8'
  | 'INVALID_PIN' | 'INVALID_PIN_BLOCK' | 'INVALID_PAN' | 'INVALID_CARD' | 'INVALID_INPUT'
  | 'INPUT_TOO_LARGE' | 'LEGACY_CBC_DISABLED' | 'OBJECT_FREED'
  | 'RANDOM_UNAVAILABLE' | 'ENCRYPTION_FAILED';

/**
 * What every function and method of this package throws on failure, and nothing else: whatever
 * the arguments (wrong types, oversized, hostile getters or proxies), a call returns or throws
 * a `PaySecureError`. `DECRYPTION_FAILED` is deliberately opaque: a wrong key, a bad tag and bad
 * padding look alike. Test for it with {@link isPaySecureError}.
 *
 * @example
 * try { session.decrypt(value) } catch (e) {
 *   if (isPaySecureError(e)) console.log(e.code)
 * }
 */
export interface PaySecureError extends Error {
  name: 'PaySecureError';
  code: PaySecureErrorCode;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `{ version?, keyBits? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type SessionOptions;
    /// `{ version? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "FromKeyOptions")]
    pub type FromKeyOptions;
    /// `{ format?, pan? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "PinBlockOptions")]
    pub type PinBlockOptions;
    /// `{ pan? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "ParsePinBlockOptions")]
    pub type ParsePinBlockOptions;
    /// `{ cardNumber, expiryMonth, expiryYear, cvv?, ... }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "CardInput")]
    pub type CardInput;
    /// `{ keyAlias, captureTime? }`, see the TypeScript declaration.
    #[wasm_bindgen(typescript_type = "EncryptCardOptions")]
    pub type EncryptCardOptions;
}

// Secrets cross the boundary without a copy left in linear memory:
// * strings come in through `read_text`, which has `TextEncoder.encodeInto`
//   write them straight into a buffer wiped on drop (wasm-bindgen's
//   `as_string` and `&str` arguments leave the glue's copy, or part of it
//   after a reallocation, in freed memory);
// * secrets go out as `JsValue::from_str` of a wiped buffer, which the glue
//   decodes from a view of that buffer (a returned `String` is freed by the
//   glue without being wiped);
// * every exported function that handles one starts with `let _wipe =
//   StackWipe;`, which zeroes the shadow stack its callees used when it
//   returns: the AES, GHASH, SHA and Montgomery code keeps blocks, keys and
//   padded messages in stack temporaries that nothing else wipes.
// tests/js/residue.test.mjs and tests/browser/residue.test.mjs check all of
// it by scanning the memory after every call.

/// Bytes of shadow stack zeroed below an exported function's frame when it
/// returns: the deepest call, a V1 `decrypt`, uses about 3.7 KiB (measured by
/// tests/js/residue.test.mjs, which fails if a call leaves stack unwiped).
const STACK_WIPE_BYTES: usize = 8 * 1024;

/// Zeroes, when dropped, the [`STACK_WIPE_BYTES`] of shadow stack below the
/// frame that holds it. Declared first in an exported function, it is dropped
/// last, after everything the function called has returned.
struct StackWipe;

impl Drop for StackWipe {
    fn drop(&mut self) {
        wipe_stack();
    }
}

/// Its own frame is an array just below the caller's: writing it overwrites
/// whatever the caller's callees left there.
#[inline(never)]
fn wipe_stack() {
    let mut area = [0u64; STACK_WIPE_BYTES / 8];
    area.zeroize(); // volatile writes: not optimised away
}

#[wasm_bindgen]
extern "C" {
    /// `TextEncoder`, to read strings into wiped buffers.
    #[wasm_bindgen(js_name = TextEncoder)]
    type Utf8Encoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Utf8Encoder;
    /// `encodeInto(text, dest)`: UTF-8 of `text` written into `dest`, which
    /// the glue passes as a view of this module's memory.
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &Utf8Encoder, text: &JsString, dest: &mut [u8]) -> EncodeIntoResult;
    /// `{ read, written }`.
    type EncodeIntoResult;
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeIntoResult) -> f64;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> f64;
}

thread_local! {
    static ENCODER: Utf8Encoder = Utf8Encoder::new();
}

/// A JavaScript string's UTF-8 text in a buffer wiped on drop, written there
/// by `TextEncoder.encodeInto` and never reallocated. `None` for anything but
/// a string. Lone surrogates read as U+FFFD, as with `as_string`.
pub(crate) fn read_text(v: &JsValue) -> Option<Zeroizing<String>> {
    let text = v.dyn_ref::<JsString>()?;
    let units = text.length() as usize;
    ENCODER.with(|encoder| {
        // First as if it were ASCII (one byte per UTF-16 unit); otherwise
        // again, from the start, into a fresh buffer sized for the worst case
        // (three bytes per unit) while the first one is wiped.
        let mut buf = Zeroizing::new(vec![0u8; units]);
        let done = encoder.encode_into(text, &mut buf);
        let mut written = done.written() as usize;
        if (done.read() as usize) < units {
            buf = Zeroizing::new(vec![0u8; 3 * units]);
            written = encoder.encode_into(text, &mut buf).written() as usize;
        }
        buf.truncate(written);
        match String::from_utf8(core::mem::take(&mut *buf)) {
            Ok(s) => Some(Zeroizing::new(s)),
            Err(e) => {
                e.into_bytes().zeroize();
                None
            }
        }
    })
}

/// Converts a core error into a `PaySecureError`.
fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("PaySecureError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from_str(e.code()),
    );
    err.into()
}

type JsResult<T> = Result<T, JsValue>;

fn invalid(what: &'static str) -> JsValue {
    to_js(Error::InvalidInput(what))
}

/// Reads `obj[key]` from an optional options object; `undefined` and `null`
/// read as absent.
fn opt_field(obj: Option<&JsValue>, key: &str, what: &'static str) -> JsResult<Option<JsValue>> {
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

fn opt_string(
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
fn string_arg(v: &JsValue, what: &'static str) -> JsResult<Zeroizing<String>> {
    string_arg_max(v, limits::SHORT_TEXT, what)
}

/// [`string_arg`] with another limit.
fn string_arg_max(v: &JsValue, limit: Limit, what: &'static str) -> JsResult<Zeroizing<String>> {
    wasm_input::string(v, limit, what).map_err(to_js)
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
    let field = |k: &str, limit: Limit| {
        let v = Reflect::get(value, &JsValue::from_str(k)).map_err(|_| invalid(WHAT))?;
        string_arg_max(&v, limit, WHAT).map(|s| s.to_string())
    };
    Ok(EncryptedValue {
        data: field("data", limits::ENCRYPTED_DATA)?,
        iv: field("iv", limits::IV)?,
    })
}

fn write_encrypted(v: EncryptedValue) -> JsValue {
    let obj = Object::new();
    let _ = Reflect::set(
        &obj,
        &JsValue::from_str("data"),
        &JsValue::from_str(&v.data),
    );
    let _ = Reflect::set(&obj, &JsValue::from_str("iv"), &JsValue::from_str(&v.iv));
    obj.into()
}

fn read_public_key(input: &JsValue) -> JsResult<PublicKey> {
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

fn session_for(public_key: &PublicKey, options: Option<SessionOptions>) -> JsResult<JsSession> {
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

/// An issuer's RSA public key, read and checked once: parse it when the page
/// loads, then make a session per request with {@link PublicKey.createSession}
/// (what `Session.create(pem)` does, without parsing the PEM every time).
///
/// @example
/// ```ts
/// import { PublicKey } from 'paysecure-wasm';
/// const issuer = PublicKey.parse(pem);   // once
/// const s = issuer.createSession();      // per request: v2, AES-256
/// headers['Session-Id'] = s.sessionId!;
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
    #[wasm_bindgen(js_name = createSession)]
    pub fn create_session(&self, options: Option<SessionOptions>) -> JsResult<JsSession> {
        let _wipe = StackWipe;
        session_for(&self.inner, options)
    }
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
///   headers: { 'Session-Id': s.sessionId!, Authorization: `Bearer ${ephemeralKey}` },
/// });
/// const { pan } = await res.json();
/// console.log(s.decrypt(pan)); // '4111111111111111'
/// s.free();
/// ```
#[wasm_bindgen(js_name = Session)]
pub struct JsSession {
    inner: Session,
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
    /// (see {@link FromKeyOptions.allowLegacyCbc}).
    ///
    /// @example
    /// ```ts
    /// const s = Session.create(pem, { version: 'v2', keyBits: 256 });
    /// headers['Session-Id'] = s.sessionId!;
    /// ```
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
    /// decrypt only with `allowLegacyCbc: true`.
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
            .map(write_encrypted)
            .map_err(to_js)
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
            .map(write_encrypted)
            .map_err(to_js)
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

    /// Encrypts text (a JSON body, a path id) the way seed 003's account API
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
    ///   method: 'POST', headers: { 'Session-Id': s.sessionId!, Authorization: `PLTOKEN ${token}`,
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
        crate::body::seal(self.inner.key(), text.as_bytes(), now).map_err(to_js)
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
        let opened = crate::body::open(self.inner.key(), &hex).map_err(to_js)?;
        let text =
            core::str::from_utf8(&opened.plaintext).map_err(|_| to_js(Error::InvalidUtf8))?;
        Ok(JsValue::from_str(text))
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

/// A whole number (a JS number or a string of digits) in `0..=9999`.
fn small_number(v: &JsValue, what: &'static str) -> JsResult<u32> {
    let text = match wasm_input::string_length(v) {
        Some(len) if len <= 4 => v.as_string(),
        Some(_) => return Err(to_js(Error::InvalidCard(what))),
        None => None,
    };
    let n = match text {
        Some(s) if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u32>().ok()
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

/// Every code a `PaySecureError` can carry: those of [`Error::code`], and
/// `OBJECT_FREED`, which the JavaScript glue throws for a method called
/// after `free()` (see `src/glue_guard.js`).
pub const ERROR_CODES: [&str; 19] = [
    "INVALID_PUBLIC_KEY",
    "WEAK_PUBLIC_KEY",
    "PRIVATE_JWK",
    "INVALID_KEY_SIZE",
    "UNSUPPORTED_VERSION",
    "INVALID_BASE64",
    "INVALID_IV",
    "DECRYPTION_FAILED",
    "INVALID_UTF8",
    "INVALID_PIN",
    "INVALID_PIN_BLOCK",
    "INVALID_PAN",
    "INVALID_CARD",
    "INVALID_INPUT",
    "INPUT_TOO_LARGE",
    "LEGACY_CBC_DISABLED",
    "OBJECT_FREED",
    "RANDOM_UNAVAILABLE",
    "ENCRYPTION_FAILED",
];

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
