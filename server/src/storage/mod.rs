//! Persistence, behind one type. SQL is kept portable (positional `$n`
//! parameters, `RETURNING`, integer flags and times) and runs through sqlx's
//! `Any` driver: SQLite embedded by default.

use std::path::Path;
use std::str::FromStr;

mod accounts;
mod bins;
mod custody;
mod keys;
mod limits;
mod session_ids;
mod sqlite_direct;
mod tenant_keys;
mod tokens;
mod wallet;

pub use accounts::PaymentInfoRow;
pub use bins::BinRangeRow;
pub use custody::LegacyPinRow;
pub use limits::CvvTokenCounter;
pub use tenant_keys::TenantKeyRow;
pub use tokens::{PaythruCredentialRow, StoredCardRow};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

use crate::util::time::UnixTime;

/// Storage failures. Details go to the logs, never to clients.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database returned an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint was hit (e.g. the PAN is already vaulted).
    #[error("duplicate")]
    Duplicate,
    /// The database URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A group-committed write failed (shared by every request in the batch).
    #[error("database error in a group commit: {0}")]
    Batch(std::sync::Arc<sqlx::Error>),
    /// The group-commit writer task is gone (the runtime is shutting down).
    #[error("the database writer task has stopped")]
    WriterGone,
    /// SQLite failed on a direct (same-thread) read: its extended result
    /// code and message.
    #[error("SQLite error {code}: {message}")]
    Sqlite {
        /// SQLite extended result code.
        code: i32,
        /// SQLite's message.
        message: String,
    },
    /// A direct read returned a value of the wrong type.
    #[error("cannot decode a database value: {0}")]
    Decode(&'static str),
}

impl StorageError {
    /// Whether the database is unavailable (not the request's fault, nor a
    /// bug): connections refused, closed or timed out; PostgreSQL's
    /// connection-exception, shutdown, missing-database and
    /// insufficient-resources classes; SQLite's busy, locked, I/O,
    /// cannot-open, not-a-database and corrupt results.
    pub fn is_unavailable(&self) -> bool {
        let e = match self {
            StorageError::Database(e) => e,
            StorageError::Batch(e) => e.as_ref(),
            StorageError::WriterGone => return true,
            StorageError::Sqlite { code, .. } => return sqlite_unavailable(i64::from(*code)),
            _ => return false,
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if let Ok(n) = code.parse::<i64>() {
                    sqlite_unavailable(n)
                } else {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code == "3D000"
                }
            }
            _ => false,
        }
    }

    /// Whether the database answered something that cannot be used (a
    /// protocol or decoding failure): the document's "bad gateway".
    pub fn is_bad_answer(&self) -> bool {
        let e = match self {
            StorageError::Decode(_) => return true,
            StorageError::Database(e) => e,
            StorageError::Batch(e) => e.as_ref(),
            _ => return false,
        };
        matches!(
            e,
            sqlx::Error::Protocol(_)
                | sqlx::Error::Decode(_)
                | sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::TypeNotFound { .. }
        )
    }
}

/// SQLite's busy, locked, I/O, cannot-open, not-a-database and corrupt
/// results (extended codes: the primary one is the low byte).
fn sqlite_unavailable(code: i64) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 11 | 14 | 26)
}

type Result<T> = std::result::Result<T, StorageError>;

fn map_unique(e: sqlx::Error) -> StorageError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Duplicate,
        _ => StorageError::Database(e),
    }
}

/// A tenant row.
#[derive(Debug, Clone)]
pub struct TenantRow {
    /// `ten_` and 16 hex digits.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Sealed CVK pair.
    pub cvk_sealed: Vec<u8>,
}

