//! Protocol behaviour: error codes for every kind of bad input, public-key
//! forms, and property-based round trips.

use crate::common::{paysecure, EC_P256_PEM, RSA1024_PEM, RSA2048_JWK, RSA2048_PKCS1_PEM};
use paysecure_core::{
    encoding, EncryptedValue, Error, ErrorCode, KeySize, Pin, PinBlockFormat, PublicKey, Session,
    SessionKey, Version,
};
use proptest::prelude::*;
use rsa::pkcs8::EncodePublicKey;
use secrecy::ExposeSecret;

fn session(version: Version) -> Session {
    Session::generate(version, KeySize::Aes256).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
    r.unwrap_err().code()
}

// ---------------------------------------------------------------- keys

#[test]
fn public_key_accepts_every_documented_form() {
    let v = paysecure();
    let spki = PublicKey::parse(&v.rsa.public_spki_pem).unwrap();
    // What the PaySecure document's JavaScript builds: markers glued to the body, no newlines.
    let body: String = v
        .rsa
        .public_spki_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let one_line = format!("-----BEGIN PUBLIC KEY-----{body}-----END PUBLIC KEY-----");
    let crlf = v.rsa.public_spki_pem.replace('\n', "\r\n");
    let jwk: serde_json::Value = serde_json::from_str(RSA2048_JWK).unwrap();
    let forms = [
        PublicKey::parse(&one_line).unwrap(),
        PublicKey::parse(&crlf).unwrap(),
        PublicKey::parse(&format!("  {}\n\n", v.rsa.public_spki_pem)).unwrap(),
        PublicKey::parse(&v.rsa.public_spki_der_b64).unwrap(),
        PublicKey::parse(RSA2048_PKCS1_PEM).unwrap(),
        PublicKey::from_jwk(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap(),
    ];
    for k in forms {
        assert_eq!(k, spki);
        assert_eq!(k.bits(), 2048);
    }
    // Bare base64 of PKCS#1 DER is accepted too.
    let pkcs1_b64: String = RSA2048_PKCS1_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(PublicKey::parse(&pkcs1_b64).unwrap(), spki);
}

#[test]
fn public_key_refusals_have_clear_codes() {
    let v = paysecure();
    assert_eq!(
        PublicKey::parse(RSA1024_PEM).unwrap_err(),
        Error::WeakPublicKey { bits: 1024 }
    );
    assert_eq!(
        code(PublicKey::parse(EC_P256_PEM)),
        ErrorCode::InvalidPublicKey
    );
    let msg = PublicKey::parse(EC_P256_PEM).unwrap_err().to_string();
    assert!(msg.contains("not an RSA key"), "{msg}");
    let mismatched = v
        .rsa
        .public_spki_pem
        .replace("END PUBLIC KEY", "END RSA PUBLIC KEY");
    let private_as_public = v.rsa.private_pkcs8_pem.clone();
    let truncated = &v.rsa.public_spki_der_b64[..200];
    for bad in [
        "",
        "   ",
        "hello",
        "-----BEGIN PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----@@@@-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----",
        "{\"kty\":\"RSA\"}",
        mismatched.as_str(),
        private_as_public.as_str(),
        truncated,
    ] {
        assert_eq!(
            code(PublicKey::parse(bad)),
            ErrorCode::InvalidPublicKey,
            "{bad:?}"
        );
    }
    // JWK members.
    assert_eq!(
        code(PublicKey::from_jwk("!!", "AQAB")),
        ErrorCode::InvalidPublicKey
    );
    assert_eq!(
        code(PublicKey::from_jwk("", "AQAB")),
        ErrorCode::WeakPublicKey
    );
}

#[test]
fn public_key_sanity_checks_on_components() {
    // 2^2047 + 1: odd, 2048 bits (a structural stand-in for a modulus).
    let mut n = vec![0u8; 256];
    n[0] = 0x80;
    n[255] = 0x01;
    let e = [0x01, 0x00, 0x01];
    assert!(PublicKey::from_components(&n, &e).is_ok());
    let mut even = n.clone();
    even[255] = 0x02;
    assert_eq!(
        code(PublicKey::from_components(&even, &e)),
        ErrorCode::InvalidPublicKey
    );
    assert_eq!(
        code(PublicKey::from_components(&n, &[0x01])),
        ErrorCode::InvalidPublicKey
    );
    assert_eq!(
        code(PublicKey::from_components(&n, &[0x02])),
        ErrorCode::InvalidPublicKey
    );
    assert_eq!(
        code(PublicKey::from_components(&n, &n)),
        ErrorCode::InvalidPublicKey
    );
    // One bit short of the floor.
    let mut n2047 = n.clone();
    n2047[0] = 0x40;
    assert_eq!(
        PublicKey::from_components(&n2047, &e).unwrap_err(),
        Error::WeakPublicKey { bits: 2047 }
    );
    // Large keys (beyond the `rsa` crate's default 4096-bit cap) are read,
    // from DER too, and wrap keys.
    let mut big = vec![0u8; 1024];
    big[0] = 0x80;
    big[1023] = 0x01;
    let k = PublicKey::from_components(&big, &e).unwrap();
    assert_eq!(k.bits(), 8192);
    let der = rsa::RsaPublicKey::new_with_max_size(
        rsa::BigUint::from_bytes_be(&k.modulus_be()),
        rsa::BigUint::from_bytes_be(&k.exponent_be()),
        16384,
    )
    .unwrap()
    .to_public_key_der()
    .unwrap();
    let k2 = PublicKey::from_der(der.as_bytes()).unwrap();
    assert_eq!(k2.bits(), 8192);
    let sid = session(Version::V2).session_id(&k2).unwrap();
    assert_eq!(encoding::decode(&sid, "sid").unwrap().len(), 1024);
    let mut huge = vec![0u8; 2049];
    huge[0] = 0x01;
    huge[2048] = 0x01;
    assert_eq!(
        code(PublicKey::from_components(&huge, &e)),
        ErrorCode::InvalidPublicKey
    );
}

#[test]
fn public_key_debug_shows_only_size() {
    let k = PublicKey::parse(&paysecure().rsa.public_spki_pem).unwrap();
    assert_eq!(format!("{k:?}"), "PublicKey(RSA-2048)");
}

// ---------------------------------------------------------------- versions

#[test]
fn versions() {
    assert_eq!(Version::parse("v1").unwrap(), Version::V1);
    assert_eq!(Version::parse("V2").unwrap(), Version::V2);
    assert_eq!(Version::parse("v3").unwrap(), Version::V3);
    for bad in ["", "v4", "2", "v2 ", "version2"] {
        assert_eq!(
            code(Version::parse(bad)),
            ErrorCode::UnsupportedVersion,
            "{bad:?}"
        );
    }
    assert_eq!(Version::default(), Version::V2);
}

// ---------------------------------------------------------------- decrypt errors

fn ev(data: &str, iv: &str) -> EncryptedValue {
    EncryptedValue {
        data: data.into(),
        iv: iv.into(),
    }
}

#[test]
fn decrypt_error_matrix() {
    for version in [Version::V1, Version::V2, Version::V3] {
        let s = session(version);
        let good = s.encrypt(b"4111111111111111").unwrap();
        // V1 is unauthenticated: every failure is the one opaque error.
        let v1_or = |code: ErrorCode| {
            if version == Version::V1 {
                ErrorCode::DecryptionFailed
            } else {
                code
            }
        };
        assert_eq!(
            code(s.decrypt(&ev("***", &good.iv))),
            v1_or(ErrorCode::InvalidBase64),
            "{version:?}"
        );
        assert_eq!(
            code(s.decrypt(&ev(&good.data, "***"))),
            v1_or(ErrorCode::InvalidBase64)
        );
        assert_eq!(
            code(s.decrypt(&ev(&good.data, "AAAA"))),
            v1_or(ErrorCode::InvalidIv),
            "{version:?}"
        );
        assert_eq!(
            code(s.decrypt(&ev(&good.data, &encoding::encode(&[0; 17])))),
            v1_or(ErrorCode::InvalidIv)
        );
        assert_eq!(
            code(s.decrypt(&ev("", &good.iv))),
            ErrorCode::DecryptionFailed,
            "{version:?}"
        );
        assert_eq!(
            code(s.decrypt(&ev("AAAA", &good.iv))),
            ErrorCode::DecryptionFailed,
            "{version:?}"
        );
        // Another key, same IV.
        let other = session(version);
        assert_eq!(
            code(other.decrypt(&good)),
            ErrorCode::DecryptionFailed,
            "{version:?}"
        );
        // Truncation.
        let raw = encoding::decode(&good.data, "d").unwrap();
        let cut = encoding::encode(&raw[..raw.len() - 1]);
        assert_eq!(
            code(s.decrypt(&ev(&cut, &good.iv))),
            ErrorCode::DecryptionFailed
        );
        // The error text is the same for every decryption failure.
        assert_eq!(
            other.decrypt(&good).unwrap_err().to_string(),
            "decryption failed"
        );
    }
}

#[test]
fn every_v1_decrypt_failure_is_one_opaque_error() {
    let s = session(Version::V1);
    let good = s.encrypt(b"1234").unwrap();
    // Failures that are certain, not likely: "1234" fills one block with
    // twelve 0x0c padding bytes, so an IV whose last byte differs
    // by 0x0c (or 0x0c ^ 0x11) makes the last plaintext byte 0x00 (or 0x11),
    // never valid padding. (Flipping a ciphertext bit, or random blocks,
    // left valid padding one time in 256.)
    let iv = encoding::decode(&good.iv, "iv").unwrap().to_vec();
    let ct = encoding::decode(&good.data, "d").unwrap().to_vec();
    let with_last = |iv: &[u8], x: u8| {
        let mut v = iv.to_vec();
        v[15] ^= x;
        v
    };
    let pad_zero_iv = encoding::encode(&with_last(&iv, 0x0c));
    let pad_big_iv = encoding::encode(&with_last(&iv, 0x0c ^ 0x11));
    // Two blocks whose second decrypts to the zero-padded block.
    let two_blocks = encoding::encode(&[with_last(&iv, 0x0c), ct.clone()].concat());
    for value in [
        ev("***", &good.iv),
        ev(&good.data, "***"),
        ev(&good.data, "AAAA"),
        ev(&good.data, &encoding::encode(&[0; 17])),
        ev("", &good.iv),
        ev("AAAA", &good.iv),
        ev(&good.data, &pad_zero_iv),
        ev(&good.data, &pad_big_iv),
        ev(&two_blocks, &good.iv),
    ] {
        for err in [
            s.decrypt(&value).map(|_| ()).unwrap_err(),
            s.decrypt_string(&value).map(|_| ()).unwrap_err(),
            s.decrypt_pin(&value).map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(err, Error::DecryptionFailed, "{value:?}");
            assert_eq!(err.to_string(), "decryption failed");
        }
    }
}

#[test]
fn v1_accepts_the_16_character_text_iv_of_the_v1_docs() {
    let key = SessionKey::from_bytes(&[0x42; 32]).unwrap();
    let text_iv = "Xb6qbV2L6d1F92YU";
    let ct = paysecure_core::cipher::cbc_encrypt(&key, text_iv.as_bytes(), b"024").unwrap();
    let s = Session::new(Version::V1, key);
    let got = s
        .decrypt_string(&ev(&encoding::encode(&ct), text_iv))
        .unwrap();
    assert_eq!(got.expose_secret(), "024");
    // In V2 the same text is base64 of 12 bytes: a valid GCM IV length.
    let key = SessionKey::from_bytes(&[0x42; 32]).unwrap();
    let iv12 = encoding::decode(text_iv, "iv").unwrap();
    assert_eq!(iv12.len(), 12);
    let sealed = paysecure_core::cipher::gcm_encrypt(&key, &iv12, &[], b"024").unwrap();
    let s = Session::new(Version::V2, key);
    assert_eq!(
        s.decrypt_string(&ev(&encoding::encode(&sealed), text_iv))
            .unwrap()
            .expose_secret(),
        "024"
    );
}

#[test]
fn content_errors_are_reported_only_when_authenticated() {
    let key = SessionKey::from_bytes(&[9; 16]).unwrap();
    let iv = [3u8; 16];
    let iv_b64 = encoding::encode(&iv);
    for (plain, want_v2, want_utf8_v2) in [
        (
            &b"not a pin block!"[..],
            Some(ErrorCode::InvalidPinBlock),
            None,
        ),
        (&b"241432FFFFFFFFFF"[..], None, None),
        (
            &b"\xff\xfe"[..],
            Some(ErrorCode::InvalidPinBlock),
            Some(ErrorCode::InvalidUtf8),
        ),
        (
            &b"141234FFFFFFFFFF"[..],
            Some(ErrorCode::InvalidPinBlock),
            None,
        ), // format 1 is not the protocol's
    ] {
        let v2 = Session::new(Version::V2, key.clone());
        let sealed =
            encoding::encode(&paysecure_core::cipher::gcm_encrypt(&key, &iv, &[], plain).unwrap());
        let v1 = Session::new(Version::V1, key.clone());
        let cbc = encoding::encode(&paysecure_core::cipher::cbc_encrypt(&key, &iv, plain).unwrap());
        let Some(want_v2) = want_v2 else {
            assert_eq!(
                v2.decrypt_pin(&ev(&sealed, &iv_b64)).unwrap().expose(),
                "1432"
            );
            assert_eq!(v1.decrypt_pin(&ev(&cbc, &iv_b64)).unwrap().expose(), "1432");
            continue;
        };
        assert_eq!(code(v2.decrypt_pin(&ev(&sealed, &iv_b64))), want_v2);
        assert_eq!(
            code(v1.decrypt_pin(&ev(&cbc, &iv_b64))),
            ErrorCode::DecryptionFailed
        );
        if let Some(want) = want_utf8_v2 {
            assert_eq!(code(v2.decrypt_string(&ev(&sealed, &iv_b64))), want);
            assert_eq!(
                code(v1.decrypt_string(&ev(&cbc, &iv_b64))),
                ErrorCode::DecryptionFailed
            );
        }
    }
}

#[test]
fn encrypt_uses_fresh_16_byte_ivs() {
    for version in [Version::V1, Version::V2] {
        let s = session(version);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let v = s.encrypt(b"123").unwrap();
            assert_eq!(encoding::decode(&v.iv, "iv").unwrap().len(), 16);
            assert!(seen.insert(v.iv), "IV repeated");
        }
    }
}

