//! Known-answer tests against published and reference vectors:
//! * `tests/data/paysecure-v1-v2.json`: PaySecure reference vectors computed
//!   with OpenSSL and cross-checked against node-forge, WebCrypto and Java JCE;
//! * `tests/data/aes_gcm_ext_iv.json`: Google Wycheproof AES-GCM cases with
//!   128-bit IVs (see tests/data/README.md for provenance).

use crate::common::{paysecure, unhex, wycheproof};
use paysecure_core::cipher::{cbc_decrypt, cbc_encrypt, gcm_decrypt, gcm_encrypt};
use paysecure_core::encoding;
use paysecure_core::{
    EncryptedValue, Error, ErrorCode, Padding, Pin, PinBlockFormat, PublicKey, Session, SessionKey,
    Version,
};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, Pkcs1v15Encrypt, RsaPrivateKey};
use secrecy::ExposeSecret;

fn key(hex: &str) -> SessionKey {
    SessionKey::from_bytes(&unhex(hex)).unwrap()
}

#[test]
fn paysecure_aes_gcm_known_answers() {
    let v = paysecure();
    assert_eq!(v.aes_cases.len(), 8);
    for c in &v.aes_cases {
        let k = key(&c.session_key_hex);
        assert_eq!(&*k.to_base64(), &c.session_key_b64, "{}", c.id);
        let iv = unhex(&c.iv_hex);
        let out = gcm_encrypt(&k, &iv, &[], c.plaintext.as_bytes()).unwrap();
        assert_eq!(encoding::encode(&out), c.aes_gcm_ct_tag_b64, "{}", c.id);
        assert_eq!(
            hex::encode(&out[out.len() - 16..]),
            c.aes_gcm_tag_hex,
            "{}",
            c.id
        );

        // Through the protocol layer, exactly as a response arrives.
        for version in [Version::V2, Version::V3] {
            let s = Session::new(version, k.clone());
            let value = EncryptedValue {
                data: c.aes_gcm_ct_tag_b64.clone(),
                iv: c.iv_b64.clone(),
            };
            assert_eq!(
                s.decrypt_string(&value).unwrap().expose_secret(),
                c.plaintext,
                "{}",
                c.id
            );
        }
    }
}

#[test]
fn paysecure_aes_cbc_known_answers() {
    let v = paysecure();
    for c in &v.aes_cases {
        let k = key(&c.session_key_hex);
        let iv = unhex(&c.iv_hex);
        let out = cbc_encrypt(&k, &iv, c.plaintext.as_bytes()).unwrap();
        assert_eq!(encoding::encode(&out), c.aes_cbc_ct_b64, "{}", c.id);
        let s = Session::new(Version::V1, k);
        let value = EncryptedValue {
            data: c.aes_cbc_ct_b64.clone(),
            iv: c.iv_b64.clone(),
        };
        assert_eq!(
            s.decrypt_string(&value).unwrap().expose_secret(),
            c.plaintext,
            "{}",
            c.id
        );
    }
}

#[test]
fn paysecure_pin_blocks_every_length() {
    let v = paysecure();
    let lengths: Vec<usize> = v.pin_blocks.iter().map(|c| c.pin.len()).collect();
    assert_eq!(lengths, (4..=12).collect::<Vec<_>>());
    for c in &v.pin_blocks {
        let pin = Pin::new(&c.pin).unwrap();
        let block = paysecure_core::pin_block::encode(&pin, PinBlockFormat::Iso2, None).unwrap();
        assert_eq!(&*block, &c.pin_block_ascii);
        let k = key(&c.session_key_hex);
        let iv = unhex(&c.iv_hex);
        assert_eq!(
            encoding::encode(&gcm_encrypt(&k, &iv, &[], block.as_bytes()).unwrap()),
            c.aes_gcm_ct_tag_b64
        );
        assert_eq!(
            encoding::encode(&cbc_encrypt(&k, &iv, block.as_bytes()).unwrap()),
            c.aes_cbc_ct_b64
        );

        let iv_b64 = encoding::encode(&iv);
        let v2 = Session::new(Version::V2, k.clone());
        let got = v2
            .decrypt_pin(&EncryptedValue {
                data: c.aes_gcm_ct_tag_b64.clone(),
                iv: iv_b64.clone(),
            })
            .unwrap();
        assert_eq!(got.expose(), c.pin);
        let v1 = Session::new(Version::V1, k);
        let got = v1
            .decrypt_pin(&EncryptedValue {
                data: c.aes_cbc_ct_b64.clone(),
                iv: iv_b64,
            })
            .unwrap();
        assert_eq!(got.expose(), c.pin);
    }
}

/// The session ids were made by node-forge, WebCrypto and Java JCE. Decrypting
/// them (test-only private-key use) and reading the key text with our parser
/// proves we read exactly what those clients send.
#[test]
fn session_ids_from_forge_webcrypto_and_java_carry_base64_text() {
    let v = paysecure();
    let private = RsaPrivateKey::from_pkcs8_pem(&v.rsa.private_pkcs8_pem).unwrap();
    let mut producers = std::collections::BTreeSet::new();
    for c in &v.session_ids {
        let ct = encoding::decode(&c.session_id_b64, "sid").unwrap();
        assert_eq!(ct.len(), 256, "{}", c.id);
        let plain = match c.scheme.as_str() {
            "RSA-OAEP-SHA1-MGF1SHA1" => private.decrypt(Oaep::new::<sha1::Sha1>(), &ct),
            "RSAES-PKCS1-v1_5" => private.decrypt(Pkcs1v15Encrypt, &ct),
            other => panic!("unknown scheme {other}"),
        }
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&plain).unwrap(),
            c.session_key_b64,
            "{}",
            c.id
        );
        let k = SessionKey::from_session_id_plaintext(&plain).unwrap();
        assert_eq!(hex::encode(k.expose_bytes()), c.session_key_hex, "{}", c.id);
        producers.insert(c.produced_by.split(' ').next().unwrap().to_owned());
    }
    assert_eq!(v.session_ids.len(), 10);
    assert!(producers.len() >= 3, "{producers:?}");
}

