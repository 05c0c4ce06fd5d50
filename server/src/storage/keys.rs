//! Persistence of the issuer's RSA key pairs (per purpose), the used
//! session-id records that depend on them, and the tenant's V1 switch.

use crate::util::time::UnixTime;
use sqlx::Row;

use super::{map_unique, Result, RsaKeyRow, Storage};

impl Storage {
    /// Keys that still decrypt at `now`: active or previous, not expired;
    /// active first, then newest first. Every purpose.
    pub async fn usable_rsa_keys(&self, now: UnixTime) -> Result<Vec<RsaKeyRow>> {
        self.rsa_keys(
            "WHERE status IN ('active', 'previous') AND expires_at > $1",
            Some(now),
        )
        .await
    }

    /// The ids of the keys [`Self::usable_rsa_keys`] returns, without the
    /// key material (the key ring's freshness check).
    pub async fn usable_rsa_key_ids(&self, now: UnixTime) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT key_id FROM rsa_keys WHERE status IN ('active', 'previous') AND expires_at > $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every key, newest first.
    pub async fn all_rsa_keys(&self) -> Result<Vec<RsaKeyRow>> {
        self.rsa_keys("", None).await
    }

    async fn rsa_keys(&self, filter: &str, now: Option<UnixTime>) -> Result<Vec<RsaKeyRow>> {
        let sql = format!(
            "SELECT key_id, purpose, status, public_spki, private_sealed, created_at, expires_at, revoked_at \
             FROM rsa_keys {filter} \
             ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'previous' THEN 1 ELSE 2 END, created_at DESC, key_id DESC"
        );
        let mut query = sqlx::query(&sql);
        if let Some(now) = now {
            query = query.bind(now);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(RsaKeyRow {
                    key_id: r.try_get(0)?,
                    purpose: r.try_get(1)?,
                    status: r.try_get(2)?,
                    public_spki: r.try_get(3)?,
                    private_sealed: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                    expires_at: r.try_get(6)?,
                    revoked_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Makes `row` the active key of its purpose, in one transaction: the
    /// active key becomes `previous` and keeps decrypting until
    /// `previous_until` at the latest (the overlap window); an older
    /// previous key retires. [`super::StorageError::Duplicate`] if another
    /// node made a key active at the same moment.
    pub async fn rotate_in_rsa_key(
        &self,
        row: &RsaKeyRow,
        now: UnixTime,
        previous_until: UnixTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE rsa_keys SET status = 'retired', retired_at = $1 \
             WHERE status = 'previous' AND purpose = $2",
        )
        .bind(now)
        .bind(&row.purpose)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE rsa_keys SET status = 'previous', \
             expires_at = CASE WHEN expires_at < $1 THEN expires_at ELSE $1 END \
             WHERE status = 'active' AND purpose = $2",
        )
        .bind(previous_until)
        .bind(&row.purpose)
        .execute(&mut *tx)
        .await?;
        Self::insert_active(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_active(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        row: &RsaKeyRow,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO rsa_keys (key_id, purpose, status, public_spki, private_sealed, created_at, expires_at) \
             VALUES ($1, $2, 'active', $3, $4, $5, $6)",
        )
        .bind(&row.key_id)
        .bind(&row.purpose)
        .bind(&row.public_spki)
        .bind(&row.private_sealed)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut **tx)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Revokes a key at once: it retires (never decrypts again) with
    /// `revoked_at` set. If it was the active key of its purpose,
    /// `replacement` becomes active in the same transaction (no overlap: a
    /// revoked key is assumed compromised). Returns the revoked key's
    /// purpose, or `None` if there is no such usable key.
    pub async fn revoke_rsa_key(
        &self,
        key_id: &str,
        replacement: impl FnOnce(&str) -> Option<RsaKeyRow>,
        now: UnixTime,
    ) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(String, String)> = sqlx::query(
            "SELECT purpose, status FROM rsa_keys WHERE key_id = $1 AND status IN ('active', 'previous')",
        )
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()?;
        let Some((purpose, status)) = found else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE rsa_keys SET status = 'retired', retired_at = $2, revoked_at = $2 WHERE key_id = $1",
        )
        .bind(key_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if status == "active" {
            if let Some(row) = replacement(&purpose) {
                Self::insert_active(&mut tx, &row).await?;
            }
        }
        tx.commit().await?;
        Ok(Some(purpose))
    }

    /// Deletes the used-session-id records of keys that no longer decrypt
    /// (retired, revoked or expired): their window has closed, as no
    /// session id or capture made for those keys can be opened again.
    pub async fn purge_used_session_ids(&self, now: UnixTime) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM used_session_ids WHERE key_id NOT IN \
             (SELECT key_id FROM rsa_keys WHERE status IN ('active', 'previous') AND expires_at > $1)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records a used session or content key (by its fingerprint); `false`
    /// if it was used before (a replay).
    ///
    /// Group-committed with concurrent callers (see `storage/session_ids.rs`);
    /// returns once the record is durable.
    pub async fn record_session_id(
        &self,
        fingerprint: &[u8],
        key_id: &str,
        now: UnixTime,
    ) -> Result<bool> {
        self.session_ids.record(fingerprint, key_id, now).await
    }

    /// Whether the tenant accepts V1 (PKCS#1 v1.5 + AES-CBC) requests.
    pub async fn tenant_v1_enabled(&self, tenant_id: &str) -> Result<bool> {
        let v: Option<i64> = sqlx::query_scalar("SELECT v1_enabled FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v == Some(1))
    }

    /// Switches V1 for a tenant; `false` if there is no such tenant.
    pub async fn set_tenant_v1(&self, tenant_id: &str, enabled: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE tenants SET v1_enabled = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(i64::from(enabled))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
