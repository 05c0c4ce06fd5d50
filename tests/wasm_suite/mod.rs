//! The JavaScript-facing API, driven from Rust inside a real WebAssembly
//! engine (Node's V8 or headless Chromium). Included by `wasm_node.rs` and
//! `wasm_browser.rs`.

use js_sys::{Object, Reflect, Uint8Array, JSON};
use paysecure_wasm::capture::encrypt_card_js;
use paysecure_wasm::card::{card_brand_js, luhn_check_js, mask_pan_js};
use paysecure_wasm::pin::{
    parse_pin_block_js, pin_block_js, pin_weakness_js, ParsePinBlockOptions, PinBlockOptions,
};
use paysecure_wasm::public_key::JsPublicKey;
use paysecure_wasm::session::{FromKeyOptions, JsSession, SessionOptions};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::common::{paysecure, unhex, RSA1024_PEM, RSA2048_JWK, RSA2048_PKCS1_PEM};

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn opts<T: JsCast>(pairs: &[(&str, JsValue)]) -> Option<T> {
    Some(obj(pairs).unchecked_into())
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &s(k)).unwrap()
}

/// Asserts a thrown value is a `PaySecureError` and returns its code.
fn code(err: JsValue) -> String {
    let e: &js_sys::Error = err.dyn_ref().expect("an Error instance");
    assert_eq!(String::from(e.name()), "PaySecureError");
    assert!(!String::from(e.message()).is_empty());
    get(&err, "code").as_string().expect("a string code")
}

fn pem() -> String {
    paysecure().rsa.public_spki_pem
}

fn b64len(v: &str) -> usize {
    paysecure_core::encoding::decode(v, "x").unwrap().len()
}

#[wasm_bindgen_test]
fn create_accepts_every_public_key_form() {
    let v = paysecure();
    let jwk = JSON::parse(RSA2048_JWK).unwrap();
    let forms = [
        s(&v.rsa.public_spki_pem),
        s(&v.rsa.public_spki_der_b64),
        s(RSA2048_PKCS1_PEM),
        jwk,
        s(RSA2048_JWK),
    ];
    for key in forms {
        let session = JsSession::create(key, None).unwrap();
        assert_eq!(b64len(&session.session_id().unwrap()), 256);
        assert_eq!(session.version(), "v2");
        assert_eq!(session.key_bits(), 256);
    }
}

#[wasm_bindgen_test]
fn create_options() {
    for (version, bits) in [("v1", 128.0), ("v2", 192.0), ("v3", 256.0), ("V2", 128.0)] {
        let o = opts::<SessionOptions>(&[
            ("version", s(version)),
            ("keyBits", JsValue::from_f64(bits)),
        ]);
        let session = JsSession::create(s(&pem()), o).unwrap();
        assert_eq!(session.version(), version.to_lowercase());
        assert_eq!(session.key_bits() as f64, bits);
        assert_eq!(
            b64len(&session.export_key().as_string().unwrap()) as f64 * 8.0,
            bits
        );
    }
    let bad: &[(&[(&str, JsValue)], &str)] = &[
        (&[("version", s("v4"))], "UNSUPPORTED_VERSION"),
        (
            &[("version", JsValue::from_f64(2.0))],
            "UNSUPPORTED_VERSION",
        ),
        (&[("keyBits", JsValue::from_f64(512.0))], "INVALID_KEY_SIZE"),
        (&[("keyBits", JsValue::from_f64(128.5))], "INVALID_KEY_SIZE"),
        (&[("keyBits", s("256"))], "INVALID_KEY_SIZE"),
    ];
    for (pairs, want) in bad {
        let err = JsSession::create(s(&pem()), opts(pairs)).err().unwrap();
        assert_eq!(code(err), *want);
    }
    // Options that are not an object.
    let err = JsSession::create(s(&pem()), Some(JsValue::from_f64(1.0).unchecked_into()))
        .err()
        .unwrap();
    assert_eq!(code(err), "INVALID_INPUT");
    // Explicit undefined members fall back to the defaults.
    let o = opts::<SessionOptions>(&[("version", JsValue::UNDEFINED), ("keyBits", JsValue::NULL)]);
    assert_eq!(JsSession::create(s(&pem()), o).unwrap().key_bits(), 256);
}

