//! Wallet provisioning cryptography (issue #17): the Apple Pay in-app
//! provisioning `ECC_V2` scheme and the MDES push-provisioning payloads.
//!
//! - [`validate_apple_chain`]: the certificate chain `PKAddPaymentPassViewController`
//!   hands the issuer app (leaf, sub-CA, optionally the root), checked
//!   against the tenant's configured Apple roots: ECDSA signatures (P-256 or
//!   P-384 issuer keys, SHA-256 or SHA-384), validity periods, CA flags, key
//!   usage, unknown critical extensions, and the leaf's Apple Pay issuer
//!   encryption marker (OID 1.2.840.113635.100.6.39). Returns the leaf's
//!   P-256 public key.
//! - [`encrypt_pass_data`]: ECDH P-256 between a fresh ephemeral key and the
//!   leaf key, the NIST SP 800-56A single-step KDF with SHA-256
//!   ([`concat_kdf_sha256`], `OtherInfo` = [`apple_other_info`]), AES-256-GCM
//!   with a zero 12-byte IV (safe: the key is new for every message).
//! - [`fle_encrypt`]: Mastercard's field-level encryption, the form MDES
//!   uses (`encryptedData`, `encryptedKey`, `iv`, `publicKeyFingerprint`,
//!   `oaepHashingAlgorithm`; hex): a fresh AES-128 key, AES-CBC/PKCS#7 with a
//!   random IV, the key wrapped with RSA-OAEP SHA-512 (MGF1 SHA-512).
//! - [`TavSigner`]: the Tokenization Authentication Value's signature
//!   (ECDSA P-256 or RSA PKCS#1 v1.5, SHA-256) under the tenant's TAV key.
//!
//! `docs/protocol.md` ("Wallet provisioning") says what the public material
//! specifies and what was chosen where it is silent.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{self, KeyPair};
use aws_lc_rs::{aead, agreement, cipher, digest, rand, rsa};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::util::codec::hex_lower;

/// The Apple Pay issuer encryption marker extension of the leaf certificate
/// (Apple's open-source `SecPolicyCreateApplePayIssuerEncryption`).
pub const APPLE_PAY_ISSUER_ENCRYPTION_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113635.100.6.39");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// The KDF's algorithm id: its length (13) then `id-aes256-GCM`.
const KDF_ALGORITHM_ID: &[u8] = b"\x0did-aes256-GCM";
/// The KDF's `PartyUInfo`.
const KDF_PARTY_U: &[u8] = b"Apple";

/// Most certificates accepted in a chain (leaf, sub-CA, root).
pub const MAX_CHAIN_LEN: usize = 3;
/// Largest certificate accepted (Apple's are under 1 KiB).
pub const MAX_CERTIFICATE_LEN: usize = 4096;

