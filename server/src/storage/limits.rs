//! Attempt counters of guessable secrets other than the PIN: the CVV2 of a
//! card, the CVV token of an account payment card. Each update is one
//! conditional `UPDATE … RETURNING` (no read-modify-write), so concurrent
//! attempts on any number of nodes are all counted and the block falls at
//! exactly the limit.

use sqlx::Row;

use super::{PinCounter, Result, Storage};

/// Outcome of a wrong CVV token on an account payment card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvvTokenCounter {
    /// Consecutive failures after this one.
    pub failures: i64,
    /// The stored status after this one (`FRAUD` at the limit).
    pub status: String,
}

impl Storage {
    /// Counts one wrong CVV2 of a card, atomically, blocking its CVV2
    /// verification at `limit`. `None` if it was already blocked (or the
    /// card is gone): nothing was updated.
    pub async fn record_wrong_cvv2(
        &self,
        tenant_id: &str,
        token: &str,
        limit: i64,
    ) -> Result<Option<PinCounter>> {
        let row = sqlx::query(
            "UPDATE cards SET cvv2_tries = cvv2_tries + 1, \
             cvv2_blocked = CASE WHEN cvv2_tries + 1 >= $3 THEN 1 ELSE 0 END \
             WHERE tenant_id = $1 AND token = $2 AND cvv2_blocked = 0 \
             RETURNING cvv2_tries, cvv2_blocked",
        )
        .bind(tenant_id)
        .bind(token)
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PinCounter {
                tries: r.try_get(0)?,
                blocked: r.try_get::<i64, _>(1)? != 0,
            })
        })
        .transpose()
    }

    /// Clears the CVV2 count after a right CVV2. `false` if verification is
    /// blocked (a right CVV2 does not unblock) or the card is gone.
    pub async fn record_right_cvv2(&self, tenant_id: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cards SET cvv2_tries = 0 WHERE tenant_id = $1 AND token = $2 AND cvv2_blocked = 0",
        )
        .bind(tenant_id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unblocks CVV2 verification and clears the count. `false` if no such
    /// card.
    pub async fn unblock_cvv2(&self, tenant_id: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cards SET cvv2_tries = 0, cvv2_blocked = 0 WHERE tenant_id = $1 AND token = $2",
        )
        .bind(tenant_id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The CVV2 count and blocked flag of a card (`None`: no such card).
    pub async fn cvv2_counter(&self, tenant_id: &str, token: &str) -> Result<Option<PinCounter>> {
        let row = sqlx::query(
            "SELECT cvv2_tries, cvv2_blocked FROM cards WHERE tenant_id = $1 AND token = $2",
        )
        .bind(tenant_id)
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PinCounter {
                tries: r.try_get(0)?,
                blocked: r.try_get::<i64, _>(1)? != 0,
            })
        })
        .transpose()
    }

    /// Counts one wrong CVV token of a user's payment card, atomically,
    /// marking it `FRAUD` at `limit`, provided its CVV token is still the one
    /// checked (`mac`). `None` if the card is `FRAUD` already, is gone, or its
    /// CVV token changed meanwhile (nothing was updated).
    pub async fn record_wrong_cvv_token(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
        mac: &[u8],
        limit: i64,
        now: i64,
    ) -> Result<Option<CvvTokenCounter>> {
        let row = sqlx::query(
            "UPDATE payment_infos SET cvv_failures = cvv_failures + 1, \
             status = CASE WHEN cvv_failures + 1 >= $5 THEN 'FRAUD' ELSE status END, \
             version = version + 1, updated_at = $6 \
             WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3 AND cvv_token_mac = $4 \
             AND status <> 'FRAUD' \
             RETURNING cvv_failures, status",
        )
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(id)
        .bind(mac)
        .bind(limit)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CvvTokenCounter {
                failures: r.try_get(0)?,
                status: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Clears the failures of a user's payment card after a right CVV
    /// token, provided it is still that token (`mac`) and the card is not
    /// `FRAUD`. `false` if nothing was updated.
    pub async fn record_right_cvv_token(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
        mac: &[u8],
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payment_infos SET cvv_failures = 0, version = version + 1, updated_at = $5 \
             WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3 AND cvv_token_mac = $4 \
             AND status <> 'FRAUD'",
        )
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(id)
        .bind(mac)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