#[wasm_bindgen_test]
fn create_refuses_bad_keys_with_codes() {
    assert_eq!(
        code(JsSession::create(s(RSA1024_PEM), None).err().unwrap()),
        "WEAK_PUBLIC_KEY"
    );
    for bad in [
        s(""),
        s("not a key"),
        s("{not json"),
        s("{\"kty\":\"EC\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"),
    ] {
        assert_eq!(
            code(JsSession::create(bad, None).err().unwrap()),
            "INVALID_PUBLIC_KEY"
        );
    }
    let no_n = obj(&[("kty", s("RSA")), ("e", s("AQAB"))]);
    assert_eq!(
        code(JsSession::create(no_n, None).err().unwrap()),
        "INVALID_PUBLIC_KEY"
    );
    for bad in [
        JsValue::from_f64(42.0),
        JsValue::NULL,
        JsValue::UNDEFINED,
        js_sys::Array::new().into(),
    ] {
        assert_eq!(
            code(JsSession::create(bad, None).err().unwrap()),
            "INVALID_INPUT"
        );
    }
}

#[wasm_bindgen_test]
fn fresh_keys_and_session_ids_from_the_platform_rng() {
    let a = JsSession::create(s(&pem()), None).unwrap();
    let b = JsSession::create(s(&pem()), None).unwrap();
    assert_ne!(a.export_key(), b.export_key());
    assert_ne!(a.session_id(), b.session_id());
    let x = a.encrypt(s("1")).unwrap();
    let y = a.encrypt(s("1")).unwrap();
    assert_ne!(get(&x, "iv").as_string(), get(&y, "iv").as_string());
    assert_eq!(b64len(&get(&x, "iv").as_string().unwrap()), 16);
}

#[wasm_bindgen_test]
fn decrypts_the_reference_vectors() {
    let v = paysecure();
    for c in &v.aes_cases {
        for (version, data) in [
            ("v2", &c.aes_gcm_ct_tag_b64),
            ("v3", &c.aes_gcm_ct_tag_b64),
            ("v1", &c.aes_cbc_ct_b64),
        ] {
            let session = JsSession::from_key(
                s(&c.session_key_b64),
                opts::<FromKeyOptions>(&[
                    ("version", s(version)),
                    ("allowLegacyCbc", JsValue::TRUE),
                ]),
            )
            .unwrap();
            assert!(session.session_id().is_none());
            let value = obj(&[("data", s(data)), ("iv", s(&c.iv_b64))]);
            assert_eq!(
                session.decrypt(value.clone()).unwrap().as_string().unwrap(),
                c.plaintext,
                "{} {version}",
                c.id
            );
            let bytes = session.decrypt_bytes(value).unwrap();
            assert_eq!(bytes.to_vec(), c.plaintext.as_bytes());
        }
    }
    for c in &v.pin_blocks {
        let key = paysecure_core::encoding::encode(&unhex(&c.session_key_hex));
        let iv = paysecure_core::encoding::encode(&unhex(&c.iv_hex));
        let v2 = JsSession::from_key(s(&key), None).unwrap();
        let got = v2
            .decrypt_pin(obj(&[("data", s(&c.aes_gcm_ct_tag_b64)), ("iv", s(&iv))]))
            .unwrap();
        assert_eq!(got.as_string().unwrap(), c.pin);
        let v1 = JsSession::from_key(
            s(&key),
            opts::<FromKeyOptions>(&[("version", s("v1")), ("allowLegacyCbc", JsValue::TRUE)]),
        )
        .unwrap();
        let got = v1
            .decrypt_pin(obj(&[("data", s(&c.aes_cbc_ct_b64)), ("iv", s(&iv))]))
            .unwrap();
        assert_eq!(got.as_string().unwrap(), c.pin);
        assert_eq!(pin_block_js(s(&c.pin), None).unwrap(), c.pin_block_ascii);
    }
}

#[wasm_bindgen_test]
fn round_trips_text_bytes_and_pins() {
    for version in ["v1", "v2", "v3"] {
        for bits in [128.0, 192.0, 256.0] {
            let o = opts::<SessionOptions>(&[
                ("version", s(version)),
                ("keyBits", JsValue::from_f64(bits)),
                ("allowLegacyCbc", JsValue::TRUE),
            ]);
            let session = JsSession::create(s(&pem()), o).unwrap();
            let text = "PAN 4111 1111 1111 1111 — ünïcødé ✓";
            let value = session.encrypt(s(text)).unwrap();
            assert_eq!(session.decrypt(value).unwrap().as_string().unwrap(), text);
            let bytes = Uint8Array::from(&[0u8, 1, 2, 255, 254][..]);
            let value = session.encrypt(bytes.into()).unwrap();
            assert_eq!(
                session.decrypt_bytes(value).unwrap().to_vec(),
                vec![0, 1, 2, 255, 254]
            );
            let value = session.encrypt_pin(s("975310")).unwrap();
            assert_eq!(
                session.decrypt_pin(value).unwrap().as_string().unwrap(),
                "975310"
            );
            // A peer holding the exported key reads it.
            let peer = JsSession::from_key(
                s(&session.export_key().as_string().unwrap()),
                opts::<FromKeyOptions>(&[
                    ("version", s(version)),
                    ("allowLegacyCbc", JsValue::TRUE),
                ]),
            )
            .unwrap();
            let value = session.encrypt(s("024")).unwrap();
            assert_eq!(peer.decrypt(value).unwrap().as_string().unwrap(), "024");
        }
    }
}

