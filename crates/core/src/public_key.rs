//! The issuer's RSA public key and session-key wrapping.
//!
//! Accepted forms, as they reach front-end code in practice:
//! * SPKI PEM (`-----BEGIN PUBLIC KEY-----`), including the single-line form
//!   that the PaySecure document's JavaScript builds by string concatenation;
//! * PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`);
//! * bare base64 of the SPKI DER (what the Java examples pass), or of PKCS#1 DER;
//! * a JWK's `n` and `e` (see [`PublicKey::from_jwk`]).
//!
//! Only public-key operations live here (the arithmetic and padding are in
//! `rsa_encrypt`); private-key operations belong to the issuer's server.

use crate::der;
use crate::encoding;
use crate::error::{Error, Result};
use crate::rsa_encrypt::{self, Modulus};

/// Smallest modulus accepted, in bits.
pub const MIN_BITS: usize = 2048;
/// Largest modulus accepted, in bits.
pub const MAX_BITS: usize = 16384;

/// How a session key is wrapped under RSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// RSAES-OAEP with SHA-1, MGF1-SHA-1 and an empty label (V2, V3): what
    /// Java's `RSA/ECB/OAEPWithSHA-1AndMGF1Padding`, node-forge's
    /// `'RSA-OAEP'` with SHA-1 and WebCrypto's `RSA-OAEP` + `SHA-1` produce.
    OaepSha1,
    /// RSAES-PKCS1-v1_5 (V1): Java's default `"RSA"` cipher.
    Pkcs1v15,
    /// RSAES-OAEP with SHA-256, MGF1-SHA-256 and an empty label: JWE's
    /// `RSA-OAEP-256` (RFC 7518 §4.3), used for captured cards.
    OaepSha256,
}

/// RSA-OAEP-256 is JWE card capture's (the `capture` feature).
#[cfg(not(feature = "capture"))]
const NO_OAEP_SHA256: Error =
    Error::InvalidInput("RSA-OAEP-256 (card capture) is not in this entry point");

/// Largest public exponent accepted (the RustCrypto `rsa` crate's bound).
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// A validated RSA public key of at least 2048 bits.
#[derive(Clone)]
pub struct PublicKey {
    /// Modulus, big-endian without leading zeros.
    n: Vec<u8>,
    e: u64,
    modulus: Modulus,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}

impl Eq for PublicKey {}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey(RSA-{})", self.bits())
    }
}

/// One member of a JWK, as [`PublicKey::from_jwk_members`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkMember {
    /// Not there (JavaScript `undefined`).
    Absent,
    /// A string.
    Text(String),
    /// An array of strings (`key_ops`).
    TextList(Vec<String>),
    /// Anything else: `null`, a number, an object, a mixed array.
    Other,
}

/// JWK members that only a private (or symmetric) key has (RFC 7518 §6.3.2,
/// §6.4.1).
pub const JWK_PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

const PEM_SPKI: &str = "PUBLIC KEY";
const PEM_PKCS1: &str = "RSA PUBLIC KEY";

