//! Wallet provisioning (issue #17): the digitization data an issuer app
//! hands to Apple Wallet (`PKAddPaymentPassRequest`) or to a wallet that
//! digitizes through MDES (Google Pay, Samsung Pay), made so that neither
//! the issuer app, its backend nor anything between can read the card.
//!
//! Both operations take a [`CardGrant`] for [`Scope::Digitize`] (a tenant
//! API key or an ephemeral key with the `digitize` scope): authorization,
//! the card's state, the tenant's configuration and the request's form are
//! checked before any signature verification, ECDH or RSA operation.
//! Per-tenant settings (Apple roots, KDF party info, Mastercard key, TAV
//! key) are sealed by the vault, bound to the tenant and the setting's
//! name; `paysecure-server tenant wallet-…` writes them.

use serde_json::json;
use zeroize::Zeroizing;

use crate::crypto::vault::Binding;
use crate::crypto::wallet::{
    self, ApplePartyV, FleEnvelope, MastercardKey, TavAlgorithm, TavSigner, WalletError,
};
use crate::domain::error::{Code, Error, Result};
use crate::domain::service::{Scope, Service};
use crate::domain::sessions::{CardGrant, Grant};
use crate::storage::CardRow;
use crate::util::time::{now, rfc3339, year_month};

/// The configured Apple root certificates (JSON array of base64 DER).
const SETTING_APPLE_ROOTS: &str = "apple_roots";
/// The identifier whose SHA-256 is the KDF's PartyVInfo (absent: the
/// ephemeral public key).
const SETTING_APPLE_PARTY_V: &str = "apple_party_v_id";
/// Mastercard's encryption key (JSON: `spki` base64, `fingerprint`).
const SETTING_MASTERCARD_KEY: &str = "mastercard_key";
/// The TAV signing key (PKCS#8).
const SETTING_TAV_KEY: &str = "tav_key";

/// How long the TAV and the MDES card data are valid (`dataValidUntilTimestamp`).
pub const DIGITIZATION_VALIDITY_SECS: i64 = 15 * 60;
/// Longest nonce accepted (decoded bytes).
pub const MAX_NONCE_LEN: usize = 64;
/// Longest nonce signature accepted (decoded bytes).
pub const MAX_NONCE_SIGNATURE_LEN: usize = 1024;

/// The fields of the TAV's signed message, in order.
pub const TAV_INCLUDED_FIELDS: &str =
    "accountNumber|expiryMonth|expiryYear|dataValidUntilTimestamp";

fn binding<'a>(tenant: &'a str, name: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: "wallet",
        field: name,
    }
}

const NOT_CONFIGURED: Error = Error::Conflict {
    code: Code::WalletNotConfigured,
    message: "wallet provisioning is not configured for this tenant (see `paysecure-server tenant wallet-…`)",
};

const NOT_ACTIVE: Error = Error::Conflict {
    code: Code::CardNotActive,
    message: "only an active card with an expiry in the future can be digitized",
};

/// What `PKAddPaymentPassViewController`'s delegate hands the issuer app,
/// as the app sends it (base64 of each `Data`).
#[derive(Debug, Clone)]
pub struct AppleRequest {
    /// DER certificates, base64: leaf first, then the sub-CA (and optionally the root).
    pub certificates: Vec<String>,
    /// The nonce, base64.
    pub nonce: String,
    /// The device's signature of the nonce, base64.
    pub nonce_signature: String,
}

/// The three values of a `PKAddPaymentPassRequest` (ECC_V2), base64.
#[derive(Debug, Clone)]
pub struct AppleDigitization {
    /// AES-256-GCM ciphertext of the pass JSON.
    pub encrypted_pass_data: String,
    /// The TAV (see [`Service::mdes_digitization`]).
    pub activation_data: String,
    /// The ephemeral P-256 public key, uncompressed point.
    pub ephemeral_public_key: String,
}

/// The MDES digitization data.
#[derive(Debug, Clone)]
pub struct MdesDigitization {
    /// The Tokenization Authentication Value, base64 of its JSON.
    pub tav: String,
    /// The card data encrypted to Mastercard's key.
    pub card_info: FleEnvelope,
    /// When TAV and card data stop being valid (RFC 3339, UTC).
    pub valid_until: String,
}