/// Why a wallet operation failed. The chain variants are the client's
/// (answered with their own codes); `Internal` is ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// Not a chain of DER certificates of the expected shape.
    #[error("malformed certificate chain: {0}")]
    Malformed(&'static str),
    /// A signature does not verify, or the chain does not end at a
    /// configured root.
    #[error("the certificate chain does not lead to a configured root")]
    Untrusted,
    /// A certificate of the chain is outside its validity period.
    #[error("a certificate of the chain is expired or not yet valid")]
    Expired,
    /// The chain verifies but breaks a rule of the scheme (CA flags, key
    /// usage, marker extension, key type, unknown critical extension).
    #[error("the certificate chain breaks the Apple Pay issuer encryption policy: {0}")]
    Policy(&'static str),
    /// A configured key or certificate is unusable.
    #[error("invalid wallet configuration: {0}")]
    Config(&'static str),
    /// A cryptographic primitive failed (randomness, a bug).
    #[error("internal wallet cryptography failure: {0}")]
    Internal(&'static str),
}

type Result<T, E = WalletError> = std::result::Result<T, E>;

// ------------------------------------------------------------------ X.509

/// Parses one certificate, strictly: DER that re-encodes to the same bytes.
fn parse_certificate(der: &[u8]) -> Result<Certificate> {
    if der.is_empty() || der.len() > MAX_CERTIFICATE_LEN {
        return Err(WalletError::Malformed(
            "a certificate is empty or too large",
        ));
    }
    let cert = Certificate::from_der(der)
        .map_err(|_| WalletError::Malformed("a certificate is not DER X.509"))?;
    let again = cert
        .to_der()
        .map_err(|_| WalletError::Malformed("a certificate is not DER X.509"))?;
    if again != der {
        return Err(WalletError::Malformed(
            "a certificate is not in canonical DER",
        ));
    }
    if cert.tbs_certificate.signature != cert.signature_algorithm {
        return Err(WalletError::Malformed(
            "a certificate's two signature algorithms differ",
        ));
    }
    Ok(cert)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// The curve of an EC public key, and the point.
fn ec_key(cert: &Certificate) -> Option<(Curve, &[u8])> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != EC_PUBLIC_KEY {
        return None;
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())?;
    let curve = if curve == SECP256R1 {
        Curve::P256
    } else if curve == SECP384R1 {
        Curve::P384
    } else {
        return None;
    };
    Some((curve, spki.subject_public_key.as_bytes()?))
}

fn name_der(name: &x509_cert::name::Name) -> Result<Vec<u8>> {
    name.to_der()
        .map_err(|_| WalletError::Malformed("a certificate name does not encode"))
}

/// `Ok` if `issuer`'s name is `cert`'s issuer and `issuer`'s key verifies
/// `cert`'s signature.
fn verify_issued_by(cert: &Certificate, issuer: &Certificate) -> Result<()> {
    if name_der(&cert.tbs_certificate.issuer)? != name_der(&issuer.tbs_certificate.subject)? {
        return Err(WalletError::Untrusted);
    }
    let (curve, point) = ec_key(issuer).ok_or(WalletError::Untrusted)?;
    let oid = cert.signature_algorithm.oid;
    let algorithm: &'static dyn signature::VerificationAlgorithm = match curve {
        Curve::P256 if oid == ECDSA_WITH_SHA256 => &signature::ECDSA_P256_SHA256_ASN1,
        Curve::P256 if oid == ECDSA_WITH_SHA384 => &signature::ECDSA_P256_SHA384_ASN1,
        Curve::P384 if oid == ECDSA_WITH_SHA256 => &signature::ECDSA_P384_SHA256_ASN1,
        Curve::P384 if oid == ECDSA_WITH_SHA384 => &signature::ECDSA_P384_SHA384_ASN1,
        _ => return Err(WalletError::Untrusted),
    };
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|_| WalletError::Malformed("a certificate does not encode"))?;
    let sig = cert
        .signature
        .as_bytes()
        .ok_or(WalletError::Malformed("a signature is not whole bytes"))?;
    signature::UnparsedPublicKey::new(algorithm, point)
        .verify(&tbs, sig)
        .map_err(|_| WalletError::Untrusted)
}

fn within_validity(cert: &Certificate, now: i64) -> Result<()> {
    let v = &cert.tbs_certificate.validity;
    let secs = |t: &x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    if secs(&v.not_before) <= now && now <= secs(&v.not_after) {
        Ok(())
    } else {
        Err(WalletError::Expired)
    }
}

/// The extensions this scheme understands; any other critical one fails
/// the chain (RFC 5280 §4.2).
fn extension(
    cert: &Certificate,
    oid: ObjectIdentifier,
) -> Result<Option<&x509_cert::ext::Extension>> {
    let mut found = None;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let known = [
            BASIC_CONSTRAINTS,
            KEY_USAGE,
            APPLE_PAY_ISSUER_ENCRYPTION_OID,
        ]
        .contains(&ext.extn_id);
        if ext.critical && !known {
            return Err(WalletError::Policy(
                "a certificate has an unknown critical extension",
            ));
        }
        if ext.extn_id == oid {
            if found.is_some() {
                return Err(WalletError::Malformed("a certificate repeats an extension"));
            }
            found = Some(ext);
        }
    }
    Ok(found)
}

fn basic_constraints(cert: &Certificate) -> Result<Option<BasicConstraints>> {
    extension(cert, BASIC_CONSTRAINTS)?
        .map(|ext| {
            BasicConstraints::from_der(ext.extn_value.as_bytes())
                .map_err(|_| WalletError::Malformed("a basicConstraints extension does not parse"))
        })
        .transpose()
}

fn is_ca(cert: &Certificate) -> Result<bool> {
    Ok(basic_constraints(cert)?.is_some_and(|bc| bc.ca))
}

fn key_usage(cert: &Certificate) -> Result<Option<KeyUsage>> {
    extension(cert, KEY_USAGE)?
        .map(|ext| {
            KeyUsage::from_der(ext.extn_value.as_bytes())
                .map_err(|_| WalletError::Malformed("a keyUsage extension does not parse"))
        })
        .transpose()
}

/// Checks a certificate configured as an Apple root: canonical DER, a CA,
/// an EC P-256 or P-384 key. Returns its subject for display.
pub fn check_root(der: &[u8]) -> Result<String> {
    let cert = parse_certificate(der).map_err(|_| WalletError::Config("not a DER certificate"))?;
    if !is_ca(&cert).map_err(|_| WalletError::Config("bad extensions"))? {
        return Err(WalletError::Config("the root is not a CA certificate"));
    }
    if ec_key(&cert).is_none() {
        return Err(WalletError::Config(
            "the root's key is not EC P-256 or P-384",
        ));
    }
    Ok(cert.tbs_certificate.subject.to_string())
}

