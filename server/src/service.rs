//! The PaySecure domain: what each API call does, independent of HTTP.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use paysecure_wasm::card::{self, CardBrand};
use paysecure_wasm::pin_block::{self, PinBlockFormat};
use paysecure_wasm::{Pin, Session, Version};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::cvv::{self, CvkPair};
use crate::error::{Error, Result};
use crate::keys::{self, hex_lower, KeyRing};
use crate::storage::{CardFilter, CardRow, EphemeralKeyRow, NewCard, Storage, StorageError};
use crate::vault::{Binding, Vault};

/// Consecutive wrong PINs that block the PIN.
pub const PIN_TRY_LIMIT: i64 = 3;
/// Longest life of an ephemeral key.
pub const MAX_EPHEMERAL_TTL_SECS: i64 = 15 * 60;
const EXID_TAKEN: Error = Error::Conflict {
    code: "EXID_TAKEN",
    message: "another card of the tenant has this exid",
};

/// Default BIN for sandbox issuing.
pub const DEFAULT_BIN: &str = "400000";

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Crypto("no randomness"))?;
    Ok(b)
}

pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// RFC 3339 text of Unix seconds (empty if out of range).
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Unpadded base64url (RFC 4648 §5), as JWKs and credentials use.
pub fn base64url(bytes: &[u8]) -> String {
    paysecure_wasm::encoding::encode(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// What an ephemeral key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Get PAN.
    Pan,
    /// Get CVV2.
    Cvv2,
    /// Get PIN.
    PinRead,
    /// Set PIN.
    PinWrite,
    /// Verify PIN.
    PinVerify,
    /// Verify CVV2.
    Cvv2Verify,
    /// Reveal (PAN + CVV2 + expiry).
    Reveal,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 7] = [
        Scope::Pan,
        Scope::Cvv2,
        Scope::PinRead,
        Scope::PinWrite,
        Scope::PinVerify,
        Scope::Cvv2Verify,
        Scope::Reveal,
    ];

    /// The scope's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Pan => "pan",
            Scope::Cvv2 => "cvv2",
            Scope::PinRead => "pin:read",
            Scope::PinWrite => "pin:write",
            Scope::PinVerify => "pin:verify",
            Scope::Cvv2Verify => "cvv2:verify",
            Scope::Reveal => "reveal",
        }
    }

    /// Parses a scope name.
    pub fn parse(s: &str) -> Result<Self> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or(Error::bad_request("INVALID_SCOPE", "unknown scope"))
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The tenant's own backend, with its API key.
    Tenant {
        /// Tenant id.
        tenant_id: String,
    },
    /// A cardholder's browser, with a short-lived key for one card.
    Ephemeral {
        /// Tenant id.
        tenant_id: String,
        /// The only card it may touch.
        token: String,
        /// What it may do.
        scopes: Vec<Scope>,
    },
}

impl Principal {
    /// The tenant the caller acts for.
    pub fn tenant_id(&self) -> &str {
        match self {
            Principal::Tenant { tenant_id } | Principal::Ephemeral { tenant_id, .. } => tenant_id,
        }
    }

    /// Only the tenant's API key may make this call.
    pub fn require_tenant(&self) -> Result<&str> {
        match self {
            Principal::Tenant { tenant_id } => Ok(tenant_id),
            Principal::Ephemeral { .. } => {
                Err(Error::Forbidden("this call needs the tenant's API key"))
            }
        }
    }

    /// May the caller do `scope` on card `token`?
    pub fn authorize(&self, token: &str, scope: Scope) -> Result<&str> {
        match self {
            Principal::Tenant { tenant_id } => Ok(tenant_id),
            Principal::Ephemeral {
                tenant_id,
                token: own,
                scopes,
            } => {
                if own != token {
                    Err(Error::Forbidden("this key is for another card"))
                } else if !scopes.contains(&scope) {
                    Err(Error::Forbidden("this key does not allow this operation"))
                } else {
                    Ok(tenant_id)
                }
            }
        }
    }
}

