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

use crate::crypto::vault::Binding;
use crate::domain::error::{Code, Error};
use crate::domain::service::Service;
use crate::domain::tokens::check_pan;
use crate::storage::{PaymentInfoRow, StorageError};
use crate::util::card::masked_pan;
use crate::util::codec::sha256;
use crate::util::ids::new_uuid;
pub use crate::util::ids::uuid;
use crate::util::time::{now, us_date, year_month};

/// How far a body's timestamp may be from the server's clock.
pub const FRESHNESS_SECS: i64 = 5 * 60;
/// Failed re-verifications that mark a card `FRAUD`.
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

/// 903.
pub const NOT_FOUND: AccountError =
    err(404, 903, "This account payment information does not exist.");
/// 906.
pub const CVV_UNKNOWN: AccountError = err(404, 906, "cvv information does not exist.");
/// 933.
pub const CREATE_FAILED: AccountError = err(400, 933, "Failed to create payment information.");
/// 975.
pub const UPDATE_FAILED: AccountError = err(
    400,
    975,
    "An unexpected error occurred during update payment information. Please try again.",
);
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
    // The seed writes both "CreditCard" and "Credit Card".
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

    /// CreatePaymentInfo.
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
        let pan =
            check_pan(pan).filter(|p| p.len() <= 19).ok_or_else(|| {
                Failure::Api(CREATE_FAILED.with(
                    "Invalid credit card information. Please re-enter. (Invalid account number)",
                ))
            })?;
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
            cvv_token_mac: self.vault.keyed_mac(&["cvv-token", tenant, &id, token]),
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
            .ok_or(Failure::Api(NOT_FOUND))
    }

    fn payment_details(&self, row: &PaymentInfoRow) -> Result<Value> {
        let raw = self.vault.open(
            binding(&row.tenant_id, &row.id, "details"),
            &row.details_sealed,
        )?;
        serde_json::from_slice(&raw)
            .map_err(|_| Failure::Internal(Error::Crypto("details are not JSON")))
    }

    /// UpdatePaymentInfo (the card number itself never changes).
    pub async fn update_payment_info(
        &self,
        tenant: &str,
        account: &str,
        id: &str,
        r: &PaymentRequest,
    ) -> Result<Value> {
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
        for _ in 0..5 {
            let mut row = self.payment_row(tenant, account, id).await?;
            if row.status == "FRAUD" {
                return Err(UPDATE_FAILED
                    .with("Cannot authorize this card information.")
                    .into());
            }
            row.expiry_month = month;
            row.expiry_year = year;
            row.details_sealed = self.vault.seal(
                binding(tenant, &row.id, "details"),
                Zeroizing::new(details.to_string()).as_bytes(),
            )?;
            row.cvv_token_mac = self.vault.keyed_mac(&["cvv-token", tenant, &row.id, token]);
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

    /// CancelPaymentInfoByOrderId.
    pub async fn cancel_payment_info(
        &self,
        tenant: &str,
        account: &str,
        order: &str,
    ) -> Result<Value> {
        if order.is_empty() || order.chars().count() > 36 {
            return Err(invalid("orderId must be 1 to 36 characters"));
        }
        if !self
            .storage
            .delete_payment_info_by_order(tenant, account, order)
            .await?
        {
            return Err(NOT_FOUND.into());
        }
        Ok(json!({"data": {"orderId": order}}))
    }

    /// GetPaymentInfo (the list).
    pub async fn list_payment_infos(&self, tenant: &str, account: &str) -> Result<Value> {
        let rows = self.storage.payment_infos(tenant, account).await?;
        if rows.is_empty() {
            return Err(NOT_FOUND.into());
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
    /// month or next.
    pub async fn card_expiries(&self, tenant: &str, account: &str) -> Result<Value> {
        let rows = self.storage.payment_infos(tenant, account).await?;
        if rows.is_empty() {
            return Err(NOT_FOUND.into());
        }
        let (y, m) = year_month(now());
        let horizon = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let infos: Vec<Value> = rows
            .iter()
            .filter(|r| (r.expiry_year, r.expiry_month) <= horizon)
            .map(|r| {
                json!({
                    "paymentInfoId": r.id,
                    "paymentInfo": {"paymentType": "CreditCard", "card": {
                        "cardExpYear": format!("{:04}", r.expiry_year),
                        "cardExpMonth": format!("{:02}", r.expiry_month),
                    }},
                })
            })
            .collect();
        Ok(json!({"data": {"uuid": account, "totalCount": infos.len(), "paymentInfos": infos}}))
    }

    /// ReVerifyPaymentInfo: the CVV token must be the card's. Three wrong
    /// ones in a row mark the card `FRAUD`, for good. Each attempt is one
    /// atomic counter update in the database (no read-modify-write), so
    /// concurrent attempts on any number of nodes are all counted and the
    /// card turns `FRAUD` at exactly [`FRAUD_AFTER`].
    pub async fn reverify_payment_info(
        &self,
        tenant: &str,
        account: &str,
        id: &str,
        r: &PaymentRequest,
    ) -> Result<Value> {
        envelope(r)?;
        let (_, card) = payment(r)?;
        let token = cvv_token(card)?;
        // A retry only follows a real change of the card (its CVV token
        // replaced, or FRAUD reached by a concurrent attempt): re-read it.
        for _ in 0..5 {
            let row = self.payment_row(tenant, account, id).await?;
            let answer = |row: &PaymentInfoRow| json!({"data": {"uuid": account, "paymentInfoId": row.id, "status": status_of(row)}});
            if row.status == "FRAUD" {
                return Ok(answer(&row));
            }
            let given = self.vault.keyed_mac(&["cvv-token", tenant, &row.id, token]);
            let right = bool::from(given.ct_eq(&row.cvv_token_mac));
            if right {
                if self
                    .storage
                    .record_right_cvv_token(tenant, account, &row.id, &row.cvv_token_mac, now())
                    .await?
                {
                    return Ok(answer(&row));
                }
            } else if self
                .storage
                .record_wrong_cvv_token(
                    tenant,
                    account,
                    &row.id,
                    &row.cvv_token_mac,
                    FRAUD_AFTER,
                    now(),
                )
                .await?
                .is_some()
            {
                return Err(CVV_UNKNOWN.into());
            }
        }
        Err(UPDATE_FAILED
            .with("The payment information kept changing; retry.")
            .into())
    }
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
