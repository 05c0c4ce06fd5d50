//! Throttling: who the client is, how often it may fail to authenticate, and
//! how fast a credential or a card may be used.
//!
//! - **Failed authentications** per client address: 5 failures within a
//!   day block the address for 1 minute, 10 (and every one after) for 5
//!   minutes. (Paythru requests count on the same counter with their
//!   document's "more than 5": their 6th failure blocks,
//!   [`crate::domain::paythru::FAILURES_BEFORE_BLOCK`].) The count lives in the database, so every node of
//!   a cluster enforces the same limit
//!   ([`crate::storage::Storage::record_auth_failure`]). A block refuses only
//!   requests *without* a valid credential: a valid credential is never
//!   locked out by its address, so one bad client behind a shared address (a
//!   load balancer, a carrier NAT) locks out no tenant.
//! - **The client address** ([`TrustedProxies::client_address`]): the TCP
//!   peer, unless the peer is a trusted proxy; then `X-Forwarded-For` is read
//!   from the right, skipping trusted addresses, and the first untrusted one
//!   is the client. Every throttle key aggregates it ([`throttle_key`]):
//!   IPv4 as the address, IPv6 as its /64 (one subscriber's allocation), so
//!   rotating addresses within a /64 escapes nothing.
//! - **Request rates** per credential and per card ([`Limiter`]): token
//!   buckets in memory, per node (N nodes allow N times the rate), with a
//!   bounded number of entries.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures that trigger the short block, and its length in seconds.
pub const SHORT_BLOCK: (i64, i64) = (5, 60);
/// Failures that trigger the long block, and its length in seconds.
pub const LONG_BLOCK: (i64, i64) = (10, 300);

/// Most `X-Forwarded-For` entries read from the right before giving up (and
/// using the peer).
const MAX_FORWARDED_HOPS: usize = 32;

// ------------------------------------------------------------------ addresses

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key every throttle uses for a client address: an IPv4 address as
/// itself (/32), an IPv6 address as its /64 prefix (`2001:db8:1:2::/64`),
/// an IPv4-mapped IPv6 address as the IPv4 address.
pub fn throttle_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// An address block, e.g. `10.0.0.0/8` or `fc00::/7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDRESS/PREFIX` or a bare address (one host). IPv4-mapped
    /// IPv6 blocks are not accepted (write the IPv4 block).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        if prefix > max || (net.is_ipv6() && canonical(net).is_ipv4()) {
            return None;
        }
        Some(Cidr { net, prefix })
    }

    /// Whether `ip` (taken canonically) is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
///
/// The default ([`TrustedProxies::private_networks`]) trusts loopback and the
/// private ranges: safe behind a load balancer on a private network (the
/// documented N-node deployment), and on a server reached directly from the
/// internet, whose peers are public addresses, `X-Forwarded-For` is ignored.
/// A client on the private network itself can choose its throttle address
/// with the header: list the balancers' own addresses (`--trusted-proxies
/// 10.0.0.5,10.0.0.6`) where that matters, or `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

/// Loopback, RFC 1918, link-local, unique-local and IPv6 link-local.
const PRIVATE: [&str; 8] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

impl Default for TrustedProxies {
    fn default() -> Self {
        TrustedProxies::private_networks()
    }
}

impl TrustedProxies {
    /// Loopback and the private ranges (10/8, 172.16/12, 192.168/16,
    /// 169.254/16, fc00::/7, fe80::/10): the default.
    pub fn private_networks() -> Self {
        TrustedProxies(PRIVATE.iter().filter_map(|c| Cidr::parse(c)).collect())
    }

    /// Nobody: the client is always the TCP peer.
    pub fn none() -> Self {
        TrustedProxies(Vec::new())
    }

    /// Parses the `--trusted-proxies` value: CIDRs or addresses separated by
    /// commas or spaces; `private` stands for [`Self::private_networks`];
    /// `none` (alone) trusts nobody.
    pub fn parse(s: &str) -> Result<Self, String> {
        let items: Vec<&str> = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|i| !i.is_empty())
            .collect();
        match items.as_slice() {
            [] => Err("--trusted-proxies is empty (use `none` to trust nobody)".into()),
            ["none"] => Ok(TrustedProxies::none()),
            _ => {
                let mut out = Vec::new();
                for item in items {
                    if item == "private" {
                        out.extend(TrustedProxies::private_networks().0);
                    } else {
                        out.push(Cidr::parse(item).ok_or_else(|| {
                            format!("--trusted-proxies: `{item}` is not an address or CIDR")
                        })?);
                    }
                }
                Ok(TrustedProxies(out))
            }
        }
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client of a request from `peer` carrying the `X-Forwarded-For`
    /// header values `forwarded` (in order; several headers are one list).
    ///
    /// The peer, unless it is trusted; then the list is walked from the
    /// right, skipping trusted addresses, and the first untrusted one is the
    /// client (the leftmost if all are trusted). Only the entries the walk
    /// reaches are read: what a client prepends to the list is never
    /// believed. An entry reached that is not a plain IP address, a value
    /// that is not ASCII, or a list longer than 32 hops: the peer.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl IntoIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut values = Vec::new();
        for v in forwarded {
            match std::str::from_utf8(v) {
                Ok(v) if v.is_ascii() => values.push(v),
                _ => return peer,
            }
        }
        let mut client = peer;
        let entries = values.iter().rev().flat_map(|v| v.rsplit(','));
        for (hop, entry) in entries.enumerate() {
            if hop >= MAX_FORWARDED_HOPS {
                return peer;
            }
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return peer;
            };
            client = canonical(ip);
            if !self.is_trusted(client) {
                break;
            }
        }
        client
    }
}