/// A card as the API shows it: masked data only.
#[derive(Debug, Clone)]
pub struct CardSummary {
    /// Token.
    pub token: String,
    /// e.g. `411111******1111`.
    pub masked_pan: String,
    /// Brand name.
    pub brand: String,
    /// Expiry month.
    pub expiry_month: Option<i64>,
    /// Expiry year.
    pub expiry_year: Option<i64>,
    /// `ACTIVE` or `TOKENIZED`.
    pub status: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// Name on card.
    pub cardholder_name: Option<String>,
    /// Whether a PIN is set.
    pub pin_set: bool,
    /// Whether the PIN is blocked.
    pub pin_blocked: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&CardRow> for CardSummary {
    fn from(c: &CardRow) -> Self {
        let hidden = usize::try_from(c.pan_length)
            .unwrap_or(16)
            .saturating_sub(10);
        CardSummary {
            token: c.token.clone(),
            masked_pan: format!("{}{}{}", c.pan_first6, "*".repeat(hidden), c.pan_last4),
            brand: c.brand.clone(),
            expiry_month: c.expiry_month,
            expiry_year: c.expiry_year,
            status: c.status.clone(),
            account_id: c.account_id.clone(),
            customer_id: c.customer_id.clone(),
            customer_ref: c.customer_ref.clone(),
            cardholder_name: c.cardholder_name.clone(),
            pin_set: c.pin_sealed.is_some(),
            pin_blocked: c.pin_blocked,
            created_at: c.created_at,
        }
    }
}

/// The clear card data of one card (wiped on drop).
pub struct CardSecrets {
    /// PAN digits.
    pub pan: Zeroizing<String>,
    /// Expiry month.
    pub expiry_month: Option<i64>,
    /// Expiry year.
    pub expiry_year: Option<i64>,
}

/// Result of a PIN verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinVerification {
    /// Whether the PIN was right.
    pub verified: bool,
    /// Wrong attempts left before the PIN blocks.
    pub tries_remaining: i64,
}

/// Request to issue a sandbox card.
#[derive(Debug, Clone, Default)]
pub struct IssueCard {
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// 6 to 11 digit BIN; default [`DEFAULT_BIN`].
    pub bin: Option<String>,
    /// Name on card.
    pub cardholder_name: Option<String>,
    /// External id (seed 001's EXID): 1 to 32 letters, digits, `-` or `_`,
    /// unique in the tenant.
    pub exid: Option<String>,
}

/// How the Get CVV2 envelope (seed 001) names a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardIdentifier<'a> {
    /// `CONTRACT_NUMBER`: the card's token.
    ContractNumber(&'a str),
    /// `EXID`: the external id the tenant assigned.
    Exid(&'a str),
}

/// Behaviour switches.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Refuse a session id seen before (default true).
    pub single_use_session_ids: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            single_use_session_ids: true,
        }
    }
}

/// The service: storage, vault, key ring.
pub struct Service {
    pub(crate) storage: Storage,
    pub(crate) vault: Vault,
    keyring: RwLock<Arc<KeyRing>>,
    /// When the key ring was last loaded (Unix seconds).
    keys_loaded_at: std::sync::atomic::AtomicI64,
    /// Tenant API keys already found: SHA-256 of the key → (tenant id, Unix
    /// seconds when looked up). See [`Service::authenticate`].
    tenant_keys: std::sync::Mutex<std::collections::HashMap<Vec<u8>, (String, i64)>>,
    config: ServiceConfig,
}

/// How long a tenant API key found in the database is trusted without
/// asking it again. Keys are neither rotated nor revoked today (a tenant's
/// key is set once, at creation), so the bound only matters for a future
/// revocation: it would apply on every node within this many seconds.
pub const TENANT_KEY_CACHE_SECS: i64 = 30;
/// Most tenant keys remembered per node (the map is emptied when full).
const TENANT_KEY_CACHE_MAX: usize = 4096;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn pan_binding<'a>(tenant: &'a str, token: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: token,
        field: "pan",
    }
}

