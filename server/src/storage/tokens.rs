//! Persistence of the merchant tokenisation APIs: Paythru credentials,
//! stored cards (both APIs), Client POST capture sessions.

use crate::util::time::UnixTime;
use sqlx::Row;

use super::{map_unique, Result, Storage};

/// Paythru API credentials (the password and signing key never in clear).
#[derive(Debug, Clone)]
pub struct PaythruCredentialRow {
    /// `apiKey`.
    pub api_key: String,
    /// The tenant that owns the row.
    pub tenant_id: String,
    /// SHA-256 of `apiPassword`.
    pub password_hash: Vec<u8>,
    /// The `shaKey`, sealed.
    pub sha_key_sealed: Vec<u8>,
    /// Space-separated methods these credentials may call.
    pub methods: String,
    /// When the credentials were revoked, if they were.
    pub revoked_at: Option<UnixTime>,
    /// Whether requests must carry the signed `requestTime` and
    /// `requestNonce` (set on these credentials or on their tenant). Read
    /// only: [`Storage::insert_paythru_credentials`] ignores it.
    pub require_nonce: bool,
}

/// A stored card of the Paythru or Verifone API (secrets sealed).
#[derive(Debug, Clone)]
pub struct StoredCardRow {
    /// `cardKey` or `reuse_token`.
    pub token: String,
    /// The tenant that owns the row.
    pub tenant_id: String,
    /// `paythru` or `verifone`.
    pub api: String,
    /// Verifone token scope ('' for Paythru).
    pub scope: String,
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
    /// Paythru merchantCustomerReference.
    pub customer_ref: Option<String>,
    /// `ACTIVE`, `DISABLED`, `SUSPENDED`.
    pub status: String,
    /// Sealed JSON of the other details.
    pub details_sealed: Vec<u8>,
    /// Irreversible per-card-and-scope identifier.
    pub analytics_token: String,
    /// `YYYY-MM-DD`.
    pub token_expiry: Option<String>,
    /// Row version (optimistic concurrency).
    pub version: i64,
    /// When the row was written.
    pub created_at: UnixTime,
    /// When the row last changed.
    pub updated_at: UnixTime,
}

const STORED_COLUMNS: &str = "token, tenant_id, api, scope, pan_index, pan_sealed, pan_first6, pan_last4, \
     pan_length, brand, expiry_month, expiry_year, customer_ref, status, details_sealed, analytics_token, \
     token_expiry, version, created_at, updated_at";

fn stored_from_row(r: &sqlx::any::AnyRow) -> std::result::Result<StoredCardRow, sqlx::Error> {
    Ok(StoredCardRow {
        token: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        api: r.try_get(2)?,
        scope: r.try_get(3)?,
        pan_index: r.try_get(4)?,
        pan_sealed: r.try_get(5)?,
        pan_first6: r.try_get(6)?,
        pan_last4: r.try_get(7)?,
        pan_length: r.try_get(8)?,
        brand: r.try_get(9)?,
        expiry_month: r.try_get(10)?,
        expiry_year: r.try_get(11)?,
        customer_ref: r.try_get(12)?,
        status: r.try_get(13)?,
        details_sealed: r.try_get(14)?,
        analytics_token: r.try_get(15)?,
        token_expiry: r.try_get(16)?,
        version: r.try_get(17)?,
        created_at: r.try_get(18)?,
        updated_at: r.try_get(19)?,
    })
}

impl Storage {
    // ---- Paythru credentials

