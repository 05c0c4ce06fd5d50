//! HTTP for the Get CVV2 envelope API: the `NISrvRequest` /
//! `NISrvResponse` JSON envelope used by IVR and self-service channels.
//! Every answer, failures included, is the envelope: the header echoed,
//! `exception_details` with `status` `S` or `F`, and the body.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::domain::error::{Code, Error};
use crate::domain::get_cvv2::CardIdentifier;
use crate::http::error::ApiError;
use crate::http::extract::Auth;
use crate::http::paysecure::seal;
use crate::http::router::AppState;
use crate::util::ids::random_id;
use crate::util::time::{rfc3339, UnixTime};

/// `application_name` in `exception_details`.
pub const APPLICATION_NAME: &str = "PAYSECURE";

/// One failure of the envelope API: HTTP status, `error_code`, description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NiError {
    status: StatusCode,
    code: &'static str,
    description: &'static str,
}

const fn ni(status: StatusCode, code: &'static str, description: &'static str) -> NiError {
    NiError {
        status,
        code,
        description,
    }
}

/// The `error_code`s this API answers (`000` is success).
pub const INVALID_REQUEST: NiError = ni(StatusCode::BAD_REQUEST, "100", "Invalid request");
const CARD_NOT_FOUND: NiError = ni(StatusCode::BAD_REQUEST, "101", "Card not found");
const EXPIRY_MISMATCH: NiError = ni(
    StatusCode::BAD_REQUEST,
    "102",
    "Expiry date does not match the card",
);
const INVALID_SESSION: NiError = ni(StatusCode::BAD_REQUEST, "103", "Invalid Session-Id");
const PLAIN_NOT_ALLOWED: NiError = ni(
    StatusCode::FORBIDDEN,
    "104",
    "CVV2 in clear is not allowed for this bank: send a Session-Id",
);
const NO_EXPIRY: NiError = ni(
    StatusCode::BAD_REQUEST,
    "105",
    "The card has no expiry date",
);
const UNAUTHORIZED: NiError = ni(StatusCode::UNAUTHORIZED, "401", "Unauthorized");
const FORBIDDEN: NiError = ni(StatusCode::FORBIDDEN, "403", "Forbidden");
const RATE_LIMITED: NiError = ni(
    StatusCode::TOO_MANY_REQUESTS,
    "429",
    "Too many failed authentications",
);
const INTERNAL: NiError = ni(StatusCode::INTERNAL_SERVER_ERROR, "999", "Internal error");
const METHOD_NOT_ALLOWED: NiError = ni(
    StatusCode::METHOD_NOT_ALLOWED,
    "405",
    "Method not allowed: use POST",
);
const PAYLOAD_TOO_LARGE: NiError = ni(
    StatusCode::PAYLOAD_TOO_LARGE,
    "413",
    "Request body too large",
);
const UNSUPPORTED_MEDIA_TYPE: NiError = ni(
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    "415",
    "Content-Type must be application/json",
);
/// The document's 502: an answer from the card data store that cannot be used.
const BAD_GATEWAY: NiError = ni(StatusCode::BAD_GATEWAY, "502", "Bad gateway");
/// The document's 503: the card data store (database, with the sealed keys) is
/// unavailable.
const UNAVAILABLE: NiError = ni(
    StatusCode::SERVICE_UNAVAILABLE,
    "503",
    "Service unavailable",
);
/// The document's 504: the request did not complete within the deadline.
const GATEWAY_TIMEOUT: NiError = ni(StatusCode::GATEWAY_TIMEOUT, "504", "Gateway timeout");
/// The document's 596: no such service under `/pin-management/`.
const SERVICE_NOT_FOUND: NiError = ni(status_596(), "596", "Service not found");

const fn status_596() -> StatusCode {
    match StatusCode::from_u16(596) {
        Ok(s) => s,
        Err(_) => StatusCode::NOT_FOUND,
    }
}

/// The largest request body this route reads (an envelope is a few hundred
/// bytes); larger ones answer 413 in the envelope.
pub const ENVELOPE_BODY_LIMIT: usize = 16 * 1024;

/// Header fields, their maximum lengths, and whether they are required.
const HEADER: [(&str, usize, bool); 8] = [
    ("msg_id", 12, true),
    ("msg_type", 12, false),
    ("msg_function", 50, false),
    ("src_application", 10, true),
    ("target_application", 10, true),
    ("timestamp", 30, false),
    ("tracking_id", 30, false),
    ("bank_id", 4, true),
];

