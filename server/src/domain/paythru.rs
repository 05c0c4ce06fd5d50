//! The Paythru Card Tokenisation API v3, independent of HTTP:
//! credentials, request signatures (§2.5), the IP block (§2.4), the seven
//! methods (§3), and the error codes of §5.1.
//!
//! Additions of ours, outside the documented code list: `107` for a malformed
//! request (a duplicated, unknown or over-long parameter), `151` for an
//! unusable Client POST session key, and `124` / `126` for the replay
//! profile below. `createSession` (served at `/v3/clientpost/session`) opens
//! the Client POST session that `tokeniseSessionKey` consumes.
//!
//! **Replay profile.** The documented signed string has no time, so a captured
//! request verifies forever. Two optional parameters, signed like any other
//! (§2.5: they sort between `merchantCustomerReference` and `sessionKey`),
//! close that: `requestTime` (Unix seconds, within
//! ±[`REQUEST_WINDOW_SECS`] of the server's clock, else `124`) and
//! `requestNonce` (16 to 64 of `A-Z a-z 0-9 - _`, accepted once per
//! credential, else `126`). A credential or a tenant can require them
//! (`tenant paythru-require-nonce`); when not required but sent, they are
//! verified all the same (both or neither). Requests without them stay
//! valid exactly as the documentation writes them unless required.

use std::borrow::Cow;
use std::collections::BTreeMap;

use aws_lc_rs::digest;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::vault::Binding;
use crate::domain::error::{Code, Error};
use crate::domain::ratelimit::{LONG_BLOCK, SHORT_BLOCK};
use crate::domain::service::Service;
use crate::domain::tokens::{
    bin_details, check_expiry, check_pan, set_bin_details, CapturedCard, Details,
};
use crate::storage::{PaythruCredentialRow, StorageError, StoredCardRow};
use crate::util::card::masked_pan;
use crate::util::codec::hex_lower;
use crate::util::codec::sha256;
use crate::util::ids::{random_bytes, uuid, uuid_text};
use crate::util::time::now;
use crate::util::time::UnixTime;

/// The API name in `stored_cards.api`.
pub const API: &str = "paythru";
/// Life of a Client POST session.
pub const SESSION_TTL_SECS: i64 = 15 * 60;
/// How far `requestTime` may be from the server's clock, either way.
pub const REQUEST_WINDOW_SECS: i64 = 300;
/// How long an accepted `requestNonce` is remembered: a request with it
/// could pass the time check until `requestTime + REQUEST_WINDOW_SECS`,
/// which is at most two windows after it was accepted; one minute more for
/// clocks of several nodes that disagree.
pub const NONCE_RETENTION_SECS: i64 = 2 * REQUEST_WINDOW_SECS + 60;

/// §2.4: "If more than 5 requests are made containing invalid credentials
/// within the same day", the address is blocked for a minute: five failures
/// are allowed, the sixth blocks.
pub const FAILURES_BEFORE_BLOCK: i64 = 5;

/// A method of the API (the `{method name}` URL segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// §3.1.
    Lookup,
    /// §3.2.
    Enable,
    /// §3.3.
    Disable,
    /// §3.4.
    Delete,
    /// §3.5 `updateCardKeyDetails`.
    Update,
    /// §3.6.
    Create,
    /// §3.7.
    TokeniseSessionKey,
    /// Opens a Client POST session (ours; `/v3/clientpost/session`).
    CreateSession,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 8] = [
        Method::Lookup,
        Method::Enable,
        Method::Disable,
        Method::Delete,
        Method::Update,
        Method::Create,
        Method::TokeniseSessionKey,
        Method::CreateSession,
    ];

    /// The method's name in URLs and in credentials' method lists.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Lookup => "lookup",
            Method::Enable => "enable",
            Method::Disable => "disable",
            Method::Delete => "delete",
            Method::Update => "updateCardKeyDetails",
            Method::Create => "create",
            Method::TokeniseSessionKey => "tokeniseSessionKey",
            Method::CreateSession => "createSession",
        }
    }

    /// The method of a URL segment (the token API's seven; not `createSession`).
    pub fn from_url(s: &str) -> Option<Self> {
        Method::ALL
            .into_iter()
            .filter(|m| *m != Method::CreateSession)
            .find(|m| m.as_str() == s)
    }
}

/// An API error: a code of §5.1 and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaythruError {
    /// Three digits.
    pub code: u16,
    /// Human-readable, at most 100 characters, never a submitted value.
    pub message: Cow<'static, str>,
}

