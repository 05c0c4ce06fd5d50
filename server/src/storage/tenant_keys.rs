//! Tenant API keys (migration 0008): more than one per tenant during a
//! rotation's overlap window, each with an optional expiry and revocation.

use crate::util::time::UnixTime;
use sqlx::Row;

use super::{map_unique, Result, Storage};

/// A usable tenant API key, as authentication needs it.
#[derive(Debug, Clone)]
pub struct TenantKeyRow {
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// After this it no longer authenticates (set by a
    /// rotation), or none.
    pub expires_at: Option<UnixTime>,
}

impl Storage {
    /// The tenant key hashing to `hash` if it authenticates at `now`: not
    /// revoked and not past its expiry.
    pub async fn active_tenant_key(
        &self,
        hash: &[u8],
        now: UnixTime,
    ) -> Result<Option<TenantKeyRow>> {
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
        now: UnixTime,
        expires_at: UnixTime,
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

    /// Revokes every usable key of `tenant_id` (expired ones stay as they
    /// are) and deletes its ephemeral keys; the number of API keys revoked,
    /// or `None` if there is no such tenant.
    pub async fn revoke_tenant_keys(&self, tenant_id: &str, now: UnixTime) -> Result<Option<u64>> {
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
            "UPDATE tenant_api_keys SET revoked_at = $2 \
             WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;
    use crate::util::codec::sha256;

    /// A database at the schema before migration 0008, with two tenants
    /// whose keys are in `tenants.api_key_hash`.
    async fn old_schema(url: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: sqlx::migrate!("./migrations/sqlite")
                .migrations
                .iter()
                .filter(|m| m.version < 8)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ..sqlx::migrate!("./migrations/sqlite")
        };
        before.run(&pool).await.unwrap();
        for (id, key) in [("ten_old", "psk_old"), ("ten_other", "psk_other")] {
            sqlx::query("INSERT INTO tenants (id, name, api_key_hash, cvk_sealed, created_at) VALUES ($1, 'x', $2, $3, 7)")
                .bind(id)
                .bind(sha256(key.as_bytes()))
                .bind(&b"-"[..])
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn existing_keys_move_to_the_key_table_then_rotate_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        old_schema(&url).await;
        let s = Storage::connect(&url, &StorageOptions::default())
            .await
            .unwrap();
        let old = sha256(b"psk_old");
        let k = s
            .active_tenant_key(&old, UnixTime(1_000))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((k.tenant_id.as_str(), k.expires_at), ("ten_old", None));
        let legacy: Vec<u8> = sqlx::query("SELECT api_key_hash FROM tenants WHERE id = 'ten_old'")
            .fetch_one(&s.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(legacy, b"ten_old", "no credential hash left in tenants");

        // Rotation: the old key works until the overlap ends.
        let new = sha256(b"psk_new");
        assert!(s
            .rotate_tenant_key("ten_old", &new, UnixTime(100), UnixTime(110))
            .await
            .unwrap());
        let k = s
            .active_tenant_key(&old, UnixTime(109))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(k.expires_at, Some(UnixTime(110)));
        assert!(s
            .active_tenant_key(&old, UnixTime(110))
            .await
            .unwrap()
            .is_none());
        assert!(s
            .active_tenant_key(&new, UnixTime(10_000))
            .await
            .unwrap()
            .is_some());
        // A later rotation never lengthens an earlier overlap.
        let newer = sha256(b"psk_newer");
        assert!(s
            .rotate_tenant_key("ten_old", &newer, UnixTime(105), UnixTime(500))
            .await
            .unwrap());
        assert!(s
            .active_tenant_key(&old, UnixTime(111))
            .await
            .unwrap()
            .is_none());
        assert!(s
            .active_tenant_key(&new, UnixTime(499))
            .await
            .unwrap()
            .is_some());
        assert!(!s
            .rotate_tenant_key("ten_none", &sha256(b"x"), UnixTime(1), UnixTime(2))
            .await
            .unwrap());

        // Revocation: every key of the tenant, no other tenant's.
        assert_eq!(
            s.revoke_tenant_keys("ten_old", UnixTime(200))
                .await
                .unwrap(),
            Some(2)
        );
        for h in [&old, &new, &newer] {
            assert!(s
                .active_tenant_key(h, UnixTime(201))
                .await
                .unwrap()
                .is_none());
        }
        assert!(s
            .active_tenant_key(&sha256(b"psk_other"), UnixTime(201))
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            s.revoke_tenant_keys("ten_none", UnixTime(200))
                .await
                .unwrap(),
            None
        );
    }
}