/// The header fields echoed in the answer.
const ECHOED: [&str; 4] = ["msg_id", "src_application", "target_application", "bank_id"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "NISrvRequest")]
    request: RequestNode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestNode {
    request_get_cvv2: Request,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    header: Map<String, Value>,
    body: Body,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    card_identifier_id: String,
    card_identifier_type: String,
    expiry_date: String,
}

/// A process-wide instance id (at most 10 characters), for `instance_id`.
fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| random_id::<3>("ps-").unwrap_or_else(|_| "ps-000000".to_owned()))
}

/// `454545XXXXXX1234`: first six and last four kept, `X` between.
pub fn mask_identifier(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    let keep_head = if n > 10 { 6 } else { 0 };
    let keep_tail = n.min(4).min(n.saturating_sub(1));
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_head || i >= n - keep_tail {
                *c
            } else {
                'X'
            }
        })
        .collect()
}

fn now_text() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{}.{:03}+00:00",
        rfc3339(UnixTime(t.unix_timestamp())).trim_end_matches('Z'),
        t.millisecond()
    )
}

/// The answer envelope. `header` is what could be read of the request's.
fn answer(
    header: &Map<String, Value>,
    outcome: Result<Map<String, Value>, (NiError, Map<String, Value>)>,
) -> Response {
    let mut h = Map::new();
    for name in ["msg_id", "msg_type"] {
        h.insert(
            name.into(),
            header
                .get(name)
                .cloned()
                .unwrap_or(Value::String(String::new())),
        );
    }
    if h.get("msg_type").and_then(Value::as_str) == Some("") {
        h.insert("msg_type".into(), "TRANSACTION".into());
    }
    h.insert("msg_function".into(), "REP_GET_CVV2".into());
    for name in ["src_application", "target_application"] {
        h.insert(
            name.into(),
            header
                .get(name)
                .cloned()
                .unwrap_or(Value::String(String::new())),
        );
    }
    h.insert("timestamp".into(), now_text().into());
    h.insert(
        "bank_id".into(),
        header
            .get("bank_id")
            .cloned()
            .unwrap_or(Value::String(String::new())),
    );
    h.insert("instance_id".into(), instance_id().into());
    debug_assert!(ECHOED.iter().all(|k| h.contains_key(*k)));
    let (status, error, body) = match outcome {
        Ok(body) => (StatusCode::OK, None, body),
        Err((e, body)) => (e.status, Some(e), body),
    };
    let exception = json!({
        "application_name": APPLICATION_NAME,
        "date_time": now_text(),
        "status": if error.is_none() { "S" } else { "F" },
        "error_code": error.map_or("000", |e| e.code),
        "error_description": error.map_or("Success", |e| e.description),
    });
    let doc = json!({
        "NISrvResponse": {
            "response_get_cvv2": {
                "header": Value::Object(h),
                "exception_details": exception,
                "body": Value::Object(body),
            }
        }
    });
    let mut res = (status, Json(doc)).into_response();
    res.extensions_mut()
        .insert(crate::http::error::OwnErrorBody);
    res
}

fn from_api(e: &ApiError) -> NiError {
    match e.status() {
        StatusCode::UNAUTHORIZED => UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS => RATE_LIMITED,
        StatusCode::FORBIDDEN => FORBIDDEN,
        StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
        StatusCode::BAD_REQUEST if e.code() == Code::InvalidSessionId => INVALID_SESSION,
        StatusCode::BAD_REQUEST => INVALID_REQUEST,
        _ => INTERNAL,
    }
}

fn from_domain(e: Error) -> NiError {
    match e {
        Error::CardNotFound => CARD_NOT_FOUND,
        Error::BadRequest {
            code: Code::ExpiryMismatch,
            ..
        } => EXPIRY_MISMATCH,
        Error::Conflict {
            code: Code::NoExpiry,
            ..
        } => NO_EXPIRY,
        Error::Forbidden(_) => FORBIDDEN,
        Error::Unauthenticated => UNAUTHORIZED,
        Error::InvalidSession => INVALID_SESSION,
        Error::Storage(e) if e.is_unavailable() => {
            tracing::error!(error = %e, detail = ?e, "card data store unavailable");
            UNAVAILABLE
        }
        Error::Storage(e) if e.is_bad_answer() => {
            tracing::error!(error = %e, detail = ?e, "unusable answer from the card data store");
            BAD_GATEWAY
        }
        e @ (Error::Storage(_) | Error::Crypto(_)) => {
            tracing::error!(error = %e, detail = ?e, "internal error");
            INTERNAL
        }
        _ => INVALID_REQUEST,
    }
}

