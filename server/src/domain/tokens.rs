//! What the two merchant tokenisation APIs (the Paythru Card Tokenisation
//! API v3 and Verifone-style token management) share: opening a card captured in the browser (`encrypted_card`,
//! a compact JWE made by paysecure-wasm's `encryptCard`), and sealing stored
//! cards in the vault.

use std::collections::BTreeMap;

use paysecure_core::card::{self, CardBrand};
use paysecure_core::jwe;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::crypto::vault::Binding;
use crate::domain::error::{Code, Error, Result};
use crate::domain::service::Service;
use crate::storage::StoredCardRow;
pub use crate::util::ids::random_id;
use crate::util::time::UnixTime;
use crate::util::time::{now, year_month};

/// How long an `encrypted_card` stays usable after its `captureTime`.
pub const CAPTURE_VALIDITY_SECS: i64 = 15 * 60;
/// Clock skew tolerated for a `captureTime` in the future.
pub const CAPTURE_CLOCK_SKEW_SECS: i64 = 60;

/// A card the cardholder typed, decrypted (wiped on drop). The CVV is
/// checked and then dropped: PCI DSS forbids storing it after authorisation.
pub struct CapturedCard {
    /// The PAN, digits only (wiped on drop).
    pub pan: Zeroizing<String>,
    /// 1..=12.
    pub expiry_month: i64,
    /// Four digits.
    pub expiry_year: i64,
    /// As printed on the card.
    pub cardholder_name: Option<String>,
    /// Whether a CVV was captured.
    pub had_cvv: bool,
}

impl std::fmt::Debug for CapturedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CapturedCard(<redacted>)")
    }
}

/// The captured card JSON (Verifone tags), as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CardJson {
    card_number: Zeroizing<String>,
    expiry_month: Zeroizing<String>,
    expiry_year: Zeroizing<String>,
    cvv: Option<Zeroizing<String>>,
    cardholder_name: Option<String>,
    sequence_number: Option<String>,
    start_month: Option<String>,
    start_year: Option<String>,
    capture_time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JweHeader {
    alg: String,
    enc: String,
    kid: String,
}

const BAD_CARD: Error = Error::BadRequest {
    code: Code::InvalidEncryptedCard,
    message: "encrypted_card is not a card encrypted for this server (paysecure-wasm encryptCard)",
};

/// Checks a card number (12-19 digits, Luhn) and returns its digits.
pub fn check_pan(pan: &str) -> Option<Zeroizing<String>> {
    let digits = card::normalize_pan(pan).ok()?;
    card::luhn_check(&digits).then_some(digits)
}

/// Checks an expiry (month 1-12; year YY or YYYY) and that the card has not
/// expired; returns (month, four-digit year).
pub fn check_expiry(month: &str, year: &str) -> Option<(i64, i64)> {
    let digits = |s: &str, lens: &[usize]| {
        (lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let m = digits(month, &[1, 2]).filter(|m| (1..=12).contains(m))?;
    let y = digits(year, &[2, 4])?;
    let y = if year.len() == 2 { 2000 + y } else { y };
    ((y, m) >= year_month(now()) && y <= 2099).then_some((m, y))
}

fn parse_rfc3339(s: &str) -> Option<UnixTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| UnixTime(t.unix_timestamp()))
}

impl Service {
    /// Opens an `encrypted_card`. `alias`, when given, must name the key the
    /// card was encrypted for. Refused: an unknown or retired key, a card
    /// captured more than 15 minutes ago, anything that does not decrypt,
    /// and a card opened before (each encrypted card opens once). Callers
    /// authorize first: this does an RSA private operation.
    pub async fn open_encrypted_card(
        &self,
        text: &str,
        alias: Option<&str>,
    ) -> Result<CapturedCard> {
        let (parsed, kid) = Service::parse_encrypted_card(text, alias)?;
        let cek = self
            .keyring()
            .unwrap_content_key(&kid, parsed.encrypted_key())
            .ok_or(Error::bad_request(
                Code::UnknownKeyAlias,
                "the public key alias names no current key (unknown or retired); fetch /v2/public-key again",
            ))?
            .map_err(|_| BAD_CARD)?;
        // An encrypted card opens once: a copy from a log, a HAR file or a
        // relay cannot vault the card again (in this or another tenant).
        self.use_up("jwe-cek", cek.expose_bytes(), &kid)
            .await
            .map_err(|e| match e {
                Error::InvalidSession => Error::bad_request(
                    Code::CardAlreadyUsed,
                    "this encrypted card was used before; capture the card again",
                ),
                other => other,
            })?;
        let plain = jwe::decrypt_content(&parsed, &cek).map_err(|_| BAD_CARD)?;
        Service::check_captured_card(&plain, now())
    }

    /// The pure step before the RSA operation of [`Service::open_encrypted_card`]:
    /// splits the compact JWE and checks its header (`alg`, `enc`, and `kid`
    /// against `alias` when given). Returns the parts and the `kid`. Public
    /// for the fuzz targets.
    pub fn parse_encrypted_card(
        text: &str,
        alias: Option<&str>,
    ) -> Result<(jwe::CompactJwe, String)> {
        let parsed = jwe::parse_compact(text).map_err(|_| BAD_CARD)?;
        let header: JweHeader = serde_json::from_str(parsed.header()).map_err(|_| BAD_CARD)?;
        if header.alg != jwe::ALG || header.enc != jwe::ENC {
            return Err(Error::bad_request(
                Code::UnsupportedEncryption,
                "encrypted_card must use RSA-OAEP-256 with A256GCM",
            ));
        }
        if alias.is_some_and(|a| a != header.kid) {
            return Err(Error::bad_request(
                Code::KeyAliasMismatch,
                "public_key_alias is not the key the card was encrypted for",
            ));
        }
        Ok((parsed, header.kid))
    }