#[wasm_bindgen_test]
fn every_failure_is_a_pay_secure_error() {
    let session = JsSession::create(s(&pem()), None).unwrap();
    let good = session.encrypt(s("4111111111111111")).unwrap();
    let data = get(&good, "data").as_string().unwrap();
    let iv = get(&good, "iv").as_string().unwrap();
    let mut raw = paysecure_core::encoding::decode(&data, "d")
        .unwrap()
        .to_vec();
    raw[0] ^= 1;
    let tampered = paysecure_core::encoding::encode(&raw);
    let cases: Vec<(JsValue, &str)> = vec![
        (
            obj(&[("data", s(&tampered)), ("iv", s(&iv))]),
            "DECRYPTION_FAILED",
        ),
        (obj(&[("data", s("%%%")), ("iv", s(&iv))]), "INVALID_BASE64"),
        (obj(&[("data", s(&data)), ("iv", s("AAAA"))]), "INVALID_IV"),
        (
            obj(&[("data", JsValue::from_f64(1.0)), ("iv", s(&iv))]),
            "INVALID_INPUT",
        ),
        (obj(&[("data", s(&data))]), "INVALID_INPUT"),
        (JsValue::NULL, "INVALID_INPUT"),
        (s("{\"data\":\"x\"}"), "INVALID_INPUT"),
    ];
    for (value, want) in cases {
        assert_eq!(code(session.decrypt(value.clone()).err().unwrap()), want);
        assert_eq!(
            code(session.decrypt_bytes(value.clone()).err().unwrap()),
            want
        );
        assert_eq!(code(session.decrypt_pin(value).err().unwrap()), want);
    }
    // Another session's key: same opaque error and message.
    let other = JsSession::create(s(&pem()), None).unwrap();
    let err = other.decrypt(good).err().unwrap();
    assert_eq!(
        String::from(err.dyn_ref::<js_sys::Error>().unwrap().message()),
        "decryption failed"
    );
    assert_eq!(code(err), "DECRYPTION_FAILED");

    assert_eq!(
        code(session.encrypt(JsValue::from_f64(5.0)).err().unwrap()),
        "INVALID_INPUT"
    );
    assert_eq!(
        code(session.encrypt(JsValue::NULL).err().unwrap()),
        "INVALID_INPUT"
    );
    assert_eq!(
        code(session.encrypt_pin(s("12a4")).err().unwrap()),
        "INVALID_PIN"
    );
    assert_eq!(
        code(session.encrypt_pin(s("123")).err().unwrap()),
        "INVALID_PIN"
    );
    assert_eq!(
        code(
            session
                .encrypt_pin(JsValue::from_f64(1234.0))
                .err()
                .unwrap()
        ),
        "INVALID_INPUT"
    );
    assert_eq!(
        code(JsSession::from_key(s("AAAA"), None).err().unwrap()),
        "INVALID_KEY_SIZE"
    );
    assert_eq!(
        code(JsSession::from_key(s("!!"), None).err().unwrap()),
        "INVALID_BASE64"
    );
    assert_eq!(
        code(JsSession::from_key(JsValue::NULL, None).err().unwrap()),
        "INVALID_INPUT"
    );
}

#[wasm_bindgen_test]
fn error_messages_never_echo_secrets() {
    let session = JsSession::create(s(&pem()), None).unwrap();
    let key = session.export_key().as_string().unwrap();
    let err = session.encrypt_pin(s("98765x")).err().unwrap();
    let msg = String::from(err.dyn_ref::<js_sys::Error>().unwrap().message());
    assert!(!msg.contains("98765"), "{msg}");
    let err = JsSession::from_key(s(&format!("{key}A")), None)
        .err()
        .unwrap();
    let msg = String::from(err.dyn_ref::<js_sys::Error>().unwrap().message());
    assert!(!msg.contains(&key[..8]), "{msg}");
    let err = mask_pan_js(s("4111111111111111111111")).err().unwrap();
    let msg = String::from(err.dyn_ref::<js_sys::Error>().unwrap().message());
    assert!(!msg.contains("4111"), "{msg}");
}