/// Reads the header and checks it: lengths, required fields, `msg_function`.
fn check_header(header: &Map<String, Value>) -> bool {
    HEADER
        .iter()
        .all(|(name, max, required)| match header.get(*name) {
            None | Some(Value::Null) => !required,
            Some(Value::String(s)) => {
                s.chars().count() <= *max
                    && !(*required && s.is_empty())
                    && (*name != "msg_function" || s == "REQ_GET_CVV2")
                    && (*name != "msg_type" || s == "TRANSACTION")
            }
            Some(_) => false,
        })
        && header.keys().all(|k| HEADER.iter().any(|(n, ..)| n == k))
}

fn yymm_ok(s: &str) -> bool {
    s.len() == 4
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.get(2..)
            .and_then(|m| m.parse::<u8>().ok())
            .is_some_and(|m| (1..=12).contains(&m))
}

/// A Get CVV2 request that passed every check that needs neither the
/// database nor a key: the envelope's shape, the header, the identifier and
/// the expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRequest {
    /// `card_identifier_id`: 1 to 32 characters.
    pub card_identifier_id: String,
    /// `CONTRACT_NUMBER` or `EXID`.
    pub card_identifier_type: String,
    /// `YYMM`.
    pub expiry_date: String,
}

impl CheckedRequest {
    /// The card the request names.
    pub fn identifier(&self) -> CardIdentifier<'_> {
        if self.card_identifier_type == "EXID" {
            CardIdentifier::Exid(&self.card_identifier_id)
        } else {
            CardIdentifier::ContractNumber(&self.card_identifier_id)
        }
    }
}

/// What [`parse_request`] makes of a request body.
#[derive(Debug, Clone)]
pub struct ParsedRequest {
    /// The request's header as far as it could be read (echoed in the
    /// answer even when the request is refused).
    pub header: Map<String, Value>,
    /// The body fields echoed in the answer (identifier masked); empty when
    /// the envelope or its header is not valid.
    pub echo: Map<String, Value>,
    /// The checked request, or `INVALID_REQUEST` (error code 100).
    pub checked: Result<CheckedRequest, NiError>,
}

