//! The account payment-information API, independent of HTTP: a
//! user's stored cards, every request and answer encrypted
//! ([`paysecure_core::body`]) under the session key of a PaySecure session id
//! or the tenant's data key.
//!
//! Errors use the API's own envelope `{"error":{"code","message","detail"}}`
//! with its codes where it has them (903 not found, 906 CVV information,
//! 933 create failed, 975 update failed) and ours around them: 910
//! unauthorized, 911 undecryptable, 912 stale, 913 replayed, 914 invalid
//! parameter.

use paysecure_core::body;
use paysecure_core::card::{self, CardBrand};
use paysecure_core::{KeySize, SessionKey};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::cvv;
use crate::crypto::vault::Binding;
use crate::domain::error::{Code, Error};
use crate::domain::service::Service;
use crate::domain::tokens::check_pan;
use crate::storage::{PaymentInfoRow, StorageError};
use crate::util::card::masked_pan;
use crate::util::codec::{hex_lower, sha256};
pub use crate::util::ids::uuid;
use crate::util::ids::{new_uuid, random_bytes};
use crate::util::time::{now, us_date, year_month, UnixTime};

/// How far a body's timestamp may be from the server's clock.
pub const FRESHNESS_SECS: i64 = 5 * 60;
/// Consecutive CVV mismatches (re-verify or update) that mark a card `FRAUD`.
pub const FRAUD_AFTER: i64 = 3;

/// An error of this API: HTTP status, code, message, detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountError {
    /// HTTP status.
    pub status: u16,
    /// The envelope's `code`.
    pub code: u16,
    /// The envelope's `message`.
    pub message: &'static str,
    /// The envelope's `detail` (names fields, never values).
    pub detail: Option<String>,
}

const fn err(status: u16, code: u16, message: &'static str) -> AccountError {
    AccountError {
        status,
        code,
        message,
        detail: None,
    }
}

impl AccountError {
    fn with(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// 903 as DeletePaymentInfo words it (404, no full stop).
pub const NOT_FOUND: AccountError =
    err(404, 903, "This account payment information does not exist");
/// 903 as CancelPaymentInfoByOrderId words it: the document's status line is
/// "400 Not Found", and 400 is the number a client reads.
pub const NOT_FOUND_CANCEL: AccountError =
    err(400, 903, "This account payment information does not exist");
/// 903 as GetPaymentInfo (the list) words it.
pub const NOT_FOUND_LIST: AccountError = err(
    404,
    903,
    "This account's payment information does not exist",
);
/// 903 as GetPaymentinfoByPaymentInfoID words it; also for update,
/// re-verify and reset, which name one card the same way.
pub const NOT_FOUND_ONE: AccountError = err(
    404,
    903,
    "This account's payment information does not exist.",
);
/// 903 as GetCardExpiries words it.
pub const NOT_FOUND_EXPIRIES: AccountError =
    err(404, 903, "This account payment information does not exist.");
/// 906: the CVV token does not resolve (unknown, used, expired, another
/// tenant's), or, on re-verify, the CVV it resolved to is not the card's.
pub const CVV_UNKNOWN: AccountError = err(404, 906, "cvv information does not exist.");
/// 933 (the document answers it with 500).
pub const CREATE_FAILED: AccountError = err(500, 933, "Failed to create payment information.");
/// 975 (the document answers it with 500).
pub const UPDATE_FAILED: AccountError = err(
    500,
    975,
    "An unexpected error occurred during update payment information. Please try again.",
);
/// The document's own detail for a card number that is not valid.
pub const INVALID_ACCOUNT_NUMBER: &str =
    "[23] Invalid credit card information. Please re-enter. (Invalid account number)";
/// The detail of 933 when the CVV the token resolved to is not the card's.
pub const INVALID_CVV: &str =
    "Invalid credit card information. Please re-enter. (Invalid card verification value)";
/// The detail of 975 when the card cannot be authorized (the document's own):
/// a `FRAUD` card, or a CVV that is not the card's.
pub const CANNOT_AUTHORIZE: &str = "Cannot authorize this card information.";
/// The detail of 906 on re-verify when the CVV is not the card's (an
/// unresolvable token has none, as in the document).
pub const CVV_MISMATCH: &str = "The card verification value does not match the card.";
/// How long a minted CVV token resolves.
pub const CVV_TOKEN_TTL_SECS: i64 = 10 * 60;
/// 910.
pub const UNAUTHORIZED: AccountError = err(401, 910, "Unauthorized.");
/// 911.
pub const UNDECRYPTABLE: AccountError = err(400, 911, "The encrypted data could not be decrypted.");
/// 912.
pub const STALE: AccountError = err(
    400,
    912,
    "The encrypted data is too old or from the future.",
);
/// 913.
pub const REPLAYED: AccountError = err(400, 913, "The encrypted data was sent before.");
/// 914.
pub const INVALID: AccountError = err(400, 914, "Invalid request.");
/// 429.
pub const RATE_LIMITED: AccountError = err(429, 429, "Too many failed authentications.");
/// 429: the credential's request rate is exhausted.
pub const TOO_MANY_REQUESTS: AccountError = err(429, 429, "Too many requests.");
/// 500.
pub const INTERNAL: AccountError = err(500, 999, "Internal error.");

/// A request of this API failed: an answer in its own format, or an
/// internal failure.
pub type Failure = crate::domain::error::Failure<AccountError>;

impl From<AccountError> for Failure {
    fn from(e: AccountError) -> Self {
        Failure::Api(e)
    }
}

type Result<T> = std::result::Result<T, Failure>;

// ------------------------------------------------------------------ requests

/// `addressInfo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInfo {
    street: Option<String>,
    street2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
}

/// `billingInfo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BillingInfo {
    first_name: Option<String>,
    last_name: Option<String>,
    middle_initial: Option<String>,
    date_of_birth: Option<String>,
    phone_number: Option<String>,
    email_address: Option<String>,
    address_info: Option<AddressInfo>,
}

