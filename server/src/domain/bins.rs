//! The BIN range table: what the first digits of a PAN say about its card
//! (scheme, type, variant, issuer, issuer country, currency), for the
//! "where resolved" fields of Paythru (`cardType`, `cardBank`) and Verifone
//! (`type`, `variant`, `issuer_name`, `issuer_country`, `currency`).
//!
//! The operator loads it from a CSV file (`paysecure-server bins load FILE`,
//! format in `docs/deployment.md`); the pure part here parses and checks that
//! file ([`parse_csv`], errors name the line) and looks a PAN up
//! ([`BinTable::lookup`]): the range with the **longest** prefix length that
//! contains the PAN's first digits wins, and two ranges of the same length
//! may not overlap (refused at load). Unknown BINs resolve to nothing, and
//! the APIs then leave the fields out.
//!
//! Each node keeps the table in memory ([`BinCache`]) and asks the database
//! for its version at most every [`BIN_CACHE_SECS`] seconds, so a table
//! loaded by the CLI (another process) is used by every node within that
//! time.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use crate::domain::error::Result;
use crate::domain::service::Service;
use crate::storage::BinRangeRow;
use crate::util::time::now;

/// How often a node asks the database whether the BIN table changed.
pub const BIN_CACHE_SECS: i64 = 30;
/// Shortest and longest range prefix (Verifone's `bin` is 4 to 11 digits).
pub const PREFIX_LEN: (usize, usize) = (4, 11);
/// The CSV header line, exactly.
pub const CSV_HEADER: &str = "low,high,scheme,type,variant,issuer_name,country,currency";
/// Most ranges in one table.
pub const MAX_RANGES: usize = 1_000_000;
/// The public test ranges of the major schemes (sandbox data), loaded by
/// `serve --demo` into an empty table.
pub const SANDBOX_CSV: &str = include_str!("../../data/bins-sandbox.csv");

/// The card types the table accepts (Verifone's `type`, Paythru's `cardType`).
pub const CARD_TYPES: [&str; 4] = ["CREDIT", "DEBIT", "PREPAID", "CHARGE"];

/// What a BIN range says about its cards (absent columns are `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinInfo {
    /// Scheme, e.g. `VISA`.
    pub scheme: String,
    /// `CREDIT`, `DEBIT`, `PREPAID` or `CHARGE`.
    pub card_type: Option<String>,
    /// Product variant, e.g. `NEW_WORLD`.
    pub variant: Option<String>,
    /// Issuer name, e.g. `HSBC`.
    pub issuer_name: Option<String>,
    /// ISO 3166-1 alpha-3, e.g. `GBR`.
    pub country: Option<String>,
    /// ISO 4217 alphabetic, e.g. `GBP`.
    pub currency: Option<String>,
}

/// One range: `low..=high` over the first `low.len()` digits of a PAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinRange {
    /// Lowest prefix, 4 to 11 digits.
    pub low: String,
    /// Highest prefix, as many digits as `low`.
    pub high: String,
    /// What the range says.
    pub info: BinInfo,
}

/// A line-numbered error of a BIN file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BinFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong (never more than the offending column's name).
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> BinFileError {
    BinFileError {
        line,
        message: message.into(),
    }
}

