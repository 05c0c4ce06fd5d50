//! Paging of the detailed card list (`GET /v2/cards`): the page request, the
//! page, and the cursor that continues it.
//!
//! The order is (`created_at`, `token`), unique per tenant, so a keyset
//! cursor (the last row's pair) continues exactly after the last card seen:
//! no card is listed twice and none that exists throughout the paging is
//! skipped, whatever is inserted or deleted meanwhile. The cursor's text is
//! `c1.<created_at seconds>.<token>`; callers treat it as opaque. It is not
//! secret and needs no integrity protection: it only selects a position in
//! the caller's own tenant (the tenant comes from the credential, never from
//! the cursor), and everything in it is in the page that produced it.

use crate::domain::error::{Code, Error, Result};
use crate::domain::service::CardSummary;
use crate::util::time::UnixTime;

/// Cards per page when the caller gives no `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest `limit` a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

const CURSOR_PREFIX: &str = "c1.";

/// Where a page starts: after the last card of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCursor {
    /// `created_at` of the last card of the previous page.
    pub created_at: UnixTime,
    /// Its token.
    pub token: String,
}

impl CardCursor {
    /// The cursor's text, as the `next` field of a page carries it.
    pub fn encode(&self) -> String {
        format!("{CURSOR_PREFIX}{}.{}", self.created_at.secs(), self.token)
    }

    /// Parses a cursor made by [`Self::encode`]; anything else (another
    /// version, a negative or oversized time, a malformed token) is refused.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::bad_request(Code::InvalidCursor, "invalid cursor");
        let rest = text.strip_prefix(CURSOR_PREFIX).ok_or_else(bad)?;
        let (secs, token) = rest.split_once('.').ok_or_else(bad)?;
        if secs.is_empty() || secs.len() > 18 || !secs.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        if !is_card_token(token) {
            return Err(bad());
        }
        Ok(CardCursor {
            created_at: UnixTime(secs),
            token: token.to_owned(),
        })
    }
}

/// `tok_` and 24 lowercase hex digits, as card tokens are made.
fn is_card_token(t: &str) -> bool {
    t.strip_prefix("tok_").is_some_and(|hex| {
        hex.len() == 24 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// What page of the list a caller asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Cards per page, 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// Continue after this card; `None` for the first page.
    pub after: Option<CardCursor>,
}

impl PageRequest {
    /// The first page of the default size.
    pub fn first() -> Self {
        PageRequest {
            limit: DEFAULT_PAGE_SIZE,
            after: None,
        }
    }

    /// A page request from the caller's `limit` and `cursor` parameters:
    /// a `limit` outside 1..=[`MAX_PAGE_SIZE`] is refused (not silently
    /// clamped: a caller asking for 5,000 must learn it gets fewer per page).
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(Error::bad_request(
                Code::InvalidPageSize,
                "limit must be between 1 and 500",
            ));
        }
        Ok(PageRequest {
            limit,
            after: cursor.map(CardCursor::parse).transpose()?,
        })
    }
}

/// One page of the card list.
#[derive(Debug, Clone)]
pub struct CardPage {
    /// The cards of this page, in list order.
    pub cards: Vec<CardSummary>,
    /// The cursor of the next page; `None` when this page is the last.
    pub next: Option<CardCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok_0123456789abcdef01234567";

    #[test]
    fn cursor_round_trips() {
        let c = CardCursor {
            created_at: UnixTime(1_764_460_800),
            token: TOKEN.into(),
        };
        assert_eq!(c.encode(), format!("c1.1764460800.{TOKEN}"));
        assert_eq!(CardCursor::parse(&c.encode()).unwrap(), c);
    }

    #[test]
    fn malformed_cursors_are_refused_with_their_own_code() {
        for bad in [
            "",
            "c1.",
            "c2.1764460800.tok_0123456789abcdef01234567",
            "c1.-5.tok_0123456789abcdef01234567",
            "c1.+5.tok_0123456789abcdef01234567",
            "c1..tok_0123456789abcdef01234567",
            "c1.99999999999999999999.tok_0123456789abcdef01234567",
            "c1.1764460800.tok_0123456789ABCDEF01234567",
            "c1.1764460800.tok_0123456789abcdef0123456",
            "c1.1764460800.tok_0123456789abcdef012345678",
            "c1.1764460800.tok_0123456789abcdef0123456' OR 1=1",
            "c1.1764460800",
            "c1.1764460800.",
            "c1.1764460800.x.tok_0123456789abcdef01234567",
        ] {
            match CardCursor::parse(bad) {
                Err(Error::BadRequest { code, .. }) => {
                    assert_eq!(code, Code::InvalidCursor, "{bad}")
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn page_size_limits() {
        assert_eq!(PageRequest::new(None, None).unwrap(), PageRequest::first());
        assert_eq!(PageRequest::new(Some(1), None).unwrap().limit, 1);
        assert_eq!(
            PageRequest::new(Some(MAX_PAGE_SIZE), None).unwrap().limit,
            MAX_PAGE_SIZE
        );
        for bad in [0, MAX_PAGE_SIZE + 1, u32::MAX] {
            match PageRequest::new(Some(bad), None) {
                Err(Error::BadRequest { code, .. }) => assert_eq!(code, Code::InvalidPageSize),
                other => panic!("{bad} gave {other:?}"),
            }
        }
    }
}