impl PublicKey {
    /// Reads a key from PEM (SPKI or PKCS#1) or bare base64 DER text.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::InvalidPublicKey("the key is empty"));
        }
        if text.starts_with("-----BEGIN") {
            return Self::from_pem(text);
        }
        if text.starts_with('{') {
            return Err(Error::InvalidPublicKey(
                "JWK text must be parsed as JSON first and passed as an object",
            ));
        }
        let der = encoding::decode(text, "public key")
            .map_err(|_| Error::InvalidPublicKey("not PEM and not base64 DER"))?;
        Self::from_der(&der)
    }

    fn from_pem(text: &str) -> Result<Self> {
        let (label, body) = pem_body(text)?;
        let der = encoding::decode(body, "public key")
            .map_err(|_| Error::InvalidPublicKey("the PEM body is not valid base64"))?;
        match label {
            PEM_SPKI => Self::from_spki_der(&der),
            PEM_PKCS1 => Self::from_pkcs1_der(&der),
            _ => Err(Error::InvalidPublicKey(
                "expected a PUBLIC KEY or RSA PUBLIC KEY PEM block",
            )),
        }
    }

    /// Reads DER: SubjectPublicKeyInfo (rsaEncryption) or PKCS#1 RSAPublicKey.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        match Self::from_spki_der(der) {
            Err(Error::InvalidPublicKey(_)) => Self::from_pkcs1_der(der).map_err(|e| match e {
                Error::InvalidPublicKey(_) => Error::InvalidPublicKey(
                    "the DER is neither an RSA SubjectPublicKeyInfo nor a PKCS#1 key",
                ),
                other => other,
            }),
            other => other,
        }
    }

    fn from_spki_der(der: &[u8]) -> Result<Self> {
        let spki = der::spki(der).ok_or(Error::InvalidPublicKey(
            "the DER is not a SubjectPublicKeyInfo",
        ))?;
        if !spki.rsa {
            return Err(Error::InvalidPublicKey("the key is not an RSA key"));
        }
        let inner = spki.key.ok_or(Error::InvalidPublicKey(
            "malformed subjectPublicKey bit string",
        ))?;
        Self::from_pkcs1_der(inner)
    }

    fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let (n, e) = der::rsa_public_key(der).ok_or(Error::InvalidPublicKey(
            "the DER is not a PKCS#1 RSAPublicKey",
        ))?;
        Self::from_components(n, e)
    }

    /// From a JWK's members (RFC 7518 §6.3.1): `n` and `e` as unpadded base64url.
    pub fn from_jwk(n: &str, e: &str) -> Result<Self> {
        let n = encoding::decode_base64url(n, "n")
            .map_err(|_| Error::InvalidPublicKey("JWK member n is not base64url"))?;
        let e = encoding::decode_base64url(e, "e")
            .map_err(|_| Error::InvalidPublicKey("JWK member e is not base64url"))?;
        Self::from_components(&n, &e)
    }

    /// From a whole JWK (RFC 7517), read through `member`, which returns
    /// each named member as the caller's JSON reader sees it. Refuses, in
    /// this order:
    /// * any private or symmetric member (`d`, `p`, `q`, `dp`, `dq`, `qi`,
    ///   `oth`, `k`): [`Error::PrivateJwk`];
    /// * `kty` other than `"RSA"`, `use` present but not `"enc"`, `key_ops`
    ///   present without `"encrypt"` or `"wrapKey"`, `n` or `e` missing or not
    ///   base64url: [`Error::InvalidPublicKey`];
    ///
    /// then checks the key as [`PublicKey::from_components`] does.
    pub fn from_jwk_members<F>(mut member: F) -> Result<Self>
    where
        F: FnMut(&str) -> Result<JwkMember>,
    {
        for private in JWK_PRIVATE_MEMBERS {
            if !matches!(member(private)?, JwkMember::Absent) {
                return Err(Error::PrivateJwk);
            }
        }
        let text = |m: JwkMember| match m {
            JwkMember::Text(t) => Some(t),
            _ => None,
        };
        if text(member("kty")?).as_deref() != Some("RSA") {
            return Err(Error::InvalidPublicKey("the JWK's kty must be \"RSA\""));
        }
        match member("use")? {
            JwkMember::Absent => {}
            JwkMember::Text(u) if u == "enc" => {}
            _ => {
                return Err(Error::InvalidPublicKey(
                    "the JWK's use must be \"enc\" (an encryption key)",
                ))
            }
        }
        match member("key_ops")? {
            JwkMember::Absent => {}
            JwkMember::TextList(ops) if ops.iter().any(|o| o == "encrypt" || o == "wrapKey") => {}
            _ => {
                return Err(Error::InvalidPublicKey(
                    "the JWK's key_ops must include \"encrypt\" or \"wrapKey\"",
                ))
            }
        }
        match (text(member("n")?), text(member("e")?)) {
            (Some(n), Some(e)) => Self::from_jwk(&n, &e),
            _ => Err(Error::InvalidPublicKey(
                "the JWK needs string members n and e",
            )),
        }
    }

    /// From big-endian modulus and public exponent bytes. Every other
    /// constructor ends here, so the size and sanity checks are in one place.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        const INVALID: Error =
            Error::InvalidPublicKey("the modulus or exponent is not valid for RSA");
        let (n, e) = (strip_leading_zeros(n), strip_leading_zeros(e));
        let bits = bit_length(&n);
        if bits < MIN_BITS {
            return Err(Error::WeakPublicKey { bits });
        }
        if bits > MAX_BITS {
            return Err(Error::InvalidPublicKey(
                "the modulus is larger than 16384 bits",
            ));
        }
        if e.len() > 8 {
            return Err(INVALID);
        }
        let e = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        // e odd, 3 ≤ e ≤ 2^33 − 1 (so e < n too); n odd.
        if e & 1 == 0 || !(3..=MAX_EXPONENT).contains(&e) {
            return Err(INVALID);
        }
        let modulus = Modulus::new(&n).ok_or(INVALID)?;
        Ok(PublicKey { n, e, modulus })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        bit_length(&self.n)
    }

    /// Modulus size in bytes (the length of every ciphertext).
    pub fn size(&self) -> usize {
        self.n.len()
    }

    /// Encrypts `message` (at most `size() - 42` bytes for OAEP-SHA-1,
    /// `size() - 66` for OAEP-SHA-256, `size() - 11` for PKCS#1 v1.5) under
    /// this key with fresh randomness.
    pub fn encrypt(&self, message: &[u8], padding: Padding) -> Result<Vec<u8>> {
        let k = self.size();
        let em = match padding {
            Padding::OaepSha1 => rsa_encrypt::oaep_encode::<crate::sha1_compact::Sha1>(message, k)?,
            #[cfg(feature = "capture")]
            Padding::OaepSha256 => rsa_encrypt::oaep_encode::<sha2::Sha256>(message, k)?,
            #[cfg(not(feature = "capture"))]
            Padding::OaepSha256 => return Err(NO_OAEP_SHA256),
            #[cfg(feature = "v1")]
            Padding::Pkcs1v15 => rsa_encrypt::pkcs1v15_encode(message, k)?,
            #[cfg(not(feature = "v1"))]
            Padding::Pkcs1v15 => return Err(Error::V1NotInEntry),
        };
        Ok(self.modulus.pow_public(&em, self.e, k).to_vec())
    }

    /// The modulus, big-endian without leading zeros (a JWK's `n`).
    pub fn modulus_be(&self) -> Vec<u8> {
        self.n.clone()
    }

    /// The public exponent, big-endian without leading zeros (a JWK's `e`).
    pub fn exponent_be(&self) -> Vec<u8> {
        strip_leading_zeros(&self.e.to_be_bytes())
    }
}

