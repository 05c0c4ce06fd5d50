//! Persistence of the account payment-information API: tenant data keys,
//! body nonces (replay) and the payment-information rows.

use crate::util::time::UnixTime;
use sqlx::Row;

use super::{map_unique, Result, Storage, StorageError};

/// A stored payment card of a user (secrets sealed).
#[derive(Debug, Clone)]
pub struct PaymentInfoRow {
    /// paymentInfoId.
    pub id: String,
    /// The tenant that owns the row.
    pub tenant_id: String,
    /// The user's uuid.
    pub account_uuid: String,
    /// The order that created it.
    pub order_id: String,
    /// `ACTIVE`, `INACTIVE` or `FRAUD` (as stored; expiry is applied on read).
    pub status: String,
    /// The user's default card.
    pub is_default: bool,
    /// HMAC of the PAN.
    pub pan_index: Vec<u8>,
    /// The PAN sealed by the vault, bound to tenant, token and field.
    pub pan_sealed: Vec<u8>,
    /// The PAN's first six digits, kept in clear for the masked PAN.
    pub pan_first6: String,
    /// The PAN's last four digits, kept in clear for the masked PAN.
    pub pan_last4: String,
    /// Digits in the PAN (12 to 19): how many the masked PAN hides.
    pub pan_length: i64,
    /// The card brand from the BIN (`VISA`, `MASTERCARD`, …).
    pub brand: String,
    /// 1..=12.
    pub expiry_month: i64,
    /// Four digits.
    pub expiry_year: i64,
    /// Sealed JSON of the other fields.
    pub details_sealed: Vec<u8>,
    /// Unused since migration 0013 (written empty): the card keeps nothing
    /// about a CVV or a CVV token.
    pub cvv_token_mac: Vec<u8>,
    /// Consecutive failed re-verifications.
    pub cvv_failures: i64,
    /// Row version (optimistic concurrency).
    pub version: i64,
    /// When the card was registered: `registeredDate`.
    pub registered_at: UnixTime,
    /// When the row last changed.
    pub updated_at: UnixTime,
}

const COLUMNS: &str = "id, tenant_id, account_uuid, order_id, status, is_default, pan_index, pan_sealed, \
     pan_first6, pan_last4, pan_length, brand, expiry_month, expiry_year, details_sealed, cvv_token_mac, \
     cvv_failures, version, registered_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> std::result::Result<PaymentInfoRow, sqlx::Error> {
    Ok(PaymentInfoRow {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        account_uuid: r.try_get(2)?,
        order_id: r.try_get(3)?,
        status: r.try_get(4)?,
        is_default: r.try_get::<i64, _>(5)? != 0,
        pan_index: r.try_get(6)?,
        pan_sealed: r.try_get(7)?,
        pan_first6: r.try_get(8)?,
        pan_last4: r.try_get(9)?,
        pan_length: r.try_get(10)?,
        brand: r.try_get(11)?,
        expiry_month: r.try_get(12)?,
        expiry_year: r.try_get(13)?,
        details_sealed: r.try_get(14)?,
        cvv_token_mac: r.try_get(15)?,
        cvv_failures: r.try_get(16)?,
        version: r.try_get(17)?,
        registered_at: r.try_get(18)?,
        updated_at: r.try_get(19)?,
    })
}

