//! Persistence of the BIN range table (replaced as a whole) and of the
//! encrypted cards already used (migration 0014).

use crate::util::time::UnixTime;
use sqlx::Row;

use super::{Result, Storage};

/// One BIN range as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinRangeRow {
    /// Lowest prefix (4 to 11 digits).
    pub low: String,
    /// Highest prefix (as many digits).
    pub high: String,
    /// Scheme.
    pub scheme: String,
    /// Card type.
    pub card_type: Option<String>,
    /// Product variant.
    pub variant: Option<String>,
    /// Issuer name.
    pub issuer_name: Option<String>,
    /// ISO 3166-1 alpha-3.
    pub country: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
}

/// Rows per multi-row INSERT (8 parameters each, well under every limit).
const CHUNK: usize = 500;

impl Storage {
    /// Replaces the whole BIN table with `rows` in one transaction and
    /// returns its new version. The version row is written first, so it is
    /// locked for the rest of the transaction: two loads at once (two
    /// nodes, two operators) run one after the other, never interleaved.
    pub async fn replace_bin_ranges(&self, rows: &[BinRangeRow], now: UnixTime) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query(
            "INSERT INTO bin_table (id, version, loaded_at, ranges) VALUES (1, 1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET version = bin_table.version + 1, \
             loaded_at = $1, ranges = $2 RETURNING version",
        )
        .bind(now)
        .bind(rows.len() as i64)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query("DELETE FROM bin_ranges")
            .execute(&mut *tx)
            .await?;
        for chunk in rows.chunks(CHUNK) {
            let mut sql = String::from(
                "INSERT INTO bin_ranges (low, high, scheme, card_type, variant, issuer_name, country, currency) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 8;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                ));
            }
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.low.clone())
                    .bind(r.high.clone())
                    .bind(r.scheme.clone())
                    .bind(r.card_type.clone())
                    .bind(r.variant.clone())
                    .bind(r.issuer_name.clone())
                    .bind(r.country.clone())
                    .bind(r.currency.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(version)
    }

    /// The BIN table's version, `None` if none was ever loaded.
    pub async fn bin_table_version(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT version FROM bin_table WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Every BIN range.
    pub async fn bin_ranges(&self) -> Result<Vec<BinRangeRow>> {
        let rows = sqlx::query(
            "SELECT low, high, scheme, card_type, variant, issuer_name, country, currency FROM bin_ranges",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BinRangeRow {
                    low: r.try_get(0)?,
                    high: r.try_get(1)?,
                    scheme: r.try_get(2)?,
                    card_type: r.try_get(3)?,
                    variant: r.try_get(4)?,
                    issuer_name: r.try_get(5)?,
                    country: r.try_get(6)?,
                    currency: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Records an encrypted card's digest as used until `expires_at`;
    /// `false` if it already was (a replay). Atomic across nodes: the
    /// primary key decides. A row past its expiry (not yet purged) is
    /// taken over.
    pub async fn record_encrypted_card(
        &self,
        digest: &[u8],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO encrypted_card_uses (digest, expires_at) VALUES ($1, $2) \
             ON CONFLICT (digest) DO UPDATE SET expires_at = $2 \
             WHERE encrypted_card_uses.expires_at < $3",
        )
        .bind(digest.to_vec())
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets the encrypted cards whose 15 minutes are over.
    pub async fn purge_encrypted_cards(&self, now: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM encrypted_card_uses WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