/// The pure first step of Get CVV2: parses and checks the envelope of
/// untrusted bytes (no I/O, no keys). The handler authenticates the caller
/// before it acts on the result; public for the fuzz targets.
pub fn parse_request(body: &[u8]) -> ParsedRequest {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    // What can be echoed even from a request that is not valid.
    let header = parsed
        .as_ref()
        .and_then(|v| v.pointer("/NISrvRequest/request_get_cvv2/header"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut echo = Map::new();
    let checked = check_request(parsed, &mut echo);
    ParsedRequest {
        header,
        echo,
        checked,
    }
}

fn check_request(
    parsed: Option<Value>,
    echo: &mut Map<String, Value>,
) -> Result<CheckedRequest, NiError> {
    let envelope = parsed
        .and_then(|v| serde_json::from_value::<Envelope>(v).ok())
        .ok_or(INVALID_REQUEST)?;
    let req = envelope.request.request_get_cvv2;
    if !check_header(&req.header) {
        return Err(INVALID_REQUEST);
    }
    let b = req.body;
    echo.insert(
        "card_identifier_id".into(),
        mask_identifier(&b.card_identifier_id).into(),
    );
    echo.insert(
        "card_identifier_type".into(),
        b.card_identifier_type.clone().into(),
    );
    echo.insert("expiry_date".into(), b.expiry_date.clone().into());
    let id_ok = !b.card_identifier_id.is_empty()
        && b.card_identifier_id.chars().count() <= 32
        && matches!(b.card_identifier_type.as_str(), "CONTRACT_NUMBER" | "EXID");
    if !id_ok || !yymm_ok(&b.expiry_date) {
        return Err(INVALID_REQUEST);
    }
    Ok(CheckedRequest {
        card_identifier_id: b.card_identifier_id,
        card_identifier_type: b.card_identifier_type,
        expiry_date: b.expiry_date,
    })
}

/// Get CVV2 (the PIN Management Get CVV2 document). `CONTRACT_NUMBER` is the card number itself (12 to
/// 19 digits, found through the keyed PAN index) or the card's token;
/// `EXID` the external id given at issue. Every failure is the
/// `NISrvResponse` envelope. Bearer authentication (the bank's API key, or an
/// ephemeral key with scope `cvv2` for the card). With a `Session-Id` header
/// (recommended) the CVV2 comes back as `{ data, iv }` under the session
/// key; without one, in clear only if the bank allows it (`paysecure-server
/// tenant allow-plain-cvv2 TENANT true`), else 403 with `error_code` 104.
#[utoipa::path(post, path = "/pin-management/v2/cvv2", tag = "card data",
    request_body(content = Value, description = "{\"NISrvRequest\":{\"request_get_cvv2\":{\"header\":{...},\"body\":{...}}}}"),
    responses((status = 200, description = "NISrvResponse, exception_details.status S"),
              (status = 400, description = "status F; error_code 100 invalid request, 101 card not found, 102 expiry mismatch, 103 invalid Session-Id, 105 no expiry"),
              (status = 401, description = "error_code 401"),
              (status = 403, description = "error_code 104 (clear CVV2 not allowed) or 403"),
              (status = 405, description = "error_code 405: a method other than POST (Allow: POST)"),
              (status = 413, description = "error_code 413: body over 16 KiB"),
              (status = 415, description = "error_code 415: Content-Type not application/json"),
              (status = 429, description = "error_code 429"),
              (status = 500, description = "error_code 999"),
              (status = 502, description = "error_code 502: unusable answer from the card data store"),
              (status = 503, description = "error_code 503: the card data store (database, sealed keys) unavailable"),
              (status = 504, description = "error_code 504: not answered within the deadline (10 s)")))]
async fn get_cvv2(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // A body over the route's limit, or one that cannot be read, is answered
    // in the envelope (nothing of it can be echoed).
    let body = match axum::body::to_bytes(body, ENVELOPE_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return answer(&Map::new(), Err((PAYLOAD_TOO_LARGE, Map::new()))),
    };
    let ParsedRequest {
        header,
        echo,
        checked,
    } = parse_request(&body);
    let fail = |e: NiError, out: &Map<String, Value>| answer(&header, Err((e, out.clone())));
    let Auth(principal) = match auth {
        Ok(a) => a,
        Err(e) => return fail(from_api(&e), &Map::new()),
    };
    if !is_json(&headers) {
        return fail(UNSUPPORTED_MEDIA_TYPE, &Map::new());
    }
    let checked = match checked {
        Ok(c) => c,
        Err(e) => return fail(e, &echo),
    };
    // Past the deadline (the card data store too slow), 504 in the envelope.
    let work = respond(&state, &principal, &headers, &checked, echo.clone());
    match tokio::time::timeout(state.service.envelope_deadline(), work).await {
        Ok(Ok(out)) => answer(&header, Ok(out)),
        Ok(Err(e)) => fail(e, &echo),
        Err(_) => {
            tracing::error!("Get CVV2 envelope: deadline exceeded");
            fail(GATEWAY_TIMEOUT, &echo)
        }
    }
}

/// `Content-Type: application/json` (parameters such as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The work of an authenticated, well-formed request: the body fields of
/// the answer, or the failure.
async fn respond(
    state: &AppState,
    principal: &crate::domain::service::Principal,
    headers: &HeaderMap,
    checked: &CheckedRequest,
    mut out: Map<String, Value>,
) -> Result<Map<String, Value>, NiError> {
    // Authorize the card (credential, scope, existence, expiry) before
    // any RSA work; then decide how the CVV2 travels. The session id is
    // opened (and used up) only for an authorized, valid request.
    let grant = state
        .service
        .grant_envelope_cvv2(principal, checked.identifier(), &checked.expiry_date)
        .await
        .map_err(from_domain)?;
    let session = match crate::http::extract::session_id_header(headers) {
        Ok(Some(sid)) => Some(
            state
                .service
                .open_session(&grant, &sid)
                .await
                .map_err(from_domain)?,
        ),
        Ok(None) => {
            if state
                .service
                .allows_plain_cvv2(principal.tenant_id())
                .await
                .map_err(from_domain)?
            {
                None
            } else {
                return Err(PLAIN_NOT_ALLOWED);
            }
        }
        Err(_) => return Err(INVALID_SESSION),
    };
    let cvv2 = state.service.cvv2(&grant).await.map_err(from_domain)?;
    let value = match &session {
        Some(s) => {
            let enc = seal(s, &cvv2).map_err(|_| INTERNAL)?;
            json!({"data": enc.data, "iv": enc.iv})
        }
        None => Value::String(cvv2.to_string()),
    };
    out.insert("cvv2".into(), value);
    // The order of the Get CVV2 specification: identifier, type, cvv2, expiry.
    let expiry = out.remove("expiry_date").unwrap_or_default();
    out.insert("expiry_date".into(), expiry);
    Ok(out)
}