/// Validates the chain of an add-payment-pass request against `roots` at
/// `now` (Unix seconds) and returns the leaf's P-256 public key
/// (uncompressed point, 65 bytes).
///
/// `chain` is leaf first, then the sub-CA, then optionally a root (which
/// must be one of `roots`, byte for byte). The sub-CA must be issued by one
/// of `roots`; every certificate must be within its validity period; the
/// sub-CA and the root must be CAs (basicConstraints), the sub-CA's
/// keyUsage (if present) must allow certificate signing; the leaf must not
/// be a CA, must carry [`APPLE_PAY_ISSUER_ENCRYPTION_OID`], and its
/// keyUsage (if present) must allow key agreement or key encipherment.
pub fn validate_apple_chain(chain: &[&[u8]], roots: &[Vec<u8>], now: i64) -> Result<Vec<u8>> {
    if !(2..=MAX_CHAIN_LEN).contains(&chain.len()) {
        return Err(WalletError::Malformed(
            "the chain is the leaf and the sub-CA certificate (and optionally the root)",
        ));
    }
    let certs = chain
        .iter()
        .map(|der| parse_certificate(der))
        .collect::<Result<Vec<_>>>()?;
    let (Some(leaf), Some(sub_ca)) = (certs.first(), certs.get(1)) else {
        return Err(WalletError::Malformed("the chain is too short"));
    };
    if let Some(sent_root) = chain.get(2) {
        if !roots.iter().any(|r| r.as_slice() == *sent_root) {
            return Err(WalletError::Untrusted);
        }
    }
    // Signatures first: a certificate that does not verify is refused as
    // untrusted before anything it says is believed.
    verify_issued_by(leaf, sub_ca)?;
    let root = roots
        .iter()
        .filter_map(|der| parse_certificate(der).ok())
        .find(|root| verify_issued_by(sub_ca, root).is_ok())
        .ok_or(WalletError::Untrusted)?;
    for cert in [leaf, sub_ca, &root] {
        within_validity(cert, now)?;
    }
    if !is_ca(&root)? || !is_ca(sub_ca)? {
        return Err(WalletError::Policy("the sub-CA certificate is not a CA"));
    }
    // A root limited to no CA below it cannot have issued the sub-CA.
    if basic_constraints(&root)?.and_then(|bc| bc.path_len_constraint) == Some(0) {
        return Err(WalletError::Policy(
            "the root's path length does not allow a sub-CA",
        ));
    }
    if let Some(ku) = key_usage(sub_ca)? {
        if !ku.key_cert_sign() {
            return Err(WalletError::Policy(
                "the sub-CA certificate may not sign certificates",
            ));
        }
    }
    if is_ca(leaf)? {
        return Err(WalletError::Policy("the leaf certificate is a CA"));
    }
    if extension(leaf, APPLE_PAY_ISSUER_ENCRYPTION_OID)?.is_none() {
        return Err(WalletError::Policy(
            "the leaf certificate lacks the Apple Pay issuer encryption marker",
        ));
    }
    if let Some(ku) = key_usage(leaf)? {
        if !ku.key_agreement() && !ku.key_encipherment() {
            return Err(WalletError::Policy(
                "the leaf certificate's key may not be used for key agreement",
            ));
        }
    }
    match ec_key(leaf) {
        Some((Curve::P256, point)) if point.len() == 65 && point.first() == Some(&4) => {
            Ok(point.to_vec())
        }
        _ => Err(WalletError::Policy(
            "the leaf certificate's key is not an uncompressed EC P-256 key",
        )),
    }
}

// ------------------------------------------------------------------ Apple ECC_V2

