//! The issuer's RSA key pairs over time: the domain reads the stored rows,
//! hands them to the key ring ([`crate::crypto::keys`]), and writes the
//! pairs the key custody generates (first start, rotation, revocation). A
//! pair made but not recorded (another node won the race, or a revocation's
//! spare was not needed) is destroyed in the custody, so an HSM keeps no
//! orphan keys.

use crate::crypto::custody::KeyCustody;
use crate::crypto::keys::{generate, KeyRecord, KeyRing, Purpose, ROTATION_OVERLAP_SECS};
use crate::crypto::vault::Vault;
use crate::domain::error::Result;
use crate::storage::{RsaKeyRow, Storage, StorageError};
use crate::util::time::UnixTime;

pub(crate) fn record(row: RsaKeyRow) -> KeyRecord {
    KeyRecord {
        key_id: row.key_id,
        purpose: row.purpose,
        status: row.status,
        public_spki: row.public_spki,
        private_sealed: row.private_sealed,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

fn row(record: KeyRecord) -> RsaKeyRow {
    RsaKeyRow {
        key_id: record.key_id,
        purpose: record.purpose,
        status: record.status,
        public_spki: record.public_spki,
        private_sealed: record.private_sealed,
        created_at: record.created_at,
        expires_at: record.expires_at,
        revoked_at: record.revoked_at,
    }
}

/// Loads the usable keys, creating the first session and capture key pairs
/// if there are none (and the first V1 key pair if `with_v1` and there is
/// none).
pub async fn load_or_create(
    storage: &Storage,
    vault: &Vault,
    custody: &dyn KeyCustody,
    now: UnixTime,
    with_v1: bool,
) -> Result<KeyRing> {
    let mut rows = storage.usable_rsa_keys(now).await?;
    let wanted = [
        (Purpose::Session, true),
        (Purpose::Capture, true),
        (Purpose::V1, with_v1),
    ];
    let mut created = false;
    for (purpose, needed) in wanted {
        let has = rows
            .iter()
            .any(|r| r.status == "active" && r.purpose == purpose.as_str());
        if needed && !has {
            let new = row(generate(vault, custody, purpose, now)?);
            match storage.rotate_in_rsa_key(&new, now, now).await {
                Ok(()) => {}
                // Another node created the key at the same moment.
                Err(StorageError::Duplicate) => custody.destroy_rsa(&new.key_id)?,
                Err(e) => {
                    custody.destroy_rsa(&new.key_id)?;
                    return Err(e.into());
                }
            }
            created = true;
        }
    }
    if created {
        rows = storage.usable_rsa_keys(now).await?;
    }
    let records: Vec<KeyRecord> = rows.into_iter().map(record).collect();
    Ok(KeyRing::from_records(&records, vault, custody)?)
}

/// Rotates `purpose`: a new active key; the old active key keeps
/// decrypting as `previous` for [`ROTATION_OVERLAP_SECS`]; the key before it
/// retires. Returns the new key id.
pub async fn rotate(
    storage: &Storage,
    vault: &Vault,
    custody: &dyn KeyCustody,
    purpose: Purpose,
    now: UnixTime,
) -> Result<String> {
    let new = row(generate(vault, custody, purpose, now)?);
    if let Err(e) = storage
        .rotate_in_rsa_key(&new, now, now + ROTATION_OVERLAP_SECS)
        .await
    {
        custody.destroy_rsa(&new.key_id)?;
        return Err(e.into());
    }
    Ok(new.key_id)
}

/// Revokes a key at once (assumed compromised): it never decrypts again; if
/// it was active, a new key of its purpose replaces it with no overlap.
/// `None` if there is no such usable key.
pub async fn revoke(
    storage: &Storage,
    vault: &Vault,
    custody: &dyn KeyCustody,
    key_id: &str,
    now: UnixTime,
) -> Result<Option<Purpose>> {
    // Generated up front (the storage transaction cannot call back into
    // fallible key generation); unused if the key was not active.
    let mut spare = std::collections::HashMap::new();
    for p in Purpose::ALL {
        spare.insert(p.as_str(), row(generate(vault, custody, p, now)?));
    }
    let revoked = storage
        .revoke_rsa_key(key_id, |purpose| spare.remove(purpose), now)
        .await;
    for unused in spare.values() {
        custody.destroy_rsa(&unused.key_id)?;
    }
    let revoked = revoked?;
    if revoked.is_some() {
        // A revoked key never decrypts again: in an HSM, its objects go.
        custody.destroy_rsa(key_id)?;
    }
    Ok(revoked.as_deref().and_then(Purpose::of))
}
