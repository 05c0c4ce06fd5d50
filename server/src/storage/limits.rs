//! Attempt counters of guessable secrets: a card's PIN and CVV2
//! ([`Guessable`]), the CVV token of an account payment card. Each update is one
//! conditional `UPDATE … RETURNING` (no read-modify-write), so concurrent
//! attempts on any number of nodes are all counted and the block falls at
//! exactly the limit.

use crate::util::time::UnixTime;
use sqlx::Row;

use super::{AttemptCounter, Guessable, Result, Storage};

/// Outcome of a wrong CVV token on an account payment card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvvTokenCounter {
    /// Consecutive failures after this one.
    pub failures: i64,
    /// The stored status after this one (`FRAUD` at the limit).
    pub status: String,
}

impl Storage {
    /// Counts one wrong guess of a card's `secret`, atomically, blocking
    /// it at `limit`. `None` if it was already blocked (or the card is
    /// gone): nothing was updated.
    pub async fn record_wrong_guess(
        &self,
        secret: Guessable,
        tenant_id: &str,
        token: &str,
        limit: i64,
    ) -> Result<Option<AttemptCounter>> {
        let (tries, blocked) = secret.columns();
        let row = sqlx::query(&format!(
            "UPDATE cards SET {tries} = {tries} + 1, \
             {blocked} = CASE WHEN {tries} + 1 >= $3 THEN 1 ELSE 0 END \
             WHERE tenant_id = $1 AND token = $2 AND {blocked} = 0 \
             RETURNING {tries}, {blocked}"
        ))
        .bind(tenant_id)
        .bind(token)
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AttemptCounter {
                tries: r.try_get(0)?,
                blocked: r.try_get::<i64, _>(1)? != 0,
            })
        })
        .transpose()
    }

    /// Clears the count of a card's `secret` after a right guess. `false`
    /// if it is blocked (a right guess does not unblock) or the card is gone.
    pub async fn record_right_guess(
        &self,
        secret: Guessable,
        tenant_id: &str,
        token: &str,
    ) -> Result<bool> {
        let (tries, blocked) = secret.columns();
        let done = sqlx::query(&format!(
            "UPDATE cards SET {tries} = 0 WHERE tenant_id = $1 AND token = $2 AND {blocked} = 0"
        ))
        .bind(tenant_id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unblocks a card's `secret` and clears its count. `false` if no such
    /// card.
    pub async fn unblock_guesses(
        &self,
        secret: Guessable,
        tenant_id: &str,
        token: &str,
    ) -> Result<bool> {
        let (tries, blocked) = secret.columns();
        let done = sqlx::query(&format!(
            "UPDATE cards SET {tries} = 0, {blocked} = 0 WHERE tenant_id = $1 AND token = $2"
        ))
        .bind(tenant_id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts one wrong CVV (the CVV a token resolved to did not match the
    /// card) of a user's payment card, atomically, marking it `FRAUD` at
    /// `limit`. `None` if the card is `FRAUD` already or is gone (nothing
    /// was updated).
    pub async fn record_wrong_cvv(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
        limit: i64,
        now: UnixTime,
    ) -> Result<Option<CvvTokenCounter>> {
        let row = sqlx::query(
            "UPDATE payment_infos SET cvv_failures = cvv_failures + 1, \
             status = CASE WHEN cvv_failures + 1 >= $4 THEN 'FRAUD' ELSE status END, \
             version = version + 1, updated_at = $5 \
             WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3 \
             AND status <> 'FRAUD' \
             RETURNING cvv_failures, status",
        )
        .bind(tenant_id)
        .bind(account_uuid)
        .bind(id)
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

    /// Clears the failures of a user's payment card after a right CVV,
    /// provided the card is not `FRAUD`. `false` if nothing was updated
    /// (the card is `FRAUD`, or gone).
    pub async fn record_right_cvv(
        &self,
        tenant_id: &str,
        account_uuid: &str,
        id: &str,
        now: UnixTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payment_infos SET cvv_failures = 0, version = version + 1, updated_at = $4 \
             WHERE tenant_id = $1 AND account_uuid = $2 AND id = $3 AND status <> 'FRAUD'",
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