#[wasm_bindgen_test]
fn pin_blocks_and_card_helpers() {
    assert_eq!(pin_block_js(s("1432"), None).unwrap(), "241432FFFFFFFFFF");
    let iso0 = opts::<PinBlockOptions>(&[
        ("format", JsValue::from_f64(0.0)),
        ("pan", s("43219876543210987")),
    ]);
    assert_eq!(pin_block_js(s("1234"), iso0).unwrap(), "0412AC89ABCDEF67");
    let with_pan = opts::<ParsePinBlockOptions>(&[("pan", s("43219876543210987"))]);
    assert_eq!(
        parse_pin_block_js(s("0412AC89ABCDEF67"), with_pan).unwrap(),
        "1234"
    );
    assert_eq!(
        parse_pin_block_js(s("2C123456789012FF"), None).unwrap(),
        "123456789012"
    );
    for fmt in [1.0, 3.0] {
        let o = opts::<PinBlockOptions>(&[
            ("format", JsValue::from_f64(fmt)),
            ("pan", s("4111111111111111")),
        ]);
        let block = pin_block_js(s("8642"), o).unwrap().as_string().unwrap();
        let o = opts::<ParsePinBlockOptions>(&[("pan", s("4111111111111111"))]);
        assert_eq!(parse_pin_block_js(s(&block), o).unwrap(), "8642");
    }
    let f4 = opts::<PinBlockOptions>(&[("format", JsValue::from_f64(4.0))]);
    assert_eq!(
        code(pin_block_js(s("1234"), f4).err().unwrap()),
        "INVALID_INPUT"
    );
    let f0 = opts::<PinBlockOptions>(&[("format", JsValue::from_f64(0.0))]);
    assert_eq!(
        code(pin_block_js(s("1234"), f0).err().unwrap()),
        "INVALID_PAN"
    );
    assert_eq!(
        code(
            parse_pin_block_js(s("241432FFFFFFFFF"), None)
                .err()
                .unwrap()
        ),
        "INVALID_PIN_BLOCK"
    );
    assert_eq!(
        code(parse_pin_block_js(JsValue::TRUE, None).err().unwrap()),
        "INVALID_INPUT"
    );

    assert!(luhn_check_js(s("4111 1111 1111 1111")));
    assert!(!luhn_check_js(s("4111111111111112")));
    assert!(!luhn_check_js(JsValue::from_f64(4111111111111111.0)));
    assert_eq!(card_brand_js(s("2221000000000009")).unwrap(), "MASTERCARD");
    assert_eq!(card_brand_js(s("378282246310005")).unwrap(), "AMEX");
    assert_eq!(card_brand_js(s("9")).unwrap(), "UNKNOWN");
    assert_eq!(code(card_brand_js(s("abc")).err().unwrap()), "INVALID_PAN");
    assert_eq!(
        mask_pan_js(s("4444333322221111")).unwrap(),
        "444433******1111"
    );
    assert_eq!(code(mask_pan_js(s("1234")).err().unwrap()), "INVALID_PAN");
    assert_eq!(
        code(mask_pan_js(JsValue::UNDEFINED).err().unwrap()),
        "INVALID_INPUT"
    );
}

#[wasm_bindgen_test]
fn pin_weakness_codes_or_null() {
    for (pin, want) in [
        ("1111", "REPEATED_DIGIT"),
        ("1234", "SEQUENCE"),
        ("4321", "SEQUENCE"),
        ("1212", "REPEATED_PAIR"),
        ("2580", "COMMON"),
    ] {
        assert_eq!(
            pin_weakness_js(s(pin)).unwrap().as_string().unwrap(),
            want,
            "{pin}"
        );
    }
    assert!(pin_weakness_js(s("1432")).unwrap().is_null());
    assert_eq!(
        code(pin_weakness_js(s("123")).err().unwrap()),
        "INVALID_PIN"
    );
    assert_eq!(
        code(pin_weakness_js(JsValue::from_f64(1234.0)).err().unwrap()),
        "INVALID_INPUT"
    );
}

