//! Opening a session: authorization first, then the RSA work.
//!
//! A session id is the only thing that makes the server do an RSA private
//! operation for a caller, and opening one uses it up. So the order is fixed
//! by types, not by convention:
//!
//! 1. [`SessionIdHeader`] parses the `Session-Id` (and `Key-Id`) headers
//!    strictly: canonical padded base64 only, one header (the HTTP layer
//!    refuses two), no RSA work.
//! 2. A grant ([`CardGrant`] or [`TenantGrant`]) is made by
//!    [`Service::grant_card`] / [`Service::grant_tenant`]: credential,
//!    scope, tenant, card and protocol version are checked here, with
//!    database reads only.
//! 3. [`Service::open_session`] takes a grant and the parsed header. Its
//!    constructor-less grant types make it impossible to reach the RSA
//!    operation without step 2.
//!
//! Single use is by what a session id unwraps to: the vault's keyed
//! fingerprint of the session key is recorded (durably, shared by every
//! node) before the session is returned, so every encoding, padding or
//! re-wrap of a used key is refused, and a request that fails after the
//! unwrap has still used its session up.

use paysecure_core::{Session, Version};

use crate::crypto::keys::Purpose;
use crate::domain::error::{Error, Result};
use crate::domain::service::{Principal, Scope, Service};
use crate::storage::CardRow;
use crate::util::time::now;

/// Longest `Session-Id` header accepted (an RSA-8192 id is 1,368 characters).
pub const MAX_SESSION_ID_LEN: usize = 1400;
/// Longest `Key-Id` header accepted.
pub const MAX_KEY_ID_LEN: usize = 64;

/// A `Session-Id` (and optional `Key-Id`) as sent, parsed strictly but not
/// yet decrypted.
pub struct SessionIdHeader {
    ciphertext: Vec<u8>,
    key_id: Option<String>,
}

impl std::fmt::Debug for SessionIdHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SessionIdHeader({} bytes, key {:?})",
            self.ciphertext.len(),
            self.key_id
        )
    }
}