    /// The pure step after decryption of [`Service::open_encrypted_card`]:
    /// reads and checks the captured card JSON at time `now`.
    /// Public for the fuzz targets.
    pub fn check_captured_card(plain: &[u8], now: UnixTime) -> Result<CapturedCard> {
        let card: CardJson = serde_json::from_slice(plain).map_err(|_| BAD_CARD)?;
        let captured = parse_rfc3339(&card.capture_time).ok_or(BAD_CARD)?;
        let age = now - captured;
        if age > CAPTURE_VALIDITY_SECS {
            return Err(Error::bad_request(
                Code::CaptureExpired,
                "the card was captured more than 15 minutes ago; capture it again",
            ));
        }
        if age < -CAPTURE_CLOCK_SKEW_SECS {
            return Err(Error::bad_request(
                Code::InvalidCaptureTime,
                "captureTime is in the future",
            ));
        }
        let pan = check_pan(&card.card_number).ok_or(Error::bad_request(
            Code::InvalidCardNumber,
            "the card number must be 12 to 19 digits and pass the Luhn check",
        ))?;
        let (expiry_month, expiry_year) = check_expiry(&card.expiry_month, &card.expiry_year)
            .ok_or(Error::bad_request(
                Code::InvalidCardExpiry,
                "the expiry must be a valid month and year, not in the past",
            ))?;
        let cvv_ok = card
            .cvv
            .as_ref()
            .is_none_or(|c| (3..=4).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()));
        let name_ok = card
            .cardholder_name
            .as_ref()
            .is_none_or(|n| (1..=50).contains(&n.chars().count()));
        let seq_ok = card
            .sequence_number
            .as_ref()
            .is_none_or(|s| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()));
        if !cvv_ok || !name_ok || !seq_ok || card.start_month.is_some() != card.start_year.is_some()
        {
            return Err(Error::bad_request(
                Code::InvalidCard,
                "the captured card has an invalid cvv, cardholderName, sequenceNumber or start date",
            ));
        }
        Ok(CapturedCard {
            pan,
            expiry_month,
            expiry_year,
            cardholder_name: card.cardholder_name,
            had_cvv: card.cvv.is_some(),
        })
    }

    pub(crate) fn seal_stored(
        &self,
        row: &StoredCardRow,
        field: &str,
        plain: &[u8],
    ) -> Result<Vec<u8>> {
        Ok(self.vault.seal(stored_binding(row, field), plain)?)
    }

    pub(crate) fn open_stored(
        &self,
        row: &StoredCardRow,
        field: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        Ok(self.vault.open(stored_binding(row, field), sealed)?)
    }

    /// Sets the PAN-derived columns of `row` (sealed PAN, index, masks,
    /// brand, analytics token).
    pub(crate) fn link_pan(&self, row: &mut StoredCardRow, pan: &str) -> Result<()> {
        row.pan_sealed = self.seal_stored(row, "pan", pan.as_bytes())?;
        row.pan_index = self.vault.pan_index(&row.tenant_id, pan);
        row.pan_first6 = pan.get(..6).unwrap_or_default().to_owned();
        row.pan_last4 = pan
            .get(pan.len().saturating_sub(4)..)
            .unwrap_or_default()
            .to_owned();
        row.pan_length = pan.len() as i64;
        row.brand = card::card_brand(pan)
            .unwrap_or(CardBrand::Unknown)
            .as_str()
            .to_owned();
        row.analytics_token = self.vault.analytics_token(&row.tenant_id, &row.scope, pan);
        Ok(())
    }

    /// The stored details (names, address, e-mail) of a stored card.
    pub(crate) fn stored_details(&self, row: &StoredCardRow) -> Result<Details> {
        let raw = self.open_stored(row, "details", &row.details_sealed)?;
        serde_json::from_slice(&raw).map_err(|_| Error::Crypto("stored details are not JSON"))
    }

    /// Seals `details` into `row`.
    pub(crate) fn set_details(&self, row: &mut StoredCardRow, details: &Details) -> Result<()> {
        let json = Zeroizing::new(
            serde_json::to_vec(details).map_err(|_| Error::Crypto("details serialisation"))?,
        );
        row.details_sealed = self.seal_stored(row, "details", &json)?;
        Ok(())
    }

    /// A new, empty stored-card row (no PAN linked yet).
    pub(crate) fn new_stored_row(
        &self,
        tenant: &str,
        api: &str,
        scope: &str,
        token: String,
    ) -> StoredCardRow {
        let t = now();
        StoredCardRow {
            token,
            tenant_id: tenant.to_owned(),
            api: api.to_owned(),
            scope: scope.to_owned(),
            pan_index: Vec::new(),
            pan_sealed: Vec::new(),
            pan_first6: String::new(),
            pan_last4: String::new(),
            pan_length: 0,
            brand: String::new(),
            expiry_month: 0,
            expiry_year: 0,
            customer_ref: None,
            status: "ACTIVE".into(),
            details_sealed: Vec::new(),
            analytics_token: String::new(),
            token_expiry: None,
            version: 1,
            created_at: t,
            updated_at: t,
        }
    }
}

/// Free-form stored details of a card, by their API names.
pub type Details = BTreeMap<String, String>;

fn stored_binding<'a>(row: &'a StoredCardRow, field: &'a str) -> Binding<'a> {
    Binding {
        tenant: &row.tenant_id,
        subject: &row.token,
        field,
    }
}