/// `paymentInfo.card`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardIn {
    card_num: Option<Zeroizing<String>>,
    card_exp_year: Option<String>,
    card_exp_month: Option<String>,
    /// The table spells it `cardCVVToken`, the examples `cardCvvToken`.
    #[serde(alias = "cardCVVToken")]
    card_cvv_token: Option<Zeroizing<String>>,
    card_holder: Option<String>,
    card_nick_name: Option<String>,
}

/// `paymentInfo`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentInfoIn {
    payment_type: Option<String>,
    is_default: Option<bool>,
    card: Option<CardIn>,
}

/// The body of create, update and re-verify.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentRequest {
    order_id: Option<String>,
    udid: Option<String>,
    billing_info: Option<BillingInfo>,
    payment_info: Option<PaymentInfoIn>,
    access_country_code: Option<String>,
    ip_address: Option<String>,
}

fn invalid(detail: impl Into<String>) -> Failure {
    Failure::Api(INVALID.with(detail))
}

/// A mandatory (or optional) text of at most `max` characters.
fn text<'a>(
    v: &'a Option<String>,
    name: &str,
    max: usize,
    mandatory: bool,
) -> Result<Option<&'a str>> {
    match v.as_deref() {
        None | Some("") if mandatory => Err(invalid(format!("{name} is mandatory"))),
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(invalid(format!("{name} is longer than {max} characters")))
        }
        Some(s) => Ok(Some(s)),
    }
}

fn must<'a>(v: &'a Option<String>, name: &str, max: usize) -> Result<&'a str> {
    text(v, name, max, true).map(Option::unwrap_or_default)
}

/// Checks `billingInfo` and returns it as the stored JSON.
fn billing(b: &Option<BillingInfo>) -> Result<Value> {
    let b = b
        .as_ref()
        .ok_or_else(|| invalid("billingInfo is mandatory"))?;
    let a = b
        .address_info
        .as_ref()
        .ok_or_else(|| invalid("billingInfo.addressInfo is mandatory"))?;
    let dob = must(&b.date_of_birth, "billingInfo.dateOfBirth", 8)?;
    let dob_ok = dob.len() == 8
        && time::Date::parse(dob, time::macros::format_description!("[year][month][day]")).is_ok();
    if !dob_ok {
        return Err(invalid("billingInfo.dateOfBirth must be YYYYMMDD"));
    }
    let email = must(&b.email_address, "billingInfo.emailAddress", 200)?;
    if !email.contains('@') {
        return Err(invalid("billingInfo.emailAddress is not an e-mail address"));
    }
    let country = must(&a.country_code, "billingInfo.addressInfo.countryCode", 2)?;
    if country.len() != 2 || !country.bytes().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid(
            "billingInfo.addressInfo.countryCode must be two capital letters",
        ));
    }
    let state = text(&a.state, "billingInfo.addressInfo.state", 50, false)?;
    if matches!(country, "US" | "CA") && state.is_some_and(|s| s.len() != 2) {
        return Err(invalid(
            "billingInfo.addressInfo.state must be a 2-character code in the US and Canada",
        ));
    }
    let mut address = serde_json::Map::new();
    address.insert(
        "street".into(),
        must(&a.street, "billingInfo.addressInfo.street", 256)?.into(),
    );
    if let Some(s) = text(&a.street2, "billingInfo.addressInfo.street2", 50, false)? {
        address.insert("street2".into(), s.into());
    }
    address.insert(
        "city".into(),
        must(&a.city, "billingInfo.addressInfo.city", 50)?.into(),
    );
    if let Some(s) = state {
        address.insert("state".into(), s.into());
    }
    address.insert(
        "postalCode".into(),
        must(&a.postal_code, "billingInfo.addressInfo.postalCode", 20)?.into(),
    );
    address.insert("countryCode".into(), country.into());
    let mut out = serde_json::Map::new();
    out.insert(
        "firstName".into(),
        must(&b.first_name, "billingInfo.firstName", 50)?.into(),
    );
    out.insert(
        "lastName".into(),
        must(&b.last_name, "billingInfo.lastName", 50)?.into(),
    );
    if let Some(m) = text(&b.middle_initial, "billingInfo.middleInitial", 50, false)? {
        out.insert("middleInitial".into(), m.into());
    }
    out.insert("dateOfBirth".into(), dob.into());
    out.insert(
        "phoneNumber".into(),
        must(&b.phone_number, "billingInfo.phoneNumber", 20)?.into(),
    );
    out.insert("emailAddress".into(), email.into());
    out.insert("addressInfo".into(), Value::Object(address));
    Ok(Value::Object(out))
}