/// NIST SP 800-56A (rev. 3, §5.8.2.1) single-step KDF with SHA-256:
/// `SHA-256(counter ‖ Z ‖ OtherInfo)` for counter = 1, 2, … (32-bit big
/// endian), concatenated and cut to `len` bytes.
pub fn concat_kdf_sha256(z: &[u8], other_info: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&counter.to_be_bytes());
        ctx.update(z);
        ctx.update(other_info);
        out.extend_from_slice(ctx.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// The KDF's `OtherInfo`: `0x0D ‖ "id-aes256-GCM" ‖ "Apple" ‖ PartyVInfo`.
pub fn apple_other_info(party_v: &[u8]) -> Vec<u8> {
    [KDF_ALGORITHM_ID, KDF_PARTY_U, party_v].concat()
}

/// What the KDF's `PartyVInfo` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplePartyV<'a> {
    /// The ephemeral public key (65-byte uncompressed point): what issuer
    /// implementations of in-app provisioning use (the default).
    EphemeralPublicKey,
    /// SHA-256 of this identifier's UTF-8 bytes: the rule Apple's payment
    /// token format documents for the merchant identifier, for tenants
    /// whose Apple onboarding names an identifier.
    Sha256Of(&'a str),
}

/// `encryptedPassData` and `ephemeralPublicKey` of an add-payment-pass
/// request.
#[derive(Debug, Clone)]
pub struct ApplePassData {
    /// AES-256-GCM ciphertext of the pass JSON, tag appended.
    pub encrypted_pass_data: Vec<u8>,
    /// The ephemeral P-256 public key, uncompressed (65 bytes).
    pub ephemeral_public_key: Vec<u8>,
}

/// Encrypts the pass JSON to the leaf key with a fresh ephemeral key.
pub fn encrypt_pass_data(
    leaf_point: &[u8],
    plaintext: &[u8],
    party_v: ApplePartyV<'_>,
) -> Result<ApplePassData> {
    let ephemeral = agreement::PrivateKey::generate(&agreement::ECDH_P256)
        .map_err(|_| WalletError::Internal("no randomness"))?;
    encrypt_pass_data_with(&ephemeral, leaf_point, plaintext, party_v)
}

fn encrypt_pass_data_with(
    ephemeral: &agreement::PrivateKey,
    leaf_point: &[u8],
    plaintext: &[u8],
    party_v: ApplePartyV<'_>,
) -> Result<ApplePassData> {
    let ephemeral_public_key = ephemeral
        .compute_public_key()
        .map_err(|_| WalletError::Internal("ephemeral public key"))?
        .as_ref()
        .to_vec();
    let party_v = match party_v {
        ApplePartyV::EphemeralPublicKey => ephemeral_public_key.clone(),
        ApplePartyV::Sha256Of(id) => crate::util::codec::sha256(id.as_bytes()),
    };
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, leaf_point);
    let key = agreement::agree(
        ephemeral,
        peer,
        WalletError::Policy("the leaf certificate's key is not a valid P-256 point"),
        |z| Ok(concat_kdf_sha256(z, &apple_other_info(&party_v), 32)),
    )?;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, &key)
        .map(aead::LessSafeKey::new)
        .map_err(|_| WalletError::Internal("AES key"))?;
    // Room for the tag: appending it must not move the plaintext (which
    // would leave a copy behind in the freed buffer).
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + aead::MAX_TAG_LEN));
    data.extend_from_slice(plaintext);
    // A zero IV: the scheme's; safe because the key is derived from a fresh
    // ephemeral key and so encrypts exactly one message.
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key([0u8; aead::NONCE_LEN]),
        aead::Aad::empty(),
        &mut *data,
    )
    .map_err(|_| WalletError::Internal("AES-GCM"))?;
    Ok(ApplePassData {
        encrypted_pass_data: data.to_vec(),
        ephemeral_public_key,
    })
}

// ------------------------------------------------------------------ MDES

/// Mastercard's field-level encryption of one value, MDES field names,
/// hex encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleEnvelope {
    /// AES-CBC/PKCS#7 ciphertext, hex.
    pub encrypted_data: String,
    /// The AES key under RSA-OAEP, hex.
    pub encrypted_key: String,
    /// The 16-byte IV, hex.
    pub iv: String,
    /// The fingerprint naming Mastercard's key.
    pub public_key_fingerprint: String,
    /// `SHA512`: the OAEP digest (and MGF1 digest).
    pub oaep_hashing_algorithm: &'static str,
}

/// A Mastercard encryption key as configured: the SPKI and the
/// fingerprint computed from what was given.
#[derive(Debug, Clone)]
pub struct MastercardKey {
    /// SubjectPublicKeyInfo DER of the RSA key.
    pub spki: Vec<u8>,
    /// SHA-256 (hex) of the certificate DER when a certificate was given,
    /// else of the SPKI DER (`mastercard-client-encryption`'s
    /// `publicKeyFingerprintType` `certificate` / `publicKey`).
    pub fingerprint: String,
}

/// Reads a Mastercard encryption key: an X.509 certificate or an SPKI, DER
/// or PEM; RSA of at least 2048 bits.
pub fn parse_mastercard_key(input: &[u8]) -> Result<MastercardKey> {
    let der = pem_or_der(input)?;
    let (spki, fingerprint_of) = match Certificate::from_der(&der) {
        Ok(cert) => (
            cert.tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|_| WalletError::Config("certificate key"))?,
            der.clone(),
        ),
        Err(_) => (der.clone(), der.clone()),
    };
    let key = rsa::PublicEncryptingKey::from_der(&spki)
        .map_err(|_| WalletError::Config("not an RSA public key or certificate"))?;
    if key.key_size_bits() < 2048 {
        return Err(WalletError::Config("the RSA key is shorter than 2048 bits"));
    }
    Ok(MastercardKey {
        spki,
        fingerprint: hex_lower(&crate::util::codec::sha256(&fingerprint_of)),
    })
}

