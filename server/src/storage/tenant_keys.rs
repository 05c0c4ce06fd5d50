//! Tenant API keys (migration 0008): more than one per tenant during a
//! rotation's overlap window, each with an optional expiry and revocation.

use sqlx::Row;

use super::{map_unique, Result, Storage};

/// A usable tenant API key, as authentication needs it.
#[derive(Debug, Clone)]
pub struct TenantKeyRow {
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Unix seconds after which it no longer authenticates (set by a
    /// rotation), or none.
    pub expires_at: Option<i64>,
}

impl Storage {
    /// The tenant key hashing to `hash` if it authenticates at `now`: not
    /// revoked and not past its expiry.
    pub async fn active_tenant_key(&self, hash: &[u8], now: i64) -> Result<Option<TenantKeyRow>> {
        let row = sqlx::query(
            "SELECT tenant_id, expires_at FROM tenant_api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| -> std::result::Result<_, sqlx::Error> {
                Ok(TenantKeyRow {
                    tenant_id: r.try_get(0)?,
                    expires_at: r.try_get(1)?,
                })
            })
            .transpose()?)
    }

    /// Adds `new_hash` as a key of `tenant_id`, and makes every other
    /// usable key of the tenant expire at `expires_at` (earlier expiries are
    /// kept). `false` if there is no such tenant.
    pub async fn rotate_tenant_key(
        &self,
        tenant_id: &str,
        new_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE tenant_api_keys SET expires_at = $2 \
             WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(tenant_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tenant_api_keys (key_hash, tenant_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(new_hash)
        .bind(tenant_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes every key of `tenant_id` and deletes its ephemeral keys; the
    /// number of API keys revoked, or `None` if there is no such tenant.
    pub async fn revoke_tenant_keys(&self, tenant_id: &str, now: i64) -> Result<Option<u64>> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let revoked = sqlx::query(
            "UPDATE tenant_api_keys SET revoked_at = $2 WHERE tenant_id = $1 AND revoked_at IS NULL",
        )
        .bind(tenant_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM ephemeral_keys WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(revoked))
    }
}