/// The card data both wallets need (wiped on drop).
struct CardForWallet {
    pan: Zeroizing<String>,
    month: i64,
    year: i64,
    name: Option<String>,
}

impl Service {
    // ------------------------------------------------------------ settings

    async fn wallet_setting(&self, tenant: &str, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.storage.wallet_setting(tenant, name).await? {
            None => Ok(None),
            Some(sealed) => Ok(Some(self.vault.open(binding(tenant, name), &sealed)?)),
        }
    }

    async fn set_wallet_setting(&self, tenant: &str, name: &str, value: &[u8]) -> Result<()> {
        if self.storage.tenant(tenant).await?.is_none() {
            return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
        }
        let sealed = self.vault.seal(binding(tenant, name), value)?;
        Ok(self
            .storage
            .set_wallet_setting(tenant, name, &sealed, now())
            .await?)
    }

    /// Sets the tenant's Apple root certificates (DER; Apple's real root
    /// in production, a test CA in tests), replacing earlier ones. Returns
    /// their subjects.
    pub async fn set_apple_roots(&self, tenant: &str, roots: &[Vec<u8>]) -> Result<Vec<String>> {
        if roots.is_empty() || roots.len() > 8 {
            return Err(Error::bad_request(
                Code::InvalidRequest,
                "give 1 to 8 root certificates",
            ));
        }
        let subjects = roots
            .iter()
            .map(|der| wallet::check_root(der))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                Error::bad_request(
                    Code::InvalidCertificateChain,
                    "a root is not a DER CA certificate with an EC P-256 or P-384 key",
                )
            })?;
        let list: Vec<String> = roots
            .iter()
            .map(|r| paysecure_core::encoding::encode(r))
            .collect();
        let value = serde_json::to_vec(&list).map_err(|_| Error::Crypto("JSON"))?;
        self.set_wallet_setting(tenant, SETTING_APPLE_ROOTS, &value)
            .await?;
        Ok(subjects)
    }

    /// Sets (or, with `None`, clears) the identifier whose SHA-256 is the
    /// Apple KDF's PartyVInfo; unset, PartyVInfo is the ephemeral public key.
    pub async fn set_apple_party_v(&self, tenant: &str, id: Option<&str>) -> Result<()> {
        match id {
            Some(id) => {
                if id.is_empty() || id.len() > 200 {
                    return Err(Error::bad_request(
                        Code::InvalidRequest,
                        "the identifier must be 1 to 200 characters",
                    ));
                }
                self.set_wallet_setting(tenant, SETTING_APPLE_PARTY_V, id.as_bytes())
                    .await
            }
            None => {
                if self.storage.tenant(tenant).await?.is_none() {
                    return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
                }
                self.storage
                    .delete_wallet_setting(tenant, SETTING_APPLE_PARTY_V)
                    .await?;
                Ok(())
            }
        }
    }

    /// Sets Mastercard's encryption key (certificate or SPKI, PEM or DER)
    /// and its fingerprint (computed unless given: 64 hex digits). Returns
    /// the fingerprint.
    pub async fn set_mastercard_key(
        &self,
        tenant: &str,
        input: &[u8],
        fingerprint: Option<&str>,
    ) -> Result<String> {
        let mut key = wallet::parse_mastercard_key(input).map_err(|_| {
            Error::bad_request(
                Code::InvalidRequest,
                "not an RSA (2048 bits or more) certificate or public key, PEM or DER",
            )
        })?;
        if let Some(f) = fingerprint {
            let ok = (8..=128).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(Error::bad_request(
                    Code::InvalidRequest,
                    "the fingerprint must be 8 to 128 hex digits",
                ));
            }
            key.fingerprint = f.to_ascii_lowercase();
        }
        let value = serde_json::to_vec(&json!({
            "spki": paysecure_core::encoding::encode(&key.spki),
            "fingerprint": key.fingerprint,
        }))
        .map_err(|_| Error::Crypto("JSON"))?;
        self.set_wallet_setting(tenant, SETTING_MASTERCARD_KEY, &value)
            .await?;
        Ok(key.fingerprint)
    }

    /// Makes (or replaces) the tenant's TAV signing key; returns its public
    /// key (SPKI PEM) for Mastercard.
    pub async fn generate_tav_key(&self, tenant: &str, alg: TavAlgorithm) -> Result<String> {
        if self.storage.tenant(tenant).await?.is_none() {
            return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
        }
        let (pkcs8, pem) = wallet::generate_tav_key(alg).map_err(wallet_internal)?;
        self.set_wallet_setting(tenant, SETTING_TAV_KEY, &pkcs8)
            .await?;
        Ok(pem)
    }

    async fn apple_roots(&self, tenant: &str) -> Result<Vec<Vec<u8>>> {
        let raw = self
            .wallet_setting(tenant, SETTING_APPLE_ROOTS)
            .await?
            .ok_or(NOT_CONFIGURED)?;
        let list: Vec<String> =
            serde_json::from_slice(&raw).map_err(|_| Error::Crypto("stored Apple roots"))?;
        list.iter()
            .map(|b64| {
                paysecure_core::encoding::decode(b64, "root")
                    .map(|d| d.to_vec())
                    .map_err(|_| Error::Crypto("stored Apple roots"))
            })
            .collect()
    }

    async fn mastercard_key(&self, tenant: &str) -> Result<MastercardKey> {
        let raw = self
            .wallet_setting(tenant, SETTING_MASTERCARD_KEY)
            .await?
            .ok_or(NOT_CONFIGURED)?;
        let v: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|_| Error::Crypto("stored Mastercard key"))?;
        let spki = v["spki"]
            .as_str()
            .and_then(|s| paysecure_core::encoding::decode(s, "spki").ok())
            .ok_or(Error::Crypto("stored Mastercard key"))?;
        let fingerprint = v["fingerprint"]
            .as_str()
            .ok_or(Error::Crypto("stored Mastercard key"))?;
        Ok(MastercardKey {
            spki: spki.to_vec(),
            fingerprint: fingerprint.to_owned(),
        })
    }

    async fn tav_signer(&self, tenant: &str) -> Result<TavSigner> {
        let pkcs8 = self
            .wallet_setting(tenant, SETTING_TAV_KEY)
            .await?
            .ok_or(NOT_CONFIGURED)?;
        TavSigner::from_pkcs8(&pkcs8).map_err(|_| Error::Crypto("stored TAV key"))
    }

    // ------------------------------------------------------------ operations

    /// The card of the grant if it may be digitized: `ACTIVE` (not a
    /// PAN-only token) with an expiry not in the past.
    fn digitizable(grant: &CardGrant) -> Result<&CardRow> {
        grant.require(&[Scope::Digitize])?;
        let card = grant.card();
        let (Some(month), Some(year)) = (card.expiry_month, card.expiry_year) else {
            return Err(NOT_ACTIVE);
        };
        let (this_year, this_month) = year_month(now());
        if card.status != "ACTIVE" || (year, month) < (this_year, this_month) {
            return Err(NOT_ACTIVE);
        }
        Ok(card)
    }

    fn card_for_wallet(&self, card: &CardRow) -> Result<CardForWallet> {
        let (Some(month), Some(year)) = (card.expiry_month, card.expiry_year) else {
            return Err(NOT_ACTIVE);
        };
        Ok(CardForWallet {
            pan: self.open_pan(card)?,
            month,
            year,
            name: card.cardholder_name.clone(),
        })
    }

    /// The TAV: base64 of `{"version":"3","signatureAlgorithm",
    /// "includedFieldsInOrder","dataValidUntilTimestamp","signature"}`,
    /// the signature over the included fields' values joined by `|`
    /// (`PAN|MM|YY|timestamp`), under the tenant's TAV key.
    fn tav(signer: &TavSigner, card: &CardForWallet, valid_until: &str) -> Result<String> {
        let (mm, yy) = (
            format!("{:02}", card.month),
            format!("{:02}", card.year % 100),
        );
        let message = Zeroizing::new(format!("{}|{mm}|{yy}|{valid_until}", card.pan.as_str()));
        let signature = signer.sign(message.as_bytes()).map_err(wallet_internal)?;
        let tav = json!({
            "version": "3",
            "signatureAlgorithm": signer.algorithm().as_str(),
            "includedFieldsInOrder": TAV_INCLUDED_FIELDS,
            "dataValidUntilTimestamp": valid_until,
            "signature": paysecure_core::encoding::encode(&signature),
        });
        Ok(paysecure_core::encoding::encode(tav.to_string().as_bytes()))
    }

    /// Generate Apple Digitization Data: validates the chain against the
    /// tenant's Apple roots, encrypts the pass JSON (`primaryAccountNumber`,
    /// `expiration` `MM/YY`, `name`, `nonce` and `nonceSignature` as hex) to
    /// the leaf key (ECC_V2), and signs the TAV as `activationData`.
    pub async fn apple_digitization(
        &self,
        grant: &CardGrant,
        req: &AppleRequest,
    ) -> Result<AppleDigitization> {
        let card = Self::digitizable(grant)?;
        let tenant = grant.tenant();
        // Configuration and the request's form before any signature check.
        let roots = self.apple_roots(tenant).await?;
        let signer = self.tav_signer(tenant).await?;
        let party_v_id = self
            .wallet_setting(tenant, SETTING_APPLE_PARTY_V)
            .await?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let chain = decode_chain(&req.certificates)?;
        let nonce = decode_bounded(&req.nonce, MAX_NONCE_LEN).ok_or(Error::bad_request(
            Code::InvalidNonce,
            "nonce must be base64 of 1 to 64 bytes",
        ))?;
        let nonce_signature = decode_bounded(&req.nonce_signature, MAX_NONCE_SIGNATURE_LEN).ok_or(
            Error::bad_request(
                Code::InvalidNonceSignature,
                "nonceSignature must be base64 of 1 to 1024 bytes",
            ),
        )?;
        let chain_refs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
        let leaf = wallet::validate_apple_chain(&chain_refs, &roots, now().secs())
            .map_err(|e| self.chain_refused(grant, e))?;

        let card_data = self.card_for_wallet(card)?;
        let (nonce_hex, signature_hex) = (
            crate::util::codec::hex_lower(&nonce),
            crate::util::codec::hex_lower(&nonce_signature),
        );
        let expiration = format!("{:02}/{:02}", card_data.month, card_data.year % 100);
        let pass = to_json_wiped(&ApplePass {
            primary_account_number: card_data.pan.as_str(),
            expiration: &expiration,
            name: card_data.name.as_deref().unwrap_or(""),
            nonce: &nonce_hex,
            nonce_signature: &signature_hex,
        })?;
        let party_v = match party_v_id.as_deref() {
            Some(id) => ApplePartyV::Sha256Of(id),
            None => ApplePartyV::EphemeralPublicKey,
        };
        let out = wallet::encrypt_pass_data(&leaf, &pass, party_v)
            .map_err(|e| self.chain_refused(grant, e))?;
        let valid_until = rfc3339(now() + DIGITIZATION_VALIDITY_SECS);
        let activation_data = Self::tav(&signer, &card_data, &valid_until)?;
        audit(grant, "apple", "issued");
        Ok(AppleDigitization {
            encrypted_pass_data: paysecure_core::encoding::encode(&out.encrypted_pass_data),
            activation_data,
            ephemeral_public_key: paysecure_core::encoding::encode(&out.ephemeral_public_key),
        })
    }

    /// Generate MDES Digitization Data: the TAV and the card data
    /// (`accountNumber`, `expiryMonth`, `expiryYear`, `source`
    /// `ACCOUNT_ON_FILE`, `cardholderName`, `dataValidUntilTimestamp`)
    /// encrypted to the tenant's Mastercard key.
    pub async fn mdes_digitization(&self, grant: &CardGrant) -> Result<MdesDigitization> {
        let card = Self::digitizable(grant)?;
        let tenant = grant.tenant();
        let key = self.mastercard_key(tenant).await?;
        let signer = self.tav_signer(tenant).await?;
        let card_data = self.card_for_wallet(card)?;
        let valid_until = rfc3339(now() + DIGITIZATION_VALIDITY_SECS);
        let (mm, yy) = (
            format!("{:02}", card_data.month),
            format!("{:02}", card_data.year % 100),
        );
        let plaintext = to_json_wiped(&MdesCardInfo {
            account_number: card_data.pan.as_str(),
            expiry_month: &mm,
            expiry_year: &yy,
            source: "ACCOUNT_ON_FILE",
            cardholder_name: card_data.name.as_deref(),
            data_valid_until_timestamp: &valid_until,
        })?;
        let card_info = wallet::fle_encrypt(&key, &plaintext).map_err(wallet_internal)?;
        let tav = Self::tav(&signer, &card_data, &valid_until)?;
        audit(grant, "mdes", "issued");
        Ok(MdesDigitization {
            tav,
            card_info,
            valid_until,
        })
    }

    fn chain_refused(&self, grant: &CardGrant, e: WalletError) -> Error {
        let err = match e {
            WalletError::Malformed(_) | WalletError::Policy(_) => Error::bad_request(
                Code::InvalidCertificateChain,
                "the certificate chain is malformed or breaks the Apple Pay issuer encryption policy",
            ),
            WalletError::Untrusted => Error::bad_request(
                Code::UntrustedCertificateChain,
                "the certificate chain does not verify up to a configured Apple root",
            ),
            WalletError::Expired => Error::bad_request(
                Code::CertificateExpired,
                "a certificate of the chain is expired or not yet valid",
            ),
            WalletError::Config(_) | WalletError::Internal(_) => return wallet_internal(e),
        };
        if let Error::BadRequest { code, .. } = &err {
            audit(grant, "apple", code.as_str());
        }
        err
    }
}