impl SessionIdHeader {
    /// Parses the values of the `Session-Id` and `Key-Id` headers (read by
    /// [`crate::http::extract`]). A session id must be canonical padded
    /// standard base64 of 64 to 1,024 bytes with nothing around it; a key
    /// id, `rsa-` and 16 lowercase hex digits. Anything else is
    /// [`Error::InvalidSession`].
    pub fn parse(session_id: &str, key_id: Option<&str>) -> Result<Self> {
        if session_id.len() > MAX_SESSION_ID_LEN {
            return Err(Error::InvalidSession);
        }
        let ciphertext = paysecure_core::encoding::decode_canonical(session_id, "session id")
            .map_err(|_| Error::InvalidSession)?;
        if !(64..=1024).contains(&ciphertext.len()) {
            return Err(Error::InvalidSession);
        }
        let key_id = key_id
            .map(|k| {
                let ok = k.len() <= MAX_KEY_ID_LEN
                    && k.strip_prefix("rsa-").is_some_and(|hex| {
                        hex.len() == 16
                            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    });
                ok.then(|| k.to_owned()).ok_or(Error::InvalidSession)
            })
            .transpose()?;
        Ok(SessionIdHeader {
            ciphertext: ciphertext.to_vec(),
            key_id,
        })
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What [`Service::open_session`] accepts: proof that the caller was
/// authorized for the request. Implemented only by the grant types of this
/// module, whose fields are private.
pub trait Grant: sealed::Sealed {
    /// The tenant the request acts for.
    fn tenant(&self) -> &str;
    /// The protocol version of the request.
    fn version(&self) -> Version;
}

/// The caller may do `scope` on this card, with this protocol version.
#[derive(Debug)]
pub struct CardGrant {
    tenant: String,
    card: CardRow,
    scope: Scope,
    version: Version,
}

impl CardGrant {
    /// The card, as read when the grant was made.
    pub fn card(&self) -> &CardRow {
        &self.card
    }

    /// The card's token.
    pub fn token(&self) -> &str {
        &self.card.token
    }

    /// `Ok` if the grant was made for one of `scopes` (a domain operation
    /// checks that it was handed the grant it needs).
    pub fn require(&self, scopes: &[Scope]) -> Result<()> {
        if scopes.contains(&self.scope) {
            Ok(())
        } else {
            Err(Error::Forbidden("this key does not allow this operation"))
        }
    }
}

impl sealed::Sealed for CardGrant {}
impl Grant for CardGrant {
    fn tenant(&self) -> &str {
        &self.tenant
    }
    fn version(&self) -> Version {
        self.version
    }
}

/// The caller is the tenant itself (its API key), for a tenant-wide
/// operation, with this protocol version.
#[derive(Debug)]
pub struct TenantGrant {
    tenant: String,
    version: Version,
}

impl sealed::Sealed for TenantGrant {}
impl Grant for TenantGrant {
    fn tenant(&self) -> &str {
        &self.tenant
    }
    fn version(&self) -> Version {
        self.version
    }
}

impl Service {
    /// Authorizes `scope` on card `token` for `version`: the credential's
    /// scope and card, V1 rules, and that the card exists in the tenant.
    pub async fn grant_card(
        &self,
        principal: &Principal,
        version: Version,
        token: &str,
        scope: Scope,
    ) -> Result<CardGrant> {
        let tenant = principal.authorize(token, scope)?;
        self.check_version(principal, tenant, version).await?;
        let card = self
            .storage
            .card(tenant, token)
            .await?
            .ok_or(Error::CardNotFound)?;
        Ok(CardGrant {
            tenant: tenant.to_owned(),
            card,
            scope,
            version,
        })
    }

    /// Authorizes a tenant-wide operation (tenant API key only) for `version`.
    pub async fn grant_tenant(
        &self,
        principal: &Principal,
        version: Version,
    ) -> Result<TenantGrant> {
        let tenant = principal.require_tenant()?;
        self.check_version(principal, tenant, version).await?;
        Ok(TenantGrant {
            tenant: tenant.to_owned(),
            version,
        })
    }

    /// V1 (PKCS#1 v1.5 + unauthenticated AES-CBC) only for tenants that
    /// enabled it, and never with an ephemeral key.
    async fn check_version(
        &self,
        principal: &Principal,
        tenant: &str,
        version: Version,
    ) -> Result<()> {
        if version != Version::V1 {
            return Ok(());
        }
        if matches!(principal, Principal::Ephemeral { .. }) {
            return Err(Error::Forbidden("ephemeral keys work with V2 and V3 only"));
        }
        if !self.storage.tenant_v1_enabled(tenant).await? {
            return Err(Error::Forbidden("V1 is not enabled for this tenant"));
        }
        Ok(())
    }

    /// Unwraps the session id for the granted request and uses it up.
    /// Every failure is [`Error::InvalidSession`].
    pub async fn open_session(
        &self,
        grant: &impl Grant,
        header: &SessionIdHeader,
    ) -> Result<Session> {
        let version = grant.version();
        let key_id = header.key_id.as_deref();
        let unwrap = |ring: &crate::crypto::keys::KeyRing| match version {
            Version::V1 => ring.unwrap_v1(&header.ciphertext, key_id, &self.vault),
            Version::V2 | Version::V3 => ring.unwrap_oaep(&header.ciphertext, key_id),
        };
        let (key, rsa_key_id) = match unwrap(&self.keyring()) {
            Ok(found) => found,
            Err(crate::crypto::Error::InvalidSession) => {
                // Perhaps made for a key another node just rotated in.
                if !self.reload_keys_if_stale().await? {
                    return Err(Error::InvalidSession);
                }
                unwrap(&self.keyring())?
            }
            Err(e) => return Err(e.into()),
        };
        self.use_up("session-key", key.expose_bytes(), &rsa_key_id)
            .await?;
        Ok(Session::new(version, key))
    }

    /// Records an unwrapped key as used (unless reuse is configured);
    /// [`Error::InvalidSession`] if it was used before, on any node.
    pub(crate) async fn use_up(&self, domain: &str, key: &[u8], rsa_key_id: &str) -> Result<()> {
        if !self.config.single_use_session_ids {
            return Ok(());
        }
        let fingerprint = self.vault.replay_fingerprint(domain, key);
        if self
            .storage
            .record_session_id(&fingerprint, rsa_key_id, now())
            .await?
        {
            Ok(())
        } else {
            tracing::warn!(kind = domain, "replayed key refused");
            Err(Error::InvalidSession)
        }
    }

    /// Whether a V1 key pair exists (some tenant enabled V1).
    pub fn has_v1_key(&self) -> bool {
        self.keyring().has_active(Purpose::V1)
    }
}