// ------------------------------------------------------------------ rates

/// A token-bucket rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, sustained (at least 1).
    pub per_second: u32,
    /// Requests at once (at least 1).
    pub burst: u32,
}

/// The request-rate limits (per node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per credential (tenant API key or ephemeral key), every route that
    /// takes one.
    pub credential: Rate,
    /// Per (tenant, card) on the card-data routes.
    pub card: Rate,
}

/// Default per-credential rate: 500/s, burst 1,000 — above any backend's
/// or test's legitimate use of one key on one node (the whole suite and a
/// schemathesis run stay well below), yet one credential can take at most
/// about a sixth of a node's Get PAN capacity (~2,800/s, RSA-bound).
pub const DEFAULT_CREDENTIAL_RATE: Rate = Rate {
    per_second: 500,
    burst: 1000,
};

/// Default per-card rate: 20/s, burst 60 — a cardholder's whole session (a
/// reveal, a PIN set, a few verifications) is a handful of requests; 60 at
/// once leaves room for a tenant's batch on one card, and 20/s sustained is
/// orders of magnitude above a human flow while capping scripted abuse of
/// one card. (Guessing is bounded by the attempt limits, not by this.)
pub const DEFAULT_CARD_RATE: Rate = Rate {
    per_second: 20,
    burst: 60,
};

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            credential: DEFAULT_CREDENTIAL_RATE,
            card: DEFAULT_CARD_RATE,
        }
    }
}

/// Most keys one [`Limiter`] remembers (about 100 bytes each: ~6.5 MB).
pub const LIMITER_MAX_KEYS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<[u8; 32], Bucket>,
    last_purge: Option<Instant>,
}

/// Token buckets by key (a SHA-256), in this node's memory.
///
/// Bounded: at most `max_keys` entries. When full, buckets that have
/// refilled (they hold no state: a new bucket is the same) are dropped, at
/// most once a second; if it is still full, one arbitrary bucket is
/// evicted. Keys are only made for valid credentials (and the cards they
/// name), never for unknown ones.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<Buckets>,
}

