//! The PaySecure domain: what each API call does, independent of HTTP.

use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use crate::crypto::custody::{software::SoftwareCustody, KeyCustody, PinKey};
use crate::crypto::cvv::CvkPair;
use crate::crypto::keys::{self, KeyRing};
use crate::crypto::vault::Vault;
use crate::domain::error::{Code, Error, Result};
use crate::domain::keys as key_store;
use crate::domain::paysecure::cvk_binding;
use crate::domain::ratelimit::{Limiter, RateLimits, TrustedProxies, LIMITER_MAX_KEYS};
pub use crate::storage::{Backend, CardFilter, StorageOptions};
use crate::storage::{CardRow, EphemeralKeyRow, Storage, StorageError};
use crate::util::card::masked_pan;
use crate::util::codec::sha256;
use crate::util::ids::{random_credential, random_id};
use crate::util::time::now;
use crate::util::time::UnixTime;
use aws_lc_rs::digest;

/// Consecutive wrong PINs that block the PIN.
pub const PIN_TRY_LIMIT: i64 = 3;
/// Consecutive wrong CVV2s that block the card's CVV2 verification (until
/// the tenant unblocks it): 5 of 1,000 possible values, a 0.5% chance for a
/// guesser, and room for a cardholder's typos.
pub const CVV2_TRY_LIMIT: i64 = 5;
/// Longest life of an ephemeral key.
pub const MAX_EPHEMERAL_TTL_SECS: i64 = 15 * 60;

/// Default BIN for sandbox issuing.
pub const DEFAULT_BIN: &str = "400000";

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
    /// Wallet provisioning: Apple and MDES digitization data.
    Digitize,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 8] = [
        Scope::Pan,
        Scope::Cvv2,
        Scope::PinRead,
        Scope::PinWrite,
        Scope::PinVerify,
        Scope::Cvv2Verify,
        Scope::Reveal,
        Scope::Digitize,
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
            Scope::Digitize => "digitize",
        }
    }

    /// Parses a scope name.
    pub fn parse(s: &str) -> Result<Self> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or(Error::bad_request(Code::InvalidScope, "unknown scope"))
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The tenant's own backend, with its API key.
    Tenant {
        /// The owning tenant (`ten_` and 16 hex digits).
        tenant_id: String,
    },
    /// A cardholder's browser, with a short-lived key for one card.
    Ephemeral {
        /// The owning tenant (`ten_` and 16 hex digits).
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
    /// The card token (`tok_` and 24 hex digits).
    pub token: String,
    /// e.g. `411111******1111`.
    pub masked_pan: String,
    /// The card brand from the BIN (`VISA`, `MASTERCARD`, …).
    pub brand: String,
    /// Expiry month, 1 to 12.
    pub expiry_month: Option<i64>,
    /// Expiry year, four digits.
    pub expiry_year: Option<i64>,
    /// `ACTIVE` or `TOKENIZED`.
    pub status: String,
    /// The issuer's account id of the card, if the tenant gave one.
    pub account_id: Option<String>,
    /// The issuer's customer id, if the tenant gave one.
    pub customer_id: Option<String>,
    /// The tenant's own customer reference, if it gave one.
    pub customer_ref: Option<String>,
    /// The cardholder's name as printed on the card.
    pub cardholder_name: Option<String>,
    /// Whether a PIN is set.
    pub pin_set: bool,
    /// Whether the PIN is blocked.
    pub pin_blocked: bool,
    /// When the row was written.
    pub created_at: UnixTime,
}

impl From<&CardRow> for CardSummary {
    fn from(c: &CardRow) -> Self {
        CardSummary {
            token: c.token.clone(),
            masked_pan: masked_pan(&c.pan_first6, c.pan_length, &c.pan_last4),
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
    /// The PAN, digits only (wiped on drop).
    pub pan: Zeroizing<String>,
    /// Expiry month, 1 to 12.
    pub expiry_month: Option<i64>,
    /// Expiry year, four digits.
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
    /// The issuer's account id of the card, if the tenant gave one.
    pub account_id: Option<String>,
    /// The issuer's customer id, if the tenant gave one.
    pub customer_id: Option<String>,
    /// The tenant's own customer reference, if it gave one.
    pub customer_ref: Option<String>,
    /// 6 to 11 digit BIN; default [`DEFAULT_BIN`].
    pub bin: Option<String>,
    /// The cardholder's name as printed on the card.
    pub cardholder_name: Option<String>,
    /// EXID, the external id the Get CVV2 envelope can name the card by:
    /// 1 to 32 letters, digits, `-` or `_`,
    /// unique in the tenant.
    pub exid: Option<String>,
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
    /// How long the Get CVV2 envelope may take before it answers 504
    /// (default 10 s, below the transport's 15 s request timeout).
    pub envelope_deadline: std::time::Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            single_use_session_ids: true,
            trusted_proxies: TrustedProxies::default(),
            rate_limits: RateLimits::default(),
            envelope_deadline: std::time::Duration::from_secs(10),
        }
    }
}