#[wasm_bindgen_test]
fn encrypt_card_makes_a_jwe_for_the_key_alias() {
    let card = || {
        obj(&[
            ("cardNumber", s("4444 3333 2222 1111")),
            ("expiryMonth", JsValue::from_f64(12.0)),
            ("expiryYear", s("2031")),
            ("cvv", s("123")),
        ])
        .unchecked_into()
    };
    let options = |pairs: &[(&str, JsValue)]| obj(pairs).unchecked_into();
    let at = js_sys::Date::new(&s("2026-11-18T11:06:40Z"));
    let jwe = encrypt_card_js(
        card(),
        s(&pem()),
        options(&[("keyAlias", s("rsa-1")), ("captureTime", at.into())]),
    )
    .unwrap();
    let parsed = paysecure_core::jwe::parse_compact(&jwe).unwrap();
    assert_eq!(
        parsed.header(),
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"rsa-1"}"#
    );
    assert_eq!(parsed.encrypted_key().len(), 256);
    // Fresh content key and IV each time (the platform RNG works here).
    let again = encrypt_card_js(card(), s(&pem()), options(&[("keyAlias", s("rsa-1"))])).unwrap();
    assert_ne!(jwe, again);
    // Refusals, each a PaySecureError with its code.
    let bad_luhn = obj(&[
        ("cardNumber", s("4444333322221112")),
        ("expiryMonth", JsValue::from_f64(12.0)),
        ("expiryYear", JsValue::from_f64(2031.0)),
    ]);
    assert_eq!(
        code(
            encrypt_card_js(
                bad_luhn.unchecked_into(),
                s(&pem()),
                options(&[("keyAlias", s("k"))])
            )
            .unwrap_err()
        ),
        "INVALID_PAN"
    );
    let expired = obj(&[
        ("cardNumber", s("4444333322221111")),
        ("expiryMonth", JsValue::from_f64(1.0)),
        ("expiryYear", JsValue::from_f64(2020.0)),
    ]);
    assert_eq!(
        code(
            encrypt_card_js(
                expired.unchecked_into(),
                s(&pem()),
                options(&[("keyAlias", s("k"))])
            )
            .unwrap_err()
        ),
        "INVALID_CARD"
    );
    assert_eq!(
        code(encrypt_card_js(card(), s(&pem()), options(&[])).unwrap_err()),
        "INVALID_INPUT"
    );
    assert_eq!(
        code(
            encrypt_card_js(card(), s(RSA1024_PEM), options(&[("keyAlias", s("k"))])).unwrap_err()
        ),
        "WEAK_PUBLIC_KEY"
    );
    assert_eq!(
        code(
            encrypt_card_js(
                JsValue::from_f64(1.0).unchecked_into(),
                s(&pem()),
                options(&[("keyAlias", s("k"))])
            )
            .unwrap_err()
        ),
        "INVALID_INPUT"
    );
}

