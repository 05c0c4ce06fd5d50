//! Request metrics in the Prometheus text format, and log set-up.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::router::AppState;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters and latency histograms per (method, route, status).
///
/// Every label has a bounded set of values, so no request can add series
/// without limit: the method is one of [`METHOD_LABELS`] (see
/// [`method_label`]), the route is a matched route template or `unmatched`,
/// and the status is a 3-digit code.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(&'static str, String, u16), Series>>,
    connections_refused: AtomicU64,
}

/// The method label values: the methods the API serves, and `OTHER`.
pub const METHOD_LABELS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER",
];

/// The metrics label of an HTTP method: the method itself if it is one of
/// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS, else `OTHER` (any token
/// is a valid method in HTTP, so a client could otherwise make a new series
/// per request).
pub fn method_label(method: &str) -> &'static str {
    METHOD_LABELS[..7]
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

impl Metrics {
    /// Counts a connection closed at once because the connection cap was
    /// reached.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = map
            .entry((method_label(method), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        for (b, limit) in s.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= limit {
                *b += 1;
            }
        }
    }

    /// The Prometheus exposition.
    pub fn render(&self) -> String {
        let map = self
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str(
            "# HELP paysecure_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE paysecure_http_requests_total counter\n");
        for ((m, r, st), s) in &map {
            let _ = writeln!(
                out,
                "paysecure_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{st}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP paysecure_http_connections_refused_total Connections closed at once: the connection cap was reached.\n");
        out.push_str("# TYPE paysecure_http_connections_refused_total counter\n");
        let _ = writeln!(
            out,
            "paysecure_http_connections_refused_total {}",
            self.connections_refused.load(Ordering::Relaxed)
        );
        out.push_str("# HELP paysecure_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE paysecure_http_request_duration_seconds histogram\n");
        for ((m, r, st), s) in &map {
            let labels = format!("method=\"{m}\",route=\"{r}\",status=\"{st}\"");
            for (b, limit) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "paysecure_http_request_duration_seconds_bucket{{{labels},le=\"{limit}\"}} {b}"
                );
            }
            let _ = writeln!(
                out,
                "paysecure_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "paysecure_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "paysecure_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

/// The request path as it may be logged: every run of 12 or more digits
/// (a PAN, possibly written with spaces, dashes, dots or `+` between digit
/// groups, or percent-encoded) has each digit replaced by `*`; a card token
/// path segment (`tok_` and 24 hex digits) is kept as it is. Someone may
/// put a PAN in a URL by mistake (`/v2/cards/4111111111111111/pan`); the
/// access log must not keep it.
pub fn redact_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_card_token(segment) {
            out.push_str(segment);
        } else {
            mask_digit_runs(segment, &mut out);
        }
    }
    out
}

fn is_card_token(segment: &str) -> bool {
    segment.strip_prefix("tok_").is_some_and(|hex| {
        hex.len() == 24
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One unit of a path: a digit (`7` or `%37`), a separator that may stand
/// between the digit groups of a PAN, or anything else.
enum Unit {
    Digit,
    Separator,
    Other,
}

fn unit_at(s: &[u8], i: usize) -> (Unit, usize) {
    match s[i] {
        b'0'..=b'9' => (Unit::Digit, 1),
        b' ' | b'-' | b'.' | b'+' => (Unit::Separator, 1),
        b'%' if i + 2 < s.len() => match (s[i + 1], s[i + 2].to_ascii_uppercase()) {
            (b'3', b'0'..=b'9') => (Unit::Digit, 3),
            (b'2', b'0' | b'B' | b'D' | b'E') => (Unit::Separator, 3),
            _ => (Unit::Other, 1),
        },
        _ => (Unit::Other, 1),
    }
}

fn mask_digit_runs(segment: &str, out: &mut String) {
    let s = segment.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let (unit, len) = unit_at(s, i);
        if !matches!(unit, Unit::Digit) {
            out.push_str(&segment[i..i + len]);
            i += len;
            continue;
        }
        // A run: digit (separator? digit)*, ending on a digit.
        let start = i;
        let mut end = i + len;
        let mut digits = 1;
        let mut j = end;
        loop {
            let mut k = j;
            if k < s.len() && matches!(unit_at(s, k).0, Unit::Separator) {
                k += unit_at(s, k).1;
            }
            if k < s.len() && matches!(unit_at(s, k).0, Unit::Digit) {
                j = k + unit_at(s, k).1;
                end = j;
                digits += 1;
            } else {
                break;
            }
        }
        if digits >= 12 {
            let mut p = start;
            while p < end {
                let (unit, len) = unit_at(s, p);
                match unit {
                    Unit::Digit => out.push('*'),
                    _ => out.push_str(&segment[p..p + len]),
                }
                p += len;
            }
        } else {
            out.push_str(&segment[start..end]);
        }
        i = end;
    }
}

/// Records the authenticated caller on the current request span (the
/// `principal` field of the access log): the tenant id, or for an
/// ephemeral key `ephemeral <tenant id> <card token>`. Never the credential.
pub fn record_principal(principal: &crate::domain::service::Principal) {
    use crate::domain::service::Principal;
    let span = tracing::Span::current();
    match principal {
        Principal::Tenant { tenant_id } => {
            span.record("principal", tracing::field::display(tenant_id));
        }
        Principal::Ephemeral {
            tenant_id, token, ..
        } => {
            span.record(
                "principal",
                tracing::field::display(format_args!("ephemeral {tenant_id} {token}")),
            );
        }
    }
}

/// Structured logs to stderr: JSON with `--log-format json`, else text.
/// Level from `RUST_LOG` (default `info`).
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        let _ = builder.json().flatten_event(true).try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// The middleware that counts every request in [`Metrics`] by method,
/// matched route and status.
pub(crate) async fn record_metrics(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    state.metrics.observe(
        method.as_str(),
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_a_fixed_set() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("OPTIONS"), "OPTIONS");
        assert_eq!(method_label("get"), "OTHER");
        assert_eq!(method_label("X-ATTACK-123"), "OTHER");
        let m = Metrics::default();
        for i in 0..100 {
            m.observe(&format!("M{i}"), "unmatched", 405, 0.001);
        }
        let text = m.render();
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("paysecure_http_requests_total{"))
                .count(),
            1,
            "{text}"
        );
        assert!(text.contains("method=\"OTHER\""));
    }