/// An RSA key row.
#[derive(Debug, Clone)]
pub struct RsaKeyRow {
    /// `rsa-` and 16 hex digits.
    pub key_id: String,
    /// `session` (V2/V3 session ids and JWE captures, RSA-OAEP) or `v1`
    /// (V1 session ids, PKCS#1 v1.5), as the key ring names them.
    pub purpose: String,
    /// `active`, `previous` or `retired`.
    pub status: String,
    /// SubjectPublicKeyInfo DER.
    pub public_spki: Vec<u8>,
    /// Sealed PKCS#8.
    pub private_sealed: Vec<u8>,
    /// When the row was written.
    pub created_at: UnixTime,
    /// No session id or capture opens with the key after this.
    pub expires_at: UnixTime,
    /// When `keys revoke` retired the key.
    pub revoked_at: Option<UnixTime>,
}

/// A card row (secrets sealed).
#[derive(Debug, Clone)]
pub struct CardRow {
    /// The tenant that owns the row.
    pub tenant_id: String,
    /// The card token (`tok_` and 24 hex digits).
    pub token: String,
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
    /// 1..=12, absent for PAN-only tokens.
    pub expiry_month: Option<i64>,
    /// Four digits, absent for PAN-only tokens.
    pub expiry_year: Option<i64>,
    /// `ACTIVE` or `TOKENIZED`.
    pub status: String,
    /// Issuer-side account id.
    pub account_id: Option<String>,
    /// Issuer-side customer id.
    pub customer_id: Option<String>,
    /// Issuer-side customer reference.
    pub customer_ref: Option<String>,
    /// The cardholder's name as printed on the card.
    pub cardholder_name: Option<String>,
    /// Sealed PIN block, if a PIN is set.
    pub pin_sealed: Option<Vec<u8>>,
    /// The format of the sealed PIN block: `Some(4)` a format-4 block under
    /// the custody's PIN key; `None` the format-2 text of the rows written
    /// before migration 0011 (re-encrypted at start).
    pub pin_format: Option<i64>,
    /// Consecutive wrong PINs.
    pub pin_tries: i64,
    /// Blocked flag.
    pub pin_blocked: bool,
    /// When the row was written.
    pub created_at: UnixTime,
}

/// A new card to insert.
#[derive(Debug, Clone)]
pub struct NewCard<'a> {
    /// The tenant that owns the row.
    pub tenant_id: &'a str,
    /// The card token (`tok_` and 24 hex digits).
    pub token: &'a str,
    /// HMAC of the PAN.
    pub pan_index: &'a [u8],
    /// The PAN sealed by the vault, bound to tenant, token and field.
    pub pan_sealed: &'a [u8],
    /// First six.
    pub pan_first6: &'a str,
    /// Last four.
    pub pan_last4: &'a str,
    /// Digits in the PAN (12 to 19): how many the masked PAN hides.
    pub pan_length: i64,
    /// The card brand from the BIN (`VISA`, `MASTERCARD`, …).
    pub brand: &'a str,
    /// Expiry month, 1 to 12.
    pub expiry_month: Option<i64>,
    /// Expiry year, four digits.
    pub expiry_year: Option<i64>,
    /// Status.
    pub status: &'a str,
    /// The issuer's account id of the card, if the tenant gave one.
    pub account_id: Option<&'a str>,
    /// The issuer's customer id, if the tenant gave one.
    pub customer_id: Option<&'a str>,
    /// The tenant's own customer reference, if it gave one.
    pub customer_ref: Option<&'a str>,
    /// The cardholder's name as printed on the card.
    pub cardholder_name: Option<&'a str>,
    /// When the row was written.
    pub created_at: UnixTime,
    /// EXID: the external id the tenant assigned (the Get CVV2 envelope's
    /// `card_identifier_type` `EXID` names a card by it), unique per tenant.
    pub exid: Option<&'a str>,
}

/// Filters of the detailed card list (all optional, combined with AND).
#[derive(Debug, Default, Clone)]
pub struct CardFilter {
    /// Only cards of this account id.
    pub account_id: Option<String>,
    /// Only cards of this customer id.
    pub customer_id: Option<String>,
    /// Only cards with this customer reference.
    pub customer_ref: Option<String>,
    /// Only the card with this token.
    pub token: Option<String>,
}