/// The checks every request with a body shares: orderId, udid, country, IP.
fn envelope(r: &PaymentRequest) -> Result<Value> {
    must(&r.order_id, "orderId", 36)?;
    let country = must(&r.access_country_code, "accessCountryCode", 2)?;
    if country.len() != 2 || !country.bytes().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid("accessCountryCode must be two capital letters"));
    }
    let ip = must(&r.ip_address, "ipAddress", 50)?;
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid("ipAddress is not an IP address"));
    }
    Ok(json!({
        "udid": must(&r.udid, "udid", 50)?,
        "accessCountryCode": country,
        "ipAddress": ip,
    }))
}

fn payment(r: &PaymentRequest) -> Result<(&PaymentInfoIn, &CardIn)> {
    let p = r
        .payment_info
        .as_ref()
        .ok_or_else(|| invalid("paymentInfo is mandatory"))?;
    let kind = must(&p.payment_type, "paymentInfo.paymentType", 50)?;
    // The document writes both "CreditCard" and "Credit Card".
    if kind != "CreditCard" && kind != "Credit Card" {
        return Err(invalid("paymentInfo.paymentType must be CreditCard"));
    }
    let card = p
        .card
        .as_ref()
        .ok_or_else(|| invalid("paymentInfo.card is mandatory"))?;
    Ok((p, card))
}

fn cvv_token(card: &CardIn) -> Result<&str> {
    let t = card
        .card_cvv_token
        .as_deref()
        .map(String::as_str)
        .unwrap_or_default();
    if t.is_empty() {
        return Err(invalid("paymentInfo.card.cardCVVToken is mandatory"));
    }
    if t.len() > 20 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(
            "paymentInfo.card.cardCVVToken must be at most 20 letters and digits",
        ));
    }
    // A real CVV sent by mistake: refused before anything is derived from
    // it (a keyed hash of 1 of 10,000 values would be no protection).
    if cvv_shaped(t) {
        return Err(invalid(
            "paymentInfo.card.cardCVVToken must be a token, not a card verification value",
        ));
    }
    Ok(t)
}

/// Whether a CVV token looks like a real CVV/CVC/CID: 3 or 4 digits only.
pub fn cvv_shaped(token: &str) -> bool {
    (3..=4).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit())
}

fn status_of(row: &PaymentInfoRow) -> &str {
    if row.status == "FRAUD" {
        "FRAUD"
    } else if (row.expiry_year, row.expiry_month) < year_month(now()) {
        "INACTIVE"
    } else {
        &row.status
    }
}

fn binding<'a>(tenant: &'a str, id: &'a str, field: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: id,
        field,
    }
}

fn expiry(card: &CardIn, failure: AccountError) -> Result<(i64, i64)> {
    let y = must(&card.card_exp_year, "paymentInfo.card.cardExpYear", 4)?;
    let m = must(&card.card_exp_month, "paymentInfo.card.cardExpMonth", 2)?;
    let year = (y.len() == 4).then(|| y.parse::<i64>().ok()).flatten();
    let month = (m.len() == 2).then(|| m.parse::<i64>().ok()).flatten();
    let (Some(year), Some(month)) = (year, month.filter(|m| (1..=12).contains(m))) else {
        return Err(invalid(
            "paymentInfo.card.cardExpYear/cardExpMonth must be YYYY and MM",
        ));
    };
    if (year, month) < year_month(now()) {
        return Err(Failure::Api(failure.with("The card has expired.")));
    }
    Ok((month, year))
}