impl PaythruError {
    /// The error of `code` with the documented message.
    pub fn of(code: u16) -> Self {
        let message = match code {
            101 => "No data sent",
            102 => "Invalid API credentials",
            103 => "Invalid function call",
            104 => "Invalid return type",
            105 => "Cannot find API settings for merchant",
            106 => "Permission denied to access this function",
            107 => "Malformed request",
            108 => "Invalid card number",
            109 => "Invalid card expiry",
            121 => "This IP has been blocked for 1 minute because of too many failed attempts",
            122 => "This IP has been blocked for 5 minutes because of too many failed attempts",
            123 => "SHA signature could not be verified",
            124 => "Request time missing, malformed or outside the accepted window",
            125 => "Invalid merchant reference",
            126 => "Request nonce missing, malformed or already used",
            144 => "No data sent to update the transaction",
            146 => "Invalid card key",
            147 => "Card key not found",
            148 => "No card key with the merchant customer reference",
            149 => "Permission denied to use card key",
            150 => "Card details cannot be sent along with card key",
            151 => "Invalid or expired session key",
            152 => "This function does not accept card key",
            _ => "Error",
        };
        PaythruError {
            code,
            message: Cow::Borrowed(message),
        }
    }

    /// A 107 naming the offending parameter (names only, never values).
    fn malformed(detail: String) -> Self {
        PaythruError {
            code: 107,
            message: Cow::Owned(format!("Malformed request: {detail}")),
        }
    }

    /// The HTTP status of §2.3/§4.0: 401 for credentials and signatures,
    /// 403 for blocks and permissions, 400 otherwise.
    pub fn http_status(&self) -> u16 {
        match self.code {
            102 | 123 | 124 | 126 => 401,
            105 | 106 | 121 | 122 | 149 => 403,
            _ => 400,
        }
    }
}

/// A request of this API failed: an answer in its own format, or an
/// internal failure.
pub type Failure = crate::domain::error::Failure<PaythruError>;

impl From<PaythruError> for Failure {
    fn from(e: PaythruError) -> Self {
        Failure::Api(e)
    }
}

fn fail<T>(code: u16) -> Result<T, Failure> {
    Err(Failure::Api(PaythruError::of(code)))
}

/// The signature of §2.5: SHA-512 (lowercase hex) of `name=value` + shaKey
/// for every parameter with a value except `shaSignature`, sorted by name
/// (byte order; the documentation's update example only verifies that way).
pub fn signature<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    sha_key: &str,
) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| *k != "shaSignature" && !v.is_empty())
        .collect();
    sorted.sort_unstable();
    let mut ctx = digest::Context::new(&digest::SHA512);
    for (k, v) in sorted {
        for part in [k, "=", v, sha_key] {
            ctx.update(part.as_bytes());
        }
    }
    hex_lower(ctx.finish().as_ref())
}

/// One card token, as lookup and create return it.
#[derive(Debug, Clone)]
pub struct CardKeyDetail {
    /// `cardKey`.
    pub card_key: String,
    /// `cardUniqueIdentifier`: ten digits, the same for every token of the
    /// same card of the same merchant.
    pub card_unique_identifier: u64,
    /// `merchantCustomerReference`.
    pub merchant_customer_reference: Option<String>,
    /// `enabled`.
    pub enabled: bool,
    /// `card` node: (name, value) in the documented order; `None` is unresolved.
    pub card: Vec<(&'static str, Option<String>)>,
    /// `customer` node.
    pub customer: Vec<(&'static str, String)>,
    /// `cardholderAddress` node.
    pub cardholder_address: Vec<(&'static str, String)>,
}

/// A successful result.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `result: OK`.
    Ok,
    /// `cardKeyDetails`.
    Cards(Vec<CardKeyDetail>),
    /// A Client POST session: its key and expiry.
    Session {
        /// The session key (shown once).
        session_key: String,
        /// When the session key stops being accepted (15 minutes on).
        expires_at: UnixTime,
    },
}

/// Customer fields: name, maximum length.
const CUSTOMER: [(&str, usize); 6] = [
    ("customerTitle", 12),
    ("customerFirstName", 50),
    ("customerSurname", 50),
    ("customerEmail", 50),
    ("customerMobile", 14),
    ("customerTelephone", 14),
];

/// Address fields: name, maximum length.
const ADDRESS: [(&str, usize); 8] = [
    ("cardholderAddressPropertyName", 50),
    ("cardholderAddressLine1", 50),
    ("cardholderAddressLine2", 50),
    ("cardholderAddressLine3", 50),
    ("cardholderAddressTown", 50),
    ("cardholderAddressCounty", 50),
    ("cardholderAddressPostcode", 8),
    ("cardholderAddressCountry", 50),
];

/// Card text fields stored in the details.
const CARD_TEXT: [(&str, usize); 2] = [("cardDescription", 50), ("cardholderName", 50)];

/// Spellings the documentation's parameter tables use besides the
/// canonical ones.
const ALIASES: [(&str, &str); 2] = [
    ("cardholderAdressTown", "cardholderAddressTown"),
    ("cardHolderAddressCounty", "cardholderAddressCounty"),
];

const AUTH: [&str; 3] = ["apiKey", "apiPassword", "shaSignature"];
/// The replay profile's parameters, accepted by every method.
const REPLAY: [&str; 2] = ["requestTime", "requestNonce"];
const CARD_DETAILS: [&str; 5] = [
    "cardNumber",
    "cardExpiry",
    "cardExpiryMonth",
    "cardExpiryYear",
    "cvv",
];

fn detail_fields() -> impl Iterator<Item = (&'static str, usize)> {
    CUSTOMER.into_iter().chain(ADDRESS).chain(CARD_TEXT)
}

fn max_len(name: &str) -> Option<usize> {
    detail_fields().find(|(n, _)| *n == name).map(|(_, l)| l)
}

/// The parameters a method accepts besides [`AUTH`].
fn accepts(method: Method, name: &str) -> bool {
    let detail = max_len(name).is_some();
    match method {
        Method::Lookup | Method::Enable | Method::Disable | Method::Delete => {
            matches!(name, "cardKey" | "merchantCustomerReference")
        }
        Method::Update => {
            detail
                || matches!(
                    name,
                    "cardKey" | "merchantCustomerReference" | "cardExpiryMonth" | "cardExpiryYear"
                )
        }
        Method::Create => {
            detail
                || matches!(
                    name,
                    "merchantCustomerReference"
                        | "cardNumber"
                        | "cardExpiry"
                        | "cardExpiryMonth"
                        | "cardExpiryYear"
                )
        }
        Method::TokeniseSessionKey => matches!(name, "merchantCustomerReference" | "sessionKey"),
        Method::CreateSession => name == "merchantCustomerReference",
    }
}

/// The parameters of one request: canonical names, each at most once.
struct Params(BTreeMap<String, Zeroizing<String>>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A parameter with a value (absent and empty are both `None`).
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canon)| canon)
}

