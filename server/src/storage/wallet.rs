//! Wallet provisioning settings (migration 0010): one sealed value per
//! (tenant, setting name). The storage layer sees only sealed bytes; the
//! domain (`domain::wallet`) seals, opens and interprets them.

use crate::util::time::UnixTime;

use super::{Result, Storage};

impl Storage {
    /// The sealed value of setting `name` of `tenant_id`, if set.
    pub async fn wallet_setting(&self, tenant_id: &str, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT value_sealed FROM wallet_settings WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Sets (or replaces) setting `name` of `tenant_id`.
    pub async fn set_wallet_setting(
        &self,
        tenant_id: &str,
        name: &str,
        sealed: &[u8],
        now: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO wallet_settings (tenant_id, name, value_sealed, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET value_sealed = $3, updated_at = $4",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(sealed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes setting `name` of `tenant_id`; `true` if it was set.
    pub async fn delete_wallet_setting(&self, tenant_id: &str, name: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM wallet_settings WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }
}
