//! The PaySecure domain: what each API call does, independent of HTTP.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use paysecure_core::card::{self, CardBrand};
use paysecure_core::pin_block::{self, PinBlockFormat};
use paysecure_core::{Pin, Version};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::cvv::{self, CvkPair};
use crate::error::{Error, Result};
use crate::keys::{self, hex_lower, KeyRing};
use crate::ratelimit::{Limiter, RateLimits, TrustedProxies, LIMITER_MAX_KEYS};
use crate::sessions::{CardGrant, Grant, TenantGrant};
use crate::storage::{
    CardFilter, CardRow, EphemeralKeyRow, Guessable, NewCard, Storage, StorageError,
};
use crate::vault::{Binding, Vault};

/// Consecutive wrong PINs that block the PIN.
pub const PIN_TRY_LIMIT: i64 = 3;
/// Consecutive wrong CVV2s that block the card's CVV2 verification (until
/// the tenant unblocks it): 5 of 1,000 possible values, a 0.5% chance for a
/// guesser, and room for a cardholder's typos.
pub const CVV2_TRY_LIMIT: i64 = 5;
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
    paysecure_core::encoding::encode(bytes)
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
    /// Proxies whose `X-Forwarded-For` names the client (default: loopback
    /// and the private ranges).
    pub trusted_proxies: TrustedProxies,
    /// Request-rate limits per credential and per card (per node).
    pub rate_limits: RateLimits,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            single_use_session_ids: true,
            trusted_proxies: TrustedProxies::default(),
            rate_limits: RateLimits::default(),
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
    /// seconds when looked up, the key's expiry). See [`Service::authenticate`].
    tenant_keys: std::sync::Mutex<std::collections::HashMap<Vec<u8>, CachedTenantKey>>,
    /// Held while the key ring reloads: concurrent requests with unknown
    /// session ids share one reload instead of each making their own.
    reload_lock: tokio::sync::Mutex<()>,
    /// Request rate per credential (keyed by the credential's SHA-256).
    credential_limiter: Limiter,
    /// Request rate per (tenant, card).
    card_limiter: Limiter,
    pub(crate) config: ServiceConfig,
}

/// How long a tenant API key found in the database is trusted without
/// asking it again: `tenant revoke-key` (run in another process) takes
/// effect on every node within this many seconds. A key's expiry (the end
/// of a rotation's overlap window) is kept in the cached entry and applies
/// to the second.
pub const TENANT_KEY_CACHE_SECS: i64 = 5;
/// Default overlap of `tenant rotate-key`: the old key keeps working this
/// long after the new one is made.
pub const DEFAULT_KEY_OVERLAP_SECS: i64 = 24 * 60 * 60;