/// An ephemeral key row.
#[derive(Debug, Clone)]
pub struct EphemeralKeyRow {
    /// The tenant that owns the row.
    pub tenant_id: String,
    /// The one card it may touch.
    pub token: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// When it stops being accepted.
    pub expires_at: UnixTime,
}

/// Outcome of an attempt counter update (see [`Guessable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptCounter {
    /// Consecutive wrong attempts after this update.
    pub tries: i64,
    /// Whether the secret is now blocked.
    pub blocked: bool,
}

/// A card's secret that a caller can guess, with its own counter of
/// consecutive wrong attempts and its own block (columns of `cards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guessable {
    /// The PIN (`pin_tries`, `pin_blocked`).
    Pin,
    /// The CVV2 (`cvv2_tries`, `cvv2_blocked`).
    Cvv2,
}

impl Guessable {
    /// (tries column, blocked column): constants, never input.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Guessable::Pin => ("pin_tries", "pin_blocked"),
            Guessable::Cvv2 => ("cvv2_tries", "cvv2_blocked"),
        }
    }
}

macro_rules! card_columns {
    () => {
        "tenant_id, token, pan_sealed, pan_first6, pan_last4, pan_length, brand, expiry_month, \
         expiry_year, status, account_id, customer_id, customer_ref, cardholder_name, pin_sealed, pin_tries, \
         pin_blocked, created_at, pin_format"
    };
}

const CARD_COLUMNS: &str = card_columns!();

/// The card of a tenant by token (the read of every card route).
const CARD_BY_TOKEN: &str = concat!(
    "SELECT ",
    card_columns!(),
    " FROM cards WHERE tenant_id = $1 AND token = $2"
);

/// [`card_from_row`] for a row read by [`sqlite_direct::DirectReader`]
/// (same columns, same order, same strict types).
fn card_from_direct(r: &sqlite_direct::Row) -> Result<CardRow> {
    Ok(CardRow {
        tenant_id: r.text(0)?,
        token: r.text(1)?,
        pan_sealed: r.blob(2)?,
        pan_first6: r.text(3)?,
        pan_last4: r.text(4)?,
        pan_length: r.int(5)?,
        brand: r.text(6)?,
        expiry_month: r.opt_int(7)?,
        expiry_year: r.opt_int(8)?,
        status: r.text(9)?,
        account_id: r.opt_text(10)?,
        customer_id: r.opt_text(11)?,
        customer_ref: r.opt_text(12)?,
        cardholder_name: r.opt_text(13)?,
        pin_sealed: r.opt_blob(14)?,
        pin_tries: r.int(15)?,
        pin_blocked: r.int(16)? != 0,
        created_at: UnixTime(r.int(17)?),
        pin_format: r.opt_int(18)?,
    })
}

fn tenant_from_row(r: &sqlx::any::AnyRow) -> std::result::Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        cvk_sealed: r.try_get(2)?,
    })
}

fn card_from_row(r: &sqlx::any::AnyRow) -> std::result::Result<CardRow, sqlx::Error> {
    Ok(CardRow {
        tenant_id: r.try_get(0)?,
        token: r.try_get(1)?,
        pan_sealed: r.try_get(2)?,
        pan_first6: r.try_get(3)?,
        pan_last4: r.try_get(4)?,
        pan_length: r.try_get(5)?,
        brand: r.try_get(6)?,
        expiry_month: r.try_get(7)?,
        expiry_year: r.try_get(8)?,
        status: r.try_get(9)?,
        account_id: r.try_get(10)?,
        customer_id: r.try_get(11)?,
        customer_ref: r.try_get(12)?,
        cardholder_name: r.try_get(13)?,
        pin_sealed: r.try_get(14)?,
        pin_tries: r.try_get(15)?,
        pin_blocked: r.try_get::<i64, _>(16)? != 0,
        created_at: r.try_get(17)?,
        pin_format: r.try_get(18)?,
    })
}

