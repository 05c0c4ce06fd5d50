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
//! here are opened with `SQLITE_OPEN_READONLY` and cannot write.

use std::collections::HashMap;
use std::ffi::{c_int, CStr, CString};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Mutex;

use libsqlite3_sys as ffi;

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

/// One open read-only connection and its prepared statements.
struct Conn {
    db: NonNull<ffi::sqlite3>,
    statements: HashMap<&'static str, NonNull<ffi::sqlite3_stmt>>,
}

// SAFETY: the connection is opened in SQLite's multi-thread mode
// (SQLITE_OPEN_NOMUTEX on a thread-safe build): it may move between threads
// as long as no two threads use it at once. A `Conn` is only ever owned by
// one thread (taken out of the pool's mutex, used, put back), never shared.
unsafe impl Send for Conn {}

impl Drop for Conn {
    fn drop(&mut self) {
        for (_, stmt) in self.statements.drain() {
            // SAFETY: each statement was prepared on this connection and is
            // finalized exactly once, before the connection is closed.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
        }
        // SAFETY: the handle came from sqlite3_open_v2 and is closed once,
        // after every statement of it was finalized (so the close succeeds).
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

/// The error SQLite reported on `db` (extended result code and message).
fn last_error(db: *mut ffi::sqlite3, fallback: c_int) -> StorageError {
    if db.is_null() {
        return StorageError::Sqlite {
            code: fallback,
            message: "cannot open the database".into(),
        };
    }
    // SAFETY: `db` is a live connection handle; errmsg returns a
    // NUL-terminated string owned by SQLite, copied before the next call.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db);
        let msg = ffi::sqlite3_errmsg(db);
        let message = if msg.is_null() {
            String::new()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        (code, message)
    };
    StorageError::Sqlite { code, message }
}

impl Conn {
    fn open(path: &CStr) -> Result<Self> {
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READONLY | ffi::SQLITE_OPEN_NOMUTEX;
        // SAFETY: `path` is NUL-terminated; `db` receives the handle (also
        // on failure, when it must still be closed).
        let rc = unsafe { ffi::sqlite3_open_v2(path.as_ptr(), &mut db, flags, std::ptr::null()) };
        let Some(handle) = NonNull::new(db) else {
            return Err(last_error(db, rc));
        };
        let conn = Conn {
            db: handle,
            statements: HashMap::new(),
        };
        if rc != ffi::SQLITE_OK {
            return Err(last_error(db, rc));
        }
        // SAFETY: live handle.
        unsafe { ffi::sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) };
        Ok(conn)
    }

    fn statement(&mut self, sql: &'static str) -> Result<NonNull<ffi::sqlite3_stmt>> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(*s);
        }
        let c_sql = CString::new(sql).map_err(|_| StorageError::Decode("SQL contains NUL"))?;
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        // SAFETY: live handle, NUL-terminated SQL (-1: read to the NUL),
        // `stmt` receives the statement or NULL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                c_sql.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT as _,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        let Some(stmt) = NonNull::new(stmt).filter(|_| rc == ffi::SQLITE_OK) else {
            return Err(last_error(self.db.as_ptr(), rc));
        };
        self.statements.insert(sql, stmt);
        Ok(stmt)
    }

    /// The first row of `sql` with text parameters `params` ($1, $2, …).
    fn query_row(&mut self, sql: &'static str, params: &[&str]) -> Result<Option<Vec<Value>>> {
        let stmt = self.statement(sql)?.as_ptr();
        let result = self.step_first(stmt, params);
        // SAFETY: `stmt` is a live statement of this connection; resetting
        // ends the read transaction, clearing drops the bound copies.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        result
    }

    fn step_first(
        &mut self,
        stmt: *mut ffi::sqlite3_stmt,
        params: &[&str],
    ) -> Result<Option<Vec<Value>>> {
        let db = self.db.as_ptr();
        for (i, p) in params.iter().enumerate() {
            let index = c_int::try_from(i + 1).map_err(|_| StorageError::Decode("parameters"))?;
            let len = c_int::try_from(p.len()).map_err(|_| StorageError::Decode("parameter"))?;
            // SAFETY: live statement; SQLITE_TRANSIENT makes SQLite copy
            // the `len` bytes at `p` before returning.
            let rc = unsafe {
                ffi::sqlite3_bind_text(stmt, index, p.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT())
            };
            if rc != ffi::SQLITE_OK {
                return Err(last_error(db, rc));
            }
        }
        // SAFETY: live statement with every parameter bound.
        let rc = unsafe { ffi::sqlite3_step(stmt) };
        match rc {
            ffi::SQLITE_DONE => Ok(None),
            ffi::SQLITE_ROW => {
                // SAFETY: the statement is on a row: column accessors are
                // valid for 0..count; text/blob pointers are read (with
                // their byte counts) before the next call on the statement.
                let row = unsafe {
                    let count = ffi::sqlite3_column_count(stmt);
                    let mut row = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
                    for c in 0..count {
                        row.push(match ffi::sqlite3_column_type(stmt, c) {
                            ffi::SQLITE_NULL => Value::Null,
                            ffi::SQLITE_INTEGER => Value::Int(ffi::sqlite3_column_int64(stmt, c)),
                            ffi::SQLITE_TEXT => {
                                let p = ffi::sqlite3_column_text(stmt, c);
                                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt, c))
                                    .unwrap_or(0);
                                let bytes = if p.is_null() || n == 0 {
                                    Vec::new()
                                } else {
                                    std::slice::from_raw_parts(p, n).to_vec()
                                };
                                Value::Text(
                                    String::from_utf8(bytes)
                                        .map_err(|_| StorageError::Decode("text is not UTF-8"))?,
                                )
                            }
                            ffi::SQLITE_BLOB => {
                                let p = ffi::sqlite3_column_blob(stmt, c).cast::<u8>();
                                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt, c))
                                    .unwrap_or(0);
                                Value::Blob(if p.is_null() || n == 0 {
                                    Vec::new()
                                } else {
                                    std::slice::from_raw_parts(p, n).to_vec()
                                })
                            }
                            _ => return Err(StorageError::Decode("a REAL column")),
                        });
                    }
                    row
                };
                Ok(Some(row))
            }
            _ => Err(last_error(db, rc)),
        }
    }
}

/// Read-only connections of one SQLite database file, run on the caller's
/// thread (see the module documentation).
pub struct DirectReader {
    path: CString,
    idle: Mutex<Vec<Conn>>,
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
        let path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| StorageError::Decode("database path contains NUL"))?;
        let first = Conn::open(&path)?;
        Ok(DirectReader {
            path,
            idle: Mutex::new(vec![first]),
            max_idle: max_idle.max(1),
        })
    }

    /// The first row of `sql` (a constant, prepared once per connection)
    /// with text parameters `params`, read on this thread.
    pub fn query_row(&self, sql: &'static str, params: &[&str]) -> Result<Option<Vec<Value>>> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match taken {
            Some(c) => c,
            None => Conn::open(&self.path)?,
        };
        let result = conn.query_row(sql, params);
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