/// A cached tenant key: (tenant id, Unix seconds when looked up, expiry).
type CachedTenantKey = (String, i64, Option<i64>);
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
        let ring = KeyRing::load_or_create(&storage, &vault, now(), false).await?;
        Ok(Service {
            storage,
            vault,
            keyring: RwLock::new(Arc::new(ring)),
            keys_loaded_at: std::sync::atomic::AtomicI64::new(now()),
            tenant_keys: std::sync::Mutex::new(std::collections::HashMap::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            credential_limiter: Limiter::new(config.rate_limits.credential, LIMITER_MAX_KEYS),
            card_limiter: Limiter::new(config.rate_limits.card, LIMITER_MAX_KEYS),
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
        let ring =
            Arc::new(KeyRing::load_or_create(&self.storage, &self.vault, now(), false).await?);
        self.keys_loaded_at
            .store(now(), std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(keys = ring.keys().len(), "key ring reloaded");
        match self.keyring.write() {
            Ok(mut k) => *k = ring,
            Err(p) => *p.into_inner() = ring,
        }
        Ok(())
    }

    /// Reloads the key ring if it is more than a second old; `true` if it
    /// is fresh now (reloaded here or by a concurrent caller). Single
    /// flight: N concurrent callers cause one reload, not N.
    pub async fn reload_keys_if_stale(&self) -> Result<bool> {
        use std::sync::atomic::Ordering::Relaxed;
        let seen = self.keys_loaded_at.load(Relaxed);
        if now() - seen < 1 {
            return Ok(false);
        }
        let _one = self.reload_lock.lock().await;
        if self.keys_loaded_at.load(Relaxed) != seen {
            // Another request reloaded while this one waited.
            return Ok(true);
        }
        self.reload_keys().await?;
        Ok(true)
    }

    /// Periodic upkeep: rotates keys about to expire, reloads the key ring
    /// (rotations and revocations made elsewhere), and deletes expired
    /// ephemeral keys, throttle rows, capture sessions, nonces and the
    /// replay records of keys that no longer decrypt.
    pub async fn housekeeping(&self) -> Result<()> {
        let now = now();
        for key in self.keyring().keys() {
            if key.status == "active" && key.expires_at - now <= keys::ROTATION_OVERLAP_SECS {
                match keys::rotate(&self.storage, &self.vault, key.purpose, now).await {
                    // Another node rotated it first.
                    Ok(_) | Err(Error::Storage(StorageError::Duplicate)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.reload_keys().await?;
        self.storage.delete_expired_ephemeral_keys(now).await?;
        self.storage.purge_auth_failures(now).await?;
        self.storage.purge_capture_sessions(now).await?;
        self.storage.purge_used_session_ids(now).await?;
        self.storage
            .purge_body_nonces(now - 2 * crate::account::FRESHNESS_SECS)
            .await?;
        self.storage
            .purge_paythru_nonces(now - crate::paythru::NONCE_RETENTION_SECS)
            .await?;
        Ok(())
    }

    /// Rotates the RSA key pair of `purpose` and reloads.
    pub async fn rotate_keys(&self, purpose: keys::Purpose) -> Result<String> {
        let id = keys::rotate(&self.storage, &self.vault, purpose, now()).await?;
        self.reload_keys().await?;
        Ok(id)
    }

    /// Revokes an RSA key pair at once (see [`keys::revoke`]) and reloads.
    pub async fn revoke_key(&self, key_id: &str) -> Result<Option<keys::Purpose>> {
        let revoked = keys::revoke(&self.storage, &self.vault, key_id, now()).await?;
        self.reload_keys().await?;
        Ok(revoked)
    }

    /// Switches V1 (PKCS#1 v1.5 session ids, AES-CBC) for a tenant; the
    /// first tenant to enable it creates the V1 key pair.
    pub async fn set_tenant_v1(&self, tenant: &str, enabled: bool) -> Result<()> {
        if enabled && !self.keyring().has_active(keys::Purpose::V1) {
            let ring = KeyRing::load_or_create(&self.storage, &self.vault, now(), true).await?;
            drop(ring);
            self.reload_keys().await?;
        }
        if self.storage.set_tenant_v1(tenant, enabled).await? {
            Ok(())
        } else {
            Err(Error::bad_request("UNKNOWN_TENANT", "no such tenant"))
        }
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

    /// Makes a new API key for `tenant_id`; every older usable key keeps
    /// working for `overlap_secs` more (0: stops now), then stops. The new
    /// key is shown once: only its SHA-256 is stored.
    pub async fn rotate_tenant_key(
        &self,
        tenant_id: &str,
        overlap_secs: i64,
    ) -> Result<Zeroizing<String>> {
        if overlap_secs < 0 {
            return Err(Error::bad_request(
                "INVALID_REQUEST",
                "the overlap must not be negative",
            ));
        }
        let api_key = Zeroizing::new(format!("psk_{}", base64url(&random_bytes::<32>()?)));
        let now = now();
        let found = self
            .storage
            .rotate_tenant_key(
                tenant_id,
                &sha256(api_key.as_bytes()),
                now,
                now.saturating_add(overlap_secs),
            )
            .await?;
        if !found {
            return Err(Error::bad_request("UNKNOWN_TENANT", "no such tenant"));
        }
        Ok(api_key)
    }

    /// Revokes every API key of `tenant_id` at once, and deletes its
    /// ephemeral keys (a stolen tenant key may have made some). Running
    /// nodes refuse the keys within [`TENANT_KEY_CACHE_SECS`]; ephemeral keys
    /// are looked up in the database on every request, so they stop at once.
    /// Returns how many API keys were revoked.
    pub async fn revoke_tenant_keys(&self, tenant_id: &str) -> Result<u64> {
        let revoked = self
            .storage
            .revoke_tenant_keys(tenant_id, now())
            .await?
            .ok_or(Error::bad_request("UNKNOWN_TENANT", "no such tenant"))?;
        if let Ok(mut cache) = self.tenant_keys.lock() {
            cache.retain(|_, (t, _, _)| t != tenant_id);
        }
        Ok(revoked)
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

    /// A request without a valid credential from `client`: `Some(seconds)`
    /// while the client is blocked (answer 429; the attempt is not counted,
    /// so requests made during a block never extend it), else the failure is
    /// counted (shared by all nodes) and `None` (answer 401).
    pub async fn failed_authentication(&self, client: &str) -> Result<Option<i64>> {
        if let Err(secs) = self.check_client(client).await? {
            return Ok(Some(secs));
        }
        if let Some(secs) = self.record_auth_failure(client).await? {
            tracing::warn!(%client, block_secs = secs, "client blocked after repeated failed authentications");
        }
        Ok(None)
    }

    /// The proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.config.trusted_proxies
    }

    /// Takes one request from the rate of `credential` (valid credentials
    /// only: unknown ones never get a bucket).
    pub fn limit_credential(&self, credential: &str) -> Result<()> {
        let key = digest::digest(&digest::SHA256, credential.as_bytes());
        self.take(&self.credential_limiter, key.as_ref())
    }

    /// Takes one request from the rate of card `token` of `tenant`.
    pub fn limit_card(&self, tenant: &str, token: &str) -> Result<()> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in [tenant, token] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        self.take(&self.card_limiter, ctx.finish().as_ref())
    }

    fn take(&self, limiter: &Limiter, hash: &[u8]) -> Result<()> {
        let mut key = [0u8; 32];
        key.copy_from_slice(hash.get(..32).unwrap_or(&[0u8; 32]));
        limiter
            .check(key)
            .map_err(|retry_after| Error::RateLimited { retry_after })
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
                if let Some((tenant_id, at, expires_at)) = cache.get(&hash) {
                    if now - at < TENANT_KEY_CACHE_SECS && expires_at.is_none_or(|e| now < e) {
                        return Ok(Principal::Tenant {
                            tenant_id: tenant_id.clone(),
                        });
                    }
                }
            }
            if let Some(k) = self.storage.active_tenant_key(&hash, now).await? {
                if let Ok(mut cache) = self.tenant_keys.lock() {
                    if cache.len() >= TENANT_KEY_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(hash, (k.tenant_id.clone(), now, k.expires_at));
                }
                return Ok(Principal::Tenant {
                    tenant_id: k.tenant_id,
                });
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
    pub async fn tokenize(&self, grant: &TenantGrant, pan: &str) -> Result<CardSummary> {
        let tenant = grant.tenant();
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
            self.limit_card(tenant, &row.token)?;
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

    /// PAN and expiry of a card (a grant for `pan` or `reveal`).
    pub fn card_secrets(&self, grant: &CardGrant) -> Result<CardSecrets> {
        grant.require(&[Scope::Pan, Scope::Reveal])?;
        let card = grant.card();
        Ok(CardSecrets {
            pan: self.open_pan(card)?,
            expiry_month: card.expiry_month,
            expiry_year: card.expiry_year,
        })
    }

    /// The CVV2 of a card, computed with the tenant's CVK (a grant for
    /// `cvv2` or `reveal`).
    pub async fn cvv2(&self, grant: &CardGrant) -> Result<Zeroizing<String>> {
        grant.require(&[Scope::Cvv2, Scope::Reveal])?;
        let card = grant.card();
        let pan = self.open_pan(card)?;
        let cvk = self.cvk(grant.tenant()).await?;
        cvv::cvv2(&cvk, &pan, &Self::expiry_yymm(card)?)
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("CVV computation failed"))
    }

    /// Authorizes the Get CVV2 envelope (seed 001) for a card named as it
    /// names cards, checked against the expiry the caller gave (`YYMM`),
    /// all before any session is opened.
    pub async fn grant_envelope_cvv2(
        &self,
        principal: &Principal,
        id: CardIdentifier<'_>,
        expiry_yymm: &str,
    ) -> Result<CardGrant> {
        let tenant = principal.tenant_id();
        let token = match id {
            CardIdentifier::ContractNumber(t) => t.to_owned(),
            CardIdentifier::Exid(x) => self
                .storage
                .card_token_by_exid(tenant, x)
                .await?
                .ok_or(Error::CardNotFound)?,
        };
        let grant = self
            .grant_card(principal, Version::V2, &token, Scope::Cvv2)
            .await?;
        if Self::expiry_yymm(grant.card())? != expiry_yymm {
            return Err(Error::bad_request(
                "EXPIRY_MISMATCH",
                "expiry_date does not match the card",
            ));
        }
        Ok(grant)
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

    /// Verifies a CVV2 by recomputation (a grant for `cvv2:verify`).
    /// Consecutive wrong CVV2s are counted per card in the database
    /// (atomically, shared by all nodes); the [`CVV2_TRY_LIMIT`]th blocks
    /// verification ([`Error::Cvv2Blocked`], for right and wrong candidates
    /// alike) until [`Self::unblock_cvv2`]; a right CVV2 resets the count.
    pub async fn verify_cvv2(&self, grant: &CardGrant, candidate: &str) -> Result<bool> {
        grant.require(&[Scope::Cvv2Verify])?;
        self.verify_cvv2_on(grant.tenant(), grant.card(), candidate)
            .await
    }

    /// Verifies a CVV2 for a provided PAN (tenant only).
    pub async fn verify_cvv2_by_pan(
        &self,
        grant: &TenantGrant,
        pan: &str,
        candidate: &str,
    ) -> Result<bool> {
        let tenant = grant.tenant();
        let card = self.card_by_pan(tenant, pan).await?;
        self.limit_card(tenant, &card.token)?;
        self.verify_cvv2_on(tenant, &card, candidate).await
    }

    async fn verify_cvv2_on(&self, tenant: &str, card: &CardRow, candidate: &str) -> Result<bool> {
        if candidate.len() != 3 || !candidate.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::bad_request("INVALID_CVV2", "a CVV2 is 3 digits"));
        }
        let pan = self.open_pan(card)?;
        let cvk = self.cvk(tenant).await?;
        let right = cvv::verify(&cvk, &pan, &Self::expiry_yymm(card)?, "000", candidate)
            .map_err(|_| Error::Crypto("CVV computation failed"))?;
        // One conditional UPDATE either way: a blocked card answers the same
        // to a right and a wrong CVV2.
        let counted = if right {
            self.storage
                .record_right_guess(Guessable::Cvv2, tenant, &card.token)
                .await?
        } else {
            self.storage
                .record_wrong_guess(Guessable::Cvv2, tenant, &card.token, CVV2_TRY_LIMIT)
                .await?
                .is_some()
        };
        if counted {
            Ok(right)
        } else {
            Err(Error::Cvv2Blocked)
        }
    }

    /// Unblocks the card's CVV2 verification and clears its count (tenant
    /// only).
    pub async fn unblock_cvv2(&self, principal: &Principal, token: &str) -> Result<CardSummary> {
        self.unblock(principal, token, Guessable::Cvv2).await
    }

    async fn unblock(
        &self,
        principal: &Principal,
        token: &str,
        secret: Guessable,
    ) -> Result<CardSummary> {
        let tenant = principal.require_tenant()?;
        if !self.storage.unblock_guesses(secret, tenant, token).await? {
            return Err(Error::CardNotFound);
        }
        Ok(CardSummary::from(&self.card_row(tenant, token).await?))
    }

    async fn card_by_pan(&self, tenant: &str, pan: &str) -> Result<CardRow> {
        let pan = card::normalize_pan(pan)
            .map_err(|_| Error::bad_request("INVALID_PAN", "the PAN must be 12 to 19 digits"))?;
        self.storage
            .card_by_pan_index(tenant, &self.vault.pan_index(tenant, &pan))
            .await?
            .ok_or(Error::CardNotFound)
    }

    /// The card's PIN (a grant for `pin:read`).
    pub fn get_pin(&self, grant: &CardGrant) -> Result<Pin> {
        grant.require(&[Scope::PinRead])?;
        let card = grant.card();
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        self.stored_pin(card)
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

    /// Sets the card's PIN (a grant for `pin:write`; refused while the PIN
    /// is blocked, and refused with `WEAK_PIN` when it is too easy to guess:
    /// the rules of [`paysecure_core::pin_weakness`], which the PIN widget
    /// shows too).
    pub async fn set_pin(&self, grant: &CardGrant, pin: &Pin) -> Result<()> {
        grant.require(&[Scope::PinWrite])?;
        let (tenant, token, card) = (grant.tenant(), grant.token(), grant.card());
        if card.pin_blocked {
            return Err(Error::PinBlocked);
        }
        // One message whatever the rule: which one matched says something
        // about the digits, and error messages may be logged.
        if paysecure_core::pin_weakness(pin).is_some() {
            return Err(Error::bad_request(
                "WEAK_PIN",
                "the PIN is too easy to guess (one repeated digit, a run, a repeated pair or a common PIN); choose another",
            ));
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

    /// Verifies the card's PIN (a grant for `pin:verify`); three
    /// consecutive wrong PINs block it.
    pub async fn verify_pin(&self, grant: &CardGrant, candidate: &Pin) -> Result<PinVerification> {
        grant.require(&[Scope::PinVerify])?;
        self.verify_pin_on(grant.card(), candidate).await
    }

    /// Verifies a PIN for a provided PAN (tenant only).
    pub async fn verify_pin_by_pan(
        &self,
        grant: &TenantGrant,
        pan: &str,
        candidate: &Pin,
    ) -> Result<PinVerification> {
        let tenant = grant.tenant();
        let card = self.card_by_pan(tenant, pan).await?;
        self.limit_card(tenant, &card.token)?;
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
                .record_right_guess(Guessable::Pin, &card.tenant_id, &card.token)
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
                .record_wrong_guess(Guessable::Pin, &card.tenant_id, &card.token, PIN_TRY_LIMIT)
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
        self.unblock(principal, token, Guessable::Pin).await
    }
}