#[test]
fn wire_sizes() {
    let s2 = session(Version::V2);
    let v = s2.encrypt(b"241432FFFFFFFFFF").unwrap();
    assert_eq!(encoding::decode(&v.data, "d").unwrap().len(), 32); // 16 + tag
    let s1 = session(Version::V1);
    let v = s1.encrypt(b"241432FFFFFFFFFF").unwrap();
    assert_eq!(encoding::decode(&v.data, "d").unwrap().len(), 32); // 16 + full pad block
    let v = s1.encrypt(b"").unwrap();
    assert_eq!(encoding::decode(&v.data, "d").unwrap().len(), 16);
}

// ---------------------------------------------------------------- secrets in Debug

#[test]
fn debug_output_never_shows_secrets() {
    let key = SessionKey::from_bytes(&[0x5a; 32]).unwrap();
    let b64 = key.to_base64().to_string();
    let s = Session::new(Version::V2, key);
    let pin = Pin::new("98765").unwrap();
    let shown = format!("{s:?} {:?} {pin:?} {:#?}", s.key(), s);
    for secret in [b64.as_str(), "5a5a", "90, 90", "98765"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let plain = s.decrypt(&s.encrypt(b"4111111111111111").unwrap()).unwrap();
    let shown = format!("{plain:?}");
    assert!(
        !shown.contains("4111") && !shown.contains("52, 49"),
        "{shown}"
    );
    // Once used, the session also holds its expanded AES-GCM key: redacted too.
    let shown = format!("{s:?} {s:#?}");
    assert!(shown.contains("Gcm16([REDACTED])"), "{shown}");
    for secret in [b64.as_str(), "5a5a", "90, 90"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

// ---------------------------------------------------------------- properties

fn any_version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V1), Just(Version::V2), Just(Version::V3)]
}

