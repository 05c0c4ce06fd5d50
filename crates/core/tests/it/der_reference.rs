//! The core's own DER reader for public keys (`PublicKey::from_der` and the
//! PEM forms) against the `spki` and `pkcs1` crates it replaced, run as the
//! core ran them before: same key or the same error for every input, from
//! real keys mutated byte by byte, from SubjectPublicKeyInfo and
//! RSAPublicKey structures generated with every DER corner (long and
//! non-minimal lengths, unknown tags, signed and padded integers, parameters,
//! unused bits, trailing bytes), and from random bytes.

use paysecure_core::{encoding, Error, PublicKey};
use pkcs1::der::Decode;
use proptest::prelude::*;
use spki::SubjectPublicKeyInfoRef;

use crate::common;

/// `PublicKey::from_der` as the core had it, over `spki` and `pkcs1`.
fn reference_spki(der: &[u8]) -> Result<PublicKey, Error> {
    let spki = SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|_| Error::InvalidPublicKey("the DER is not a SubjectPublicKeyInfo"))?;
    if spki.algorithm.oid != pkcs1::ALGORITHM_OID {
        return Err(Error::InvalidPublicKey("the key is not an RSA key"));
    }
    let inner = spki
        .subject_public_key
        .as_bytes()
        .ok_or(Error::InvalidPublicKey(
            "malformed subjectPublicKey bit string",
        ))?;
    reference_pkcs1(inner)
}

fn reference_pkcs1(der: &[u8]) -> Result<PublicKey, Error> {
    let key = pkcs1::RsaPublicKey::from_der(der)
        .map_err(|_| Error::InvalidPublicKey("the DER is not a PKCS#1 RSAPublicKey"))?;
    PublicKey::from_components(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

fn reference(der: &[u8]) -> Result<PublicKey, Error> {
    match reference_spki(der) {
        Err(Error::InvalidPublicKey(_)) => reference_pkcs1(der).map_err(|e| match e {
            Error::InvalidPublicKey(_) => Error::InvalidPublicKey(
                "the DER is neither an RSA SubjectPublicKeyInfo nor a PKCS#1 key",
            ),
            other => other,
        }),
        other => other,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----",
        encoding::encode(der)
    )
}

/// Same outcome for `der` as bare DER, and the same error code through the
/// SPKI and PKCS#1 PEM forms (whose messages name the structure).
fn check(der: &[u8]) -> Result<(), TestCaseError> {
    prop_assert_eq!(PublicKey::from_der(der), reference(der), "{:02x?}", der);
    for (label, reference) in [
        ("PUBLIC KEY", reference_spki(der)),
        ("RSA PUBLIC KEY", reference_pkcs1(der)),
    ] {
        match (PublicKey::parse(&pem(label, der)), reference) {
            (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
            (Err(ours), Err(theirs)) => prop_assert_eq!(ours.code(), theirs.code()),
            (ours, theirs) => prop_assert!(false, "{label}: {ours:?} vs {theirs:?} for {der:02x?}"),
        }
    }
    Ok(())
}

fn real_spki() -> Vec<u8> {
    let v = common::paysecure();
    encoding::decode(&v.rsa.public_spki_der_b64, "der")
        .unwrap()
        .to_vec()
}

fn real_pkcs1() -> Vec<u8> {
    let body: String = common::RSA2048_PKCS1_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    encoding::decode(&body, "der").unwrap().to_vec()
}

/// A length in DER, or in a form DER refuses.
#[derive(Debug, Clone, Copy)]
enum LenForm {
    Minimal,
    /// Long form with `extra` leading zero octets (1 to 4 octets in all).
    Padded(u8),
    /// Long form with one octet for a length below 128.
    LongShort,
    Indefinite,
    /// Off by `delta` from the real length.
    Wrong(i8),
}

fn encode_len(len: usize, form: LenForm) -> Vec<u8> {
    let minimal = |len: usize| -> Vec<u8> {
        if len < 0x80 {
            vec![len as u8]
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .iter()
                .copied()
                .skip_while(|&b| b == 0)
                .collect();
            let mut out = vec![0x80 | bytes.len() as u8];
            out.extend(bytes);
            out
        }
    };
    match form {
        LenForm::Minimal => minimal(len),
        LenForm::Padded(extra) => {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .iter()
                .copied()
                .skip_while(|&b| b == 0)
                .collect();
            let mut body = vec![0u8; usize::from(extra)];
            body.extend(bytes);
            let mut out = vec![0x80 | body.len() as u8];
            out.extend(body);
            out
        }
        LenForm::LongShort => vec![0x81, len as u8],
        LenForm::Indefinite => vec![0x80],
        LenForm::Wrong(delta) => minimal((len as isize + isize::from(delta)).max(0) as usize),
    }
}

fn len_form() -> impl Strategy<Value = LenForm> {
    prop_oneof![
        12 => Just(LenForm::Minimal),
        1 => (1u8..=3).prop_map(LenForm::Padded),
        1 => Just(LenForm::LongShort),
        1 => Just(LenForm::Indefinite),
        1 => (-2i8..=2).prop_map(LenForm::Wrong),
    ]
}

fn tlv(tag: u8, contents: &[u8], form: LenForm) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(encode_len(contents.len(), form));
    out.extend_from_slice(contents);
    out
}

/// An INTEGER's contents: a magnitude, as DER wants it or not.
fn integer(magnitude: &[u8], style: u8) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    match style {
        // DER: a leading zero exactly when the top bit is set; zero is [0].
        0..=5 => {
            if trimmed.is_empty() {
                vec![0]
            } else if trimmed[0] >= 0x80 {
                [&[0u8][..], &trimmed].concat()
            } else {
                trimmed
            }
        }
        6 => trimmed,                            // maybe negative
        7 => [&[0u8, 0][..], &trimmed].concat(), // padded
        8 => Vec::new(),                         // empty
        _ => magnitude.to_vec(),                 // as given
    }
}

prop_compose! {
    fn modulus()(top in 0x80u8..=0xff, mid in prop::collection::vec(any::<u8>(), 255), len in prop_oneof![8 => Just(256usize), 1 => 1usize..300], odd in any::<bool>()) -> Vec<u8> {
        let mut n = [&[top][..], &mid].concat();
        n.resize(len, 0x5a);
        if odd { if let Some(last) = n.last_mut() { *last |= 1; } }
        n
    }
}

fn exponent() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => Just(vec![1, 0, 1]),
        1 => Just(vec![3]),
        1 => prop::collection::vec(any::<u8>(), 0..10),
    ]
}