fn pem_or_der(input: &[u8]) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(input).ok().map(str::trim);
    match text {
        Some(t) if t.starts_with("-----BEGIN ") => {
            let body: String = t
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            paysecure_core::encoding::decode(body.trim(), "PEM")
                .map(|d| d.to_vec())
                .map_err(|_| WalletError::Config("bad PEM"))
        }
        _ => Ok(input.to_vec()),
    }
}

/// The certificates of a file: every `CERTIFICATE` block of a PEM file, or
/// the file itself as one DER certificate.
pub fn certificates_from_file(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    let Some(text) = std::str::from_utf8(input)
        .ok()
        .filter(|t| t.contains("-----BEGIN CERTIFICATE-----"))
    else {
        return Ok(vec![input.to_vec()]);
    };
    let mut out = Vec::new();
    for block in text.split("-----BEGIN CERTIFICATE-----").skip(1) {
        let body = block
            .split("-----END CERTIFICATE-----")
            .next()
            .ok_or(WalletError::Config("bad PEM"))?;
        let b64: String = body.split_whitespace().collect();
        out.push(
            paysecure_core::encoding::decode(&b64, "PEM")
                .map(|d| d.to_vec())
                .map_err(|_| WalletError::Config("bad PEM"))?,
        );
    }
    Ok(out)
}

/// Encrypts `plaintext` to Mastercard's key (see the module docs).
pub fn fle_encrypt(key: &MastercardKey, plaintext: &[u8]) -> Result<FleEnvelope> {
    let rng = rand::SystemRandom::new();
    let mut aes_key = Zeroizing::new([0u8; 16]);
    let mut iv = [0u8; 16];
    rand::SecureRandom::fill(&rng, aes_key.as_mut_slice())
        .and_then(|()| rand::SecureRandom::fill(&rng, &mut iv))
        .map_err(|_| WalletError::Internal("no randomness"))?;
    let cbc = cipher::UnboundCipherKey::new(&cipher::AES_128, aes_key.as_slice())
        .and_then(cipher::PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| WalletError::Internal("AES key"))?;
    // Room for the padding: growing must not move the plaintext.
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + 16));
    data.extend_from_slice(plaintext);
    cbc.less_safe_encrypt(&mut *data, cipher::EncryptionContext::Iv128(iv.into()))
        .map_err(|_| WalletError::Internal("AES-CBC"))?;
    let rsa_key = rsa::PublicEncryptingKey::from_der(&key.spki)
        .map(rsa::OaepPublicEncryptingKey::new)
        .map_err(|_| WalletError::Config("stored Mastercard key"))?
        .map_err(|_| WalletError::Config("stored Mastercard key"))?;
    let mut wrapped = vec![0u8; rsa_key.ciphertext_size()];
    let wrapped = rsa_key
        .encrypt(
            &rsa::OAEP_SHA512_MGF1SHA512,
            aes_key.as_slice(),
            &mut wrapped,
            None,
        )
        .map_err(|_| WalletError::Internal("RSA-OAEP"))?;
    Ok(FleEnvelope {
        encrypted_data: hex_lower(&data),
        encrypted_key: hex_lower(wrapped),
        iv: hex_lower(&iv),
        public_key_fingerprint: key.fingerprint.clone(),
        oaep_hashing_algorithm: "SHA512",
    })
}

/// The algorithm of a TAV key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TavAlgorithm {
    /// ECDSA P-256 with SHA-256 (DER signature): the default.
    EcdsaP256,
    /// RSA-2048 PKCS#1 v1.5 with SHA-256: what Mastercard's published TAV
    /// sample names (`RSA-SHA256`).
    Rsa2048,
}

impl TavAlgorithm {
    /// The TAV's `signatureAlgorithm`.
    pub fn as_str(self) -> &'static str {
        match self {
            TavAlgorithm::EcdsaP256 => "ECDSA-SHA256",
            TavAlgorithm::Rsa2048 => "RSA-SHA256",
        }
    }
}

/// A new TAV key: PKCS#8 (to seal) and the public key as SPKI PEM (to give
/// to Mastercard).
pub fn generate_tav_key(alg: TavAlgorithm) -> Result<(Zeroizing<Vec<u8>>, String)> {
    let fail = |_| WalletError::Internal("key generation");
    let pkcs8 = match alg {
        TavAlgorithm::EcdsaP256 => {
            let rng = rand::SystemRandom::new();
            signature::EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &rng,
            )
            .map_err(fail)?
            .as_ref()
            .to_vec()
        }
        TavAlgorithm::Rsa2048 => {
            let key = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).map_err(fail)?;
            let der: Pkcs8V1Der<'static> = key.as_der().map_err(fail)?;
            der.as_ref().to_vec()
        }
    };
    let pkcs8 = Zeroizing::new(pkcs8);
    let signer = TavSigner::from_pkcs8(&pkcs8)?;
    Ok((pkcs8, signer.public_key_pem()?))
}