fn digits_value(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= PREFIX_LEN.1 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn upper_code(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// A name column: 1 to 64 printable characters (no quotes: the file has no
/// quoting, so a comma cannot be in a field).
fn name_ok(s: &str) -> bool {
    (1..=64).contains(&s.chars().count()) && !s.chars().any(|c| c.is_control() || c == '"')
}

/// Parses a BIN file: the header [`CSV_HEADER`], then one range per line
/// (`#` comments and blank lines skipped). `high` may be empty (a single
/// prefix). Every error names its line.
pub fn parse_csv(text: &str) -> std::result::Result<Vec<BinRange>, BinFileError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let header = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    match header {
        Some((_, h)) if h.trim() == CSV_HEADER => {}
        Some((n, _)) => return Err(err(n, format!("the header must be exactly {CSV_HEADER}"))),
        None => return Err(err(1, "the file has no header")),
    }
    let mut ranges = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let [low, high, scheme, card_type, variant, issuer, country, currency] = cols[..] else {
            return Err(err(n, format!("expected 8 columns, found {}", cols.len())));
        };
        let high = if high.is_empty() { low } else { high };
        let (Some(lo), Some(hi)) = (digits_value(low), digits_value(high)) else {
            return Err(err(n, "low and high must be 4 to 11 digits"));
        };
        if low.len() < PREFIX_LEN.0 || low.len() != high.len() {
            return Err(err(n, "low and high must be 4 to 11 digits, as many each"));
        }
        if lo > hi {
            return Err(err(n, "low is above high"));
        }
        let scheme_ok = (2..=20).contains(&scheme.len())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !scheme_ok {
            return Err(err(n, "scheme must be 2 to 20 of A-Z 0-9 _ (e.g. VISA)"));
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        if !card_type.is_empty() && !CARD_TYPES.contains(&card_type) {
            return Err(err(
                n,
                "type must be CREDIT, DEBIT, PREPAID, CHARGE or empty",
            ));
        }
        if !variant.is_empty() && !name_ok(variant) {
            return Err(err(n, "variant must be 1 to 64 printable characters"));
        }
        if !issuer.is_empty() && !name_ok(issuer) {
            return Err(err(n, "issuer_name must be 1 to 64 printable characters"));
        }
        if !country.is_empty() && !upper_code(country, 3) {
            return Err(err(
                n,
                "country must be ISO 3166-1 alpha-3 (e.g. GBR) or empty",
            ));
        }
        if !currency.is_empty() && !upper_code(currency, 3) {
            return Err(err(
                n,
                "currency must be ISO 4217 alphabetic (e.g. GBP) or empty",
            ));
        }
        if ranges.len() >= MAX_RANGES {
            return Err(err(n, format!("more than {MAX_RANGES} ranges")));
        }
        ranges.push((
            n,
            BinRange {
                low: low.to_owned(),
                high: high.to_owned(),
                info: BinInfo {
                    scheme: scheme.to_owned(),
                    card_type: opt(card_type),
                    variant: opt(variant),
                    issuer_name: opt(issuer),
                    country: opt(country),
                    currency: opt(currency),
                },
            },
        ));
    }
    // Ranges of one length may not overlap (longer ones may nest in shorter).
    let mut sorted: Vec<&(usize, BinRange)> = ranges.iter().collect();
    sorted.sort_by(|a, b| (a.1.low.len(), &a.1.low).cmp(&(b.1.low.len(), &b.1.low)));
    for pair in sorted.windows(2) {
        if let [(n1, a), (n2, b)] = pair {
            if a.low.len() == b.low.len() && b.low <= a.high {
                let (first, second) = if n1 < n2 { (n1, n2) } else { (n2, n1) };
                return Err(err(*second, format!("overlaps the range of line {first}")));
            }
        }
    }
    Ok(ranges.into_iter().map(|(_, r)| r).collect())
}

/// The table, indexed for look-ups: per prefix length, ranges sorted by
/// their low end.
#[derive(Debug, Clone, Default)]
pub struct BinTable {
    /// `by_len[l - 4]`: (low, high, info) of the ranges of `l` digits.
    by_len: Vec<Vec<(u64, u64, Arc<BinInfo>)>>,
    count: usize,
}

impl BinTable {
    /// Indexes ranges (as [`parse_csv`] returns them: no overlap within a
    /// length; a later overlapping range is ignored).
    pub fn new(ranges: impl IntoIterator<Item = BinRange>) -> Self {
        let mut by_len = vec![Vec::new(); PREFIX_LEN.1 - PREFIX_LEN.0 + 1];
        let mut count = 0;
        for r in ranges {
            let (Some(lo), Some(hi)) = (digits_value(&r.low), digits_value(&r.high)) else {
                continue;
            };
            if let Some(list) = r
                .low
                .len()
                .checked_sub(PREFIX_LEN.0)
                .and_then(|i| by_len.get_mut(i))
            {
                list.push((lo, hi, Arc::new(r.info)));
                count += 1;
            }
        }
        for list in &mut by_len {
            list.sort_by_key(|(lo, _, _)| *lo);
        }
        BinTable { by_len, count }
    }

    /// How many ranges the table has.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// What the table says about `pan` (digits): the containing range of the
    /// longest prefix length, or `None`.
    pub fn lookup(&self, pan: &str) -> Option<&BinInfo> {
        if !pan.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        for (i, list) in self.by_len.iter().enumerate().rev() {
            let Some(prefix) = pan.get(..PREFIX_LEN.0 + i).and_then(digits_value) else {
                continue;
            };
            // The last range starting at or below the prefix.
            let at = list.partition_point(|(lo, _, _)| *lo <= prefix);
            if let Some((_, hi, info)) = at.checked_sub(1).and_then(|j| list.get(j)) {
                if prefix <= *hi {
                    return Some(info);
                }
            }
        }
        None
    }
}

/// A node's copy of the table: the table, the version it was loaded at, and
/// when the version was last asked.
#[derive(Debug, Default)]
pub struct BinCache {
    table: RwLock<(i64, Arc<BinTable>)>,
    checked_at: AtomicI64,
}

impl BinCache {
    fn current(&self) -> (i64, Arc<BinTable>) {
        match self.table.read() {
            Ok(t) => (t.0, Arc::clone(&t.1)),
            Err(p) => {
                let t = p.into_inner();
                (t.0, Arc::clone(&t.1))
            }
        }
    }

    fn set(&self, version: i64, table: Arc<BinTable>) {
        match self.table.write() {
            Ok(mut t) => *t = (version, table),
            Err(p) => *p.into_inner() = (version, table),
        }
    }
}

/// What a load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinLoad {
    /// Ranges in the new table.
    pub ranges: usize,
    /// The table's new version.
    pub version: i64,
}