    #[test]
    fn card_shaped_runs_in_paths_are_masked() {
        let cases = [
            (
                "/v2/cards/4111111111111111/pan",
                "/v2/cards/****************/pan",
            ),
            (
                "/v2/cards/4111-1111-1111-1111",
                "/v2/cards/****-****-****-****",
            ),
            (
                "/x/4111%201111%201111%201111",
                "/x/****%20****%20****%20****",
            ),
            ("/x/4111 1111 1111 1111", "/x/**** **** **** ****"),
            ("/x/%34111111111111111", "/x/****************"),
            ("/x/abc371449635398431def", "/x/abc***************def"),
            ("/x/123456789012", "/x/************"),
            // 11 digits: not card-shaped.
            ("/x/12345678901", "/x/12345678901"),
            // Runs broken by two separators do not join.
            ("/x/411111--1111111111", "/x/411111--1111111111"),
            (
                "/v2/cards/tok_0123456789abcdef01234567/pin",
                "/v2/cards/tok_0123456789abcdef01234567/pin",
            ),
            // Not a token: a PAN glued to the prefix.
            (
                "/v2/cards/tok_4111111111111111",
                "/v2/cards/tok_****************",
            ),
            ("/v3/token/lookup", "/v3/token/lookup"),
            ("/", "/"),
            ("%3", "%3"),
        ];
        for (path, want) in cases {
            assert_eq!(redact_path(path), want, "{path}");
        }
    }
}
