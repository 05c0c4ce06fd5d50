//! The issuer's RSA public key and session-key wrapping.
//!
//! Accepted forms, as they reach front-end code in practice:
//! * SPKI PEM (`-----BEGIN PUBLIC KEY-----`), including the single-line form
//!   that seed 000's JavaScript builds by string concatenation;
//! * PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`);
//! * bare base64 of the SPKI DER (what the Java examples pass), or of PKCS#1 DER;
//! * a JWK's `n` and `e` (see [`PublicKey::from_jwk`]).
//!
//! Only public-key operations live here: the RustCrypto `rsa` crate's known
//! timing weakness (RUSTSEC-2023-0071, Marvin) concerns private-key
//! operations, which this crate never performs outside its tests.

use rsa::pkcs1::der::Decode;
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Oaep, Pkcs1v15Encrypt, RsaPublicKey};

use crate::encoding;
use crate::error::{Error, Result};

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

/// A validated RSA public key of at least 2048 bits.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: RsaPublicKey,
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey(RSA-{})", self.bits())
    }
}

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
        let spki = SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|_| Error::InvalidPublicKey("the DER is not a SubjectPublicKeyInfo"))?;
        if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
            return Err(Error::InvalidPublicKey("the key is not an RSA key"));
        }
        let inner = spki
            .subject_public_key
            .as_bytes()
            .ok_or(Error::InvalidPublicKey(
                "malformed subjectPublicKey bit string",
            ))?;
        Self::from_pkcs1_der(inner)
    }

    fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let key = rsa::pkcs1::RsaPublicKey::from_der(der)
            .map_err(|_| Error::InvalidPublicKey("the DER is not a PKCS#1 RSAPublicKey"))?;
        Self::from_components(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    /// From a JWK's members (RFC 7518 §6.3.1): `n` and `e` as unpadded base64url.
    pub fn from_jwk(n: &str, e: &str) -> Result<Self> {
        let n = encoding::decode_base64url(n, "n")
            .map_err(|_| Error::InvalidPublicKey("JWK member n is not base64url"))?;
        let e = encoding::decode_base64url(e, "e")
            .map_err(|_| Error::InvalidPublicKey("JWK member e is not base64url"))?;
        Self::from_components(&n, &e)
    }

    /// From big-endian modulus and public exponent bytes. Every other
    /// constructor ends here, so the size and sanity checks are in one place.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let n = BigUint::from_bytes_be(n);
        let e = BigUint::from_bytes_be(e);
        let bits = n.bits();
        if bits < MIN_BITS {
            return Err(Error::WeakPublicKey { bits });
        }
        if bits > MAX_BITS {
            return Err(Error::InvalidPublicKey(
                "the modulus is larger than 16384 bits",
            ));
        }
        let odd = |x: &BigUint| x.bits() > 0 && (x % 2u32) == BigUint::from(1u32);
        if !odd(&n) || !odd(&e) || e < BigUint::from(3u32) || e >= n {
            return Err(Error::InvalidPublicKey(
                "the modulus or exponent is not valid for RSA",
            ));
        }
        // rsa's own checks add an upper bound on e (2^33 - 1).
        let inner = RsaPublicKey::new_with_max_size(n, e, MAX_BITS)
            .map_err(|_| Error::InvalidPublicKey("the modulus or exponent is not valid for RSA"))?;
        Ok(PublicKey { inner })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.inner.n().bits()
    }

    /// Modulus size in bytes (the length of every ciphertext).
    pub fn size(&self) -> usize {
        self.inner.size()
    }

    /// Encrypts `message` (at most `size() - 42` bytes for OAEP-SHA-1,
    /// `size() - 11` for PKCS#1 v1.5) under this key with fresh randomness.
    pub fn encrypt(&self, message: &[u8], padding: Padding) -> Result<Vec<u8>> {
        let mut rng = rand_core::OsRng;
        let out = match padding {
            Padding::OaepSha1 => self
                .inner
                .encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), message),
            Padding::Pkcs1v15 => self.inner.encrypt(&mut rng, Pkcs1v15Encrypt, message),
            Padding::OaepSha256 => {
                self.inner
                    .encrypt(&mut rng, Oaep::new::<sha2::Sha256>(), message)
            }
        };
        out.map_err(|e| match e {
            rsa::Error::MessageTooLong => Error::InvalidInput("message too long for this RSA key"),
            _ => Error::EncryptionFailed,
        })
    }

    /// The modulus, big-endian without leading zeros (a JWK's `n`).
    pub fn modulus_be(&self) -> Vec<u8> {
        self.inner.n().to_bytes_be()
    }

    /// The public exponent, big-endian without leading zeros (a JWK's `e`).
    pub fn exponent_be(&self) -> Vec<u8> {
        self.inner.e().to_bytes_be()
    }

    /// The underlying `rsa` crate key.
    pub fn as_rsa(&self) -> &RsaPublicKey {
        &self.inner
    }
}

/// Finds the one PEM block and returns (label, base64 body). Tolerates
/// missing line breaks, CRLF and surrounding text.
fn pem_body(text: &str) -> Result<(&str, &str)> {
    const BAD: Error = Error::InvalidPublicKey("malformed PEM armor");
    let rest = text.strip_prefix("-----BEGIN ").ok_or(BAD)?;
    let (label, rest) = rest.split_once("-----").ok_or(BAD)?;
    let end_marker_at = rest.find("-----END ").ok_or(BAD)?;
    let (body, end) = rest.split_at(end_marker_at);
    let end_label = end
        .strip_prefix("-----END ")
        .and_then(|e| e.split_once("-----"))
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
