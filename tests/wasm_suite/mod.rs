//! The JavaScript-facing API, driven from Rust inside a real WebAssembly
//! engine (Node's V8 or headless Chromium). Included by `wasm_node.rs` and
//! `wasm_browser.rs`.

use js_sys::{Object, Reflect, Uint8Array, JSON};
use paysecure_wasm::wasm::{
    card_brand_js, encrypt_card_js, luhn_check_js, mask_pan_js, parse_pin_block_js, pin_block_js,
    pin_weakness_js, FromKeyOptions, JsSession, ParsePinBlockOptions, PinBlockOptions,
    SessionOptions,
};
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
    paysecure_wasm::encoding::decode(v, "x").unwrap().len()
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
                opts::<FromKeyOptions>(&[("version", s(version))]),
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
        let key = paysecure_wasm::encoding::encode(&unhex(&c.session_key_hex));
        let iv = paysecure_wasm::encoding::encode(&unhex(&c.iv_hex));
        let v2 = JsSession::from_key(s(&key), None).unwrap();
        let got = v2
            .decrypt_pin(obj(&[("data", s(&c.aes_gcm_ct_tag_b64)), ("iv", s(&iv))]))
            .unwrap();
        assert_eq!(got.as_string().unwrap(), c.pin);
        let v1 =
            JsSession::from_key(s(&key), opts::<FromKeyOptions>(&[("version", s("v1"))])).unwrap();
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
                opts::<FromKeyOptions>(&[("version", s(version))]),
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
    let mut raw = paysecure_wasm::encoding::decode(&data, "d")
        .unwrap()
        .to_vec();
    raw[0] ^= 1;
    let tampered = paysecure_wasm::encoding::encode(&raw);
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
    let parsed = paysecure_wasm::jwe::parse_compact(&jwe).unwrap();
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
    let core_key = paysecure_wasm::SessionKey::from_base64(key).unwrap();
    assert!(paysecure_wasm::body::open(&core_key, &hex).is_ok());
    let mut t = hex.clone().into_bytes();
    t[60] = if t[60] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(t).unwrap();
    assert_eq!(
        code(session.decrypt_body(s(&tampered)).unwrap_err()),
        "DECRYPTION_FAILED"
    );
    assert_eq!(
        code(session.decrypt_body(JsValue::from_f64(1.0)).unwrap_err()),
        "INVALID_INPUT"
    );
}