/// Loading a BIN file failed: the file, or the storage.
#[derive(Debug, thiserror::Error)]
pub enum BinLoadError {
    /// The file is not a valid BIN table (nothing was changed).
    #[error(transparent)]
    File(#[from] BinFileError),
    /// The database failed (nothing was changed).
    #[error(transparent)]
    Service(#[from] crate::domain::error::Error),
}

impl Service {
    /// Replaces the BIN table with the ranges of `csv` (see [`parse_csv`]),
    /// atomically: on any error the old table stays. This node uses the new
    /// table at once, the others within [`BIN_CACHE_SECS`].
    pub async fn load_bins(&self, csv: &str) -> std::result::Result<BinLoad, BinLoadError> {
        let ranges = parse_csv(csv)?;
        let rows: Vec<BinRangeRow> = ranges
            .iter()
            .map(|r| BinRangeRow {
                low: r.low.clone(),
                high: r.high.clone(),
                scheme: r.info.scheme.clone(),
                card_type: r.info.card_type.clone(),
                variant: r.info.variant.clone(),
                issuer_name: r.info.issuer_name.clone(),
                country: r.info.country.clone(),
                currency: r.info.currency.clone(),
            })
            .collect();
        let version = self
            .storage
            .replace_bin_ranges(&rows, now())
            .await
            .map_err(crate::domain::error::Error::from)?;
        let count = ranges.len();
        self.bins.set(version, Arc::new(BinTable::new(ranges)));
        self.bins.checked_at.store(now().secs(), Relaxed);
        tracing::info!(ranges = count, version, "BIN table loaded");
        Ok(BinLoad {
            ranges: count,
            version,
        })
    }

    /// Loads the sandbox test ranges if the table is empty (`serve --demo`).
    /// Returns whether it loaded them.
    pub async fn load_sandbox_bins_if_empty(&self) -> std::result::Result<bool, BinLoadError> {
        if self
            .storage
            .bin_table_version()
            .await
            .map_err(crate::domain::error::Error::from)?
            .is_some()
        {
            return Ok(false);
        }
        self.load_bins(SANDBOX_CSV).await?;
        Ok(true)
    }

    /// The node's BIN table, re-read from the database when its version
    /// changed (asked at most every [`BIN_CACHE_SECS`]).
    pub async fn bin_table(&self) -> Result<Arc<BinTable>> {
        let (version, table) = self.bins.current();
        let t = now().secs();
        let checked = self.bins.checked_at.load(Relaxed);
        if checked != 0 && t - checked < BIN_CACHE_SECS {
            return Ok(table);
        }
        self.bins.checked_at.store(t, Relaxed);
        let stored = self.storage.bin_table_version().await?.unwrap_or(0);
        if stored == version && checked != 0 {
            return Ok(table);
        }
        let rows = self.storage.bin_ranges().await?;
        let fresh = Arc::new(BinTable::new(rows.into_iter().map(|r| BinRange {
            low: r.low,
            high: r.high,
            info: BinInfo {
                scheme: r.scheme,
                card_type: r.card_type,
                variant: r.variant,
                issuer_name: r.issuer_name,
                country: r.country,
                currency: r.currency,
            },
        })));
        self.bins.set(stored, Arc::clone(&fresh));
        Ok(fresh)
    }

    /// What the BIN table says about `pan` (digits), if anything.
    pub async fn bin_info(&self, pan: &str) -> Result<Option<BinInfo>> {
        Ok(self.bin_table().await?.lookup(pan).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(csv: &str) -> BinTable {
        BinTable::new(parse_csv(csv).unwrap())
    }

    #[test]
    fn sandbox_file_parses_and_resolves_the_test_cards() {
        let t = table(SANDBOX_CSV);
        for (pan, scheme) in [
            ("4111111111111111", "VISA"),
            ("4444333322221111", "VISA"),
            ("5555555555554444", "MASTERCARD"),
            ("2223000048400011", "MASTERCARD"),
            ("378282246310005", "AMEX"),
            ("6011111111111117", "DISCOVER"),
            ("3530111333300000", "JCB"),
            ("6200000000000005", "UNIONPAY"),
            ("30569309025904", "DINERS"),
            ("6759649826438453", "MAESTRO"),
        ] {
            assert_eq!(
                t.lookup(pan).map(|i| i.scheme.as_str()),
                Some(scheme),
                "{pan}"
            );
        }
        // Paythru's own test card (the Paythru v3 document's examples): CREDIT, bank "paythru".
        let p = t.lookup("4444333322221111").unwrap();
        assert_eq!(p.card_type.as_deref(), Some("CREDIT"));
        assert_eq!(p.issuer_name.as_deref(), Some("paythru"));
        assert!(t.lookup("4000000000000002").is_none());
        assert!(t.lookup("9999999999999995").is_none());
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table(&format!(
            "{CSV_HEADER}\n4000,4999,VISA,CREDIT,,Wide,,\n411111,411111,VISA,DEBIT,,Narrow,GBR,GBP\n41111111,,VISA,PREPAID,,Narrowest,,\n"
        ));
        let name = |pan: &str| t.lookup(pan).and_then(|i| i.issuer_name.clone());
        assert_eq!(name("4111111111111111").as_deref(), Some("Narrowest"));
        assert_eq!(name("4111112111111111").as_deref(), Some("Narrow"));
        assert_eq!(name("4211111111111111").as_deref(), Some("Wide"));
        assert_eq!(name("5211111111111111"), None);
        assert_eq!(name("411"), None);
        assert_eq!(name("41x1111111111111"), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn file_errors_name_their_line() {
        let cases = [
            ("low,high\n", 1, "header"),
            (
                &format!("{CSV_HEADER}\n4111,4111,VISA,CREDIT,,,,\n4000,4999,VISA,,,,,\n"),
                3,
                "overlaps the range of line 2",
            ),
            (
                &format!("{CSV_HEADER}\n# c\n\n411,411,VISA,,,,,\n"),
                4,
                "digits",
            ),
            (
                &format!("{CSV_HEADER}\n4111,41111,VISA,,,,,\n"),
                2,
                "as many",
            ),
            (&format!("{CSV_HEADER}\n4999,4000,VISA,,,,,\n"), 2, "above"),
            (&format!("{CSV_HEADER}\n4999,,visa,,,,,\n"), 2, "scheme"),
            (&format!("{CSV_HEADER}\n4999,,VISA,GOLD,,,,\n"), 2, "type"),
            (&format!("{CSV_HEADER}\n4999,,VISA,,,,GB,\n"), 2, "alpha-3"),
            (&format!("{CSV_HEADER}\n4999,,VISA,,,,,EURO\n"), 2, "4217"),
            (
                &format!("{CSV_HEADER}\n4999,,VISA,,,\"A\",,\n"),
                2,
                "issuer_name",
            ),
            (&format!("{CSV_HEADER}\n4999,VISA\n"), 2, "8 columns"),
            ("", 1, "no header"),
        ];
        for (csv, line, needle) in cases {
            let e = parse_csv(csv).unwrap_err();
            assert_eq!(e.line, line, "{csv:?}: {e}");
            assert!(e.to_string().contains(needle), "{csv:?}: {e}");
        }
        // Adjacent ranges of one length, and nested ones of different
        // lengths, are fine.
        assert!(parse_csv(&format!(
            "{CSV_HEADER}\n4000,4499,VISA,,,,,\n4500,4999,VISA,,,,,\n450000,,VISA,,,,,\n"
        ))
        .is_ok());
    }

    proptest! {
        /// The look-up agrees with a linear scan that picks the longest
        /// containing range.
        #[test]
        fn lookup_matches_a_linear_scan(
            specs in proptest::collection::vec((4usize..=8, -30i64..30, 0u64..50), 0..40),
            pan in "[0-9]{16}",
        ) {
            // Ranges near the PAN's own prefixes (so many contain it and
            // nest across lengths), overlapping ones of one length skipped.
            let mut ranges: Vec<BinRange> = Vec::new();
            for (i, (len, offset, width)) in specs.into_iter().enumerate() {
                let max = 10u64.pow(len as u32) - 1;
                let own: u64 = pan[..len].parse().unwrap();
                let lo = own.saturating_add_signed(offset).min(max);
                let hi = (lo + width).min(max);
                let (low, high) = (format!("{lo:0len$}"), format!("{hi:0len$}"));
                let clash = ranges.iter().any(|r| r.low.len() == len && !(high < r.low || low > r.high));
                if !clash {
                    ranges.push(BinRange { low, high, info: BinInfo { scheme: format!("S{i}"), ..Default::default() } });
                }
            }
            let t = BinTable::new(ranges.clone());
            let expected = ranges
                .iter()
                .filter(|r| {
                    let p = &pan[..r.low.len()];
                    r.low.as_str() <= p && p <= r.high.as_str()
                })
                .max_by_key(|r| r.low.len())
                .map(|r| r.info.scheme.clone());
            prop_assert_eq!(t.lookup(&pan).map(|i| i.scheme.clone()), expected);
        }
    }
}