/// The service: storage, vault, key custody, key ring.
pub struct Service {
    pub(crate) storage: Storage,
    pub(crate) vault: Vault,
    /// Where the RSA private keys and the PIN key live.
    pub(crate) custody: Arc<dyn KeyCustody>,
    /// The PIN key (format-4 PIN blocks at rest), held by the custody.
    pub(crate) pin_key: PinKey,
    keyring: RwLock<Arc<KeyRing>>,
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
    /// This node's copy of the BIN range table.
    pub(crate) bins: crate::domain::bins::BinCache,
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

/// A cached tenant key: (tenant id, when it was looked up, expiry).
type CachedTenantKey = (String, UnixTime, Option<UnixTime>);
/// Most tenant keys remembered per node (the map is emptied when full).
const TENANT_KEY_CACHE_MAX: usize = 4096;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Connects to the database at `url` (`sqlite://…` or `postgres://…`), for
/// [`Service::new`].
pub async fn connect_database(
    url: &str,
    options: &StorageOptions,
) -> std::result::Result<Storage, StorageError> {
    Storage::connect(url, options).await
}

impl Service {
    /// Opens the service with the software key custody (keys sealed by the
    /// vault), creating the first RSA key pair if needed.
    pub async fn new(storage: Storage, vault: Vault, config: ServiceConfig) -> Result<Self> {
        Self::with_custody(storage, vault, Arc::new(SoftwareCustody), config).await
    }

    /// Opens the service with this key custody: loads (or creates) the RSA
    /// key pairs and the PIN key, and re-encrypts any PIN still stored as a
    /// format-2 block (migration 0011) as a format-4 block.
    pub async fn with_custody(
        storage: Storage,
        vault: Vault,
        custody: Arc<dyn KeyCustody>,
        config: ServiceConfig,
    ) -> Result<Self> {
        let ring = key_store::load_or_create(&storage, &vault, &*custody, now(), false).await?;
        let pin_key =
            crate::domain::custody::load_or_create_pin_key(&storage, &vault, &*custody).await?;
        let service = Service {
            storage,
            vault,
            custody,
            pin_key,
            keyring: RwLock::new(Arc::new(ring)),
            tenant_keys: std::sync::Mutex::new(std::collections::HashMap::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            credential_limiter: Limiter::new(config.rate_limits.credential, LIMITER_MAX_KEYS),
            card_limiter: Limiter::new(config.rate_limits.card, LIMITER_MAX_KEYS),
            config,
            bins: Default::default(),
        };
        let (_, unreadable) = service.migrate_pins().await?;
        if unreadable > 0 {
            tracing::error!(
                count = unreadable,
                "stored PINs left as format-2 blocks: they could not be read"
            );
        }
        Ok(service)
    }

    /// Which key custody the service runs with.
    pub fn custody(&self) -> &dyn KeyCustody {
        &*self.custody
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
        let ring = Arc::new(
            key_store::load_or_create(&self.storage, &self.vault, &*self.custody, now(), false)
                .await?,
        );
        tracing::debug!(keys = ring.keys().len(), "key ring reloaded");
        match self.keyring.write() {
            Ok(mut k) => *k = ring,
            Err(p) => *p.into_inner() = ring,
        }
        Ok(())
    }

    /// Runs the database migrations; the schema version reached.
    pub async fn migrate(&self) -> std::result::Result<i64, StorageError> {
        self.storage.migrate().await
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.storage.ping().await?)
    }

    /// Whether a tenant with this id exists.
    pub async fn tenant_exists(&self, id: &str) -> Result<bool> {
        Ok(self.storage.tenant(id).await?.is_some())
    }

    /// Which database the service runs on.
    pub fn backend(&self) -> Backend {
        self.storage.backend()
    }

    /// Closes the database pool (at shutdown).
    pub async fn close(&self) {
        self.storage.close().await;
    }

    /// Every RSA key pair ever made (usable, retired and revoked), for
    /// `keys list`.
    pub async fn all_keys(&self) -> std::result::Result<Vec<keys::KeyRecord>, StorageError> {
        Ok(self
            .storage
            .all_rsa_keys()
            .await?
            .into_iter()
            .map(key_store::record)
            .collect())
    }