/// Our session ids decrypt, under both paddings, to the base64 text of the key.
#[test]
fn our_session_ids_decrypt_with_the_private_key() {
    let v = paysecure();
    let private = RsaPrivateKey::from_pkcs8_pem(&v.rsa.private_pkcs8_pem).unwrap();
    let public = PublicKey::parse(&v.rsa.public_spki_pem).unwrap();
    assert_eq!(public.bits(), v.rsa.bits);
    for version in [Version::V1, Version::V2, Version::V3] {
        for size in paysecure_core::KeySize::ALL {
            let s = Session::generate(version, size).unwrap();
            let sid = s.session_id(&public).unwrap();
            let ct = encoding::decode(&sid, "sid").unwrap();
            let plain = match version.padding() {
                Padding::OaepSha1 => private.decrypt(Oaep::new::<sha1::Sha1>(), &ct),
                Padding::Pkcs1v15 => private.decrypt(Pkcs1v15Encrypt, &ct),
                other => panic!("no protocol version uses {other:?}"),
            }
            .unwrap();
            assert_eq!(plain, s.key().to_base64().as_bytes());
            // The other padding never recovers the key. (It may "succeed" on
            // garbage: a random block unpads as PKCS#1 v1.5 about 1 in 2^16.)
            let other = match version.padding() {
                Padding::OaepSha1 => private.decrypt(Pkcs1v15Encrypt, &ct),
                _ => private.decrypt(Oaep::new::<sha1::Sha1>(), &ct),
            };
            assert!(other.map_or(true, |p| p != s.key().to_base64().as_bytes()));
            // Randomized: the same key never wraps to the same id twice.
            assert_ne!(sid, s.session_id(&public).unwrap());
        }
    }
}

#[test]
fn wycheproof_gcm_known_answers() {
    let v = wycheproof();
    let mut by_iv = std::collections::BTreeMap::<usize, usize>::new();
    for c in &v.cases {
        assert_eq!(c.result, "valid", "{}", c.id);
        let k = key(&c.key_hex);
        let (iv, aad, pt) = (unhex(&c.iv_hex), unhex(&c.aad_hex), unhex(&c.pt_hex));
        let mut expected = unhex(&c.ct_hex);
        expected.extend(unhex(&c.tag_hex));
        assert_eq!(
            gcm_encrypt(&k, &iv, &aad, &pt).unwrap(),
            expected,
            "{}",
            c.id
        );
        assert_eq!(
            &gcm_decrypt(&k, &iv, &aad, &expected).unwrap()[..],
            &pt[..],
            "{}",
            c.id
        );
        *by_iv.entry(iv.len()).or_default() += 1;
    }
    assert_eq!(by_iv.get(&16), Some(&58));
    assert_eq!(by_iv.get(&12), Some(&9));
}

/// Tamper tests derived from every Wycheproof case: flipping any single bit
/// of the ciphertext, the tag, the IV or the AAD must be refused, opaquely.
#[test]
fn wycheproof_gcm_tampering_is_detected() {
    let v = wycheproof();
    let mut checked = 0;
    for c in &v.cases {
        let k = key(&c.key_hex);
        let (iv, aad) = (unhex(&c.iv_hex), unhex(&c.aad_hex));
        let mut sealed = unhex(&c.ct_hex);
        sealed.extend(unhex(&c.tag_hex));
        for bit in 0..sealed.len() * 8 {
            let mut t = sealed.clone();
            t[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                gcm_decrypt(&k, &iv, &aad, &t).unwrap_err(),
                Error::DecryptionFailed,
                "{} bit {bit}",
                c.id
            );
            checked += 1;
        }
        for bit in 0..iv.len() * 8 {
            let mut t = iv.clone();
            t[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                gcm_decrypt(&k, &t, &aad, &sealed).unwrap_err(),
                Error::DecryptionFailed,
                "{}",
                c.id
            );
            checked += 1;
        }
        if let Some(first) = aad.first() {
            let mut t = aad.clone();
            t[0] = first ^ 0x80;
            assert_eq!(
                gcm_decrypt(&k, &iv, &t, &sealed).unwrap_err(),
                Error::DecryptionFailed,
                "{}",
                c.id
            );
        }
        // Truncated tag and missing tag.
        assert_eq!(
            gcm_decrypt(&k, &iv, &aad, &sealed[..sealed.len() - 1]).unwrap_err(),
            Error::DecryptionFailed
        );
        assert_eq!(
            gcm_decrypt(&k, &iv, &aad, &sealed[..sealed.len() - 16]).unwrap_err(),
            Error::DecryptionFailed
        );
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn cbc_wrong_padding_and_lengths_are_opaque() {
    let v = paysecure();
    let c = &v.aes_cases[0];
    let k = key(&c.session_key_hex);
    let iv = unhex(&c.iv_hex);
    let ct = encoding::decode(&c.aes_cbc_ct_b64, "ct").unwrap();
    // Flipping the last byte of the second-to-last block breaks the padding.
    let mut bad = ct.to_vec();
    let n = bad.len();
    bad[n - 17] ^= 0x01;
    assert_eq!(
        cbc_decrypt(&k, &iv, &bad).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        cbc_decrypt(&k, &iv, &ct[..n - 1]).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        cbc_decrypt(&k, &iv, &[]).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        cbc_decrypt(&k, &iv[..12], &ct).unwrap_err().code(),
        ErrorCode::InvalidIv
    );
}