impl Limiter {
    /// A limiter of `rate` remembering at most `max_keys` keys.
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Limiter {
            rate: Rate {
                per_second: rate.per_second.max(1),
                burst: rate.burst.max(1),
            },
            max_keys: max_keys.max(1),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                last_purge: None,
            }),
        }
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)` to wait (at
    /// least 1) when it is empty.
    pub fn check(&self, key: [u8; 32]) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    /// [`Self::check`] at a given instant.
    pub fn check_at(&self, key: [u8; 32], now: Instant) -> Result<(), u64> {
        let rate = f64::from(self.rate.per_second);
        let burst = f64::from(self.rate.burst);
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !b.map.contains_key(&key) && b.map.len() >= self.max_keys {
            let due = b
                .last_purge
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
            if due {
                b.last_purge = Some(now);
                b.map.retain(|_, k| {
                    k.tokens + now.saturating_duration_since(k.at).as_secs_f64() * rate < burst
                });
            }
            if b.map.len() >= self.max_keys {
                if let Some(victim) = b.map.keys().next().copied() {
                    b.map.remove(&victim);
                }
            }
        }
        let bucket = b.map.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err((wait as u64).max(1))
        }
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An unspecified address (a request without connection information, which
/// only in-process callers make).
pub const UNKNOWN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_is_aggregated_per_64_and_ipv4_per_address() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(throttle_key(ip("203.0.113.7")), "203.0.113.7");
        assert_ne!(
            throttle_key(ip("203.0.113.7")),
            throttle_key(ip("203.0.113.8"))
        );
        // An IPv4-mapped IPv6 address is the IPv4 address.
        assert_eq!(throttle_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(throttle_key(ip("::1")), "::/64");
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("172.16.0.0/12").unwrap();
        assert!(c.contains(ip("172.31.255.255")));
        assert!(c.contains(ip("::ffff:172.16.0.1")));
        assert!(!c.contains(ip("172.32.0.0")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(Cidr::parse("fc00::/7").unwrap().contains(ip("fd12::1")));
        assert!(Cidr::parse("10.1.2.3").unwrap().contains(ip("10.1.2.3")));
        assert!(!Cidr::parse("10.1.2.3").unwrap().contains(ip("10.1.2.4")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x/8",
            "::ffff:1.2.3.4/120",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxy_lists_parse() {
        assert_eq!(
            TrustedProxies::parse("none").unwrap(),
            TrustedProxies::none()
        );
        assert_eq!(
            TrustedProxies::parse("private").unwrap(),
            TrustedProxies::private_networks()
        );
        let t = TrustedProxies::parse("10.0.0.5, 192.0.2.0/24 2001:db8::/32").unwrap();
        assert!(t.is_trusted(ip("192.0.2.77")));
        assert!(t.is_trusted(ip("2001:db8:5::1")));
        assert!(!t.is_trusted(ip("10.0.0.6")));
        assert!(!t.is_trusted(ip("127.0.0.1")));
        assert!(TrustedProxies::parse("").is_err());
        assert!(TrustedProxies::parse("none,10.0.0.0/8").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/8,bogus").is_err());
        let d = TrustedProxies::default();
        for t in [
            "127.0.0.1",
            "::1",
            "10.2.3.4",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(d.is_trusted(ip(t)), "{t}");
        }
        for u in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "192.0.2.1"] {
            assert!(!d.is_trusted(ip(u)), "{u}");
        }
    }

    #[test]
    fn forwarded_for_is_walked_from_the_right_past_trusted_hops() {
        let t = TrustedProxies::default();
        let client =
            |peer: &str, xff: &[&str]| t.client_address(ip(peer), xff.iter().map(|v| v.as_bytes()));
        // Untrusted peer: the header is ignored.
        assert_eq!(client("198.51.100.1", &["203.0.113.9"]), ip("198.51.100.1"));
        // Trusted peer without a header: the peer.
        assert_eq!(client("10.0.0.1", &[]), ip("10.0.0.1"));
        // Trusted peer: the first untrusted from the right.
        assert_eq!(client("10.0.0.1", &["203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(
            client("10.0.0.1", &["1.1.1.1, 203.0.113.9, 10.0.0.2"]),
            ip("203.0.113.9")
        );
        // Several headers are one list, in order.
        assert_eq!(
            client("10.0.0.1", &["1.1.1.1", "203.0.113.9 , 192.168.0.3"]),
            ip("203.0.113.9")
        );
        // What the client prepends is never read, even if malformed.
        assert_eq!(
            client("10.0.0.1", &["garbage, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // All trusted: the leftmost.
        assert_eq!(client("127.0.0.1", &["10.1.1.1, 10.0.0.2"]), ip("10.1.1.1"));
        // Malformed where it is read: the peer.
        assert_eq!(client("10.0.0.1", &["203.0.113.9:443"]), ip("10.0.0.1"));
        assert_eq!(client("10.0.0.1", &["203.0.113.9,"]), ip("10.0.0.1"));
        assert_eq!(client("10.0.0.1", &["unknown"]), ip("10.0.0.1"));
        assert_eq!(
            t.client_address(ip("10.0.0.1"), [b"203.0.113.\xff".as_slice()]),
            ip("10.0.0.1")
        );
        // Mapped addresses are canonical.
        assert_eq!(
            client("::ffff:10.0.0.1", &["::ffff:203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Too many hops: the peer.
        let long = vec!["10.9.9.9"; 40].join(",");
        assert_eq!(client("10.0.0.1", &[long.as_str()]), ip("10.0.0.1"));
        // Trusting nobody: always the peer.
        assert_eq!(
            TrustedProxies::none().client_address(ip("127.0.0.1"), [b"203.0.113.9".as_slice()]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn token_bucket_refills_and_says_when_to_retry() {
        let l = Limiter::new(
            Rate {
                per_second: 2,
                burst: 3,
            },
            100,
        );
        let t0 = Instant::now();
        let k = [1u8; 32];
        for _ in 0..3 {
            assert_eq!(l.check_at(k, t0), Ok(()));
        }
        assert_eq!(l.check_at(k, t0), Err(1));
        // Another key has its own bucket.
        assert_eq!(l.check_at([2u8; 32], t0), Ok(()));
        // Half a second later one token is back.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(l.check_at(k, t1), Ok(()));
        assert_eq!(l.check_at(k, t1), Err(1));
        let slow = Limiter::new(
            Rate {
                per_second: 1,
                burst: 1,
            },
            100,
        );
        assert_eq!(slow.check_at(k, t0), Ok(()));
        assert_eq!(slow.check_at(k, t0), Err(1));
    }

    #[test]
    fn limiter_memory_is_bounded_and_full_buckets_go_first() {
        let l = Limiter::new(
            Rate {
                per_second: 1,
                burst: 5,
            },
            8,
        );
        let t0 = Instant::now();
        // A flood of distinct keys never grows the map past its bound.
        for i in 0..1000u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            let _ = l.check_at(k, t0);
            assert!(l.len() <= 8);
        }
        // An exhausted bucket survives the purge of refilled ones: with
        // 7 buckets refilled a minute later, a new key evicts those, not it.
        let l = Limiter::new(
            Rate {
                per_second: 1,
                burst: 5,
            },
            8,
        );
        let hot = [0xAAu8; 32];
        for i in 0..7u8 {
            let _ = l.check_at([i; 32], t0);
        }
        let t1 = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            l.check_at(hot, t1).unwrap();
        }
        assert!(l.check_at(hot, t1).is_err());
        l.check_at([0x55; 32], t1).unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.check_at(hot, t1).is_err(), "the hot bucket was kept");
    }
}
