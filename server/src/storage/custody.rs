//! The key custody's rows (migration 0011): the keys it made, by name
//! (`custody_keys`), and the PIN blocks still in the format written before
//! format 4 (`cards.pin_format IS NULL`), for their re-encryption.

use sqlx::Row;

use super::{map_unique, Result, Storage};
use crate::util::time::UnixTime;

/// A card whose PIN is still stored as a sealed format-2 block.
#[derive(Debug, Clone)]
pub struct LegacyPinRow {
    /// The owning tenant.
    pub tenant_id: String,
    /// The card token.
    pub token: String,
    /// The sealed PAN (the format-4 block is bound to it).
    pub pan_sealed: Vec<u8>,
    /// The sealed format-2 PIN block as read: the update applies only if
    /// the row still holds it.
    pub pin_sealed: Vec<u8>,
}

impl Storage {
    /// The custody key `name`: (custody, reference), if one was made.
    pub async fn custody_key(&self, name: &str) -> Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query("SELECT custody, reference FROM custody_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Records the custody key `name`; [`super::StorageError::Duplicate`]
    /// if another node recorded one first.
    pub async fn insert_custody_key(
        &self,
        name: &str,
        custody: &str,
        reference: &[u8],
        now: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO custody_keys (name, custody, reference, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(custody)
        .bind(reference)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Up to `limit` cards whose PIN is still a sealed format-2 block,
    /// in (tenant, token) order, after the card `after` if given.
    pub async fn legacy_pins(
        &self,
        after: Option<&(String, String)>,
        limit: i64,
    ) -> Result<Vec<LegacyPinRow>> {
        let (t, k) = after.map_or(("", ""), |(t, k)| (t.as_str(), k.as_str()));
        let rows = sqlx::query(
            "SELECT tenant_id, token, pan_sealed, pin_sealed FROM cards \
             WHERE pin_sealed IS NOT NULL AND pin_format IS NULL \
             AND (tenant_id > $1 OR (tenant_id = $1 AND token > $2)) \
             ORDER BY tenant_id, token LIMIT $3",
        )
        .bind(t)
        .bind(k)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LegacyPinRow {
                    tenant_id: r.try_get(0)?,
                    token: r.try_get(1)?,
                    pan_sealed: r.try_get(2)?,
                    pin_sealed: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Replaces a legacy PIN block by its format-4 re-encryption, only if
    /// the row still holds `old` (a PIN set meanwhile is kept). Returns
    /// whether the row was rewritten.
    pub async fn replace_legacy_pin(
        &self,
        tenant_id: &str,
        token: &str,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cards SET pin_sealed = $4, pin_format = 4 \
             WHERE tenant_id = $1 AND token = $2 AND pin_sealed = $3 AND pin_format IS NULL",
        )
        .bind(tenant_id)
        .bind(token)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many cards still hold a format-2 PIN block.
    pub async fn count_legacy_pins(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM cards WHERE pin_sealed IS NOT NULL AND pin_format IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Replaces the custody key `name` recorded as (`old_custody`,
    /// `old_reference`) by (`custody`, `reference`); whether the row was
    /// rewritten (not if it changed meanwhile).
    pub async fn replace_custody_key(
        &self,
        name: &str,
        old_custody: &str,
        old_reference: &[u8],
        custody: &str,
        reference: &[u8],
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE custody_keys SET custody = $4, reference = $5 \
             WHERE name = $1 AND custody = $2 AND reference = $3",
        )
        .bind(name)
        .bind(old_custody)
        .bind(old_reference)
        .bind(custody)
        .bind(reference)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces what `rsa_keys.private_sealed` holds for `key_id`, only if
    /// it still holds `old`; whether the row was rewritten.
    pub async fn replace_rsa_private(&self, key_id: &str, old: &[u8], new: &[u8]) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE rsa_keys SET private_sealed = $3 WHERE key_id = $1 AND private_sealed = $2",
        )
        .bind(key_id)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every tenant's (id, `cvk_sealed`).
    pub async fn tenant_cvks(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query("SELECT id, cvk_sealed FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Replaces a tenant's `cvk_sealed`, only if it still holds `old`;
    /// whether the row was rewritten.
    pub async fn replace_tenant_cvk(
        &self,
        tenant_id: &str,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE tenants SET cvk_sealed = $3 WHERE id = $1 AND cvk_sealed = $2")
                .bind(tenant_id)
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