/// A loaded TAV key.
pub enum TavSigner {
    /// ECDSA P-256.
    Ecdsa(signature::EcdsaKeyPair),
    /// RSA.
    Rsa(rsa::KeyPair),
}

impl std::fmt::Debug for TavSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TavSigner({})", self.algorithm().as_str())
    }
}

impl TavSigner {
    /// Loads a PKCS#8 key (ECDSA P-256 or RSA).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        if let Ok(k) =
            signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
        {
            return Ok(TavSigner::Ecdsa(k));
        }
        rsa::KeyPair::from_pkcs8(pkcs8)
            .map(TavSigner::Rsa)
            .map_err(|_| WalletError::Config("the TAV key is neither ECDSA P-256 nor RSA"))
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> TavAlgorithm {
        match self {
            TavSigner::Ecdsa(_) => TavAlgorithm::EcdsaP256,
            TavSigner::Rsa(_) => TavAlgorithm::Rsa2048,
        }
    }

    /// Signs `message` (SHA-256; ECDSA signatures in DER).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = rand::SystemRandom::new();
        match self {
            TavSigner::Ecdsa(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| WalletError::Internal("ECDSA")),
            TavSigner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| WalletError::Internal("RSA signature"))?;
                Ok(sig)
            }
        }
    }

    /// The public key, SPKI PEM.
    pub fn public_key_pem(&self) -> Result<String> {
        let fail = |_| WalletError::Internal("public key encoding");
        let der: PublicKeyX509Der<'static> = match self {
            TavSigner::Ecdsa(k) => k.public_key().as_der().map_err(fail)?,
            TavSigner::Rsa(k) => k.public_key().as_der().map_err(fail)?,
        };
        let b64 = paysecure_core::encoding::encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).map_err(|_| WalletError::Internal("PEM"))?);
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Ok(pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7518 Appendix C (ECDH-ES key agreement): the Concat KDF of NIST
    /// SP 800-56A with SHA-256, a published known answer.
    #[test]
    fn concat_kdf_matches_rfc7518_appendix_c() {
        let z = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        let other_info = [
            0, 0, 0, 7, 65, 49, 50, 56, 71, 67, 77, 0, 0, 0, 5, 65, 108, 105, 99, 101, 0, 0, 0, 3,
            66, 111, 98, 0, 0, 0, 128,
        ];
        let key = concat_kdf_sha256(&z, &other_info, 16);
        assert_eq!(
            key.as_slice(),
            [86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26]
        );
        // Longer outputs continue with counter 2.
        let long = concat_kdf_sha256(&z, &other_info, 40);
        assert_eq!(long.get(..16), key.get(..16));
        let mut second = digest::Context::new(&digest::SHA256);
        second.update(&2u32.to_be_bytes());
        second.update(&z);
        second.update(&other_info);
        assert_eq!(long.get(32..40), second.finish().as_ref().get(..8));
    }

    #[test]
    fn apple_other_info_is_the_documented_concatenation() {
        let info = apple_other_info(&[0xAA; 3]);
        assert_eq!(info.first(), Some(&13u8));
        assert_eq!(info.get(1..14), Some(&b"id-aes256-GCM"[..]));
        assert_eq!(info.get(14..19), Some(&b"Apple"[..]));
        assert_eq!(info.get(19..), Some(&[0xAA; 3][..]));
    }

    /// Encrypt with the ephemeral key, then open as Apple would with the
    /// leaf's private key: ECDH, the KDF, AES-GCM with a zero IV.
    #[test]
    fn pass_data_opens_with_the_leaf_private_key() {
        let leaf = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let leaf_point = leaf.compute_public_key().unwrap().as_ref().to_vec();
        for party_v in [
            ApplePartyV::EphemeralPublicKey,
            ApplePartyV::Sha256Of("TEAM1234"),
        ] {
            let out = encrypt_pass_data(&leaf_point, b"{\"x\":1}", party_v).unwrap();
            assert_eq!(out.ephemeral_public_key.len(), 65);
            let peer =
                agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &out.ephemeral_public_key);
            let pv = match party_v {
                ApplePartyV::EphemeralPublicKey => out.ephemeral_public_key.clone(),
                ApplePartyV::Sha256Of(id) => crate::util::codec::sha256(id.as_bytes()),
            };
            let key = agreement::agree(&leaf, peer, (), |z| {
                Ok(concat_kdf_sha256(z, &apple_other_info(&pv), 32))
            })
            .unwrap();
            let key =
                aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
            let mut data = out.encrypted_pass_data.clone();
            let plain = key
                .open_in_place(
                    aead::Nonce::assume_unique_for_key([0; 12]),
                    aead::Aad::empty(),
                    &mut data,
                )
                .unwrap();
            assert_eq!(plain, b"{\"x\":1}");
        }
        // A point not on the curve is refused, not used.
        let mut bad = leaf_point.clone();
        bad[64] ^= 1;
        assert!(matches!(
            encrypt_pass_data(&bad, b"x", ApplePartyV::EphemeralPublicKey),
            Err(WalletError::Policy(_))
        ));
    }

    /// A test PKI made with rcgen: a root, a sub-CA and leaves.
    mod pki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, IsCa,
            KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
        };
        use time::{Duration, OffsetDateTime};

        pub const NOW: i64 = 1_800_000_000;

        fn at(offset_days: i64) -> OffsetDateTime {
            OffsetDateTime::from_unix_timestamp(NOW).unwrap() + Duration::days(offset_days)
        }

        pub fn ca_params(cn: &str, ca: bool, from: i64, to: i64) -> CertificateParams {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = if ca {
                IsCa::Ca(BasicConstraints::Unconstrained)
            } else {
                IsCa::ExplicitNoCa
            };
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            p.not_before = at(from);
            p.not_after = at(to);
            p
        }

        pub fn leaf_params(marker: bool, from: i64, to: i64) -> CertificateParams {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name
                .push(DnType::CommonName, "Test Apple Pay Issuer Encryption");
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![
                KeyUsagePurpose::KeyAgreement,
                KeyUsagePurpose::KeyEncipherment,
            ];
            if marker {
                p.custom_extensions.push(CustomExtension::from_oid_content(
                    &[1, 2, 840, 113635, 100, 6, 39],
                    vec![0x05, 0x00],
                ));
            }
            p.not_before = at(from);
            p.not_after = at(to);
            p
        }

        pub type Ca = CertifiedIssuer<'static, KeyPair>;

        /// A root (P-384 like Apple Root CA - G3 when `p384`) and a P-256 sub-CA.
        pub fn cas(p384: bool) -> (Ca, Ca) {
            let alg = if p384 {
                &PKCS_ECDSA_P384_SHA384
            } else {
                &PKCS_ECDSA_P256_SHA256
            };
            let root = CertifiedIssuer::self_signed(
                ca_params("Test Apple Root CA - G3", true, -10, 3650),
                KeyPair::generate_for(alg).unwrap(),
            )
            .unwrap();
            let sub = CertifiedIssuer::signed_by(
                ca_params("Test WWDR CA - G2", true, -10, 365),
                KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
                &root,
            )
            .unwrap();
            (root, sub)
        }

        /// A leaf of `sub`: its DER and its key.
        pub fn make_leaf(sub: &Ca, params: CertificateParams) -> (Vec<u8>, KeyPair) {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let cert = params.signed_by(&key, sub).unwrap();
            (cert.der().to_vec(), key)
        }
    }

    #[test]
    fn a_good_chain_yields_the_leaf_key_and_bad_ones_their_error() {
        use pki::*;
        for p384 in [false, true] {
            let (root, sub) = cas(p384);
            let roots = vec![root.der().to_vec()];
            let (leaf, key) = make_leaf(&sub, leaf_params(true, -1, 30));
            let sub_der = sub.der().to_vec();
            let point = validate_apple_chain(&[&leaf, &sub_der], &roots, NOW).unwrap();
            assert_eq!(point, key.public_key_raw());
            // With the root as third certificate.
            assert!(validate_apple_chain(&[&leaf, &sub_der, &roots[0]], &roots, NOW).is_ok());
            // Outside the validity periods.
            for now in [NOW - 2 * 86_400, NOW + 31 * 86_400] {
                assert_eq!(
                    validate_apple_chain(&[&leaf, &sub_der], &roots, now),
                    Err(WalletError::Expired)
                );
            }
            // Another root with the same name.
            let (other_root, other_sub) = cas(p384);
            let other_roots = vec![other_root.der().to_vec()];
            assert_eq!(
                validate_apple_chain(&[&leaf, &sub_der], &other_roots, NOW),
                Err(WalletError::Untrusted)
            );
            let other_sub_der = other_sub.der().to_vec();
            assert_eq!(
                validate_apple_chain(&[&leaf, &other_sub_der], &roots, NOW),
                Err(WalletError::Untrusted)
            );
            assert_eq!(
                validate_apple_chain(&[&leaf, &sub_der, &other_roots[0]], &roots, NOW),
                Err(WalletError::Untrusted)
            );
            // A tampered byte in the signed part (the subject's CN).
            let mut tampered = leaf.clone();
            let at = tampered.windows(8).position(|w| w == b"Test App").unwrap();
            tampered[at] ^= 0x20;
            assert_eq!(
                validate_apple_chain(&[&tampered, &sub_der], &roots, NOW),
                Err(WalletError::Untrusted)
            );
            // A trailing byte: not canonical DER.
            let mut trailing = leaf.clone();
            trailing.push(0);
            assert!(matches!(
                validate_apple_chain(&[&trailing, &sub_der], &roots, NOW),
                Err(WalletError::Malformed(_))
            ));
            // No marker extension; a CA leaf; a sub-CA that is no CA.
            let (no_marker, _) = make_leaf(&sub, leaf_params(false, -1, 30));
            assert!(matches!(
                validate_apple_chain(&[&no_marker, &sub_der], &roots, NOW),
                Err(WalletError::Policy(_))
            ));
            let mut ca_leaf_params = leaf_params(true, -1, 30);
            ca_leaf_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let (ca_leaf, _) = make_leaf(&sub, ca_leaf_params);
            assert!(matches!(
                validate_apple_chain(&[&ca_leaf, &sub_der], &roots, NOW),
                Err(WalletError::Policy(_))
            ));
            let not_ca = rcgen::CertifiedIssuer::signed_by(
                ca_params("Not a CA", false, -10, 365),
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
                &root,
            )
            .unwrap();
            let (leaf2, _) = make_leaf(&not_ca, leaf_params(true, -1, 30));
            let not_ca_der = not_ca.der().to_vec();
            assert!(matches!(
                validate_apple_chain(&[&leaf2, &not_ca_der], &roots, NOW),
                Err(WalletError::Policy(_))
            ));
            // An unknown critical extension.
            let mut critical = leaf_params(true, -1, 30);
            let mut ext = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
            ext.set_criticality(true);
            critical.custom_extensions.push(ext);
            let (critical_leaf, _) = make_leaf(&sub, critical);
            assert!(matches!(
                validate_apple_chain(&[&critical_leaf, &sub_der], &roots, NOW),
                Err(WalletError::Policy(_))
            ));
            // A root whose path length allows no CA below it.
            let mut limited = ca_params("Limited Root", true, -10, 3650);
            limited.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
            let limited = rcgen::CertifiedIssuer::self_signed(
                limited,
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            )
            .unwrap();
            let under = rcgen::CertifiedIssuer::signed_by(
                ca_params("Under a limited root", true, -10, 365),
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
                &limited,
            )
            .unwrap();
            let (leaf3, _) = make_leaf(&under, leaf_params(true, -1, 30));
            let under_der = under.der().to_vec();
            assert!(matches!(
                validate_apple_chain(&[&leaf3, &under_der], &[limited.der().to_vec()], NOW),
                Err(WalletError::Policy(_))
            ));
            // Roots: a CA is accepted, a leaf is not.
            assert!(check_root(&roots[0]).is_ok());
            assert!(check_root(&leaf).is_err());
        }
    }

    #[test]
    fn chains_of_the_wrong_shape_are_malformed() {
        assert!(matches!(
            validate_apple_chain(&[], &[], 0),
            Err(WalletError::Malformed(_))
        ));
        assert!(matches!(
            validate_apple_chain(&[b"x", b"y"], &[], 0),
            Err(WalletError::Malformed(_))
        ));
        assert!(matches!(
            validate_apple_chain(&[b"a", b"b", b"c", b"d"], &[], 0),
            Err(WalletError::Malformed(_))
        ));
    }

    #[test]
    fn tav_keys_sign_and_export() {
        for alg in [TavAlgorithm::EcdsaP256, TavAlgorithm::Rsa2048] {
            let (pkcs8, pem) = generate_tav_key(alg).unwrap();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            let signer = TavSigner::from_pkcs8(&pkcs8).unwrap();
            assert_eq!(signer.algorithm(), alg);
            let sig = signer.sign(b"message").unwrap();
            let spki = pem_or_der(pem.as_bytes()).unwrap();
            // The SPKI's key bytes: verify through aws-lc-rs's SPKI parser.
            let verify: &'static dyn signature::VerificationAlgorithm = match alg {
                TavAlgorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
                TavAlgorithm::Rsa2048 => &signature::RSA_PKCS1_2048_8192_SHA256,
            };
            let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(&spki).unwrap();
            let raw = spki.subject_public_key.as_bytes().unwrap();
            signature::UnparsedPublicKey::new(verify, raw)
                .verify(b"message", &sig)
                .unwrap();
            assert!(signature::UnparsedPublicKey::new(verify, raw)
                .verify(b"messagf", &sig)
                .is_err());
        }
    }
}