fn pin_binding<'a>(tenant: &'a str, token: &'a str) -> Binding<'a> {
    Binding {
        tenant,
        subject: token,
        field: "pin_block",
    }
}

fn cvk_binding(tenant: &str) -> Binding<'_> {
    Binding {
        tenant,
        subject: "-",
        field: "cvk",
    }
}

impl Service {
    /// Opens the service, creating the first RSA key pair if needed.
    pub async fn new(storage: Storage, vault: Vault, config: ServiceConfig) -> Result<Self> {
        let ring = KeyRing::load_or_create(&storage, &vault, now()).await?;
        Ok(Service {
            storage,
            vault,
            keyring: RwLock::new(Arc::new(ring)),
            keys_loaded_at: std::sync::atomic::AtomicI64::new(now()),
            tenant_keys: std::sync::Mutex::new(std::collections::HashMap::new()),
            config,
        })
    }

    /// The storage (for health checks).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The current key ring.
    pub fn keyring(&self) -> Arc<KeyRing> {
        self.keyring
            .read()
            .map(|k| Arc::clone(&k))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Reloads the key ring from storage (after a rotation elsewhere).
    pub async fn reload_keys(&self) -> Result<()> {
        let ring = Arc::new(KeyRing::load_or_create(&self.storage, &self.vault, now()).await?);
        self.keys_loaded_at
            .store(now(), std::sync::atomic::Ordering::Relaxed);
        match self.keyring.write() {
            Ok(mut k) => *k = ring,
            Err(p) => *p.into_inner() = ring,
        }
        Ok(())
    }

    /// Periodic upkeep: reloads the key ring (rotations made elsewhere) and
    /// deletes expired ephemeral keys.
    pub async fn housekeeping(&self) -> Result<()> {
        self.reload_keys().await?;
        self.storage.delete_expired_ephemeral_keys(now()).await?;
        self.storage.purge_auth_failures(now()).await?;
        self.storage.purge_capture_sessions(now()).await?;
        self.storage
            .purge_body_nonces(now() - 2 * crate::account::FRESHNESS_SECS)
            .await?;
        Ok(())
    }

    /// Rotates the RSA key pair and reloads.
    pub async fn rotate_keys(&self) -> Result<String> {
        let id = keys::rotate(&self.storage, &self.vault, now()).await?;
        self.reload_keys().await?;
        Ok(id)
    }

    // ---- tenants and credentials

    /// Creates a tenant; returns (tenant id, API key). The key is shown once:
    /// only its SHA-256 is stored.
    pub async fn create_tenant(&self, name: &str) -> Result<(String, Zeroizing<String>)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::bad_request(
                "INVALID_REQUEST",
                "a tenant name must be 1 to 200 characters",
            ));
        }
        let tenant_id = format!("ten_{}", hex_lower(&random_bytes::<8>()?));
        let api_key = Zeroizing::new(format!("psk_{}", base64url(&random_bytes::<32>()?)));
        let cvk = CvkPair::generate().map_err(|_| Error::Crypto("CVK generation failed"))?;
        let cvk_sealed = self
            .vault
            .seal(cvk_binding(&tenant_id), cvk.expose_bytes())?;
        self.storage
            .insert_tenant(
                &tenant_id,
                name,
                &sha256(api_key.as_bytes()),
                &cvk_sealed,
                now(),
            )
            .await?;
        Ok((tenant_id, api_key))
    }

    /// `Err(seconds)` while `client` is blocked after failed authentications.
    pub async fn check_client(&self, client: &str) -> Result<std::result::Result<(), i64>> {
        let now = now();
        Ok(match self.storage.auth_blocked_until(client, now).await? {
            Some(until) => Err(until - now),
            None => Ok(()),
        })
    }

    /// Counts a failed authentication of `client` (shared by all nodes);
    /// returns the block length if this failure starts one.
    pub async fn record_auth_failure(&self, client: &str) -> Result<Option<i64>> {
        use crate::ratelimit::{LONG_BLOCK, SHORT_BLOCK};
        let now = now();
        let (failures, until) = self
            .storage
            .record_auth_failure(client, now, SHORT_BLOCK, LONG_BLOCK)
            .await?;
        Ok((failures == SHORT_BLOCK.0 || failures >= LONG_BLOCK.0).then_some(until - now))
    }

    /// Identifies a bearer credential: a tenant API key (`psk_`) or an
    /// ephemeral key (`pse_`).
    pub async fn authenticate(&self, credential: &str) -> Result<Principal> {
        let hash = sha256(credential.as_bytes());
        if credential.starts_with("psk_") {
            // Found keys are remembered for TENANT_KEY_CACHE_SECS: one
            // database round trip less per request (issue #8). Unknown keys
            // are never remembered, so a new tenant's key works at once and
            // every failure still reaches the database-backed counters.
            let now = now();
            if let Ok(cache) = self.tenant_keys.lock() {
                if let Some((tenant_id, at)) = cache.get(&hash) {
                    if now - at < TENANT_KEY_CACHE_SECS {
                        return Ok(Principal::Tenant {
                            tenant_id: tenant_id.clone(),
                        });
                    }
                }
            }
            if let Some(t) = self.storage.tenant_by_key_hash(&hash).await? {
                if let Ok(mut cache) = self.tenant_keys.lock() {
                    if cache.len() >= TENANT_KEY_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(hash, (t.id.clone(), now));
                }
                return Ok(Principal::Tenant { tenant_id: t.id });
            }
        } else if credential.starts_with("pse_") {
            if let Some(k) = self.storage.ephemeral_key(&hash, now()).await? {
                let scopes = k
                    .scopes
                    .split(' ')
                    .filter_map(|s| Scope::parse(s).ok())
                    .collect();
                return Ok(Principal::Ephemeral {
                    tenant_id: k.tenant_id,
                    token: k.token,
                    scopes,
                });
            }
        }
        Err(Error::Unauthenticated)
    }

    /// Creates a short-lived key for one card and some scopes.
    pub async fn create_ephemeral_key(
        &self,
        principal: &Principal,
        token: &str,
        scopes: &[String],
        ttl_seconds: i64,
    ) -> Result<(Zeroizing<String>, i64)> {
        let tenant = principal.require_tenant()?;
        if !(1..=MAX_EPHEMERAL_TTL_SECS).contains(&ttl_seconds) {
            return Err(Error::bad_request(
                "INVALID_REQUEST",
                "ttlSeconds must be 1 to 900",
            ));
        }
        if scopes.is_empty() {
            return Err(Error::bad_request(
                "INVALID_SCOPE",
                "at least one scope is required",
            ));
        }
        let parsed = scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<Vec<_>>>()?;
        self.card_row(tenant, token).await?;
        let key = Zeroizing::new(format!("pse_{}", base64url(&random_bytes::<32>()?)));
        let expires_at = now() + ttl_seconds;
        let row = EphemeralKeyRow {
            tenant_id: tenant.to_owned(),
            token: token.to_owned(),
            scopes: parsed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            expires_at,
        };
        self.storage
            .insert_ephemeral_key(&sha256(key.as_bytes()), &row)
            .await?;
        Ok((key, expires_at))
    }

    // ---- sessions

    /// Unwraps a session id and, unless reuse is allowed, refuses one used before.
    pub async fn open_session(
        &self,
        version: Version,
        session_id: &str,
        key_id: Option<&str>,
    ) -> Result<Session> {
        let id = session_id.trim();
        let (key, used_key) = match self.keyring().unwrap_session_id(id, key_id, version) {
            Ok(found) => found,
            // Perhaps made for a key another node just rotated in: reload the
            // ring (at most once a second per node) and try once more.
            Err(Error::InvalidSession)
                if now()
                    - self
                        .keys_loaded_at
                        .load(std::sync::atomic::Ordering::Relaxed)
                    >= 1 =>
            {
                self.reload_keys().await?;
                self.keyring().unwrap_session_id(id, key_id, version)?
            }
            Err(e) => return Err(e),
        };
        if self.config.single_use_session_ids
            && !self
                .storage
                .record_session_id(&sha256(id.as_bytes()), &used_key, now())
                .await?
        {
            tracing::warn!("session id replayed: refused");
            return Err(Error::InvalidSession);
        }
        Ok(Session::new(version, key))
    }

    // ---- cards

    async fn card_row(&self, tenant: &str, token: &str) -> Result<CardRow> {
        self.storage
            .card(tenant, token)
            .await?
            .ok_or(Error::CardNotFound)
    }

    fn open_pan(&self, card: &CardRow) -> Result<Zeroizing<String>> {
        let raw = self
            .vault
            .open(pan_binding(&card.tenant_id, &card.token), &card.pan_sealed)?;
        String::from_utf8(raw.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("stored PAN is not text"))
    }

    async fn cvk(&self, tenant: &str) -> Result<CvkPair> {
        let t = self
            .storage
            .tenant(tenant)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let raw = self.vault.open(cvk_binding(tenant), &t.cvk_sealed)?;
        CvkPair::from_bytes(&raw).map_err(|_| Error::Crypto("stored CVK is invalid"))
    }

    fn expiry_yymm(card: &CardRow) -> Result<String> {
        match (card.expiry_month, card.expiry_year) {
            (Some(m), Some(y)) => Ok(format!("{:02}{:02}", y % 100, m)),
            _ => Err(Error::Conflict {
                code: "NO_EXPIRY",
                message: "this token has no card expiry (a PAN-only token)",
            }),
        }
    }

    /// Issues a sandbox card: a Luhn-valid PAN for the BIN, an expiry 3 years
    /// out, a CVV2 under the tenant's CVK.
    pub async fn issue_card(&self, principal: &Principal, req: &IssueCard) -> Result<CardSummary> {
        let tenant = principal.require_tenant()?;
        let bin = req.bin.as_deref().unwrap_or(DEFAULT_BIN);
        if !(6..=11).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::bad_request(
                "INVALID_BIN",
                "bin must be 6 to 11 digits",
            ));
        }
        for field in [
            &req.account_id,
            &req.customer_id,
            &req.customer_ref,
            &req.cardholder_name,
        ]
        .into_iter()
        .flatten()
        {
            if field.chars().count() > 200 {
                return Err(Error::bad_request(
                    "INVALID_REQUEST",
                    "text fields are at most 200 characters",
                ));
            }
        }
        if let Some(exid) = &req.exid {
            let ok = (1..=32).contains(&exid.len())
                && exid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(Error::bad_request(
                    "INVALID_EXID",
                    "exid must be 1 to 32 letters, digits, '-' or '_'",
                ));
            }
            if self
                .storage
                .card_token_by_exid(tenant, exid)
                .await?
                .is_some()
            {
                return Err(EXID_TAKEN);
            }
        }
        let date =
            time::OffsetDateTime::from_unix_timestamp(now()).map_err(|_| Error::Crypto("clock"))?;
        let (month, year) = (
            i64::from(u8::from(date.month())),
            i64::from(date.year()) + 3,
        );
        // The brand's usual PAN length: AMEX 15, Diners 14, others 16.
        let pan_len = match card::card_brand(bin) {
            Ok(CardBrand::Amex) => 15,
            Ok(CardBrand::Diners) => 14,
            _ => 16,
        };
        if bin.len() >= pan_len - 1 {
            return Err(Error::bad_request(
                "INVALID_BIN",
                "the BIN leaves no room for account digits",
            ));
        }
        // A collision with an existing PAN is possible in principle; retry.
        for _ in 0..5 {
            let mut pan = Zeroizing::new(bin.to_owned());
            let digits = random_bytes::<16>()?;
            for d in digits.iter().take(pan_len - 1 - bin.len()) {
                pan.push(char::from(b'0' + d % 10));
            }
            let check =
                card::luhn_check_digit(&pan).map_err(|_| Error::Crypto("PAN generation"))?;
            pan.push(char::from(b'0' + check));
            match self
                .insert_card(tenant, &pan, Some((month, year)), "ACTIVE", req)
                .await
            {
                Err(Error::Storage(StorageError::Duplicate)) => {
                    // Another card took the external id meanwhile?
                    if let Some(exid) = &req.exid {
                        if self
                            .storage
                            .card_token_by_exid(tenant, exid)
                            .await?
                            .is_some()
                        {
                            return Err(EXID_TAKEN);
                        }
                    }
                    continue;
                }
                other => return other,
            }
        }
        Err(Error::Conflict {
            code: "BIN_EXHAUSTED",
            message: "could not allocate a new PAN in this BIN",
        })
    }

    async fn insert_card(
        &self,
        tenant: &str,
        pan: &str,
        expiry: Option<(i64, i64)>,
        status: &str,
        req: &IssueCard,
    ) -> Result<CardSummary> {
        let token = format!("tok_{}", hex_lower(&random_bytes::<12>()?));
        let brand = card::card_brand(pan).unwrap_or(CardBrand::Unknown);
        let pan_sealed = self
            .vault
            .seal(pan_binding(tenant, &token), pan.as_bytes())?;
        let index = self.vault.pan_index(tenant, pan);
        let new = NewCard {
            tenant_id: tenant,
            token: &token,
            pan_index: &index,
            pan_sealed: &pan_sealed,
            pan_first6: pan.get(..6).unwrap_or(""),
            pan_last4: pan.get(pan.len().saturating_sub(4)..).unwrap_or(""),
            pan_length: pan.len() as i64,
            brand: brand.as_str(),
            expiry_month: expiry.map(|e| e.0),
            expiry_year: expiry.map(|e| e.1),
            status,
            account_id: req.account_id.as_deref(),
            customer_id: req.customer_id.as_deref(),
            customer_ref: req.customer_ref.as_deref(),
            cardholder_name: req.cardholder_name.as_deref(),
            created_at: now(),
            exid: req.exid.as_deref(),
        };
        self.storage.insert_card(&new).await?;
        let row = self.card_row(tenant, &token).await?;
        Ok(CardSummary::from(&row))
    }

    /// PAN to token: the same PAN in the same tenant always gives the same
    /// token; a PAN not yet vaulted is vaulted as a PAN-only token.
    pub async fn tokenize(&self, principal: &Principal, pan: &str) -> Result<CardSummary> {
        let tenant = principal.require_tenant()?;
        let pan = card::normalize_pan(pan)
            .map_err(|_| Error::bad_request("INVALID_PAN", "the PAN must be 12 to 19 digits"))?;
        if !card::luhn_check(&pan) {
            return Err(Error::bad_request(
                "INVALID_PAN",
                "the PAN fails the Luhn check",
            ));
        }
        if let Some(row) = self
            .storage
            .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
            .await?
        {
            return Ok(CardSummary::from(&row));
        }
        match self
            .insert_card(tenant, &pan, None, "TOKENIZED", &IssueCard::default())
            .await
        {
            // Two concurrent first calls: the other one won; return its token.
            Err(Error::Storage(StorageError::Duplicate)) => {
                let row = self
                    .storage
                    .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
                    .await?;
                row.map(|r| CardSummary::from(&r))
                    .ok_or(Error::CardNotFound)
            }
            other => other,
        }
    }

    /// The detailed card list (masked).
    pub async fn list_cards(
        &self,
        principal: &Principal,
        filter: &CardFilter,
    ) -> Result<Vec<CardSummary>> {
        let tenant = principal.require_tenant()?;
        Ok(self
            .storage
            .cards(tenant, filter)
            .await?
            .iter()
            .map(CardSummary::from)
            .collect())
    }

    /// PAN and expiry of a card.
    pub async fn card_secrets(
        &self,
        principal: &Principal,
        token: &str,
        scope: Scope,
    ) -> Result<CardSecrets> {
        let tenant = principal.authorize(token, scope)?;
        let card = self.card_row(tenant, token).await?;
        Ok(CardSecrets {
            pan: self.open_pan(&card)?,
            expiry_month: card.expiry_month,
            expiry_year: card.expiry_year,
        })
    }

    /// The CVV2 of a card, computed with the tenant's CVK.
    pub async fn cvv2(
        &self,
        principal: &Principal,
        token: &str,
        scope: Scope,
    ) -> Result<Zeroizing<String>> {
        let tenant = principal.authorize(token, scope)?;
        let card = self.card_row(tenant, token).await?;
        let pan = self.open_pan(&card)?;
        let cvk = self.cvk(tenant).await?;
        cvv::cvv2(&cvk, &pan, &Self::expiry_yymm(&card)?)
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("CVV computation failed"))
    }

    /// The CVV2 of a card named as seed 001's envelope names it, checked
    /// against the expiry the caller gave (`YYMM`). Returns the card's
    /// token and the CVV2.
    pub async fn envelope_cvv2(
        &self,
        principal: &Principal,
        id: CardIdentifier<'_>,
        expiry_yymm: &str,
    ) -> Result<(String, Zeroizing<String>)> {
        let tenant = principal.tenant_id();
        let token = match id {
            CardIdentifier::ContractNumber(t) => t.to_owned(),
            CardIdentifier::Exid(x) => self
                .storage
                .card_token_by_exid(tenant, x)
                .await?
                .ok_or(Error::CardNotFound)?,
        };
        principal.authorize(&token, Scope::Cvv2)?;
        let card = self.card_row(tenant, &token).await?;
        if Self::expiry_yymm(&card)? != expiry_yymm {
            return Err(Error::bad_request(
                "EXPIRY_MISMATCH",
                "expiry_date does not match the card",
            ));
        }
        let cvv2 = self.cvv2(principal, &token, Scope::Cvv2).await?;
        Ok((token, cvv2))
    }

    /// Whether the tenant allows the envelope API to answer CVV2 in clear.
    pub async fn allows_plain_cvv2(&self, tenant: &str) -> Result<bool> {
        Ok(self.storage.tenant_allows_plain_cvv2(tenant).await?)
    }

    /// Lets a tenant have CVV2 in clear from the envelope API (or not).
    pub async fn set_allow_plain_cvv2(&self, tenant: &str, allow: bool) -> Result<()> {
        if self.storage.set_allow_plain_cvv2(tenant, allow).await? {
            Ok(())
        } else {
            Err(Error::bad_request("UNKNOWN_TENANT", "no such tenant"))
        }
    }

    /// Verifies a CVV2 by recomputation.
    pub async fn verify_cvv2(
        &self,
        principal: &Principal,
        token: &str,
        candidate: &str,
    ) -> Result<bool> {
        let tenant = principal.authorize(token, Scope::Cvv2Verify)?;
        let card = self.card_row(tenant, token).await?;
        self.verify_cvv2_on(tenant, &card, candidate).await
    }

    /// Verifies a CVV2 for a provided PAN.
    pub async fn verify_cvv2_by_pan(
        &self,
        principal: &Principal,
        pan: &str,
        candidate: &str,
    ) -> Result<bool> {
        let tenant = principal.require_tenant()?;
        let card = self.card_by_pan(tenant, pan).await?;
        self.verify_cvv2_on(tenant, &card, candidate).await
    }

    async fn verify_cvv2_on(&self, tenant: &str, card: &CardRow, candidate: &str) -> Result<bool> {
        if candidate.len() != 3 || !candidate.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::bad_request("INVALID_CVV2", "a CVV2 is 3 digits"));
        }
        let pan = self.open_pan(card)?;
        let cvk = self.cvk(tenant).await?;
        cvv::verify(&cvk, &pan, &Self::expiry_yymm(card)?, "000", candidate)
            .map_err(|_| Error::Crypto("CVV computation failed"))
    }

    async fn card_by_pan(&self, tenant: &str, pan: &str) -> Result<CardRow> {
        let pan = card::normalize_pan(pan)
            .map_err(|_| Error::bad_request("INVALID_PAN", "the PAN must be 12 to 19 digits"))?;
        self.storage
            .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
            .await?
            .ok_or(Error::CardNotFound)
    }

    /// The card's PIN.
    pub async fn get_pin(&self, principal: &Principal, token: &str) -> Result<Pin> {
        let tenant = principal.authorize(token, Scope::PinRead)?;
        let card = self.card_row(tenant, token).await?;
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        self.stored_pin(&card)
    }

    fn stored_pin(&self, card: &CardRow) -> Result<Pin> {
        let sealed = card.pin_sealed.as_deref().ok_or(Error::Conflict {
            code: "PIN_NOT_SET",
            message: "no PIN is set for this card",
        })?;
        let block = self
            .vault
            .open(pin_binding(&card.tenant_id, &card.token), sealed)?;
        let text = std::str::from_utf8(&block)
            .map_err(|_| Error::Crypto("stored PIN block is not text"))?;
        pin_block::decode(text, None)
            .map(|(pin, _)| pin)
            .map_err(|_| Error::Crypto("stored PIN block is invalid"))
    }

    /// Sets the card's PIN (refused while the PIN is blocked).
    pub async fn set_pin(&self, principal: &Principal, token: &str, pin: &Pin) -> Result<()> {
        let tenant = principal.authorize(token, Scope::PinWrite)?;
        let card = self.card_row(tenant, token).await?;
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        let block = pin_block::encode(pin, PinBlockFormat::Iso2, None)
            .map_err(|_| Error::Crypto("PIN block"))?;
        let sealed = self
            .vault
            .seal(pin_binding(tenant, token), block.as_bytes())?;
        if self.storage.set_pin(tenant, token, &sealed).await? {
            Ok(())
        } else {
            Err(Error::PinBlocked)
        }
    }

    /// Verifies the card's PIN; three consecutive wrong PINs block it.
    pub async fn verify_pin(
        &self,
        principal: &Principal,
        token: &str,
        candidate: &Pin,
    ) -> Result<PinVerification> {
        let tenant = principal.authorize(token, Scope::PinVerify)?;
        let card = self.card_row(tenant, token).await?;
        self.verify_pin_on(&card, candidate).await
    }

    /// Verifies a PIN for a provided PAN.
    pub async fn verify_pin_by_pan(
        &self,
        principal: &Principal,
        pan: &str,
        candidate: &Pin,
    ) -> Result<PinVerification> {
        let tenant = principal.require_tenant()?;
        let card = self.card_by_pan(tenant, pan).await?;
        self.verify_pin_on(&card, candidate).await
    }

    async fn verify_pin_on(&self, card: &CardRow, candidate: &Pin) -> Result<PinVerification> {
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        let stored = self.stored_pin(card)?;
        let right: bool = stored
            .expose()
            .as_bytes()
            .ct_eq(candidate.expose().as_bytes())
            .into();
        if right {
            if self
                .storage
                .record_right_pin(&card.tenant_id, &card.token)
                .await?
            {
                Ok(PinVerification {
                    verified: true,
                    tries_remaining: PIN_TRY_LIMIT,
                })
            } else {
                Err(Error::PinBlocked)
            }
        } else {
            match self
                .storage
                .record_wrong_pin(&card.tenant_id, &card.token, PIN_TRY_LIMIT)
                .await?
            {
                Some(c) => Ok(PinVerification {
                    verified: false,
                    tries_remaining: (PIN_TRY_LIMIT - c.tries).max(0),
                }),
                None => Err(Error::PinBlocked),
            }
        }
    }

    /// Unblocks the PIN (tenant only).
    pub async fn unblock_pin(&self, principal: &Principal, token: &str) -> Result<CardSummary> {
        let tenant = principal.require_tenant()?;
        if !self.storage.unblock_pin(tenant, token).await? {
            return Err(Error::CardNotFound);
        }
        Ok(CardSummary::from(&self.card_row(tenant, token).await?))
    }
}