fn parse_params(method: Method, raw: &[(String, Zeroizing<String>)]) -> Result<Params, Failure> {
    let mut map = BTreeMap::new();
    for (name, value) in raw {
        let canon = canonical(name);
        // Card details and cardKey are recognised everywhere so that their
        // misuse gets its own code (150, 152) rather than 107.
        let known = AUTH.contains(&canon)
            || REPLAY.contains(&canon)
            || CARD_DETAILS.contains(&canon)
            || canon == "cardKey"
            || accepts(method, canon);
        if !known {
            return Err(
                PaythruError::malformed(format!("unknown parameter {}", printable(name))).into(),
            );
        }
        if map.insert(canon.to_owned(), value.clone()).is_some() {
            return Err(PaythruError::malformed(format!("parameter {canon} sent twice")).into());
        }
    }
    Ok(Params(map))
}

/// The pure parameter check every request starts with (names the method
/// knows, aliases folded, each at most once), as [`Service::paythru`] makes
/// it; public for the fuzz targets. Returns the canonical names, sorted.
pub fn check_params(
    method: Method,
    raw: &[(String, Zeroizing<String>)],
) -> Result<Vec<String>, PaythruError> {
    match parse_params(method, raw) {
        Ok(params) => Ok(params.0.into_keys().collect()),
        Err(Failure::Api(e)) => Err(e),
        Err(Failure::Internal(_)) => Err(PaythruError::of(107)),
    }
}

/// A parameter name safe to echo (it is not a secret, but bound its size).
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect()
}

fn text_ok(value: &str, max: usize) -> bool {
    value.chars().count() <= max && !value.chars().any(char::is_control)
}

/// `requestTime`: Unix seconds, 1 to 12 digits.
fn request_time(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `requestNonce`: 16 to 64 URL-safe characters (the base64url alphabet).
fn request_nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new card key: 16 random bytes in the UUID text form (no version bits,
/// as the Paythru documentation's keys).
fn new_card_key() -> crate::domain::error::Result<String> {
    Ok(uuid_text(&random_bytes::<16>()?))
}

/// Random alphanumeric text of `n` characters (for generated credentials).
fn random_alnum(n: usize) -> crate::domain::error::Result<Zeroizing<String>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = Zeroizing::new(String::with_capacity(n));
    while out.len() < n {
        for b in random_bytes::<32>()? {
            // Rejection sampling: 248 = 4 * 62 keeps every symbol equally likely.
            if b < 248 && out.len() < n {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// New Paythru credentials, shown once.
pub struct NewCredentials {
    /// `apiKey`.
    pub api_key: String,
    /// `apiPassword`.
    pub api_password: Zeroizing<String>,
    /// `shaKey`.
    pub sha_key: Zeroizing<String>,
}

impl std::fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewCredentials({}, <redacted>)", self.api_key)
    }
}

fn sha_key_binding(api_key: &str) -> Binding<'_> {
    Binding {
        tenant: "-",
        subject: api_key,
        field: "paythru_sha_key",
    }
}

fn unique_identifier(pan_index: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(pan_index) {
        *d = *s;
    }
    1_000_000_000 + u64::from_be_bytes(b) % 9_000_000_000
}

/// The Paythru Card Tokenisation API v3 over the service's state
/// ([`Service::paythru`]).
pub struct Paythru<'a>(&'a Service);

impl Service {
    /// The Paythru Card Tokenisation API v3: credentials, the signed form
    /// calls and the Client POST capture.
    pub fn paythru(&self) -> Paythru<'_> {
        Paythru(self)
    }
}