/// Stored details of a payment card.
fn details_json(billing: Value, envelope: Value, card: &CardIn) -> Result<Value> {
    let mut d = json!({
        "billingInfo": billing,
        "device": envelope,
        "cardHolder": must(&card.card_holder, "paymentInfo.card.cardHolder", 50)?,
    });
    if let Some(n) = text(
        &card.card_nick_name,
        "paymentInfo.card.cardNickName",
        20,
        false,
    )? {
        d["cardNickName"] = n.into();
    }
    Ok(d)
}

impl Service {
    /// The tenant's data key for bodies sent without a Session-Id.
    pub async fn tenant_data_key(
        &self,
        tenant: &str,
    ) -> crate::domain::error::Result<Option<SessionKey>> {
        let Some(sealed) = self.storage.tenant_data_key(tenant).await? else {
            return Ok(None);
        };
        let raw = self.vault.open(binding(tenant, "-", "data_key"), &sealed)?;
        SessionKey::from_bytes(&raw)
            .map(Some)
            .map_err(|_| Error::Crypto("stored data key is invalid"))
    }

    /// Makes (or replaces) the tenant's AES-256 data key; returns it, base64,
    /// to be handed to the tenant's servers once.
    pub async fn rotate_tenant_data_key(
        &self,
        tenant: &str,
    ) -> crate::domain::error::Result<Zeroizing<String>> {
        if self.storage.tenant(tenant).await?.is_none() {
            return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
        }
        let key =
            SessionKey::generate(KeySize::Aes256).map_err(|_| Error::Crypto("no randomness"))?;
        let sealed = self
            .vault
            .seal(binding(tenant, "-", "data_key"), key.expose_bytes())?;
        self.storage
            .set_tenant_data_key(tenant, &sealed, now())
            .await?;
        Ok(key.to_base64())
    }

    /// Opens one encrypted value: it must decrypt, be fresh (±5 minutes)
    /// and never have been seen before under this key.
    pub async fn open_body(&self, key: &SessionKey, text: &str) -> Result<Zeroizing<Vec<u8>>> {
        let opened = body::open(key, text).map_err(|_| UNDECRYPTABLE)?;
        let age = now().secs() - i64::try_from(opened.timestamp).unwrap_or(i64::MAX);
        if age.abs() > FRESHNESS_SECS {
            return Err(STALE.into());
        }
        let mut fingerprint = Zeroizing::new(key.expose_bytes().to_vec());
        fingerprint.extend_from_slice(&opened.nonce);
        if !self
            .storage
            .record_body_nonce(&sha256(&fingerprint), now())
            .await?
        {
            tracing::warn!("encrypted body replayed: refused");
            return Err(REPLAYED.into());
        }
        Ok(opened.plaintext)
    }

    /// Encrypts an answer.
    pub fn seal_body(&self, key: &SessionKey, value: &Value) -> Result<String> {
        let json = Zeroizing::new(value.to_string());
        body::seal(
            key,
            json.as_bytes(),
            u64::try_from(now().secs()).unwrap_or_default(),
        )
        .map_err(|_| Failure::Internal(Error::Crypto("body encryption failed")))
    }