    /// Reloads the key ring if the database holds a usable key it lacks (a
    /// key rotated in, or a V1 key created, by another node or the CLI);
    /// `true` if the ring is fresh now (reloaded here or by a concurrent
    /// caller). The check is one query of key ids, so a session id for a
    /// key rotated in a moment ago opens on every node at once; bogus
    /// session ids never cause a reload (the ring already has every key
    /// they could name). Single flight: callers wait for one another, and
    /// one that waited while another reloaded does not query again.
    pub async fn reload_keys_if_stale(&self) -> Result<bool> {
        let ring_at_entry = self.keyring();
        let _one = self.reload_lock.lock().await;
        if !Arc::ptr_eq(&ring_at_entry, &self.keyring()) {
            // Another caller reloaded while this one waited.
            return Ok(true);
        }
        let usable = self.storage.usable_rsa_key_ids(now()).await?;
        if usable.iter().all(|id| ring_at_entry.knows(id)) {
            return Ok(false);
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
                match key_store::rotate(
                    &self.storage,
                    &self.vault,
                    &*self.custody,
                    key.purpose,
                    now,
                )
                .await
                {
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
            .purge_body_nonces(now - 2 * crate::domain::account::FRESHNESS_SECS)
            .await?;
        self.storage.purge_cvv_tokens(now).await?;
        self.storage
            .purge_paythru_nonces(now - crate::domain::paythru::NONCE_RETENTION_SECS)
            .await?;
        self.storage.purge_encrypted_cards(now).await?;
        self.bin_table().await?;
        Ok(())
    }

    /// Rotates the RSA key pair of `purpose` and reloads.
    pub async fn rotate_keys(&self, purpose: keys::Purpose) -> Result<String> {
        let id =
            key_store::rotate(&self.storage, &self.vault, &*self.custody, purpose, now()).await?;
        self.reload_keys().await?;
        Ok(id)
    }

    /// Revokes an RSA key pair at once (see [`key_store::revoke`]) and reloads.
    pub async fn revoke_key(&self, key_id: &str) -> Result<Option<keys::Purpose>> {
        let revoked =
            key_store::revoke(&self.storage, &self.vault, &*self.custody, key_id, now()).await?;
        self.reload_keys().await?;
        Ok(revoked)
    }

    /// Switches V1 (PKCS#1 v1.5 session ids, AES-CBC) for a tenant; the
    /// first tenant to enable it creates the V1 key pair.
    pub async fn set_tenant_v1(&self, tenant: &str, enabled: bool) -> Result<()> {
        if enabled && !self.keyring().has_active(keys::Purpose::V1) {
            let ring =
                key_store::load_or_create(&self.storage, &self.vault, &*self.custody, now(), true)
                    .await?;
            drop(ring);
            self.reload_keys().await?;
        }
        if self.storage.set_tenant_v1(tenant, enabled).await? {
            Ok(())
        } else {
            Err(Error::bad_request(Code::UnknownTenant, "no such tenant"))
        }
    }

    // ---- tenants and credentials

    /// Creates a tenant; returns (tenant id, API key). The key is shown once:
    /// only its SHA-256 is stored.
    pub async fn create_tenant(&self, name: &str) -> Result<(String, Zeroizing<String>)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::bad_request(
                Code::InvalidRequest,
                "a tenant name must be 1 to 200 characters",
            ));
        }
        let tenant_id = random_id::<8>("ten_")?;
        let api_key = Zeroizing::new(random_credential::<32>("psk_")?);
        let cvk = CvkPair::generate().map_err(|_| Error::Crypto("CVK generation failed"))?;
        let cvk_sealed = self
            .custody
            .store_cvk(&self.vault, cvk_binding(&tenant_id), &cvk)?;
        let inserted = self
            .storage
            .insert_tenant(
                &tenant_id,
                name,
                &sha256(api_key.as_bytes()),
                &cvk_sealed,
                now(),
            )
            .await;
        if let Err(e) = inserted {
            // The token's CVK objects of a tenant that was not recorded.
            if let Err(d) = self.custody.discard_cvk(&cvk_sealed) {
                tracing::warn!(error = %d, "a CVK made for a tenant that was not recorded could not be destroyed");
            }
            return Err(e.into());
        }
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
                Code::InvalidRequest,
                "the overlap must not be negative",
            ));
        }
        let api_key = Zeroizing::new(random_credential::<32>("psk_")?);
        let now = now();
        let found = self
            .storage
            .rotate_tenant_key(
                tenant_id,
                &sha256(api_key.as_bytes()),
                now,
                now + overlap_secs,
            )
            .await?;
        if !found {
            return Err(Error::bad_request(Code::UnknownTenant, "no such tenant"));
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
            .ok_or(Error::bad_request(Code::UnknownTenant, "no such tenant"))?;
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
        use crate::domain::ratelimit::{LONG_BLOCK, SHORT_BLOCK};
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

    /// How long the Get CVV2 envelope may take before it answers 504.
    pub fn envelope_deadline(&self) -> std::time::Duration {
        self.config.envelope_deadline
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
                    if now - *at < TENANT_KEY_CACHE_SECS && expires_at.is_none_or(|e| now < e) {
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
    ) -> Result<(Zeroizing<String>, UnixTime)> {
        let tenant = principal.require_tenant()?;
        if !(1..=MAX_EPHEMERAL_TTL_SECS).contains(&ttl_seconds) {
            return Err(Error::bad_request(
                Code::InvalidRequest,
                "ttlSeconds must be 1 to 900",
            ));
        }
        if scopes.is_empty() {
            return Err(Error::bad_request(
                Code::InvalidScope,
                "at least one scope is required",
            ));
        }
        let parsed = scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<Vec<_>>>()?;
        self.card_row(tenant, token).await?;
        let key = Zeroizing::new(random_credential::<32>("pse_")?);
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
}