/// Any other method on the route: 405 in the envelope, with `Allow: POST`.
async fn wrong_method() -> Response {
    let mut res = answer(&Map::new(), Err((METHOD_NOT_ALLOWED, Map::new())));
    res.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("POST"),
    );
    res
}

/// Any other path under `/pin-management/`: the document's 596.
async fn no_such_service() -> Response {
    answer(&Map::new(), Err((SERVICE_NOT_FOUND, Map::new())))
}

/// Middleware (outside the router's body limit and request timeout, inside
/// the generic error envelope): a failure under `/pin-management/` that no
/// handler answered in the envelope (the global body limit's 413, the
/// request timeout's 408) is answered in the envelope.
pub(crate) async fn envelope_failures(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with("/pin-management/") {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res
            .extensions()
            .get::<crate::http::error::OwnErrorBody>()
            .is_some()
    {
        return res;
    }
    let e = match status {
        StatusCode::PAYLOAD_TOO_LARGE => PAYLOAD_TOO_LARGE,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => GATEWAY_TIMEOUT,
        StatusCode::METHOD_NOT_ALLOWED => METHOD_NOT_ALLOWED,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => UNSUPPORTED_MEDIA_TYPE,
        StatusCode::NOT_FOUND => SERVICE_NOT_FOUND,
        StatusCode::TOO_MANY_REQUESTS => RATE_LIMITED,
        StatusCode::UNAUTHORIZED => UNAUTHORIZED,
        StatusCode::FORBIDDEN => FORBIDDEN,
        StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
        s if s.is_client_error() => INVALID_REQUEST,
        _ => INTERNAL,
    };
    answer(&Map::new(), Err((e, Map::new())))
}

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/pin-management/v2/cvv2",
            post(get_cvv2).fallback(wrong_method),
        )
        .route("/pin-management/{*rest}", any(no_such_service))
}

/// The OpenAPI path of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_cvv2))]
pub struct NiApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_identifiers() {
        assert_eq!(mask_identifier("4545451234561234"), "454545XXXXXX1234");
        assert_eq!(
            mask_identifier("99984100148297467162"),
            "999841XXXXXXXXXX7162"
        );
        assert_eq!(mask_identifier("AB12345"), "XXX2345");
        assert_eq!(mask_identifier("1234"), "X234");
        assert_eq!(mask_identifier(""), "");
    }

    #[test]
    fn expiry_and_header_checks() {
        assert!(yymm_ok("2701"));
        for bad in ["2713", "2700", "270", "27a1", "202701"] {
            assert!(!yymm_ok(bad), "{bad}");
        }
        let ok: Map<String, Value> = serde_json::from_str(
            r#"{"msg_id":"223001","msg_type":"TRANSACTION","msg_function":"REQ_GET_CVV2","src_application":"IVR","target_application":"WAY4","timestamp":"2020-07-20T10:49:02.366+04:00","tracking_id":"223001","bank_id":"NIC"}"#,
        )
        .unwrap();
        assert!(check_header(&ok));
        for (k, v) in [
            ("msg_id", json!("1234567890123")),
            ("bank_id", json!("NICXX")),
            ("msg_function", json!("REQ_GET_PIN")),
            ("src_application", json!("")),
            ("extra", json!("x")),
            ("msg_id", json!(5)),
        ] {
            let mut h = ok.clone();
            h.insert(k.into(), v);
            assert!(!check_header(&h), "{k}");
        }
        let mut h = ok.clone();
        h.remove("bank_id");
        assert!(!check_header(&h));
    }
}