/// Big-endian bytes without their leading zero bytes.
fn strip_leading_zeros(x: &[u8]) -> Vec<u8> {
    x.iter().copied().skip_while(|&b| b == 0).collect()
}

/// Bit length of a big-endian number without leading zero bytes.
fn bit_length(be: &[u8]) -> usize {
    be.first()
        .map_or(0, |&top| be.len() * 8 - top.leading_zeros() as usize)
}

/// Finds the one PEM block and returns (label, base64 body). Tolerates
/// missing line breaks, CRLF and surrounding text.
///
/// Searches bytes, not `str` patterns: `str::find` / `split_once` with a
/// string pattern and `str::split_at` bring the two-way searcher and the
/// panic message of a slice off a character boundary (with `char`'s
/// `Debug` and the Unicode printable tables) into the browser module,
/// about 10 KB of it, for this one function.
fn pem_body(text: &str) -> Result<(&str, &str)> {
    const BAD: Error = Error::InvalidPublicKey("malformed PEM armor");
    let rest = text.strip_prefix("-----BEGIN ").ok_or(BAD)?;
    let (label, rest) = split_once(rest, "-----").ok_or(BAD)?;
    let end_marker_at = find(rest, "-----END ").ok_or(BAD)?;
    let (body, end) = rest.split_at_checked(end_marker_at).ok_or(BAD)?;
    let end_label = end
        .strip_prefix("-----END ")
        .and_then(|e| split_once(e, "-----"))
        .map(|(l, _)| l)
        .ok_or(BAD)?;
    if end_label != label {
        return Err(Error::InvalidPublicKey("PEM BEGIN and END labels differ"));
    }
    if body.contains(':') {
        return Err(Error::InvalidPublicKey(
            "encrypted or annotated PEM is not supported",
        ));
    }
    Ok((label, body))
}