fn wallet_internal(e: WalletError) -> Error {
    tracing::error!(error = %e, "wallet cryptography failed");
    Error::Crypto("wallet cryptography")
}

/// One audit event per digitization outcome: tenant, card token (not
/// secret), wallet, outcome. Never card data.
fn audit(grant: &CardGrant, wallet: &'static str, outcome: &str) {
    tracing::info!(
        target: "paysecure::audit",
        tenant = grant.tenant(),
        card = grant.token(),
        wallet,
        outcome,
        "wallet digitization"
    );
}

/// The pass JSON of `encryptedPassData` (Apple's key names).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplePass<'a> {
    primary_account_number: &'a str,
    expiration: &'a str,
    name: &'a str,
    nonce: &'a str,
    nonce_signature: &'a str,
}

/// The MDES card data (`CardInfoData`'s key names).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct MdesCardInfo<'a> {
    account_number: &'a str,
    expiry_month: &'a str,
    expiry_year: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cardholder_name: Option<&'a str>,
    data_valid_until_timestamp: &'a str,
}

/// JSON of `value` into a buffer wiped on drop (sized so that it does not
/// reallocate and leave copies of the PAN behind).
fn to_json_wiped<T: serde::Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    serde_json::to_writer(&mut *buf, value).map_err(|_| Error::Crypto("JSON"))?;
    Ok(buf)
}