impl Storage {
    /// The tenant's sealed data key, if it has one.
    pub async fn tenant_data_key(&self, tenant_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT key_sealed FROM tenant_data_keys WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets (or replaces) the tenant's sealed data key.
    pub async fn set_tenant_data_key(
        &self,
        tenant_id: &str,
        sealed: &[u8],
        now: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenant_data_keys (tenant_id, key_sealed, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET key_sealed = $2, created_at = $3",
        )
        .bind(tenant_id)
        .bind(sealed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a body nonce as used; `false` if it already was (replay).
    pub async fn record_body_nonce(&self, hash: &[u8], now: UnixTime) -> Result<bool> {
        match sqlx::query("INSERT INTO used_body_nonces (nonce_hash, used_at) VALUES ($1, $2)")
            .bind(hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_unique)
        {
            Ok(_) => Ok(true),
            Err(StorageError::Duplicate) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Forgets nonces older than `before` (they are stale anyway).
    pub async fn purge_body_nonces(&self, before: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM used_body_nonces WHERE used_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Inserts a payment card; when it is the default, the user's other
    /// cards stop being default, in the same transaction. `Duplicate` if
    /// the order id was used before for this user.
    pub async fn insert_payment_info(&self, p: &PaymentInfoRow) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if p.is_default {
            sqlx::query("UPDATE payment_infos SET is_default = 0 WHERE tenant_id = $1 AND account_uuid = $2")
                .bind(&p.tenant_id)
                .bind(&p.account_uuid)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO payment_infos ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ))
        .bind(&p.id)
        .bind(&p.tenant_id)
        .bind(&p.account_uuid)
        .bind(&p.order_id)
        .bind(&p.status)
        .bind(i64::from(p.is_default))
        .bind(&p.pan_index)
        .bind(&p.pan_sealed)
        .bind(&p.pan_first6)
        .bind(&p.pan_last4)
        .bind(p.pan_length)
        .bind(&p.brand)
        .bind(p.expiry_month)
        .bind(p.expiry_year)
        .bind(&p.details_sealed)
        .bind(&p.cvv_token_mac)
        .bind(p.cvv_failures)
        .bind(p.version)
        .bind(p.registered_at)
        .bind(p.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the mutable columns if the row is still at `p.version - 1`
    /// (and, for a new default, clears the user's other defaults in the
    /// same transaction); `false` if it changed or vanished meanwhile.
    pub async fn update_payment_info(&self, p: &PaymentInfoRow) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if p.is_default {
            sqlx::query(
                "UPDATE payment_infos SET is_default = 0 WHERE tenant_id = $1 AND account_uuid = $2 AND id <> $3",
            )
            .bind(&p.tenant_id)
            .bind(&p.account_uuid)
            .bind(&p.id)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query(
            "UPDATE payment_infos SET status = $3, is_default = $4, expiry_month = $5, expiry_year = $6, \
             details_sealed = $7, cvv_token_mac = $8, cvv_failures = $9, version = $10, updated_at = $11 \
             WHERE tenant_id = $1 AND id = $2 AND version = $10 - 1",
        )
        .bind(&p.tenant_id)
        .bind(&p.id)
        .bind(&p.status)
        .bind(i64::from(p.is_default))
        .bind(p.expiry_month)
        .bind(p.expiry_year)
        .bind(&p.details_sealed)
        .bind(&p.cvv_token_mac)
        .bind(p.cvv_failures)
        .bind(p.version)
        .bind(p.updated_at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A user's card by id.
    pub async fn payment_info(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
    ) -> Result<Option<PaymentInfoRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_infos WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3"
        ))
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// A user's cards, oldest first.
    pub async fn payment_infos(
        &self,
        tenant_id: &str,
        account_uuid: &str,
    ) -> Result<Vec<PaymentInfoRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_infos WHERE tenant_id = $1 AND account_uuid = $2 \
             ORDER BY registered_at, id"
        ))
        .bind(tenant_id)
        .bind(account_uuid)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Deletes a user's card by id; `false` if there was none.
    pub async fn delete_payment_info(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM payment_infos WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3",
        )
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the card a user's order created; `false` if there was none.
    pub async fn delete_payment_info_by_order(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        order_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM payment_infos WHERE tenant_id = $1 AND account_uuid = $2 AND order_id = $3",
        )
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(order_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a minted CVV token (its keyed HMAC, the CVV sealed).
    pub async fn insert_cvv_token(
        &self,
        token_mac: &[u8],
        tenant_id: &str,
        cvv_sealed: &[u8],
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO cvv_tokens (token_mac, tenant_id, cvv_sealed, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_mac)
        .bind(tenant_id)
        .bind(cvv_sealed)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Takes a CVV token: deletes it (one statement, so a token resolves
    /// once even when two nodes race) and returns its sealed CVV, if it
    /// existed for this tenant and had not expired at `now`.
    pub async fn take_cvv_token(
        &self,
        tenant_id: &str,
        token_mac: &[u8],
        now: UnixTime,
    ) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "DELETE FROM cvv_tokens WHERE token_mac = $1 AND tenant_id = $2 \
             RETURNING cvv_sealed, expires_at",
        )
        .bind(token_mac)
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_at: UnixTime = row.try_get(1)?;
        Ok((expires_at > now).then(|| row.try_get(0)).transpose()?)
    }

    /// Deletes CVV tokens that expired before `now`.
    pub async fn purge_cvv_tokens(&self, now: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM cvv_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Puts a `FRAUD` card back to `ACTIVE` with no failures counted;
    /// `false` if there is no such card or it is not `FRAUD`.
    pub async fn reset_payment_info_fraud(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
        now: UnixTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payment_infos SET status = 'ACTIVE', cvv_failures = 0, version = version + 1, \
             updated_at = $4 WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3 \
             AND status = 'FRAUD'",
        )
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