/// The byte offset of the first `needle` (ASCII, not empty) in `haystack`.
fn find(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len().max(1))
        .position(|w| w == needle.as_bytes())
}

/// `str::split_once` for an ASCII separator, without the panicking paths.
fn split_once<'a>(text: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let at = find(text, separator)?;
    Some((text.get(..at)?, text.get(at + separator.len()..)?))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const JWK: &str = include_str!("../../../tests/data/rsa2048-public.jwk.json");

    /// The byte search agrees with `str`'s own, on texts with multi-byte
    /// characters around and inside the separators.
    #[test]
    fn find_and_split_once_agree_with_str() {
        let texts = [
            "",
            "-",
            "----",
            "-----",
            "a-----b",
            "é-----é-----",
            "-----END x-----",
            "ab-----END-----END -----",
            "€€€-----END €€€",
            "-----BEGIN ",
        ];
        for text in texts {
            for sep in ["-----", "-----END ", "-----BEGIN "] {
                assert_eq!(find(text, sep), text.find(sep), "{text:?} {sep:?}");
                assert_eq!(
                    split_once(text, sep),
                    text.split_once(sep),
                    "{text:?} {sep:?}"
                );
            }
        }
    }

    /// `from_jwk_members` over a JSON object, as the fuzz target reads it.
    fn from_json(text: &str) -> Result<PublicKey> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        PublicKey::from_jwk_members(|name| {
            Ok(match v.get(name) {
                None => JwkMember::Absent,
                Some(serde_json::Value::String(s)) => JwkMember::Text(s.clone()),
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map_or(JwkMember::Other, JwkMember::TextList),
                Some(_) => JwkMember::Other,
            })
        })
    }

    fn with(extra: &str) -> String {
        let base = JWK.trim_end().trim_end_matches('}');
        format!("{base}, {extra} }}")
    }

    #[test]
    fn jwk_with_public_members_only_is_accepted() {
        assert_eq!(from_json(JWK).unwrap().bits(), 2048);
        for ok in [
            r#""use": "enc""#,
            r#""key_ops": ["encrypt"]"#,
            r#""key_ops": ["verify", "wrapKey"]"#,
            r#""alg": "RSA-OAEP", "kid": "k1""#,
        ] {
            assert!(from_json(&with(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn jwk_with_private_members_is_refused_with_private_jwk() {
        for member in JWK_PRIVATE_MEMBERS {
            for value in [r#""AQAB""#, "null", "[]", "1"] {
                let text = with(&format!(r#""{member}": {value}"#));
                assert_eq!(from_json(&text), Err(Error::PrivateJwk), "{member}");
            }
        }
        assert_eq!(Error::PrivateJwk.code(), ErrorCode::PrivateJwk);
    }

    #[test]
    fn jwk_use_and_key_ops_are_honoured() {
        for bad in [
            r#""use": "sig""#,
            r#""use": "ENC""#,
            r#""use": null"#,
            r#""use": ["enc"]"#,
            r#""key_ops": ["verify"]"#,
            r#""key_ops": []"#,
            r#""key_ops": "encrypt""#,
            r#""key_ops": ["encrypt", 1]"#,
        ] {
            assert!(
                matches!(from_json(&with(bad)), Err(Error::InvalidPublicKey(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            from_json(r#"{"kty": "EC", "n": "AQAB", "e": "AQAB"}"#),
            Err(Error::InvalidPublicKey(_))
        ));
        assert!(matches!(
            from_json(r#"{"kty": "RSA", "n": 1, "e": "AQAB"}"#),
            Err(Error::InvalidPublicKey(_))
        ));
    }
}