#[wasm_bindgen_test]
fn encrypted_bodies_round_trip_and_refuse_tampering() {
    let key = "YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=";
    let session = JsSession::from_key(s(key), None).unwrap();
    let hex = session.encrypt_body(s(r#"{"data":{"uuid":"x"}}"#)).unwrap();
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    // The nonce: the platform clock's UTC time, then 12 hex digits.
    let nonce = unhex(&hex[..52]);
    let year = js_sys::Date::new_0().get_utc_full_year().to_string();
    assert!(nonce.starts_with(year.as_bytes()));
    assert_eq!(
        session.decrypt_body(s(&hex)).unwrap(),
        r#"{"data":{"uuid":"x"}}"#
    );
    // The core opens it with the same key (and sees the same time).
    let core_key = paysecure_core::SessionKey::from_base64(key).unwrap();
    assert!(paysecure_core::body::open(&core_key, &hex).is_ok());
    let mut t = hex.clone().into_bytes();
    t[60] = if t[60] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(t).unwrap();
    assert_eq!(
        code(session.decrypt_body(s(&tampered)).err().unwrap()),
        "DECRYPTION_FAILED"
    );
    assert_eq!(
        code(session.decrypt_body(JsValue::from_f64(1.0)).err().unwrap()),
        "INVALID_INPUT"
    );
}

fn v1_session(allow: Option<JsValue>) -> JsSession {
    let mut o = vec![("version", s("v1"))];
    if let Some(a) = allow {
        o.push(("allowLegacyCbc", a));
    }
    JsSession::from_key(
        s("YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q="),
        opts::<FromKeyOptions>(&o),
    )
    .unwrap()
}

#[wasm_bindgen_test]
fn v1_decryption_needs_the_explicit_opt_in() {
    for allow in [None, Some(JsValue::FALSE)] {
        let v1 = v1_session(allow);
        // Encrypting (a PIN to the issuer) needs no opt-in ...
        let value = v1.encrypt_pin(s("1432")).unwrap();
        // ... decrypting does, whatever the argument.
        for arg in [value.clone(), JsValue::NULL, s("x")] {
            assert_eq!(
                code(v1.decrypt(arg.clone()).err().unwrap()),
                "LEGACY_CBC_DISABLED"
            );
            assert_eq!(
                code(v1.decrypt_bytes(arg.clone()).err().unwrap()),
                "LEGACY_CBC_DISABLED"
            );
            assert_eq!(
                code(v1.decrypt_pin(arg).err().unwrap()),
                "LEGACY_CBC_DISABLED"
            );
        }
        let opted = v1_session(Some(JsValue::TRUE));
        assert_eq!(
            opted.decrypt_pin(value).unwrap().as_string().unwrap(),
            "1432"
        );
    }
    // The same through Session.create and PublicKey.createSession.
    let o = opts::<SessionOptions>(&[("version", s("v1"))]);
    let v1 = JsSession::create(s(&pem()), o).unwrap();
    let value = v1.encrypt(s("1")).unwrap();
    assert_eq!(
        code(v1.decrypt(value.clone()).err().unwrap()),
        "LEGACY_CBC_DISABLED"
    );
    let key = JsPublicKey::parse(s(&pem())).unwrap();
    let o = opts::<SessionOptions>(&[("version", s("v1")), ("allowLegacyCbc", JsValue::TRUE)]);
    let v1 = key.create_session(o).unwrap();
    let value = v1.encrypt(s("1")).unwrap();
    assert_eq!(v1.decrypt(value).unwrap().as_string().unwrap(), "1");
    // V2 ignores the option; a non-boolean is refused.
    let o = opts::<SessionOptions>(&[("allowLegacyCbc", JsValue::TRUE)]);
    let v2 = JsSession::create(s(&pem()), o).unwrap();
    assert_eq!(
        v2.decrypt(v2.encrypt(s("2")).unwrap())
            .unwrap()
            .as_string()
            .unwrap(),
        "2"
    );
    let o = opts::<FromKeyOptions>(&[("version", s("v1")), ("allowLegacyCbc", s("yes"))]);
    assert_eq!(
        code(
            JsSession::from_key(s("YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q="), o)
                .err()
                .unwrap()
        ),
        "INVALID_INPUT"
    );
}

/// The error's message.
fn message(err: &JsValue) -> String {
    String::from(err.dyn_ref::<js_sys::Error>().unwrap().message())
}

#[wasm_bindgen_test]
fn every_v1_failure_is_one_opaque_error() {
    let v1 = v1_session(Some(JsValue::TRUE));
    let good = v1.encrypt(s("4111111111111111")).unwrap();
    let data = get(&good, "data").as_string().unwrap();
    let iv = get(&good, "iv").as_string().unwrap();
    let mut raw = paysecure_core::encoding::decode(&data, "d")
        .unwrap()
        .to_vec();
    let last = raw.len() - 17;
    raw[last] ^= 1; // breaks the padding
    let bad_padding = paysecure_core::encoding::encode(&raw);
    let cases = [
        obj(&[("data", s(&bad_padding)), ("iv", s(&iv))]),
        obj(&[("data", s("%%%")), ("iv", s(&iv))]),
        obj(&[("data", s(&data)), ("iv", s("AAAA"))]),
        obj(&[("data", s("AAAA")), ("iv", s(&iv))]),
        obj(&[("data", JsValue::from_f64(1.0)), ("iv", s(&iv))]),
        obj(&[("data", s(&data))]),
        obj(&[("data", s(&"A".repeat(70_000))), ("iv", s(&iv))]),
        JsValue::NULL,
        s("{}"),
    ];
    for value in cases {
        for err in [
            v1.decrypt(value.clone()).err().unwrap(),
            v1.decrypt_bytes(value.clone())
                .map(JsValue::from)
                .err()
                .unwrap(),
            v1.decrypt_pin(value).err().unwrap(),
        ] {
            assert_eq!(message(&err), "decryption failed");
            assert_eq!(code(err), "DECRYPTION_FAILED");
        }
    }
}

#[wasm_bindgen_test]
fn oversized_arguments_are_input_too_large() {
    let session = JsSession::create(s(&pem()), None).unwrap();
    let good = session.encrypt(s("1")).unwrap();
    let iv = get(&good, "iv").as_string().unwrap();
    let long = |n: usize| s(&"A".repeat(n));
    let too_large = |r: Result<JsValue, JsValue>| code(r.err().unwrap());
    let value = obj(&[("data", long(64 * 1024 + 1)), ("iv", s(&iv))]);
    assert_eq!(too_large(session.decrypt(value)), "INPUT_TOO_LARGE");
    let value = obj(&[("data", get(&good, "data")), ("iv", long(257))]);
    assert_eq!(too_large(session.decrypt(value)), "INPUT_TOO_LARGE");
    assert_eq!(
        too_large(session.encrypt(long(32 * 1024 + 1))),
        "INPUT_TOO_LARGE"
    );
    // 32 Ki code units, but more than 32 KiB of UTF-8.
    assert_eq!(
        too_large(session.encrypt(s(&"é".repeat(20_000)))),
        "INPUT_TOO_LARGE"
    );
    let bytes = Uint8Array::new_with_length(32 * 1024 + 1);
    assert_eq!(too_large(session.encrypt(bytes.into())), "INPUT_TOO_LARGE");
    let buffer = js_sys::ArrayBuffer::new(32 * 1024 + 1);
    assert_eq!(too_large(session.encrypt(buffer.into())), "INPUT_TOO_LARGE");
    assert!(session
        .encrypt(Uint8Array::new_with_length(32 * 1024).into())
        .is_ok());
    assert_eq!(too_large(session.encrypt_pin(long(257))), "INPUT_TOO_LARGE");
    assert_eq!(
        code(session.encrypt_body(long(1024 * 1024 + 1)).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    assert_eq!(
        code(
            session
                .decrypt_body(long(2 * (26 + 1024 * 1024 + 16) + 1))
                .err()
                .unwrap()
        ),
        "INPUT_TOO_LARGE"
    );
    assert_eq!(
        code(JsSession::create(long(16 * 1024 + 1), None).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    let jwk = JSON::parse(RSA2048_JWK).unwrap();
    Reflect::set(&jwk, &s("n"), &long(16 * 1024 + 1)).unwrap();
    assert_eq!(
        code(JsPublicKey::parse(jwk).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    assert_eq!(
        code(JsSession::from_key(long(257), None).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    let o = opts::<SessionOptions>(&[("version", long(257))]);
    assert_eq!(
        code(JsSession::create(s(&pem()), o).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    for r in [
        pin_block_js(long(257), None).err(),
        parse_pin_block_js(long(257), None).err(),
        card_brand_js(long(257)).err(),
        mask_pan_js(long(257)).err(),
    ] {
        assert_eq!(code(r.unwrap()), "INPUT_TOO_LARGE");
    }
    assert_eq!(
        code(pin_weakness_js(long(257)).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    let pan = opts::<PinBlockOptions>(&[("format", JsValue::from_f64(0.0)), ("pan", long(257))]);
    assert_eq!(
        code(pin_block_js(s("1234"), pan).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
    assert!(!luhn_check_js(s(&format!(
        "{}{}",
        "0".repeat(300),
        "4111111111111111"
    ))));
    let card = obj(&[
        ("cardNumber", s("4444333322221111")),
        ("expiryMonth", s(&"1".repeat(300))),
        ("expiryYear", s("2031")),
        ("cardholderName", long(257)),
    ]);
    let options = obj(&[("keyAlias", s("k"))]);
    assert_eq!(
        code(
            encrypt_card_js(card.unchecked_into(), s(&pem()), options.unchecked_into())
                .err()
                .unwrap()
        ),
        "INVALID_CARD"
    );
    let card = obj(&[
        ("cardNumber", s("4444333322221111")),
        ("expiryMonth", s("12")),
        ("expiryYear", s("2031")),
        ("cardholderName", long(257)),
    ]);
    let options = obj(&[("keyAlias", s("k"))]);
    assert_eq!(
        code(
            encrypt_card_js(card.unchecked_into(), s(&pem()), options.unchecked_into())
                .err()
                .unwrap()
        ),
        "INPUT_TOO_LARGE"
    );
}

#[wasm_bindgen_test]
fn jwk_private_members_use_and_key_ops() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let jwk = JSON::parse(RSA2048_JWK).unwrap();
        Reflect::set(&jwk, &s(member), &s("AQAB")).unwrap();
        assert_eq!(
            code(JsPublicKey::parse(jwk.clone()).err().unwrap()),
            "PRIVATE_JWK"
        );
        let text = JSON::stringify(&jwk).unwrap().as_string().unwrap();
        assert_eq!(
            code(JsSession::create(s(&text), None).err().unwrap()),
            "PRIVATE_JWK"
        );
    }
    let with = |k: &str, v: JsValue| {
        let jwk = JSON::parse(RSA2048_JWK).unwrap();
        Reflect::set(&jwk, &s(k), &v).unwrap();
        JsPublicKey::parse(jwk)
    };
    assert!(with("use", s("enc")).is_ok());
    assert_eq!(
        code(with("use", s("sig")).err().unwrap()),
        "INVALID_PUBLIC_KEY"
    );
    let ops = |xs: &[&str]| JsValue::from(xs.iter().map(|x| s(x)).collect::<js_sys::Array>());
    assert!(with("key_ops", ops(&["wrapKey"])).is_ok());
    assert!(with("key_ops", ops(&["encrypt", "verify"])).is_ok());
    assert_eq!(
        code(with("key_ops", ops(&["verify"])).err().unwrap()),
        "INVALID_PUBLIC_KEY"
    );
    assert_eq!(
        code(with("key_ops", s("encrypt")).err().unwrap()),
        "INVALID_PUBLIC_KEY"
    );
    let many: Vec<&str> = vec!["encrypt"; 17];
    assert_eq!(
        code(with("key_ops", ops(&many)).err().unwrap()),
        "INPUT_TOO_LARGE"
    );
}

/// `new Proxy({}, handler)` whose every trap throws.
fn hostile_proxy() -> JsValue {
    let thrower = js_sys::Function::new_no_args("throw new TypeError('trap')");
    let handler = Object::new();
    for trap in [
        "get",
        "has",
        "getPrototypeOf",
        "ownKeys",
        "getOwnPropertyDescriptor",
    ] {
        Reflect::set(&handler, &s(trap), &thrower).unwrap();
    }
    js_sys::Proxy::new(&Object::new(), &handler).into()
}

/// `{ get [key]() { throw } }`.
fn throwing_getter(key: &str) -> JsValue {
    let o = Object::new();
    let desc = Object::new();
    Reflect::set(&desc, &s("get"), &js_sys::Function::new_no_args("throw 1")).unwrap();
    Object::define_property(&o, &s(key), &desc);
    o.into()
}

#[wasm_bindgen_test]
fn hostile_arguments_throw_only_pay_secure_errors() {
    let session = JsSession::create(s(&pem()), None).unwrap();
    let key = JsPublicKey::parse(s(&pem())).unwrap();
    let fake_u8 =
        Object::create(&Reflect::get_prototype_of(&Uint8Array::new_with_length(1)).unwrap());
    let fake_date = Object::create(&Reflect::get_prototype_of(&js_sys::Date::new_0()).unwrap());
    let hostile = [
        hostile_proxy(),
        throwing_getter("data"),
        throwing_getter("version"),
        throwing_getter("kty"),
        throwing_getter("cardNumber"),
        fake_u8.into(),
    ];
    for h in hostile {
        let h = || h.clone();
        let results: Vec<Result<JsValue, JsValue>> = vec![
            session.encrypt(h()),
            session.decrypt(h()),
            session.decrypt_bytes(h()).map(JsValue::from),
            session.decrypt_pin(h()),
            session.encrypt_pin(h()),
            session.encrypt_body(h()).map(JsValue::from),
            session.decrypt_body(h()),
            JsSession::create(h(), None).map(JsValue::from),
            JsSession::create(s(&pem()), Some(h().unchecked_into())).map(JsValue::from),
            JsSession::from_key(h(), None).map(JsValue::from),
            key.create_session(Some(h().unchecked_into()))
                .map(JsValue::from),
            JsPublicKey::parse(h()).map(JsValue::from),
            pin_block_js(h(), None),
            pin_block_js(s("1234"), Some(h().unchecked_into())),
            parse_pin_block_js(s("241432FFFFFFFFFF"), Some(h().unchecked_into())),
            encrypt_card_js(h().unchecked_into(), s(&pem()), obj(&[]).unchecked_into())
                .map(JsValue::from),
            pin_weakness_js(h()),
            card_brand_js(h()).map(JsValue::from),
            mask_pan_js(h()).map(JsValue::from),
        ];
        for r in results {
            if let Err(e) = r {
                code(e);
            }
        }
        assert!(!luhn_check_js(h()));
    }
    // A captureTime that only pretends to be a Date.
    let card = obj(&[
        ("cardNumber", s("4444333322221111")),
        ("expiryMonth", s("12")),
        ("expiryYear", s("2031")),
    ]);
    let options = obj(&[("keyAlias", s("k")), ("captureTime", fake_date.into())]);
    assert_eq!(
        code(
            encrypt_card_js(card.unchecked_into(), s(&pem()), options.unchecked_into())
                .err()
                .unwrap()
        ),
        "INVALID_INPUT"
    );
    // The session still works.
    let v = session.encrypt(s("ok")).unwrap();
    assert_eq!(session.decrypt(v).unwrap().as_string().unwrap(), "ok");
}
