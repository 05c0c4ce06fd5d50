//! The clock and the date formats of the APIs. A point in time is a
//! [`UnixTime`]; a value out of the calendar's range formats as the empty
//! string.

use std::ops::{Add, Sub};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time: whole seconds since 1970-01-01T00:00:00Z, as the
/// database stores it (an integer column) and Paythru's `requestTime`
/// carries it. Adding or subtracting seconds saturates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The seconds since the epoch.
    pub const fn secs(self) -> i64 {
        self.0
    }
}

impl Add<i64> for UnixTime {
    type Output = UnixTime;
    fn add(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

impl Sub<i64> for UnixTime {
    type Output = UnixTime;
    fn sub(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_sub(secs))
    }
}

impl Sub for UnixTime {
    type Output = i64;
    fn sub(self, earlier: UnixTime) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Now (the epoch if the clock is before 1970).
pub fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// RFC 3339 text (`2026-11-30T07:25:21Z`).
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `MM/dd/yyyy HH:mm:ss` (UTC), the account payment-information API's date
/// format.
pub fn us_date(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[month]/[day]/[year] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `(year, month)`, UTC (`(1970, 1)` if out of range).
pub fn year_month(t: UnixTime) -> (i64, i64) {
    time::OffsetDateTime::from_unix_timestamp(t.0)
        .map(|t| (i64::from(t.year()), i64::from(u8::from(t.month()))))
        .unwrap_or((1970, 1))
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    rfc3339(now()).get(..10).unwrap_or_default().to_owned()
}