    /// Stores new Paythru credentials; `Duplicate` if the API key exists.
    pub async fn insert_paythru_credentials(
        &self,
        c: &PaythruCredentialRow,
        now: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO paythru_credentials (api_key, tenant_id, password_hash, sha_key_sealed, methods, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.api_key)
        .bind(&c.tenant_id)
        .bind(&c.password_hash)
        .bind(&c.sha_key_sealed)
        .bind(&c.methods)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Credentials by API key.
    pub async fn paythru_credentials(&self, api_key: &str) -> Result<Option<PaythruCredentialRow>> {
        let row = sqlx::query(
            "SELECT c.api_key, c.tenant_id, c.password_hash, c.sha_key_sealed, c.methods, c.revoked_at, \
             c.require_nonce + t.paythru_require_nonce \
             FROM paythru_credentials c JOIN tenants t ON t.id = c.tenant_id WHERE c.api_key = $1",
        )
        .bind(api_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PaythruCredentialRow {
                api_key: r.try_get(0)?,
                tenant_id: r.try_get(1)?,
                password_hash: r.try_get(2)?,
                sha_key_sealed: r.try_get(3)?,
                methods: r.try_get(4)?,
                revoked_at: r.try_get(5)?,
                require_nonce: r.try_get::<i64, _>(6)? > 0,
            })
        })
        .transpose()
    }

    /// Sets whether these credentials require the signed `requestTime` /
    /// `requestNonce`; `false` if there are no such credentials.
    pub async fn set_paythru_require_nonce(&self, api_key: &str, require: bool) -> Result<bool> {
        let done =
            sqlx::query("UPDATE paythru_credentials SET require_nonce = $2 WHERE api_key = $1")
                .bind(api_key)
                .bind(i64::from(require))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets whether every Paythru credential of the tenant requires the
    /// signed `requestTime` / `requestNonce`; `false` if no such tenant.
    pub async fn set_tenant_paythru_require_nonce(
        &self,
        tenant_id: &str,
        require: bool,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE tenants SET paythru_require_nonce = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(i64::from(require))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a request nonce of `api_key` as used; `false` if it already
    /// was (a replay). Atomic across nodes: the primary key decides.
    pub async fn record_paythru_nonce(
        &self,
        api_key: &str,
        nonce: &str,
        now: UnixTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO paythru_nonces (api_key, nonce, used_at) VALUES ($1, $2, $3) \
             ON CONFLICT (api_key, nonce) DO NOTHING",
        )
        .bind(api_key)
        .bind(nonce)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets request nonces recorded before `before`.
    pub async fn purge_paythru_nonces(&self, before: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM paythru_nonces WHERE used_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Revokes credentials; `false` if there are none active with that key.
    pub async fn revoke_paythru_credentials(&self, api_key: &str, now: UnixTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE paythru_credentials SET revoked_at = $2 WHERE api_key = $1 AND revoked_at IS NULL",
        )
        .bind(api_key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- stored cards

    /// Inserts a stored card; `Duplicate` if the token, or (Verifone) the
    /// card in that scope, exists.
    pub async fn insert_stored_card(&self, c: &StoredCardRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO stored_cards ({STORED_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ))
        .bind(&c.token)
        .bind(&c.tenant_id)
        .bind(&c.api)
        .bind(&c.scope)
        .bind(&c.pan_index)
        .bind(&c.pan_sealed)
        .bind(&c.pan_first6)
        .bind(&c.pan_last4)
        .bind(c.pan_length)
        .bind(&c.brand)
        .bind(c.expiry_month)
        .bind(c.expiry_year)
        .bind(&c.customer_ref)
        .bind(&c.status)
        .bind(&c.details_sealed)
        .bind(&c.analytics_token)
        .bind(&c.token_expiry)
        .bind(c.version)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Writes every mutable column of `c` if the row is still at
    /// `c.version - 1`; `false` if it changed (or vanished) meanwhile.
    /// `Duplicate` if a relinked PAN is already tokenised in the scope.
    pub async fn update_stored_card(&self, c: &StoredCardRow) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE stored_cards SET pan_index = $3, pan_sealed = $4, pan_first6 = $5, pan_last4 = $6, \
             pan_length = $7, brand = $8, expiry_month = $9, expiry_year = $10, customer_ref = $11, status = $12, \
             details_sealed = $13, analytics_token = $14, token_expiry = $15, version = $16, updated_at = $17 \
             WHERE tenant_id = $1 AND token = $2 AND version = $16 - 1",
        )
        .bind(&c.tenant_id)
        .bind(&c.token)
        .bind(&c.pan_index)
        .bind(&c.pan_sealed)
        .bind(&c.pan_first6)
        .bind(&c.pan_last4)
        .bind(c.pan_length)
        .bind(&c.brand)
        .bind(c.expiry_month)
        .bind(c.expiry_year)
        .bind(&c.customer_ref)
        .bind(&c.status)
        .bind(&c.details_sealed)
        .bind(&c.analytics_token)
        .bind(&c.token_expiry)
        .bind(c.version)
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(done.rows_affected() == 1)
    }

    /// A stored card of a tenant and API by token.
    pub async fn stored_card(
        &self,
        tenant_id: &str,
        api: &str,
        token: &str,
    ) -> Result<Option<StoredCardRow>> {
        let row = sqlx::query(&format!(
            "SELECT {STORED_COLUMNS} FROM stored_cards WHERE tenant_id = $1 AND api = $2 AND token = $3"
        ))
        .bind(tenant_id)
        .bind(api)
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(stored_from_row).transpose()?)
    }

    /// The Verifone token of a card in a scope, if any.
    pub async fn stored_card_in_scope(
        &self,
        tenant_id: &str,
        scope: &str,
        pan_index: &[u8],
    ) -> Result<Option<StoredCardRow>> {
        let row = sqlx::query(&format!(
            "SELECT {STORED_COLUMNS} FROM stored_cards \
             WHERE tenant_id = $1 AND api = 'verifone' AND scope = $2 AND pan_index = $3"
        ))
        .bind(tenant_id)
        .bind(scope)
        .bind(pan_index)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(stored_from_row).transpose()?)
    }

    /// The stored cards of a tenant's customer (oldest first).
    pub async fn stored_cards_by_ref(
        &self,
        tenant_id: &str,
        api: &str,
        customer_ref: &str,
    ) -> Result<Vec<StoredCardRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {STORED_COLUMNS} FROM stored_cards \
             WHERE tenant_id = $1 AND api = $2 AND customer_ref = $3 ORDER BY created_at, token"
        ))
        .bind(tenant_id)
        .bind(api)
        .bind(customer_ref)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(stored_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Deletes a stored card; `false` if there was none.
    pub async fn delete_stored_card(
        &self,
        tenant_id: &str,
        api: &str,
        token: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM stored_cards WHERE tenant_id = $1 AND api = $2 AND token = $3",
        )
        .bind(tenant_id)
        .bind(api)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- Client POST capture sessions

    /// Opens a capture session.
    pub async fn insert_capture_session(
        &self,
        hash: &[u8],
        tenant_id: &str,
        customer_ref: Option<&str>,
        expires_at: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO capture_sessions (session_hash, tenant_id, customer_ref, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(tenant_id)
        .bind(customer_ref)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Claims an unexpired capture session still waiting for its card and
    /// returns its tenant; `None` if it is unknown, expired, claimed or
    /// done. Atomic (one `UPDATE … RETURNING`): of concurrent captures only
    /// one gets the session, and a capture that then fails has used it up.
    pub async fn claim_capture_session(
        &self,
        hash: &[u8],
        now: UnixTime,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE capture_sessions SET claimed_at = $2 WHERE session_hash = $1 AND expires_at > $2 \
             AND card_sealed IS NULL AND claimed_at IS NULL RETURNING tenant_id",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores the captured card of an unexpired session that has none yet
    /// (one card per session: a leaked session key cannot replace it);
    /// `false` if the session is unknown, expired or already has a card.
    pub async fn set_capture_card(
        &self,
        hash: &[u8],
        card_sealed: &[u8],
        now: UnixTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE capture_sessions SET card_sealed = $2 WHERE session_hash = $1 AND expires_at > $3 \
             AND card_sealed IS NULL",
        )
        .bind(hash)
        .bind(card_sealed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes (deletes and returns) an unexpired session of `tenant_id` that
    /// holds a card: (customer reference, sealed card). Atomic, so a session
    /// is tokenised at most once.
    pub async fn take_capture_session(
        &self,
        hash: &[u8],
        tenant_id: &str,
        now: UnixTime,
    ) -> Result<Option<(Option<String>, Vec<u8>)>> {
        let row = sqlx::query(
            "DELETE FROM capture_sessions WHERE session_hash = $1 AND tenant_id = $2 AND expires_at > $3 \
             AND card_sealed IS NOT NULL RETURNING customer_ref, card_sealed",
        )
        .bind(hash)
        .bind(tenant_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Deletes expired capture sessions; returns how many.
    pub async fn purge_capture_sessions(&self, now: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM capture_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Failures counted for `client` in its current window, and the end of
    /// its block if it is blocked.
    pub async fn auth_block(&self, client: &str, now: UnixTime) -> Result<Option<(i64, UnixTime)>> {
        let row =
            sqlx::query("SELECT failures, blocked_until FROM auth_failures WHERE client = $1")
                .bind(client)
                .fetch_optional(&self.pool)
                .await?;
        let row = row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get::<i64, _>(0)?, r.try_get::<UnixTime, _>(1)?)))
            .transpose()?;
        Ok(row.filter(|(_, until)| *until > now))
    }

    // ---- the Get CVV2 envelope (NISrvRequest)

    /// The token of the card with external id `exid`.
    pub async fn card_token_by_exid(&self, tenant_id: &str, exid: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT token FROM cards WHERE tenant_id = $1 AND exid = $2")
                .bind(tenant_id)
                .bind(exid)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Whether the tenant allows CVV2 in clear in the envelope API.
    pub async fn tenant_allows_plain_cvv2(&self, tenant_id: &str) -> Result<bool> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT allow_plain_cvv2 FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v == Some(1))
    }

    /// Sets whether the tenant allows CVV2 in clear; `false` if no such tenant.
    pub async fn set_allow_plain_cvv2(&self, tenant_id: &str, allow: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE tenants SET allow_plain_cvv2 = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(i64::from(allow))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Storage, StorageOptions};
    use crate::util::time::UnixTime;

    /// One nonce sent 32 times at once to each of two nodes sharing a
    /// database is accepted exactly once per credential; another
    /// credential may use it too; purging forgets only old rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paythru_nonce_is_accepted_once_per_credential_across_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/p.db?mode=rwc", dir.path().display());
        let a = Storage::connect(&url, &StorageOptions::default())
            .await
            .unwrap();
        let b = Storage::connect(&url, &StorageOptions::default())
            .await
            .unwrap();
        let mut tasks = vec![];
        for storage in [&a, &b] {
            for _ in 0..32 {
                let s = storage.clone();
                tasks.push(tokio::spawn(async move {
                    s.record_paythru_nonce("keyA", "nonce-0123456789ab", UnixTime(1_000))
                        .await
                }));
            }
        }
        let mut accepted = 0;
        for t in tasks {
            accepted += usize::from(t.await.unwrap().unwrap());
        }
        assert_eq!(accepted, 1);
        assert!(b
            .record_paythru_nonce("keyB", "nonce-0123456789ab", UnixTime(1_000))
            .await
            .unwrap());
        assert!(a
            .record_paythru_nonce("keyA", "nonce-fresh-000000", UnixTime(2_000))
            .await
            .unwrap());
        assert_eq!(a.purge_paythru_nonces(UnixTime(1_500)).await.unwrap(), 2);
        // Purged: accepted again (the time window refuses such old requests).
        assert!(a
            .record_paythru_nonce("keyA", "nonce-0123456789ab", UnixTime(3_000))
            .await
            .unwrap());
        assert!(!b
            .record_paythru_nonce("keyA", "nonce-fresh-000000", UnixTime(3_000))
            .await
            .unwrap());
    }
}