/// Which database engine a [`Storage`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (embedded, the default).
    Sqlite,
    /// PostgreSQL (and wire-compatible engines).
    Postgres,
}

impl Backend {
    /// From a database URL's scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Largest number of open connections.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: std::time::Duration,
    /// The group commit's delay under load: after a batch of two or more
    /// used session ids, the next waits this long to gather more (0: never).
    pub commit_delay: std::time::Duration,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            max_connections: 8,
            acquire_timeout: std::time::Duration::from_secs(10),
            commit_delay: session_ids::DEFAULT_COMMIT_DELAY,
        }
    }
}

/// The database.
#[derive(Debug, Clone)]
pub struct Storage {
    pool: AnyPool,
    backend: Backend,
    session_ids: session_ids::Recorder,
    /// SQLite on a file: the hot-path reads without a thread hop.
    direct: Option<std::sync::Arc<sqlite_direct::DirectReader>>,
}

/// The file of a `sqlite:` URL, if it names one (not an in-memory database,
/// which a second connection could not see).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|q| q == "mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

impl Storage {
    /// Opens (creating if needed) the SQLite database in `data_dir` and
    /// applies the schema.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Self> {
        let url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("paysecure.db").display()
        );
        Self::connect(&url, &StorageOptions::default()).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and applies the schema
    /// migrations of that backend (idempotent).
    pub async fn connect(url: &str, options: &StorageOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or(StorageError::UnsupportedUrl)?;
        let connect = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Concurrent writers wait instead of failing; WAL lets
                        // readers proceed during writes.
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        let session_ids = session_ids::Recorder::start(pool.clone(), options.commit_delay);
        let mut storage = Storage {
            pool,
            backend,
            session_ids,
            direct: None,
        };
        storage.migrate().await?;
        if backend == Backend::Sqlite {
            if let Some(file) = sqlite_file(url) {
                // After the migrations: the file and its WAL exist.
                storage.direct = Some(std::sync::Arc::new(sqlite_direct::DirectReader::open(
                    &file,
                    options.max_connections.max(1) as usize,
                )?));
            }
        }
        Ok(storage)
    }

    /// Applies this backend's pending migrations; returns the schema version.
    pub async fn migrate(&self) -> Result<i64> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&self.pool).await?;
        Ok(migrator.iter().map(|m| m.version).max().unwrap_or(0))
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- authentication throttle (shared by every node)

    /// Until when `client` is blocked, if it is.
    pub async fn auth_blocked_until(
        &self,
        client: &str,
        now: UnixTime,
    ) -> Result<Option<UnixTime>> {
        let until: Option<UnixTime> =
            sqlx::query_scalar("SELECT blocked_until FROM auth_failures WHERE client = $1")
                .bind(client)
                .fetch_optional(&self.pool)
                .await?;
        Ok(until.filter(|u| *u > now))
    }

    /// Counts one failed authentication for `client`, atomically, in a
    /// window of one day: the `short` failure blocks for `short_secs`, the
    /// `long`th and later for `long_secs`. Returns (failures, blocked until).
    pub async fn record_auth_failure(
        &self,
        client: &str,
        now: UnixTime,
        (short, short_secs): (i64, i64),
        (long, long_secs): (i64, i64),
    ) -> Result<(i64, UnixTime)> {
        // Every expression in SET sees the old row; `fresh` restarts the day.
        let row = sqlx::query(
            "INSERT INTO auth_failures (client, window_start, failures, blocked_until) VALUES ($1, $2, 1, 0) \
             ON CONFLICT (client) DO UPDATE SET \
             failures = CASE WHEN $2 - auth_failures.window_start >= 86400 THEN 1 ELSE auth_failures.failures + 1 END, \
             window_start = CASE WHEN $2 - auth_failures.window_start >= 86400 THEN $2 ELSE auth_failures.window_start END, \
             blocked_until = CASE \
               WHEN (CASE WHEN $2 - auth_failures.window_start >= 86400 THEN 1 ELSE auth_failures.failures + 1 END) >= $5 THEN $2 + $6 \
               WHEN (CASE WHEN $2 - auth_failures.window_start >= 86400 THEN 1 ELSE auth_failures.failures + 1 END) = $3 THEN $2 + $4 \
               ELSE auth_failures.blocked_until END \
             RETURNING failures, blocked_until",
        )
        .bind(client)
        .bind(now)
        .bind(short)
        .bind(short_secs)
        .bind(long)
        .bind(long_secs)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Deletes throttle rows whose day is over and that block nothing.
    pub async fn purge_auth_failures(&self, now: UnixTime) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM auth_failures WHERE window_start <= $1 AND blocked_until <= $2",
        )
        .bind(now - 86400)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---- tenants

    /// Inserts a tenant and its first API key (by its hash).
    pub async fn insert_tenant(
        &self,
        id: &str,
        name: &str,
        api_key_hash: &[u8],
        cvk_sealed: &[u8],
        now: UnixTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // tenants.api_key_hash is legacy (keys are in tenant_api_keys since
        // migration 0008): it holds the id's bytes, nothing secret.
        sqlx::query("INSERT INTO tenants (id, name, api_key_hash, cvk_sealed, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(name)
            .bind(id.as_bytes())
            .bind(cvk_sealed)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_unique)?;
        sqlx::query(
            "INSERT INTO tenant_api_keys (key_hash, tenant_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(api_key_hash)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        tx.commit().await?;
        Ok(())
    }

    /// A tenant by id.
    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>> {
        let row = sqlx::query("SELECT id, name, cvk_sealed FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(tenant_from_row).transpose()?)
    }

    // ---- cards

    /// Inserts a card; [`StorageError::Duplicate`] if the token or the PAN
    /// (for this tenant) exists.
    pub async fn insert_card(&self, c: &NewCard<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO cards (tenant_id, token, pan_index, pan_sealed, pan_first6, pan_last4, pan_length, brand, \
             expiry_month, expiry_year, status, account_id, customer_id, customer_ref, cardholder_name, created_at, exid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(c.tenant_id)
        .bind(c.token)
        .bind(c.pan_index)
        .bind(c.pan_sealed)
        .bind(c.pan_first6)
        .bind(c.pan_last4)
        .bind(c.pan_length)
        .bind(c.brand)
        .bind(c.expiry_month)
        .bind(c.expiry_year)
        .bind(c.status)
        .bind(c.account_id)
        .bind(c.customer_id)
        .bind(c.customer_ref)
        .bind(c.cardholder_name)
        .bind(c.created_at)
        .bind(c.exid)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// A card of a tenant by token.
    pub async fn card(&self, tenant_id: &str, token: &str) -> Result<Option<CardRow>> {
        if let Some(direct) = &self.direct {
            return direct
                .query_row(CARD_BY_TOKEN, &[tenant_id, token])?
                .map(|r| card_from_direct(&sqlite_direct::Row(r)))
                .transpose();
        }
        self.card_pooled(tenant_id, token).await
    }

    /// [`Self::card`] through the sqlx pool (PostgreSQL; SQLite in memory;
    /// and the reference the direct read is tested against).
    async fn card_pooled(&self, tenant_id: &str, token: &str) -> Result<Option<CardRow>> {
        let row = sqlx::query(CARD_BY_TOKEN)
            .bind(tenant_id)
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(card_from_row).transpose()?)
    }

    /// A card of a tenant by PAN index.
    pub async fn card_by_pan_index(
        &self,
        tenant_id: &str,
        pan_index: &[u8],
    ) -> Result<Option<CardRow>> {
        let sql =
            format!("SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND pan_index = $2");
        let row = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(pan_index)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(card_from_row).transpose()?)
    }

    /// One page of a tenant's cards matching every given filter, in the
    /// order (`created_at`, `token`): at most `limit` rows strictly after
    /// `after` (the last row of the previous page), or from the first.
    pub async fn cards(
        &self,
        tenant_id: &str,
        f: &CardFilter,
        after: Option<(UnixTime, &str)>,
        limit: u32,
    ) -> Result<Vec<CardRow>> {
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 \
             AND ($2 IS NULL OR account_id = $2) AND ($3 IS NULL OR customer_id = $3) \
             AND ($4 IS NULL OR customer_ref = $4) AND ($5 IS NULL OR token = $5) \
             AND ($6 IS NULL OR created_at > $6 OR (created_at = $6 AND token > $7)) \
             ORDER BY created_at, token LIMIT $8"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(f.account_id.as_deref())
            .bind(f.customer_id.as_deref())
            .bind(f.customer_ref.as_deref())
            .bind(f.token.as_deref())
            .bind(after.map(|(t, _)| t.secs()))
            .bind(after.map(|(_, token)| token).unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(card_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Stores a new sealed format-4 PIN block and clears the counter, unless
    /// the PIN is blocked. Returns `false` if no such card or the PIN is
    /// blocked.
    pub async fn set_pin(&self, tenant_id: &str, token: &str, pin_sealed: &[u8]) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cards SET pin_sealed = $3, pin_format = 4, pin_tries = 0 WHERE tenant_id = $1 AND token = $2 AND pin_blocked = 0",
        )
        .bind(tenant_id)
        .bind(token)
        .bind(pin_sealed)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- ephemeral keys

    /// Stores an ephemeral key.
    pub async fn insert_ephemeral_key(&self, hash: &[u8], k: &EphemeralKeyRow) -> Result<()> {
        sqlx::query("INSERT INTO ephemeral_keys (key_hash, tenant_id, token, scopes, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash)
            .bind(&k.tenant_id)
            .bind(&k.token)
            .bind(&k.scopes)
            .bind(k.expires_at)
            .execute(&self.pool)
            .await
            .map_err(map_unique)?;
        Ok(())
    }

    /// Deletes expired ephemeral keys; returns how many.
    pub async fn delete_expired_ephemeral_keys(&self, now: UnixTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM ephemeral_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// An unexpired ephemeral key by hash.
    pub async fn ephemeral_key(
        &self,
        hash: &[u8],
        now: UnixTime,
    ) -> Result<Option<EphemeralKeyRow>> {
        let row = sqlx::query("SELECT tenant_id, token, scopes, expires_at FROM ephemeral_keys WHERE key_hash = $1 AND expires_at > $2")
            .bind(hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(EphemeralKeyRow {
                tenant_id: r.try_get(0)?,
                token: r.try_get(1)?,
                scopes: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .transpose()
    }
}

// A point in time is an integer column (Unix seconds) on every backend.
impl sqlx::Type<sqlx::Any> for UnixTime {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for UnixTime {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <i64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for UnixTime {
    fn decode(
        value: <sqlx::Any as sqlx::Database>::ValueRef<'r>,
    ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, sqlx::Any>>::decode(value).map(UnixTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_at(dir: &Path) -> Storage {
        let url = format!("sqlite://{}/p.db?mode=rwc", dir.display());
        Storage::connect(&url, &StorageOptions::default())
            .await
            .unwrap()
    }

    async fn card_in(s: &Storage, tenant: &str, token: &str, customer_ref: Option<&str>) {
        s.insert_tenant(tenant, "T", tenant.as_bytes(), b"cvk", UnixTime(1))
            .await
            .unwrap();
        s.insert_card(&NewCard {
            tenant_id: tenant,
            token,
            pan_index: token.as_bytes(),
            pan_sealed: &[1, 2, 3, 0, 255],
            pan_first6: "411111",
            pan_last4: "1111",
            pan_length: 16,
            brand: "VISA",
            expiry_month: Some(12),
            expiry_year: None,
            status: "ACTIVE",
            account_id: None,
            customer_id: Some("cust"),
            customer_ref,
            cardholder_name: Some("Zoë Ünïcode"),
            created_at: UnixTime(1_700_000_000),
            exid: None,
        })
        .await
        .unwrap();
    }

    fn same(a: &Option<CardRow>, b: &Option<CardRow>) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn sqlite_file_names_only_files() {
        assert_eq!(
            sqlite_file("sqlite:///d/p.db?mode=rwc"),
            Some("/d/p.db".into())
        );
        assert_eq!(sqlite_file("sqlite:p.db"), Some("p.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    /// The direct (same-thread) read returns exactly what the sqlx pool
    /// reads, for every column type and NULL, and nothing for an unknown
    /// token or another tenant's card.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_card_read_matches_the_pooled_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = sqlite_at(dir.path()).await;
        assert!(s.direct.is_some(), "a file database reads directly");
        card_in(&s, "ten_a", "tok_1", None).await;
        let direct = s.card("ten_a", "tok_1").await.unwrap();
        assert!(direct.is_some());
        assert!(same(
            &direct,
            &s.card_pooled("ten_a", "tok_1").await.unwrap()
        ));
        let d = direct.unwrap();
        assert_eq!(d.pan_sealed, [1, 2, 3, 0, 255]);
        assert_eq!(d.cardholder_name.as_deref(), Some("Zoë Ünïcode"));
        assert_eq!((d.expiry_month, d.expiry_year), (Some(12), None));
        assert_eq!(d.created_at, UnixTime(1_700_000_000));
        assert!(s.card("ten_a", "tok_2").await.unwrap().is_none());
        assert!(s.card("ten_b", "tok_1").await.unwrap().is_none());
    }

    /// Nothing is cached: a write committed by another node (another pool
    /// on the same file) is seen by the very next direct read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_card_read_sees_another_nodes_commit_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = sqlite_at(dir.path()).await;
        let b = sqlite_at(dir.path()).await;
        card_in(&a, "ten_a", "tok_1", None).await;
        assert!(a
            .card("ten_a", "tok_1")
            .await
            .unwrap()
            .unwrap()
            .pin_sealed
            .is_none());
        for round in 0..20u8 {
            assert!(b.set_pin("ten_a", "tok_1", &[round; 8]).await.unwrap());
            let seen = a.card("ten_a", "tok_1").await.unwrap().unwrap();
            assert_eq!(seen.pin_sealed, Some(vec![round; 8]));
        }
        // Concurrent readers each take their own connection.
        let mut tasks = vec![];
        for _ in 0..32 {
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                a.card("ten_a", "tok_1").await.unwrap().unwrap().pin_sealed
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Some(vec![19u8; 8]));
        }
    }

    /// A value of the wrong type is a decoding error (a bad answer), never
    /// a default.
    #[tokio::test]
    async fn direct_read_refuses_a_value_of_the_wrong_type() {
        let dir = tempfile::tempdir().unwrap();
        let s = sqlite_at(dir.path()).await;
        card_in(&s, "ten_a", "tok_1", None).await;
        sqlx::query("UPDATE cards SET pan_length = 'sixteen' WHERE token = 'tok_1'")
            .execute(&s.pool)
            .await
            .unwrap();
        let e = s.card("ten_a", "tok_1").await.unwrap_err();
        assert!(matches!(e, StorageError::Decode(_)), "{e:?}");
        assert!(e.is_bad_answer() && !e.is_unavailable());
        sqlx::query("UPDATE cards SET pan_length = 16, pan_sealed = 'text' WHERE token = 'tok_1'")
            .execute(&s.pool)
            .await
            .unwrap();
        assert!(matches!(
            s.card("ten_a", "tok_1").await,
            Err(StorageError::Decode(_))
        ));
    }

    /// A database file that cannot be opened fails at start, reported as
    /// the database being unavailable.
    #[test]
    fn direct_reader_on_a_missing_file_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let e = sqlite_direct::DirectReader::open(&dir.path().join("none/p.db"), 2).unwrap_err();
        assert!(matches!(e, StorageError::Sqlite { .. }), "{e:?}");
        assert!(e.is_unavailable());
    }
}