    /// CreatePaymentInfo. The CVV token is resolved last, after every other
    /// check (a refused request does not use it up); the CVV it resolves to
    /// must be the card's: the CVV2 of the tenant's CVK for this card number
    /// and expiry.
    pub async fn create_payment_info(
        &self,
        tenant: &str,
        account: &str,
        r: &PaymentRequest,
    ) -> Result<Value> {
        let device = envelope(r)?;
        let billing = billing(&r.billing_info)?;
        let (p, card) = payment(r)?;
        let pan = card
            .card_num
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("paymentInfo.card.cardNum is mandatory"))?;
        let pan = check_pan(pan)
            .filter(|p| p.len() <= 19)
            .ok_or_else(|| Failure::Api(CREATE_FAILED.with(INVALID_ACCOUNT_NUMBER)))?;
        let (month, year) = expiry(card, CREATE_FAILED)?;
        let token = cvv_token(card)?;
        let details = details_json(billing, device, card)?;
        let order = must(&r.order_id, "orderId", 36)?;
        let index = self.vault.pan_index(tenant, &pan);
        let existing = self.storage.payment_infos(tenant, account).await?;
        if existing
            .iter()
            .any(|e| bool::from(e.pan_index.ct_eq(&index)))
        {
            return Err(CREATE_FAILED
                .with("This card is already registered for the user.")
                .into());
        }
        let cvv = self.resolve_cvv_token(tenant, token).await?;
        if !self.cvv_is_cards(tenant, &pan, month, year, &cvv).await? {
            return Err(CREATE_FAILED.with(INVALID_CVV).into());
        }
        let id = new_uuid()?;
        let t = now();
        let sealed_details = Zeroizing::new(details.to_string());
        let row = PaymentInfoRow {
            tenant_id: tenant.to_owned(),
            account_uuid: account.to_owned(),
            order_id: order.to_owned(),
            status: "ACTIVE".into(),
            // The first card is the default; later ones when asked.
            is_default: p.is_default.unwrap_or(existing.is_empty()) || existing.is_empty(),
            pan_index: index,
            pan_sealed: self
                .vault
                .seal(binding(tenant, &id, "pan"), pan.as_bytes())?,
            pan_first6: pan.get(..6).unwrap_or_default().to_owned(),
            pan_last4: pan
                .get(pan.len().saturating_sub(4)..)
                .unwrap_or_default()
                .to_owned(),
            pan_length: pan.len() as i64,
            brand: card::card_brand(&pan)
                .unwrap_or(CardBrand::Unknown)
                .as_str()
                .to_owned(),
            expiry_month: month,
            expiry_year: year,
            details_sealed: self
                .vault
                .seal(binding(tenant, &id, "details"), sealed_details.as_bytes())?,
            // Nothing about the CVV or its token is kept with the card.
            cvv_token_mac: Vec::new(),
            cvv_failures: 0,
            version: 1,
            registered_at: t,
            updated_at: t,
            id,
        };
        match self.storage.insert_payment_info(&row).await {
            Err(StorageError::Duplicate) => {
                return Err(CREATE_FAILED
                    .with("orderId was already used for this user.")
                    .into())
            }
            other => other?,
        }
        Ok(json!({"data": {
            "uuid": account,
            "paymentInfoId": row.id,
            "registeredDate": us_date(row.registered_at),
        }}))
    }

    async fn payment_row(&self, tenant: &str, account: &str, id: &str) -> Result<PaymentInfoRow> {
        self.storage
            .payment_info(tenant, account, id)
            .await?
            .ok_or(Failure::Api(NOT_FOUND_ONE))
    }

    /// That a user's card exists (903 as GetPaymentinfoByPaymentInfoID words
    /// it): checked before a request's body is opened or validated.
    pub async fn require_payment_info(&self, tenant: &str, account: &str, id: &str) -> Result<()> {
        self.payment_row(tenant, account, id).await.map(drop)
    }

    fn payment_details(&self, row: &PaymentInfoRow) -> Result<Value> {
        let raw = self.vault.open(
            binding(&row.tenant_id, &row.id, "details"),
            &row.details_sealed,
        )?;
        serde_json::from_slice(&raw)
            .map_err(|_| Failure::Internal(Error::Crypto("details are not JSON")))
    }

    /// The card number of a stored card, opened from the vault.
    fn payment_pan(&self, row: &PaymentInfoRow) -> Result<Zeroizing<String>> {
        let raw = self
            .vault
            .open(binding(&row.tenant_id, &row.id, "pan"), &row.pan_sealed)?;
        String::from_utf8(raw.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Failure::Internal(Error::Crypto("stored PAN is not text")))
    }

    /// Whether `cvv` is the card's: the CVV2 the tenant's CVK gives for this
    /// card number and expiry (service code `000`), compared in constant
    /// time. A value that is not 3 or 4 digits is simply not the card's.
    async fn cvv_is_cards(
        &self,
        tenant: &str,
        pan: &str,
        month: i64,
        year: i64,
        cvv: &str,
    ) -> Result<bool> {
        let cvk = self.cvk(tenant).await?;
        let yymm = format!("{:02}{:02}", year.rem_euclid(100), month);
        match cvv::verify(&*cvk, pan, &yymm, "000", cvv) {
            Ok(right) => Ok(right),
            Err(cvv::CvvError::InvalidCandidate) => Ok(false),
            Err(_) => Err(Failure::Internal(Error::Crypto("CVV computation failed"))),
        }
    }

    /// Counts a CVV that is not the card's (atomically, shared by every
    /// node); the [`FRAUD_AFTER`]th marks the card `FRAUD`. `false` if the
    /// card was `FRAUD` already (or is gone).
    async fn count_wrong_cvv(&self, row: &PaymentInfoRow) -> Result<bool> {
        let counted = self
            .storage
            .record_wrong_cvv(
                &row.tenant_id,
                &row.account_uuid,
                &row.id,
                FRAUD_AFTER,
                now(),
            )
            .await?;
        if let Some(c) = &counted {
            if c.status == "FRAUD" {
                audit(
                    &row.tenant_id,
                    &row.id,
                    "fraud",
                    "CVV mismatches reached the limit",
                );
            }
        }
        Ok(counted.is_some())
    }

    /// UpdatePaymentInfo (the card number itself never changes). The card
    /// must exist (903) before the body is checked; the CVV token must
    /// resolve (906) to the card's CVV for the new expiry, else 975 and the
    /// mismatch is counted as on re-verify.
    pub async fn update_payment_info(
        &self,
        tenant: &str,
        account: &str,
        id: &str,
        r: &PaymentRequest,
    ) -> Result<Value> {
        self.require_payment_info(tenant, account, id).await?;
        let device = envelope(r)?;
        let billing = billing(&r.billing_info)?;
        let (p, card) = payment(r)?;
        if card.card_num.is_some() {
            return Err(invalid(
                "paymentInfo.card.cardNum cannot be updated; create a new payment information",
            ));
        }
        let (month, year) = expiry(card, UPDATE_FAILED)?;
        let token = cvv_token(card)?;
        let details = details_json(billing, device, card)?;
        let cvv = self.resolve_cvv_token(tenant, token).await?;
        for _ in 0..5 {
            let mut row = self.payment_row(tenant, account, id).await?;
            if row.status == "FRAUD" {
                return Err(UPDATE_FAILED.with(CANNOT_AUTHORIZE).into());
            }
            let pan = self.payment_pan(&row)?;
            if !self.cvv_is_cards(tenant, &pan, month, year, &cvv).await? {
                self.count_wrong_cvv(&row).await?;
                return Err(UPDATE_FAILED.with(CANNOT_AUTHORIZE).into());
            }
            row.expiry_month = month;
            row.expiry_year = year;
            row.details_sealed = self.vault.seal(
                binding(tenant, &row.id, "details"),
                Zeroizing::new(details.to_string()).as_bytes(),
            )?;
            row.cvv_token_mac = Vec::new();
            row.cvv_failures = 0;
            row.status = "ACTIVE".into();
            // A user keeps a default card: `true` makes this one the
            // default; `false` cannot take it away (another card must take it).
            if p.is_default == Some(true) {
                row.is_default = true;
            }
            row.version += 1;
            row.updated_at = now();
            if self.storage.update_payment_info(&row).await? {
                return Ok(json!({"data": {
                    "uuid": account,
                    "paymentInfoId": row.id,
                    "status": status_of(&row),
                    "updatedDate": us_date(row.updated_at),
                }}));
            }
        }
        Err(UPDATE_FAILED
            .with("The payment information kept changing; retry.")
            .into())
    }

    /// DeletePaymentInfo.
    pub async fn delete_payment_info(
        &self,
        tenant: &str,
        account: &str,
        id: &str,
    ) -> Result<Value> {
        if !self
            .storage
            .delete_payment_info(tenant, account, id)
            .await?
        {
            return Err(NOT_FOUND.into());
        }
        Ok(json!({"data": {"uuid": account}}))
    }

    /// CancelPaymentInfoByOrderId. An order id that cannot exist (empty,
    /// longer than 36 characters) is simply not found.
    pub async fn cancel_payment_info(
        &self,
        tenant: &str,
        account: &str,
        order: &str,
    ) -> Result<Value> {
        if order.is_empty()
            || order.chars().count() > 36
            || !self
                .storage
                .delete_payment_info_by_order(tenant, account, order)
                .await?
        {
            return Err(NOT_FOUND_CANCEL.into());
        }
        Ok(json!({"data": {"orderId": order}}))
    }

    /// GetPaymentInfo (the list).
    pub async fn list_payment_infos(&self, tenant: &str, account: &str) -> Result<Value> {
        let rows = self.storage.payment_infos(tenant, account).await?;
        if rows.is_empty() {
            return Err(NOT_FOUND_LIST.into());
        }
        let infos: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "paymentInfoId": r.id,
                    "status": status_of(r),
                    "paymentInfo": {"paymentType": "CreditCard", "isDefault": r.is_default},
                })
            })
            .collect();
        Ok(json!({"data": {"uuid": account, "totalCount": infos.len(), "paymentInfos": infos}}))
    }

    /// GetPaymentinfoByPaymentInfoID. The card number is masked: the full
    /// PAN never leaves the vault through this API.
    pub async fn get_payment_info(&self, tenant: &str, account: &str, id: &str) -> Result<Value> {
        let row = self.payment_row(tenant, account, id).await?;
        let d = self.payment_details(&row)?;
        let mut card = json!({
            "cardNum": masked_pan(&row.pan_first6, row.pan_length, &row.pan_last4),
            "cardExpYear": format!("{:04}", row.expiry_year),
            "cardExpMonth": format!("{:02}", row.expiry_month),
            "cardHolder": d["cardHolder"],
        });
        if let Some(n) = d.get("cardNickName") {
            card["cardNickName"] = n.clone();
        }
        card["cardBrand"] = row.brand.clone().into();
        card["cardLastNum"] = row.pan_last4.clone().into();
        Ok(json!({"data": {
            "uuid": account,
            "paymentInfoId": row.id,
            "status": status_of(&row),
            "billingInfo": d["billingInfo"],
            "paymentInfo": {"paymentType": "CreditCard", "isDefault": row.is_default, "card": card},
        }}))
    }

    /// GetCardExpiries: the user's cards that have expired or expire this
    /// month or next, each marked: `expired` is `true` for a card past its
    /// expiry month, `false` for one about to expire.
    pub async fn card_expiries(&self, tenant: &str, account: &str) -> Result<Value> {
        let rows = self.storage.payment_infos(tenant, account).await?;
        if rows.is_empty() {
            return Err(NOT_FOUND_EXPIRIES.into());
        }
        let current = year_month(now());
        let (y, m) = current;
        let horizon = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let infos: Vec<Value> = rows
            .iter()
            .filter(|r| (r.expiry_year, r.expiry_month) <= horizon)
            .map(|r| {
                json!({
                    "paymentInfoId": r.id,
                    "expired": (r.expiry_year, r.expiry_month) < current,
                    "paymentInfo": {"paymentType": "CreditCard", "card": {
                        "cardExpYear": format!("{:04}", r.expiry_year),
                        "cardExpMonth": format!("{:02}", r.expiry_month),
                    }},
                })
            })
            .collect();
        Ok(json!({"data": {"uuid": account, "totalCount": infos.len(), "paymentInfos": infos}}))
    }

    /// ReVerifyPaymentInfo: the card must exist (903) before the body is
    /// checked; the CVV token must resolve (906, detail null); the CVV it
    /// resolves to is checked against the card. A mismatch answers 906 with
    /// a detail and is counted (one atomic update, shared by every node);
    /// the [`FRAUD_AFTER`]th marks the card `FRAUD`, which then answers
    /// `FRAUD` to any token until the tenant resets it
    /// ([`Self::reset_payment_info`]). A right CVV clears the count.
    pub async fn reverify_payment_info(
        &self,
        tenant: &str,
        account: &str,
        id: &str,
        r: &PaymentRequest,
    ) -> Result<Value> {
        self.require_payment_info(tenant, account, id).await?;
        envelope(r)?;
        let (_, card) = payment(r)?;
        let token = cvv_token(card)?;
        let cvv = self.resolve_cvv_token(tenant, token).await?;
        let row = self.payment_row(tenant, account, id).await?;
        let answer = |row: &PaymentInfoRow, status: &str| json!({"data": {"uuid": account, "paymentInfoId": row.id, "status": status}});
        if row.status == "FRAUD" {
            return Ok(answer(&row, "FRAUD"));
        }
        let pan = self.payment_pan(&row)?;
        if self
            .cvv_is_cards(tenant, &pan, row.expiry_month, row.expiry_year, &cvv)
            .await?
        {
            if self
                .storage
                .record_right_cvv(tenant, account, &row.id, now())
                .await?
            {
                return Ok(answer(&row, status_of(&row)));
            }
            // FRAUD reached meanwhile by concurrent mismatches (or deleted).
            let row = self.payment_row(tenant, account, id).await?;
            return Ok(answer(&row, status_of(&row)));
        }
        if self.count_wrong_cvv(&row).await? {
            return Err(CVV_UNKNOWN.with(CVV_MISMATCH).into());
        }
        let row = self.payment_row(tenant, account, id).await?;
        Ok(answer(&row, status_of(&row)))
    }

    /// The tenant's way back from `FRAUD`: the card is `ACTIVE` again with
    /// no mismatch counted (an audit event records it). A card that is not
    /// `FRAUD` is left as it is. 903 if there is no such card.
    pub async fn reset_payment_info(&self, tenant: &str, account: &str, id: &str) -> Result<Value> {
        let row = self.payment_row(tenant, account, id).await?;
        if self
            .storage
            .reset_payment_info_fraud(tenant, account, id, now())
            .await?
        {
            audit(tenant, &row.id, "reset", "FRAUD cleared by the tenant");
        }
        let row = self.payment_row(tenant, account, id).await?;
        Ok(json!({"data": {"uuid": account, "paymentInfoId": row.id, "status": status_of(&row)}}))
    }

    /// The CVV token service (the document's "SAKA token for decryption of the
    /// Card Verification Value"): mints a one-time token, valid
    /// [`CVV_TOKEN_TTL_SECS`], that only `tenant` can resolve, for `cvv`
    /// (3 or 4 digits). The CVV is kept sealed by the vault (bound to
    /// tenant and token) until the token is used or expires. Returns the
    /// token (20 digits, as the document's examples) and its expiry.
    pub async fn mint_cvv_token(
        &self,
        tenant: &str,
        cvv: &str,
    ) -> crate::domain::error::Result<(String, UnixTime)> {
        if !cvv_shaped(cvv) {
            return Err(Error::bad_request(
                Code::InvalidCvv,
                "a card verification value is 3 or 4 digits",
            ));
        }
        if self.storage.tenant(tenant).await?.is_none() {
            return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
        }
        let token = new_cvv_token()?;
        let mac = self.vault.keyed_mac(&["cvv-token", tenant, &token]);
        let subject = hex_lower(&mac);
        let sealed = self
            .vault
            .seal(binding(tenant, &subject, "cvv-token"), cvv.as_bytes())?;
        let t = now();
        let expires = t + CVV_TOKEN_TTL_SECS;
        self.storage
            .insert_cvv_token(&mac, tenant, &sealed, t, expires)
            .await?;
        Ok((token, expires))
    }

    /// The sandbox's helper: a CVV token for the card's own CVV (the CVV2
    /// the tenant's CVK gives for `pan` and `expiry_yymm`), which is never
    /// shown. For integration tests against cards that were not issued here.
    pub async fn mint_cvv_token_for_card(
        &self,
        tenant: &str,
        pan: &str,
        expiry_yymm: &str,
    ) -> crate::domain::error::Result<(String, UnixTime)> {
        let pan = check_pan(pan)
            .ok_or_else(|| Error::bad_request(Code::InvalidPan, "the PAN is not valid"))?;
        let cvk = self.cvk(tenant).await?;
        let cvv =
            Zeroizing::new(cvv::cvv2(&*cvk, &pan, expiry_yymm).map_err(|_| {
                Error::bad_request(Code::InvalidCardExpiry, "the expiry must be YYMM")
            })?);
        self.mint_cvv_token(tenant, &cvv).await
    }

    /// Resolves (and so uses up) a CVV token of `tenant`: the CVV, or 906
    /// when the token is unknown, used, expired or another tenant's.
    async fn resolve_cvv_token(&self, tenant: &str, token: &str) -> Result<Zeroizing<String>> {
        let mac = self.vault.keyed_mac(&["cvv-token", tenant, token]);
        let Some(sealed) = self.storage.take_cvv_token(tenant, &mac, now()).await? else {
            return Err(CVV_UNKNOWN.into());
        };
        let subject = hex_lower(&mac);
        let raw = self
            .vault
            .open(binding(tenant, &subject, "cvv-token"), &sealed)?;
        String::from_utf8(raw.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Failure::Internal(Error::Crypto("sealed CVV is not text")))
    }
}

