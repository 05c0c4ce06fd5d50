//! What the two merchant tokenisation APIs (the Paythru Card Tokenisation
//! API v3 and Verifone-style token management) share: opening a card captured in the browser (`encrypted_card`,
//! a compact JWE made by paysecure-wasm's `encryptCard`), and sealing stored
//! cards in the vault.

use std::collections::BTreeMap;

use paysecure_core::card::{self, CardBrand};
use paysecure_core::jwe;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::crypto::keys::Purpose;
use crate::crypto::vault::Binding;
use crate::domain::bins::BinInfo;
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
    /// The `captureTime` (the card is refused 15 minutes on).
    pub captured_at: UnixTime,
}

impl std::fmt::Debug for CapturedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CapturedCard(<redacted>)")
    }
}

/// The tags of the captured card JSON (the Verifone Token Management document's list and `captureTime`).
pub const CARD_TAGS: [&str; 9] = [
    "cardNumber",
    "sequenceNumber",
    "cardholderName",
    "startMonth",
    "startYear",
    "expiryMonth",
    "expiryYear",
    "cvv",
    "captureTime",
];

/// The captured card JSON (Verifone tags), as sent. Which tags are present
/// is checked first ([`CARD_TAGS`]), so everything is optional here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardJson {
    card_number: Option<Zeroizing<String>>,
    #[serde(default, deserialize_with = "digits_or_number")]
    expiry_month: Option<Zeroizing<String>>,
    #[serde(default, deserialize_with = "digits_or_number")]
    expiry_year: Option<Zeroizing<String>>,
    cvv: Option<Zeroizing<String>>,
    cardholder_name: Option<String>,
    sequence_number: Option<String>,
    #[serde(default, deserialize_with = "digits_or_number")]
    start_month: Option<Zeroizing<String>>,
    #[serde(default, deserialize_with = "digits_or_number")]
    start_year: Option<Zeroizing<String>>,
    capture_time: Option<String>,
}