/// Canonical base64 of 1 to `max` bytes.
fn decode_bounded(b64: &str, max: usize) -> Option<Vec<u8>> {
    if b64.len() > max.div_ceil(3) * 4 {
        return None;
    }
    let d = paysecure_core::encoding::decode_canonical(b64, "value").ok()?;
    (!d.is_empty() && d.len() <= max).then(|| d.to_vec())
}

fn decode_chain(certificates: &[String]) -> Result<Vec<Vec<u8>>> {
    const BAD: Error = Error::BadRequest {
        code: Code::InvalidCertificateChain,
        message: "certificates must be 2 or 3 base64 DER certificates, leaf first",
    };
    if !(2..=wallet::MAX_CHAIN_LEN).contains(&certificates.len()) {
        return Err(BAD);
    }
    certificates
        .iter()
        .map(|c| decode_bounded(c, wallet::MAX_CERTIFICATE_LEN).ok_or(BAD))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature;
    use x509_cert::der::Decode;

    fn card() -> CardForWallet {
        CardForWallet {
            pan: Zeroizing::new("5123450000000008".into()),
            month: 3,
            year: 2031,
            name: Some("ANN \"Q\" NAME".into()),
        }
    }

    /// The TAV signs `PAN|MM|YY|timestamp` and carries no PAN itself.
    #[test]
    fn tav_signs_pan_expiry_and_validity_in_the_listed_order() {
        for (alg, verify) in [
            (
                TavAlgorithm::EcdsaP256,
                &signature::ECDSA_P256_SHA256_ASN1 as &'static dyn signature::VerificationAlgorithm,
            ),
            (
                TavAlgorithm::Rsa2048,
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
        ] {
            let (pkcs8, pem) = wallet::generate_tav_key(alg).unwrap();
            let signer = TavSigner::from_pkcs8(&pkcs8).unwrap();
            let b64 = Service::tav(&signer, &card(), "2031-01-01T00:00:00Z").unwrap();
            let raw = paysecure_core::encoding::decode_canonical(&b64, "tav").unwrap();
            let tav: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(tav["version"], "3");
            assert_eq!(tav["signatureAlgorithm"], alg.as_str());
            assert_eq!(tav["includedFieldsInOrder"], TAV_INCLUDED_FIELDS);
            assert_eq!(tav["dataValidUntilTimestamp"], "2031-01-01T00:00:00Z");
            assert!(!tav.to_string().contains("5123450000000008"));
            let sig = paysecure_core::encoding::decode(tav["signature"].as_str().unwrap(), "sig")
                .unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let spki = paysecure_core::encoding::decode(&body, "spki").unwrap();
            let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(&spki).unwrap();
            let key = signature::UnparsedPublicKey::new(
                verify,
                spki.subject_public_key.as_bytes().unwrap().to_vec(),
            );
            key.verify(b"5123450000000008|03|31|2031-01-01T00:00:00Z", &sig)
                .unwrap();
            assert!(key
                .verify(b"5123450000000008|03|32|2031-01-01T00:00:00Z", &sig)
                .is_err());
        }
    }

    /// The pass JSON has exactly Apple's key names, and JSON escaping.
    #[test]
    fn apple_pass_and_mdes_card_json_use_the_documented_names() {
        let c = card();
        let pass = to_json_wiped(&ApplePass {
            primary_account_number: &c.pan,
            expiration: "03/31",
            name: c.name.as_deref().unwrap_or(""),
            nonce: "0a0b",
            nonce_signature: "ff",
        })
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&pass).unwrap(),
            r#"{"primaryAccountNumber":"5123450000000008","expiration":"03/31","name":"ANN \"Q\" NAME","nonce":"0a0b","nonceSignature":"ff"}"#
        );
        let info = to_json_wiped(&MdesCardInfo {
            account_number: &c.pan,
            expiry_month: "03",
            expiry_year: "31",
            source: "ACCOUNT_ON_FILE",
            cardholder_name: None,
            data_valid_until_timestamp: "2031-01-01T00:00:00Z",
        })
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&info).unwrap(),
            r#"{"accountNumber":"5123450000000008","expiryMonth":"03","expiryYear":"31","source":"ACCOUNT_ON_FILE","dataValidUntilTimestamp":"2031-01-01T00:00:00Z"}"#
        );
    }

    #[test]
    fn nonces_and_chains_are_canonical_base64_within_bounds() {
        assert_eq!(decode_bounded("AQID", 64), Some(vec![1, 2, 3]));
        for bad in [
            "", "AQI", "AQID ", " AQID", "AQ==x", "AQ=", "AQ-_", "AQ\nID",
        ] {
            assert_eq!(decode_bounded(bad, 64), None, "{bad:?}");
        }
        let long = paysecure_core::encoding::encode(&[7; 65]);
        assert_eq!(decode_bounded(&long, 64), None);
        assert!(decode_chain(&["AQID".into()]).is_err());
        assert!(decode_chain(&["AQID".into(), "AQID".into()]).is_ok());
        assert!(decode_chain(&vec!["AQID".to_owned(); 4]).is_err());
    }
}
