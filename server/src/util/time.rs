//! The clock and the date formats of the APIs. Times are Unix seconds
//! (UTC); a value out of the calendar's range formats as the empty string.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds now (0 if the clock is before 1970).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// RFC 3339 text of Unix seconds (`2026-11-30T07:25:21Z`).
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `MM/dd/yyyy HH:mm:ss` (UTC), the account payment-information API's date
/// format.
pub fn us_date(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[month]/[day]/[year] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `(year, month)` of Unix seconds, UTC (`(1970, 1)` if out of range).
pub fn year_month(secs: i64) -> (i64, i64) {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| (i64::from(t.year()), i64::from(u8::from(t.month()))))
        .unwrap_or((1970, 1))
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    rfc3339(now()).get(..10).unwrap_or_default().to_owned()
}