/// A new CVV token: `1` and 19 random digits (rejection-sampled, so
/// uniform).
fn new_cvv_token() -> crate::domain::error::Result<String> {
    const BOUND: u64 = 10_000_000_000_000_000_000;
    for _ in 0..64 {
        let n = u64::from_le_bytes(random_bytes::<8>()?);
        if n < BOUND {
            return Ok(format!("1{n:019}"));
        }
    }
    Err(Error::Crypto("no randomness"))
}

/// One audit event about a user's card: tenant, paymentInfoId (not
/// secret), action. Never card data.
fn audit(tenant: &str, payment_info: &str, action: &'static str, what: &'static str) {
    tracing::info!(
        target: "paysecure::audit",
        tenant,
        payment_info,
        action,
        "{what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::UnixTime;

    #[test]
    fn dates_and_ids() {
        assert_eq!(us_date(UnixTime(1_449_828_061)), "12/11/2015 10:01:01");
        let id = new_uuid().unwrap();
        assert_eq!(uuid(&id).as_deref(), Some(id.as_str()));
        assert_eq!(id.as_bytes()[14], b'4');
        assert_eq!(
            uuid("89396B99-5A57-4ECA-96C9-60ED109F8C8A").as_deref(),
            Some("89396b99-5a57-4eca-96c9-60ed109f8c8a")
        );
        assert!(uuid("2083718938012321038243").is_none());
    }
}
