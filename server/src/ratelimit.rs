//! Failed-authentication limits per client address (seed 002's rule): 5
//! failures within a day block the address for 1 minute, 10 (and every one
//! after) for 5 minutes. The count lives in the database, so every node of a
//! cluster enforces the same limit ([`crate::storage::Storage::record_auth_failure`]).

/// Failures that trigger the short block, and its length in seconds.
pub const SHORT_BLOCK: (i64, i64) = (5, 60);
/// Failures that trigger the long block, and its length in seconds.
pub const LONG_BLOCK: (i64, i64) = (10, 300);