impl Paythru<'_> {
    /// Creates Paythru credentials for a tenant. `import` keeps given values
    /// (moving an existing integration over); otherwise 24-character random
    /// ones are made. `methods` limits what they may call (default: all).
    pub async fn create_credentials(
        &self,
        tenant: &str,
        import: Option<NewCredentials>,
        methods: Option<&[Method]>,
    ) -> crate::domain::error::Result<NewCredentials> {
        if self.0.storage.tenant(tenant).await?.is_none() {
            return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
        }
        let creds = match import {
            Some(c) => c,
            None => NewCredentials {
                api_key: random_alnum(24)?.to_string(),
                api_password: random_alnum(24)?,
                sha_key: random_alnum(24)?,
            },
        };
        for v in [creds.api_key.as_str(), &creds.api_password, &creds.sha_key] {
            if !(8..=64).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::bad_request(
                    Code::InvalidRequest,
                    "apiKey, apiPassword and shaKey must be 8 to 64 letters and digits",
                ));
            }
        }
        let methods = methods
            .unwrap_or(&Method::ALL)
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let row = PaythruCredentialRow {
            api_key: creds.api_key.clone(),
            tenant_id: tenant.to_owned(),
            password_hash: sha256(creds.api_password.as_bytes()),
            sha_key_sealed: self
                .0
                .vault
                .seal(sha_key_binding(&creds.api_key), creds.sha_key.as_bytes())?,
            methods,
            revoked_at: None,
            require_nonce: false,
        };
        match self.0.storage.insert_paythru_credentials(&row, now()).await {
            Err(StorageError::Duplicate) => Err(Error::Conflict {
                code: Code::DuplicateApiKey,
                message: "these credentials exist already",
            }),
            other => other.map_err(Error::from),
        }?;
        Ok(creds)
    }

    /// Revokes Paythru credentials (requests with them then get 105).
    pub async fn revoke_credentials(&self, api_key: &str) -> crate::domain::error::Result<bool> {
        Ok(self
            .0
            .storage
            .revoke_paythru_credentials(api_key, now())
            .await?)
    }

    /// Requires (or stops requiring) the replay profile's signed
    /// `requestTime` and `requestNonce`: for one credential (`target` is its
    /// apiKey) or for every credential of a tenant (`target` is `ten_...`;
    /// an apiKey is letters and digits only, so the two cannot be confused).
    pub async fn set_require_nonce(
        &self,
        target: &str,
        require: bool,
    ) -> crate::domain::error::Result<()> {
        let found = if target.starts_with("ten_") {
            self.0
                .storage
                .set_tenant_paythru_require_nonce(target, require)
                .await?
        } else {
            self.0
                .storage
                .set_paythru_require_nonce(target, require)
                .await?
        };
        if found {
            Ok(())
        } else {
            Err(Error::bad_request(
                Code::UnknownTarget,
                "no tenant or Paythru credentials with that id",
            ))
        }
    }

    /// Handles one request of `method` with its form parameters, from
    /// `client` (its IP address, for the block of §2.4).
    pub async fn handle(
        &self,
        method: Method,
        raw: &[(String, Zeroizing<String>)],
        client: &str,
    ) -> Result<Outcome, Failure> {
        if let Some((failures, _)) = self.0.storage.auth_block(client, now()).await? {
            return fail(if failures >= LONG_BLOCK.0 { 122 } else { 121 });
        }
        if raw.is_empty() {
            return fail(101);
        }
        let params = parse_params(method, raw)?;
        // Credentials, then the signature: both failures count towards the block.
        let creds = match (params.value("apiKey"), params.value("apiPassword")) {
            (Some(key), Some(password)) if key.len() <= 64 => {
                match self.0.storage.paythru_credentials(key).await? {
                    Some(c) if bool::from(c.password_hash.ct_eq(&sha256(password.as_bytes()))) => {
                        Some(c)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(creds) = creds else {
            self.count_failure(client).await?;
            return fail(102);
        };
        if creds.revoked_at.is_some() {
            return fail(105);
        }
        if !creds.methods.split(' ').any(|m| m == method.as_str()) {
            return fail(106);
        }
        let sha_key = self
            .0
            .vault
            .open(sha_key_binding(&creds.api_key), &creds.sha_key_sealed)?;
        let sha_key = std::str::from_utf8(&sha_key).map_err(|_| Error::Crypto("shaKey"))?;
        let expected = signature(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())), sha_key);
        let given = params
            .get("shaSignature")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            self.count_failure(client).await?;
            return fail(123);
        }
        // Signed, so fresh and first only with the shaKey: check it before
        // anything is read or changed.
        self.check_replay(&creds, &params).await?;
        let tenant = creds.tenant_id.as_str();
        tracing::Span::current().record("principal", tenant);
        if let Some(r) = params.value("merchantCustomerReference") {
            if !text_ok(r, 45) {
                return fail(125);
            }
        }
        let has_card_details = CARD_DETAILS.iter().any(|p| params.has(p));
        match method {
            Method::Create | Method::TokeniseSessionKey | Method::CreateSession => {
                if params.has("cardKey") {
                    return fail(152);
                }
            }
            Method::Update => {
                if params.has("cardNumber") || params.has("cardExpiry") || params.has("cvv") {
                    return fail(150);
                }
            }
            _ => {
                if has_card_details {
                    return fail(150);
                }
            }
        }
        for (name, value) in &params.0 {
            if let Some(max) = max_len(name) {
                if !text_ok(value, max) {
                    return Err(PaythruError::malformed(format!(
                        "{name} is longer than {max} characters or has control characters"
                    ))
                    .into());
                }
            }
        }
        match method {
            Method::Lookup => self.lookup(tenant, &params).await,
            Method::Enable | Method::Disable => {
                let status = if method == Method::Enable {
                    "ACTIVE"
                } else {
                    "DISABLED"
                };
                self.set_status(tenant, &params, status).await
            }
            Method::Delete => {
                let row = self.card(tenant, &params).await?;
                if !self
                    .0
                    .storage
                    .delete_stored_card(tenant, API, &row.token)
                    .await?
                {
                    return fail(147);
                }
                Ok(Outcome::Ok)
            }
            Method::Update => self.update(tenant, &params).await,
            Method::Create => {
                let pan = params.value("cardNumber").and_then(check_pan);
                let Some(pan) = pan else { return fail(108) };
                let (month, year) = match (
                    params.get("cardExpiry"),
                    params.get("cardExpiryMonth"),
                    params.get("cardExpiryYear"),
                ) {
                    (Some(mmyy), None, None) if mmyy.len() == 4 => (
                        mmyy.get(..2).unwrap_or_default(),
                        mmyy.get(2..).unwrap_or_default(),
                    ),
                    (None, Some(m), Some(y)) => (m, y),
                    _ => return fail(109),
                };
                let Some((month, year)) = check_expiry(month, year) else {
                    return fail(109);
                };
                let captured = CapturedCard {
                    pan,
                    expiry_month: month,
                    expiry_year: year,
                    cardholder_name: None,
                    had_cvv: false,
                    captured_at: now(),
                };
                let details = detail_fields()
                    .filter_map(|(n, _)| params.get(n).map(|v| (n.to_owned(), v.to_owned())))
                    .collect();
                let reference = params.value("merchantCustomerReference");
                let row = self.store(tenant, &captured, reference, details).await?;
                Ok(Outcome::Cards(vec![self.card_key_detail(&row)?]))
            }
            Method::TokeniseSessionKey => {
                let key = params.value("sessionKey").unwrap_or_default();
                let taken = self
                    .0
                    .storage
                    .take_capture_session(&sha256(key.as_bytes()), tenant, now())
                    .await?;
                let Some((session_ref, sealed)) = taken else {
                    return fail(151);
                };
                let captured = self.open_captured(tenant, key, &sealed)?;
                let reference = params
                    .value("merchantCustomerReference")
                    .map(str::to_owned)
                    .or(session_ref);
                let mut details = Details::new();
                if let Some(name) = &captured.cardholder_name {
                    details.insert("cardholderName".into(), name.clone());
                }
                let row = self
                    .store(tenant, &captured, reference.as_deref(), details)
                    .await?;
                Ok(Outcome::Cards(vec![self.card_key_detail(&row)?]))
            }
            Method::CreateSession => {
                let key = random_alnum(40)?;
                let expires_at = now() + SESSION_TTL_SECS;
                self.0
                    .storage
                    .insert_capture_session(
                        &sha256(key.as_bytes()),
                        tenant,
                        params.value("merchantCustomerReference"),
                        expires_at,
                    )
                    .await?;
                Ok(Outcome::Session {
                    session_key: key.to_string(),
                    expires_at,
                })
            }
        }
    }

    /// The replay profile: when required, or when either parameter is sent,
    /// `requestTime` must be within the window and `requestNonce` new for
    /// these credentials (recorded here, atomically, before the method runs:
    /// a nonce is used up even when the method then fails).
    async fn check_replay(
        &self,
        creds: &PaythruCredentialRow,
        params: &Params,
    ) -> Result<(), Failure> {
        let (time, nonce) = (params.value("requestTime"), params.value("requestNonce"));
        if time.is_none() && nonce.is_none() && !creds.require_nonce {
            return Ok(());
        }
        let now = now();
        match time.and_then(request_time) {
            Some(t) if (now.secs() - t).abs() <= REQUEST_WINDOW_SECS => {}
            _ => return fail(124),
        }
        let Some(nonce) = nonce.filter(|n| request_nonce_ok(n)) else {
            return fail(126);
        };
        if !self
            .0
            .storage
            .record_paythru_nonce(&creds.api_key, nonce, now)
            .await?
        {
            return fail(126);
        }
        Ok(())
    }

    /// Enable and disable (§3.2, §3.3): a token already in that state is a
    /// success without a change (nothing written), so a retried request
    /// answers as the first did.
    async fn set_status(
        &self,
        tenant: &str,
        params: &Params,
        status: &str,
    ) -> Result<Outcome, Failure> {
        // Re-read and retry if another request changed the card meanwhile.
        for _ in 0..5 {
            let mut row = self.card(tenant, params).await?;
            if row.status == status {
                return Ok(Outcome::Ok);
            }
            row.status = status.to_owned();
            row.version += 1;
            row.updated_at = now();
            if self.0.storage.update_stored_card(&row).await? {
                return Ok(Outcome::Ok);
            }
        }
        Err(Failure::Internal(Error::Conflict {
            code: Code::ConcurrentUpdate,
            message: "the card kept changing; retry",
        }))
    }

    /// Counts a failed authentication of `client` (§2.4): "more than 5"
    /// in a day block it for a minute, so the 6th failure does
    /// ([`FAILURES_BEFORE_BLOCK`]); 10 and more for 5 minutes.
    async fn count_failure(&self, client: &str) -> Result<(), Failure> {
        let t = now();
        let (failures, _) = self
            .0
            .storage
            .record_auth_failure(
                client,
                t,
                (FAILURES_BEFORE_BLOCK + 1, SHORT_BLOCK.1),
                LONG_BLOCK,
            )
            .await?;
        if failures == FAILURES_BEFORE_BLOCK + 1 || failures >= LONG_BLOCK.0 {
            tracing::warn!(%client, "client blocked after repeated failed authentications");
        }
        Ok(())
    }

    /// The card of `cardKey` (checked against `merchantCustomerReference`
    /// when sent).
    async fn card(&self, tenant: &str, params: &Params) -> Result<StoredCardRow, Failure> {
        let key = params.value("cardKey").unwrap_or_default();
        if uuid(key).is_none() {
            return fail(146);
        }
        let Some(row) = self.0.storage.stored_card(tenant, API, key).await? else {
            return fail(147);
        };
        if let Some(r) = params.value("merchantCustomerReference") {
            if row.customer_ref.as_deref() != Some(r) {
                return fail(148);
            }
        }
        Ok(row)
    }

    async fn lookup(&self, tenant: &str, params: &Params) -> Result<Outcome, Failure> {
        let rows = if params.value("cardKey").is_some() {
            vec![self.card(tenant, params).await?]
        } else if let Some(r) = params.value("merchantCustomerReference") {
            let rows = self.0.storage.stored_cards_by_ref(tenant, API, r).await?;
            if rows.is_empty() {
                return fail(148);
            }
            rows
        } else {
            return fail(146);
        };
        let details = rows
            .iter()
            .map(|r| self.card_key_detail(r))
            .collect::<crate::domain::error::Result<Vec<_>>>()?;
        Ok(Outcome::Cards(details))
    }

    async fn update(&self, tenant: &str, params: &Params) -> Result<Outcome, Failure> {
        let updates: Vec<(&str, &str)> = detail_fields()
            .filter_map(|(n, _)| params.get(n).map(|v| (n, v)))
            .collect();
        let expiry = match (params.get("cardExpiryMonth"), params.get("cardExpiryYear")) {
            (None, None) => None,
            (Some(m), Some(y)) => match check_expiry(m, y) {
                Some(e) => Some(e),
                None => return fail(109),
            },
            _ => return fail(109),
        };
        if updates.is_empty() && expiry.is_none() {
            return fail(144);
        }
        // Re-read and retry if another request changed the card meanwhile.
        for _ in 0..5 {
            // Enabled or not (§3.5's example updates the token §3.1 shows
            // disabled).
            let mut row = self.card(tenant, params).await?;
            let mut details = self.0.stored_details(&row)?;
            for (name, value) in &updates {
                if value.is_empty() {
                    details.remove(*name);
                } else {
                    details.insert((*name).to_owned(), (*value).to_owned());
                }
            }
            if let Some((m, y)) = expiry {
                row.expiry_month = m;
                row.expiry_year = y;
            }
            self.0.set_details(&mut row, &details)?;
            row.version += 1;
            row.updated_at = now();
            if self.0.storage.update_stored_card(&row).await? {
                return Ok(Outcome::Ok);
            }
        }
        Err(Failure::Internal(Error::Conflict {
            code: Code::ConcurrentUpdate,
            message: "the card kept changing; retry",
        }))
    }

    async fn store(
        &self,
        tenant: &str,
        card: &CapturedCard,
        reference: Option<&str>,
        mut details: Details,
    ) -> Result<StoredCardRow, Failure> {
        let mut row = self.0.new_stored_row(tenant, API, "", new_card_key()?);
        // A new token is disabled until the merchant enables it (§3.2), as
        // every example response of §3.6 and §3.7 shows (`enabled` "0").
        row.status = "DISABLED".into();
        self.0.link_pan(&mut row, &card.pan)?;
        let bin = self.0.bin_info(&card.pan).await?;
        if let Some(b) = bin.as_ref().filter(|_| row.brand == "UNKNOWN") {
            row.brand = b.scheme.clone();
        }
        set_bin_details(&mut details, bin.as_ref());
        row.expiry_month = card.expiry_month;
        row.expiry_year = card.expiry_year;
        row.customer_ref = reference.map(str::to_owned);
        self.0.set_details(&mut row, &details)?;
        self.0.storage.insert_stored_card(&row).await?;
        Ok(row)
    }

    fn card_key_detail(&self, row: &StoredCardRow) -> crate::domain::error::Result<CardKeyDetail> {
        let details = self.0.stored_details(row)?;
        // A text field never set, or cleared by an update, is "" everywhere
        // (as the document's examples show cleared address lines); only what
        // the BIN table did not resolve, and a missing customer reference,
        // are null (as `cardScheme` and `merchantCustomerReference` there).
        let text = |n: &str| details.get(n).cloned().unwrap_or_default();
        let scheme = (row.brand != "UNKNOWN").then(|| row.brand.clone());
        let bin = bin_details(&details);
        Ok(CardKeyDetail {
            card_key: row.token.clone(),
            card_unique_identifier: unique_identifier(&row.pan_index),
            merchant_customer_reference: row.customer_ref.clone(),
            enabled: row.status == "ACTIVE",
            card: vec![
                ("cardDescription", Some(text("cardDescription"))),
                ("cardholderName", Some(text("cardholderName"))),
                (
                    "cardNumber",
                    Some(masked_pan(&row.pan_first6, row.pan_length, &row.pan_last4)),
                ),
                ("cardExpiryMonth", Some(format!("{:02}", row.expiry_month))),
                ("cardExpiryYear", Some(format!("{:04}", row.expiry_year))),
                ("cardType", bin.card_type),
                ("cardScheme", scheme),
                ("cardBank", bin.issuer_name),
            ],
            customer: CUSTOMER.iter().map(|(n, _)| (*n, text(n))).collect(),
            cardholder_address: ADDRESS.iter().map(|(n, _)| (*n, text(n))).collect(),
        })
    }

    // ---- Client POST capture (the browser side of tokeniseSessionKey)

    /// Stores the card a browser captured for a Client POST session.
    /// Returns the masked card for the page to show.
    pub async fn capture_card(
        &self,
        session_key: &str,
        encrypted_card: &str,
    ) -> crate::domain::error::Result<CapturedSummary> {
        const UNKNOWN: Error = Error::BadRequest {
            code: Code::InvalidSessionKey,
            message: "the session key is unknown, expired or already used",
        };
        if session_key.is_empty() || session_key.len() > 64 {
            return Err(UNKNOWN);
        }
        let hash = sha256(session_key.as_bytes());
        let tenant = self
            .0
            .storage
            .claim_capture_session(&hash, now())
            .await?
            .ok_or(UNKNOWN)?;
        // Claimed: from here on, a failure uses the session up.
        let card = self
            .0
            .open_encrypted_card(&tenant, encrypted_card, None)
            .await?;
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Stored<'a> {
            pan: &'a str,
            expiry_month: i64,
            expiry_year: i64,
            cardholder_name: Option<&'a str>,
        }
        let json = Zeroizing::new(
            serde_json::to_vec(&Stored {
                pan: &card.pan,
                expiry_month: card.expiry_month,
                expiry_year: card.expiry_year,
                cardholder_name: card.cardholder_name.as_deref(),
            })
            .map_err(|_| Error::Crypto("captured card serialisation"))?,
        );
        let sealed = self
            .0
            .vault
            .seal(capture_binding(&tenant, session_key), &json)?;
        if !self
            .0
            .storage
            .set_capture_card(&hash, &sealed, now())
            .await?
        {
            return Err(UNKNOWN);
        }
        Ok(CapturedSummary {
            masked_pan: paysecure_core::card::mask_pan(&card.pan).unwrap_or_default(),
            expiry_month: card.expiry_month,
            expiry_year: card.expiry_year,
            brand: paysecure_core::card::card_brand(&card.pan)
                .map(|b| b.as_str().to_owned())
                .unwrap_or_default(),
        })
    }

    fn open_captured(
        &self,
        tenant: &str,
        session_key: &str,
        sealed: &[u8],
    ) -> crate::domain::error::Result<CapturedCard> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Stored {
            pan: Zeroizing<String>,
            expiry_month: i64,
            expiry_year: i64,
            cardholder_name: Option<String>,
        }
        let raw = self
            .0
            .vault
            .open(capture_binding(tenant, session_key), sealed)?;
        let s: Stored =
            serde_json::from_slice(&raw).map_err(|_| Error::Crypto("captured card is not JSON"))?;
        Ok(CapturedCard {
            pan: s.pan,
            expiry_month: s.expiry_month,
            expiry_year: s.expiry_year,
            cardholder_name: s.cardholder_name,
            had_cvv: false,
            captured_at: now(),
        })
    }
}