/// A month or year tag: a JSON string (`"12"`) or a non-negative integer
/// (`12`), as text.
fn digits_or_number<'de, D>(d: D) -> std::result::Result<Option<Zeroizing<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<Zeroizing<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a non-negative integer")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(Some(Zeroizing::new(v.to_owned())))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(Zeroizing::new(v.to_string())))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            u64::try_from(v)
                .map(|v| Some(Zeroizing::new(v.to_string())))
                .map_err(|_| E::custom("negative"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JweHeader {
    alg: String,
    enc: String,
    kid: String,
}

const UNKNOWN_ALIAS: Error = Error::BadRequest {
    code: Code::UnknownKeyAlias,
    message:
        "the public key alias names no current key (unknown or retired); fetch /v2/capture-key again",
};

const CARD_USED: Error = Error::BadRequest {
    code: Code::CardAlreadyUsed,
    message: "this encrypted card was used before; capture the card again",
};

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
    ((y, m) >= year_month(now()) && y <= 9999).then_some((m, y))
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
        tenant: &str,
        text: &str,
        alias: Option<&str>,
    ) -> Result<CapturedCard> {
        if let Some(a) = alias {
            let known = self
                .keyring()
                .keys()
                .iter()
                .any(|k| k.key_id == a && k.purpose == Purpose::Capture);
            if !known {
                return Err(UNKNOWN_ALIAS);
            }
        }
        let (parsed, kid) = Service::parse_encrypted_card(text, alias)?;
        let cek = self
            .keyring()
            .unwrap_content_key(&kid, parsed.encrypted_key())
            .ok_or(UNKNOWN_ALIAS)?
            .map_err(|_| BAD_CARD)?;
        // An encrypted card opens once: a copy from a log, a HAR file or a
        // relay cannot vault the card again (in this or another tenant).
        self.use_up("jwe-cek", cek.expose_bytes(), &kid)
            .await
            .map_err(|e| match e {
                Error::InvalidSession => CARD_USED,
                other => other,
            })?;
        let plain = jwe::decrypt_content(&parsed, &cek).map_err(|_| BAD_CARD)?;
        let card = Service::check_captured_card(&plain, now())?;
        // And once per tenant until its 15 minutes are over, whatever the
        // session-id setting: a keyed digest of tenant and ciphertext,
        // recorded atomically (the database decides between nodes).
        let mut input = Vec::with_capacity(8 + tenant.len() + text.len());
        input.extend_from_slice(&(tenant.len() as u64).to_be_bytes());
        input.extend_from_slice(tenant.as_bytes());
        input.extend_from_slice(text.as_bytes());
        let digest = self.vault.replay_fingerprint("encrypted-card", &input);
        let expires_at = card.captured_at + CAPTURE_VALIDITY_SECS + CAPTURE_CLOCK_SKEW_SECS;
        if !self
            .storage
            .record_encrypted_card(&digest, expires_at, now())
            .await?
        {
            tracing::warn!("replayed encrypted card refused");
            return Err(CARD_USED);
        }
        Ok(card)
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
        const NOT_A_CARD: Error = Error::BadRequest {
            code: Code::InvalidCard,
            message: "the decrypted card is not one JSON object of the documented tags and types",
        };
        // The tags first (names only: the values are skipped unread).
        let tags: BTreeMap<String, serde::de::IgnoredAny> =
            serde_json::from_slice(plain).map_err(|_| NOT_A_CARD)?;
        if tags.keys().any(|k| !CARD_TAGS.contains(&k.as_str())) {
            return Err(Error::bad_request(
                Code::UnknownCardTag,
                "the card has a tag other than cardNumber, sequenceNumber, cardholderName, startMonth, startYear, expiryMonth, expiryYear, cvv and captureTime",
            ));
        }
        let card: CardJson = serde_json::from_slice(plain).map_err(|_| NOT_A_CARD)?;
        let capture_time = card.capture_time.as_deref().ok_or(Error::bad_request(
            Code::MissingCaptureTime,
            "the card has no captureTime (RFC 3339, UTC, when the card was captured)",
        ))?;
        let Some(card_number) = card.card_number.as_ref() else {
            return Err(Error::bad_request(
                Code::MissingCardNumber,
                "the card has no cardNumber",
            ));
        };
        let captured = parse_rfc3339(capture_time).ok_or(Error::bad_request(
            Code::InvalidCaptureTime,
            "captureTime must be an RFC 3339 date-time, e.g. 2019-08-24T14:15:22Z",
        ))?;
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
        let pan = check_pan(card_number).ok_or(Error::bad_request(
            Code::InvalidCardNumber,
            "the card number must be 12 to 19 digits and pass the Luhn check",
        ))?;
        let (expiry_month, expiry_year) = card
            .expiry_month
            .as_deref()
            .zip(card.expiry_year.as_deref())
            .and_then(|(m, y)| check_expiry(m, y))
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
            captured_at: captured,
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

/// The stored details that hold what the BIN table said when the card was
/// tokenised (or relinked): reserved names, which no API parameter has.
const BIN_DETAILS: [&str; 6] = [
    "_bin.scheme",
    "_bin.type",
    "_bin.variant",
    "_bin.issuer_name",
    "_bin.country",
    "_bin.currency",
];

/// Records `info` (what the BIN table says about the card) in `details`,
/// replacing what was there; `None` (an unknown BIN) leaves nothing.
pub(crate) fn set_bin_details(details: &mut Details, info: Option<&BinInfo>) {
    for k in BIN_DETAILS {
        details.remove(k);
    }
    let Some(i) = info else { return };
    let values = [
        Some(&i.scheme),
        i.card_type.as_ref(),
        i.variant.as_ref(),
        i.issuer_name.as_ref(),
        i.country.as_ref(),
        i.currency.as_ref(),
    ];
    for (k, v) in BIN_DETAILS.into_iter().zip(values) {
        if let Some(v) = v {
            details.insert(k.to_owned(), v.clone());
        }
    }
}

/// What [`set_bin_details`] recorded (all `None` / empty for an unknown BIN).
pub(crate) fn bin_details(details: &Details) -> BinInfo {
    let get = |k: &str| details.get(k).cloned();
    BinInfo {
        scheme: get("_bin.scheme").unwrap_or_default(),
        card_type: get("_bin.type"),
        variant: get("_bin.variant"),
        issuer_name: get("_bin.issuer_name"),
        country: get("_bin.country"),
        currency: get("_bin.currency"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(json: &str) -> Result<CapturedCard> {
        Service::check_captured_card(json.as_bytes(), UnixTime(1_893_456_000))
    }

    fn code(r: Result<CapturedCard>) -> Code {
        match r {
            Err(Error::BadRequest { code, .. }) => code,
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    const T: &str = "2030-01-01T00:00:00Z";

    #[test]
    fn captured_card_tags_and_types() {
        // Expiry as JSON numbers or strings; year up to 9999.
        let c = card(&format!(
            r#"{{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":2031,"captureTime":"{T}"}}"#
        ))
        .unwrap();
        assert_eq!((c.expiry_month, c.expiry_year), (12, 2031));
        assert_eq!(c.captured_at, UnixTime(1_893_456_000));
        let c = card(&format!(
            r#"{{"cardNumber":"4111111111111111","expiryMonth":"07","expiryYear":9999,"captureTime":"{T}"}}"#
        ))
        .unwrap();
        assert_eq!((c.expiry_month, c.expiry_year), (7, 9999));
        let c = card(&format!(
            r#"{{"cardNumber":"4111111111111111","expiryMonth":1,"expiryYear":"31","captureTime":"{T}"}}"#
        ))
        .unwrap();
        assert_eq!((c.expiry_month, c.expiry_year), (1, 2031));
        for (json, want) in [
            (
                r#"{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":2031}"#.to_owned(),
                Code::MissingCaptureTime,
            ),
            (
                format!(r#"{{"expiryMonth":12,"expiryYear":2031,"captureTime":"{T}"}}"#),
                Code::MissingCardNumber,
            ),
            (
                format!(r#"{{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":2031,"captureTime":"{T}","pin":"1234"}}"#),
                Code::UnknownCardTag,
            ),
            (
                format!(r#"{{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":10000,"captureTime":"{T}"}}"#),
                Code::InvalidCardExpiry,
            ),
            (
                format!(r#"{{"cardNumber":"4111111111111111","expiryMonth":-1,"expiryYear":2031,"captureTime":"{T}"}}"#),
                Code::InvalidCard,
            ),
            (
                format!(r#"{{"cardNumber":4111111111111111,"expiryMonth":12,"expiryYear":2031,"captureTime":"{T}"}}"#),
                Code::InvalidCard,
            ),
            (
                r#"{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":2031,"captureTime":"yesterday"}"#.to_owned(),
                Code::InvalidCaptureTime,
            ),
            ("[1]".to_owned(), Code::InvalidCard),
            ("Swagger rocks".to_owned(), Code::InvalidCard),
        ] {
            assert_eq!(code(card(&json)), want, "{json}");
        }
    }

    #[test]
    fn bin_details_round_trip() {
        let mut d = Details::new();
        d.insert("cardholderName".into(), "J".into());
        let info = BinInfo {
            scheme: "VISA".into(),
            card_type: Some("CREDIT".into()),
            issuer_name: Some("paythru".into()),
            ..Default::default()
        };
        set_bin_details(&mut d, Some(&info));
        assert_eq!(bin_details(&d), info);
        set_bin_details(&mut d, None);
        assert_eq!(bin_details(&d), BinInfo::default());
        assert_eq!(d.len(), 1);
    }
}
