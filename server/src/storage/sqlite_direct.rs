//! Point reads on SQLite without a thread hop (issue #20).
//!
//! sqlx runs every SQLite connection on its own worker thread: each query
//! is sent to that thread and its rows sent back, two cross-thread wake-ups
//! (futex, context switch) per query — on the Get PAN path that cost more
//! CPU than the query itself. The hot-path reads (the card row every card
//! route reads) go instead through [`DirectReader`]: a small pool of
//! **read-only** connections of the same database file, each used by one
//! thread at a time and run inline on the calling thread. A point read by
//! primary key from SQLite's page cache takes a few microseconds, less than
//! the hop it replaces, so running it on the async runtime's thread does not
//! stall other requests; a lock wait is bounded by [`BUSY_TIMEOUT_MS`] (WAL
//! readers do not wait for writers, only for a rare WAL-index recovery).
//!
//! Nothing is cached across queries: every read sees the last committed
//! transaction (WAL snapshot at the start of the statement), as a read
//! through the sqlx pool does. Writes, and every other read, stay on the
//! sqlx pool (WAL journal, group commit of session ids): the connections
//! here are opened with `SQLITE_OPEN_READONLY` and cannot write. The
//! connections are rusqlite's over the `libsqlite3-sys` sqlx links (one
//! SQLite in the binary).

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Result, StorageError};

/// How long a read waits for a lock before failing (then the database is
/// reported unavailable: 503).
pub const BUSY_TIMEOUT_MS: c_int = 2_000;

/// One column value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// INTEGER.
    Int(i64),
    /// TEXT (valid UTF-8).
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

/// SQLite's error as a [`StorageError`]: its extended result code (which
/// [`StorageError::is_unavailable`] classifies) and message.
fn sqlite_error(e: rusqlite::Error) -> StorageError {
    match e {
        rusqlite::Error::SqliteFailure(f, message) => StorageError::Sqlite {
            code: f.extended_code,
            message: message.unwrap_or_else(|| f.to_string()),
        },
        rusqlite::Error::Utf8Error(_) | rusqlite::Error::FromSqlConversionFailure(..) => {
            StorageError::Decode("text is not UTF-8")
        }
        rusqlite::Error::InvalidColumnType(..) => StorageError::Decode("a REAL column"),
        _ => StorageError::Decode("SQLite answered unexpectedly"),
    }
}

/// One open read-only connection (multi-thread mode: it moves between
/// threads, used by one at a time) with its cache of prepared statements.
fn open_connection(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite_error)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS as u64))
        .map_err(sqlite_error)?;
    Ok(conn)
}

/// The first row of `sql` with text parameters `params` ($1, $2, …).
fn query_first(conn: &Connection, sql: &str, params: &[&str]) -> Result<Option<Vec<Value>>> {
    let mut stmt = conn.prepare_cached(sql).map_err(sqlite_error)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(sqlite_error)?;
    let Some(row) = rows.next().map_err(sqlite_error)? else {
        return Ok(None);
    };
    let count = row.as_ref().column_count();
    let mut values = Vec::with_capacity(count);
    for c in 0..count {
        values.push(match row.get_ref(c).map_err(sqlite_error)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Text(t) => Value::Text(
                std::str::from_utf8(t)
                    .map_err(|_| StorageError::Decode("text is not UTF-8"))?
                    .to_owned(),
            ),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            ValueRef::Real(_) => return Err(StorageError::Decode("a REAL column")),
        });
    }
    Ok(Some(values))
}

/// Read-only connections of one SQLite database file, run on the caller's
/// thread (see the module documentation).
pub struct DirectReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl std::fmt::Debug for DirectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DirectReader {
    /// Opens one connection to `path` now (so a bad path fails at start),
    /// keeping at most `max_idle` idle connections later.
    pub fn open(path: &Path, max_idle: usize) -> Result<Self> {
        let first = open_connection(path)?;
        Ok(DirectReader {
            path: path.to_owned(),
            idle: Mutex::new(vec![first]),
            max_idle: max_idle.max(1),
        })
    }

    /// The first row of `sql` (a constant, prepared once per connection)
    /// with text parameters `params`, read on this thread.
    pub fn query_row(&self, sql: &'static str, params: &[&str]) -> Result<Option<Vec<Value>>> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let result = query_first(&conn, sql, params);
        // A connection that failed is dropped (a new one opens on demand).
        if result.is_ok() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < self.max_idle {
                    idle.push(conn);
                }
            }
        }
        result
    }
}

/// Typed access to a row read by [`DirectReader::query_row`]: a column of
/// the wrong type is [`StorageError::Decode`], never a default value.
pub struct Row(pub Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value> {
        self.0.get(i).ok_or(StorageError::Decode("missing column"))
    }

    /// A NOT NULL TEXT column.
    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?
            .ok_or(StorageError::Decode("NULL in a TEXT column"))
    }

    /// A nullable TEXT column.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            _ => Err(StorageError::Decode("expected TEXT")),
        }
    }

    /// A NOT NULL INTEGER column.
    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?
            .ok_or(StorageError::Decode("NULL in an INTEGER column"))
    }

    /// A nullable INTEGER column.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(*n)),
            _ => Err(StorageError::Decode("expected INTEGER")),
        }
    }

    /// A NOT NULL BLOB column.
    pub fn blob(&self, i: usize) -> Result<Vec<u8>> {
        self.opt_blob(i)?
            .ok_or(StorageError::Decode("NULL in a BLOB column"))
    }

    /// A nullable BLOB column.
    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b.clone())),
            _ => Err(StorageError::Decode("expected BLOB")),
        }
    }
}