/// What the capturing page may show of the card it sent.
#[derive(Debug, Clone)]
pub struct CapturedSummary {
    /// e.g. `444433******1111`.
    pub masked_pan: String,
    /// 1..=12.
    pub expiry_month: i64,
    /// Four digits.
    pub expiry_year: i64,
    /// e.g. `VISA`.
    pub brand: String,
}

fn capture_binding<'a>(tenant: &'a str, session_key: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: session_key,
        field: "captured_card",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_KEY: &str = "ds45k324l3k423k233";

    fn params(list: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        list.to_vec()
    }

    /// The Paythru v3 document §2.5 and §3.1: the worked example (its request example drops
    /// the last hex digit).
    #[test]
    fn signature_known_answer_lookup() {
        let p = params(&[
            ("apiKey", "qyc2o6hvYyGFcGEL3K"),
            ("apiPassword", "83M3hWArBIsduSMGVa"),
            ("cardKey", "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff"),
            ("merchantCustomerReference", ""),
        ]);
        assert_eq!(
            signature(p, SHA_KEY),
            "3c1eabc2f773a6ac7a32274e6aa61917d35804516df7258bcb981fa9e6c0ff84999e841734e1894ae527de5662a7a063c2d51ac493caf07f13b4b600ef96fdfe"
        );
    }

    /// The Paythru v3 document §3.5's update example, form-decoded (`+` is a space): it
    /// verifies with byte-order sorting (cardKey before cardholder...), which
    /// settles the sort order §2.5 leaves open.
    #[test]
    fn signature_known_answer_update() {
        let p = params(&[
            ("apiKey", "qyc2o6hvYyGFcGEL3K"),
            ("apiPassword", "83M3hWArBIsduSMGVa"),
            ("cardKey", "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff"),
            ("cardholderAddressPropertyName", ""),
            ("cardholderAddressLine1", "10 Downing Street"),
            ("cardholderAddressLine2", ""),
            ("cardholderAddressLine3", ""),
            ("cardholderAddressTown", "London"),
            ("cardholderAddressCounty", ""),
            ("cardholderAddressPostcode", "SW1A 2AA"),
            ("cardholderAddressCountry", "UK"),
            ("shaSignature", "ignored"),
        ]);
        assert!(signature(p, SHA_KEY).starts_with(
            "eff95e366e2039f0d6ecc0acd9bc06daba5ab75266d5effe7ace2f8708df042cb06e371a8b4ed6f119a69d8aa31a8f42698aecc4aade3f126fe72af5d1e3d39"
        ));
    }

    /// The replay profile's parameters are ordinary §2.5 parameters: the
    /// worked example of docs/protocol.md (the Paythru document §2.5's lookup plus a
    /// requestTime and a requestNonce, which sort after cardKey).
    #[test]
    fn signature_known_answer_with_the_replay_profile() {
        let p = params(&[
            ("apiKey", "qyc2o6hvYyGFcGEL3K"),
            ("apiPassword", "83M3hWArBIsduSMGVa"),
            ("cardKey", "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff"),
            ("requestTime", "1767225600"),
            ("requestNonce", "Yc2xN8fR4kP0wLq7vZ3mTb"),
        ]);
        assert_eq!(
            signature(p, SHA_KEY),
            "cc528a06a321705a76124ad9415f0023475470b63dba70c13202e9fd906ac6a2bff0f12df70a60cf23a2183ccebd923d21f9304cb43d0ecd84c6d41fe9052acc"
        );
    }

    #[test]
    fn request_time_and_nonce_forms() {
        assert_eq!(request_time("1767225600"), Some(1_767_225_600));
        assert_eq!(request_time("0"), Some(0));
        for bad in ["", "-1", "+5", "1.5", "1e9", " 1", "1234567890123"] {
            assert_eq!(request_time(bad), None, "{bad:?}");
        }
        assert!(request_nonce_ok("aZ0-_aZ0-_aZ0-_a"));
        assert!(request_nonce_ok(&"n".repeat(64)));
        for bad in [
            "aZ0-_aZ0-_aZ0-_",
            "aZ0-_aZ0-_aZ0-_a=",
            "aZ0-_aZ0-_aZ0-_a.",
            "aZ0-_aZ0 _aZ0-_a",
            "aZ0-_aZ0-_aZ0-_é",
        ] {
            assert!(!request_nonce_ok(bad), "{bad:?}");
        }
        assert!(!request_nonce_ok(&"n".repeat(65)));
        assert!(parse_params(
            Method::Delete,
            &[
                ("requestTime".into(), Zeroizing::new("1".into())),
                ("requestNonce".into(), Zeroizing::new("x".into())),
            ]
        )
        .is_ok());
    }

    #[test]
    fn card_keys_and_identifiers() {
        let k = new_card_key().unwrap();
        assert!(uuid(&k).is_some(), "{k}");
        assert!(uuid("6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff").is_some());
        for bad in [
            "",
            "6bede8cf",
            "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618ff",
            "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618ffg",
        ] {
            assert!(uuid(bad).is_none(), "{bad}");
        }
        for idx in [[0u8; 32], [255u8; 32]] {
            let id = unique_identifier(&idx);
            assert_eq!(id.to_string().len(), 10, "{id}");
        }
        let a = random_alnum(24).unwrap();
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn statuses() {
        assert_eq!(PaythruError::of(102).http_status(), 401);
        assert_eq!(PaythruError::of(122).http_status(), 403);
        assert_eq!(PaythruError::of(147).http_status(), 400);
        for code in [124, 126] {
            assert_eq!(PaythruError::of(code).http_status(), 401);
            assert!(PaythruError::of(code).message.len() <= 100);
        }
        assert!(Method::from_url("createSession").is_none());
        assert_eq!(
            Method::from_url("updateCardKeyDetails"),
            Some(Method::Update)
        );
    }
}
