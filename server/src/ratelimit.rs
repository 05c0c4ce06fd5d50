//! Failed-authentication limits per client address (seed 002's rule): 5
//! failures within a day block the address for 1 minute, 10 for 5 minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const DAY: i64 = 24 * 3600;
/// Failures that trigger the short block, and its length.
pub const SHORT_BLOCK: (u32, i64) = (5, 60);
/// Failures that trigger the long block, and its length.
pub const LONG_BLOCK: (u32, i64) = (10, 300);
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: i64,
    failures: u32,
    blocked_until: i64,
}

/// In-memory, per process.
#[derive(Debug, Default)]
pub struct AuthLimiter {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl AuthLimiter {
    /// `Err(seconds)` while `ip` is blocked.
    pub fn check(&self, ip: IpAddr, now: i64) -> Result<(), i64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&ip) {
            Some(e) if e.blocked_until > now => Err(e.blocked_until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns the block length if this failure starts one.
    pub fn record_failure(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TRACKED {
            entries.retain(|_, e| now - e.window_start < DAY || e.blocked_until > now);
        }
        let e = entries.entry(ip).or_insert(Entry {
            window_start: now,
            failures: 0,
            blocked_until: 0,
        });
        if now - e.window_start >= DAY {
            *e = Entry {
                window_start: now,
                failures: 0,
                blocked_until: 0,
            };
        }
        e.failures += 1;
        let block = if e.failures >= LONG_BLOCK.0 {
            Some(LONG_BLOCK.1)
        } else if e.failures == SHORT_BLOCK.0 {
            Some(SHORT_BLOCK.1)
        } else {
            None
        };
        if let Some(secs) = block {
            e.blocked_until = now + secs;
        }
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_then_ten_failures() {
        let l = AuthLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..4 {
            assert_eq!(l.record_failure(ip, 1000), None);
        }
        assert!(l.check(ip, 1000).is_ok());
        assert_eq!(l.record_failure(ip, 1000), Some(60));
        assert_eq!(l.check(ip, 1000), Err(60));
        assert_eq!(l.check(ip, 1059), Err(1));
        assert!(l.check(ip, 1060).is_ok());
        assert!(l.check(other, 1000).is_ok());
        for _ in 0..4 {
            assert_eq!(l.record_failure(ip, 1100), None);
        }
        assert_eq!(l.record_failure(ip, 1100), Some(300));
        assert_eq!(l.check(ip, 1100), Err(300));
        // A new day starts a new count.
        assert_eq!(l.record_failure(ip, 1000 + DAY), None);
        assert!(l.check(ip, 1000 + DAY).is_ok());
    }
}