fn any_size() -> impl Strategy<Value = KeySize> {
    prop_oneof![
        Just(KeySize::Aes128),
        Just(KeySize::Aes192),
        Just(KeySize::Aes256)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bytes_round_trip(version in any_version(), size in any_size(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = Session::generate(version, size).unwrap();
        let v = s.encrypt(&data).unwrap();
        let got = s.decrypt(&v).unwrap();
        prop_assert_eq!(got.expose_secret(), &data[..]);
        // And through a session rebuilt from the exported key, as a peer would.
        let peer = Session::new(version, SessionKey::from_base64(&s.key().to_base64()).unwrap());
        let got = peer.decrypt(&v).unwrap();
        prop_assert_eq!(got.expose_secret(), &data[..]);
    }

    #[test]
    fn text_round_trip(version in any_version(), size in any_size(), text in "\\PC{0,64}") {
        let s = Session::generate(version, size).unwrap();
        let v = s.encrypt(text.as_bytes()).unwrap();
        let got = s.decrypt_string(&v).unwrap();
        prop_assert_eq!(got.expose_secret(), text.as_str());
    }

    #[test]
    fn pin_round_trip(version in any_version(), size in any_size(), pin in "[0-9]{4,12}") {
        let s = Session::generate(version, size).unwrap();
        let v = s.encrypt_pin(&Pin::new(&pin).unwrap()).unwrap();
        let got = s.decrypt_pin(&v).unwrap();
        prop_assert_eq!(got.expose(), pin.as_str());
    }

    #[test]
    fn pin_block_round_trip_every_format(pin in "[0-9]{4,12}", pan_body in "[0-9]{11,18}", fmt in 0u32..4) {
        let pan = format!("{pan_body}{}", paysecure_core::card::luhn_check_digit(&pan_body).unwrap());
        let format = PinBlockFormat::from_number(fmt).unwrap();
        let p = Pin::new(&pin).unwrap();
        let block = paysecure_core::pin_block::encode(&p, format, Some(&pan)).unwrap();
        prop_assert_eq!(block.len(), 16);
        prop_assert!(block.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
        let (got, f) = paysecure_core::pin_block::decode(&block, Some(&pan)).unwrap();
        prop_assert_eq!(got.expose(), pin.as_str());
        prop_assert_eq!(f, format);
        prop_assert!(paysecure_core::card::luhn_check(&pan));
    }

    #[test]
    fn tampering_any_byte_is_refused(size in any_size(), data in proptest::collection::vec(any::<u8>(), 0..64), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let s = Session::generate(Version::V2, size).unwrap();
        let v = s.encrypt(&data).unwrap();
        let mut raw = encoding::decode(&v.data, "d").unwrap().to_vec();
        let i = pos.index(raw.len());
        raw[i] ^= flip;
        let bad = EncryptedValue { data: encoding::encode(&raw), iv: v.iv.clone() };
        prop_assert_eq!(s.decrypt(&bad).unwrap_err(), Error::DecryptionFailed);
    }

    /// Any modulus and exponent bytes: refused with an error or accepted as
    /// a key that wraps (and the ciphertext has the modulus's length); the
    /// rsa crate agrees on which exponents and moduli are valid RSA keys.
    #[test]
    fn arbitrary_components_never_panic(
        n in prop_oneof![
            proptest::collection::vec(any::<u8>(), 250..300),
            proptest::collection::vec(any::<u8>(), 0..260),
        ],
        e in prop_oneof![
            Just(vec![1u8, 0, 1]),
            Just(vec![3u8]),
            Just(vec![0u8, 0, 1, 0, 1]),
            proptest::collection::vec(any::<u8>(), 0..10),
        ],
        bits in any::<u8>(),
    ) {
        let mut n = n;
        if let Some(first) = n.get_mut(0) {
            *first |= bits & 0x80; // often a full-length modulus
        }
        if let Some(last) = n.last_mut() {
            *last |= bits & 1; // often odd
        }
        match PublicKey::from_components(&n, &e) {
            Ok(k) => {
                prop_assert!(k.bits() >= 2048);
                let sid = session(Version::V2).session_id(&k).unwrap();
                prop_assert_eq!(encoding::decode(&sid, "sid").unwrap().len(), k.size());
                let ours = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                );
                prop_assert!(ours.is_ok(), "accepted a key the rsa crate refuses");
            }
            Err(err) => {
                let expected = matches!(err, Error::InvalidPublicKey(_) | Error::WeakPublicKey { .. });
                prop_assert!(expected, "unexpected error {:?}", err);
            }
        }
    }

    /// Arbitrary input never panics, whatever it is.
    #[test]
    fn garbage_never_panics(data in "\\PC{0,80}", iv in "\\PC{0,40}", block in "\\PC{0,20}", key in "\\PC{0,200}") {
        for version in [Version::V1, Version::V2] {
            let s = session(version);
            let v = EncryptedValue { data: data.clone(), iv: iv.clone() };
            let _ = s.decrypt(&v);
            let _ = s.decrypt_pin(&v);
        }
        let _ = paysecure_core::pin_block::decode(&block, Some(&data));
        let _ = paysecure_core::pin_block::decode(&block, None);
        let _ = PublicKey::parse(&key);
        let _ = SessionKey::from_base64(&key);
        let _ = paysecure_core::card::card_brand(&data);
        let _ = paysecure_core::card::mask_pan(&data);
        let _ = paysecure_core::card::luhn_check(&data);
    }
}