prop_compose! {
    fn rsa_public_key()(n in modulus(), e in exponent(), ns in 0u8..12, es in 0u8..12, forms in prop::array::uniform3(len_form()), tag in prop_oneof![9 => Just(0x30u8), 1 => any::<u8>()], trailing in prop_oneof![9 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 1..3)]) -> Vec<u8> {
        let body = [tlv(0x02, &integer(&n, ns), forms[0]), tlv(0x02, &integer(&e, es), forms[1]), trailing].concat();
        tlv(tag, &body, forms[2])
    }
}

fn parameters() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => Just(vec![0x05, 0x00]),
        3 => Just(vec![]),
        1 => (any::<u8>(), prop::collection::vec(any::<u8>(), 0..4), len_form()).prop_map(|(t, c, f)| tlv(t, &c, f)),
        1 => Just(vec![0x05, 0x00, 0x05, 0x00]),
        1 => Just(vec![0x30, 0x00]),
    ]
}

fn oid() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => Just(vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]),
        // id-ecPublicKey, a valid OID that is not RSA.
        1 => Just(vec![0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
        // RSASSA-PSS.
        1 => Just(vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a]),
    ]
}

prop_compose! {
    fn spki()(key in rsa_public_key(), alg_oid in oid(), params in parameters(), unused in prop_oneof![8 => Just(0u8), 1 => 0u8..=9], forms in prop::array::uniform4(len_form()), empty_bits in prop::bool::weighted(0.05), trailing in prop_oneof![9 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 1..3)]) -> Vec<u8> {
        let algorithm = tlv(0x30, &[tlv(0x06, &alg_oid, forms[0]), params].concat(), forms[1]);
        let bits = if empty_bits { vec![unused] } else { [&[unused][..], &key].concat() };
        let body = [algorithm, tlv(0x03, &bits, forms[2])].concat();
        [tlv(0x30, &body, forms[3]), trailing].concat()
    }
}

/// A few byte edits of `der`: flips, insertions, deletions, truncation.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    prop::collection::vec((0u8..4, any::<prop::sample::Index>(), any::<u8>()), 1..4).prop_map(
        move |edits| {
            let mut der = base.clone();
            for (kind, at, byte) in edits {
                if der.is_empty() {
                    break;
                }
                // Mostly near the headers, where the structure is.
                let i = if at.index(4) == 0 {
                    at.index(der.len())
                } else {
                    at.index(der.len().min(24))
                };
                match kind {
                    0 => der[i] ^= byte.max(1),
                    1 => der.insert(i, byte),
                    2 => {
                        der.remove(i);
                    }
                    _ => der.truncate(i),
                }
            }
            let _ = len;
            der
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn generated_spki_is_read_as_spki_read_it(der in spki()) {
        check(&der)?;
    }

    #[test]
    fn generated_pkcs1_is_read_as_pkcs1_read_it(der in rsa_public_key()) {
        check(&der)?;
    }

    #[test]
    fn mutated_real_spki_is_read_as_spki_read_it(der in mutated(real_spki())) {
        check(&der)?;
    }

    #[test]
    fn mutated_real_pkcs1_is_read_as_pkcs1_read_it(der in mutated(real_pkcs1())) {
        check(&der)?;
    }

    #[test]
    fn random_bytes_are_read_as_der_read_them(der in prop::collection::vec(any::<u8>(), 0..64)) {
        check(&der)?;
    }
}

#[test]
fn the_real_keys_are_read() {
    for der in [real_spki(), real_pkcs1()] {
        let key = PublicKey::from_der(&der).unwrap();
        assert_eq!(Ok(key.clone()), reference(&der));
        assert_eq!(key.bits(), 2048);
    }
}
