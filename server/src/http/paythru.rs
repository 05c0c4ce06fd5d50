//! HTTP for the Paythru Card Tokenisation API v3 (form bodies, XML or JSON
//! answers, its own `errorCode` error format) and the Client POST capture
//! endpoint the cardholder's browser calls. Handlers only parse, call
//! [`crate::domain::paythru`] and render.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tower_http::cors::{Any, CorsLayer};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::domain::error::Error;
use crate::domain::paythru::{self, CardKeyDetail, Failure, Method, Outcome, PaythruError};
use crate::http::error::{ApiError, OwnErrorBody};
use crate::http::extract::{ClientIp, JsonBody};
use crate::http::router::AppState;
use crate::util::ids::random_bytes;

// ------------------------------------------------------------------ Paythru

/// The answer encoding of the last URL segment (§2.2; XML when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Xml,
    Json,
}

fn xml_escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// A response tree, rendered as the Paythru v3 XML or JSON answer.
enum Node {
    /// Text; `None` is JSON `null` (an empty element in XML).
    Text(Option<String>),
    /// A JSON number (`cardUniqueIdentifier`).
    Number(u64),
    /// An element / object with ordered children.
    Map(Vec<(String, Node)>),
    /// Repeated `item` elements in XML; an object keyed "0", "1", ... in JSON.
    List(&'static str, Vec<Node>),
}

impl Node {
    fn text(s: impl Into<String>) -> Node {
        Node::Text(Some(s.into()))
    }

    fn xml(&self, name: &str, out: &mut String) {
        let open = |out: &mut String, inner: &dyn Fn(&mut String)| {
            let mut body = String::new();
            inner(&mut body);
            if body.is_empty() {
                out.push_str(&format!("<{name}/>"));
            } else {
                out.push_str(&format!("<{name}>{body}</{name}>"));
            }
        };
        match self {
            Node::Text(t) => open(out, &|b| xml_escape(b, t.as_deref().unwrap_or_default())),
            Node::Number(n) => open(out, &|b| b.push_str(&n.to_string())),
            Node::Map(children) => open(out, &|b| {
                for (k, v) in children {
                    v.xml(k, b);
                }
            }),
            Node::List(item, items) => open(out, &|b| {
                for v in items {
                    v.xml(item, b);
                }
            }),
        }
    }

    fn json(&self) -> Value {
        match self {
            Node::Text(t) => t.clone().map_or(Value::Null, Value::String),
            Node::Number(n) => Value::from(*n),
            Node::Map(children) => Value::Object(
                children
                    .iter()
                    .map(|(k, v)| (k.clone(), v.json()))
                    .collect::<Map<_, _>>(),
            ),
            Node::List(_, items) => Value::Object(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v.json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

fn render(encoding: Encoding, status: StatusCode, fields: Vec<(String, Node)>) -> Response {
    let root = Node::Map(fields);
    let (content_type, body) = match encoding {
        Encoding::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            root.xml("paythruResponse", &mut out);
            ("application/xml; charset=utf-8", out)
        }
        Encoding::Json => ("application/json", root.json().to_string()),
    };
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The body is already in the API's own error format.
    res.extensions_mut().insert(OwnErrorBody);
    res
}

fn detail_node(d: CardKeyDetail) -> Node {
    let texts = |list: Vec<(&'static str, String)>| {
        Node::Map(
            list.into_iter()
                .map(|(k, v)| (k.to_owned(), Node::text(v)))
                .collect(),
        )
    };
    Node::Map(vec![
        ("cardKey".into(), Node::text(d.card_key)),
        (
            "cardUniqueIdentifier".into(),
            Node::Number(d.card_unique_identifier),
        ),
        (
            "merchantCustomerReference".into(),
            Node::Text(d.merchant_customer_reference),
        ),
        (
            "enabled".into(),
            Node::text(if d.enabled { "1" } else { "0" }),
        ),
        (
            "card".into(),
            Node::Map(
                d.card
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Node::Text(v)))
                    .collect(),
            ),
        ),
        ("customer".into(), texts(d.customer)),
        ("cardholderAddress".into(), texts(d.cardholder_address)),
    ])
}

fn error_response(encoding: Encoding, e: PaythruError) -> Response {
    // An 8-digit trace code, logged with the request so support can find it.
    let trace = random_bytes::<4>()
        .map(|b| u32::from_be_bytes(b) % 90_000_000 + 10_000_000)
        .unwrap_or(10_000_000);
    tracing::info!(
        error_code = e.code,
        trace_code = trace,
        "paythru request refused"
    );
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    render(
        encoding,
        status,
        vec![
            ("errorCode".into(), Node::text(e.code.to_string())),
            ("traceCode".into(), Node::text(trace.to_string())),
            ("errorMessage".into(), Node::text(e.message.into_owned())),
        ],
    )
}

/// Whether a `Content-Type` is the form encoding of §2.1: the standard
/// `application/x-www-form-urlencoded`, or the document's own spelling
/// `application/form-url-encoded`; parameters (`charset`) allowed.
fn is_form(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/x-www-form-urlencoded" | "application/form-url-encoded"
    )
}

/// The answer encoding a path asks for: JSON when its last segment is
/// `json`, else XML (§2.2's default).
fn encoding_of_path(path: &str) -> Encoding {
    match path.trim_end_matches('/').rsplit('/').next() {
        Some("json") => Encoding::Json,
        _ => Encoding::Xml,
    }
}

/// Whether `path` is under the Paythru API's prefix (`/v{n}/token`, any
/// version), whose failures must be in its own error format.
pub fn is_paythru_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/v") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let after = rest.get(digits..).unwrap_or_default();
    digits > 0 && (after == "/token" || after.starts_with("/token/"))
}

/// A path under the Paythru prefix that names no method (wrong version,
/// trailing slash, extra segments): 103 in the requested encoding. The
/// router's fallback calls it for every unmatched path under the prefix.
pub fn unknown_path(path: &str) -> Response {
    error_response(encoding_of_path(path), PaythruError::of(103))
}

/// A refusal made before the handler ran (413 body too large, 408
/// timeout) for a path under the Paythru prefix: 107 "Malformed request"
/// in the API's format, the status kept.
pub fn framework_error(path: &str, status: StatusCode) -> Response {
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Malformed request: the body is larger than 64 KiB",
        StatusCode::REQUEST_TIMEOUT => "Malformed request: the request took too long",
        _ => "Malformed request",
    };
    let error = PaythruError {
        code: 107,
        message: std::borrow::Cow::Borrowed(message),
    };
    let mut res = error_response(encoding_of_path(path), error);
    *res.status_mut() = status;
    res
}

/// A Paythru method URL with an HTTP method other than POST (§2.0: "HTTP
/// POST method requests"): 103 in the API's format, with the status HTTP
/// requires for it (405, RFC 9110 §15.5.6) and `Allow: POST`.
async fn wrong_method(uri: Uri) -> Response {
    let mut res = unknown_path(uri.path());
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

async fn paythru(
    state: &AppState,
    method: &str,
    encoding: Option<&str>,
    client: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let encoding_parsed = match encoding {
        None | Some("xml") => Ok(Encoding::Xml),
        Some("json") => Ok(Encoding::Json),
        Some(_) => Err(()),
    };
    let Ok(encoding) = encoding_parsed else {
        return error_response(Encoding::Xml, PaythruError::of(104));
    };
    let method = match method {
        "createSession" => Some(Method::CreateSession),
        m => Method::from_url(m),
    };
    let Some(method) = method else {
        return error_response(encoding, PaythruError::of(103));
    };
    // §2.1: the parameters travel form-encoded; a body in any other
    // encoding carries none that the API can read.
    if !is_form(headers) {
        return error_response(encoding, PaythruError::of(101));
    }
    if std::str::from_utf8(body).is_err() {
        return error_response(encoding, PaythruError::of(107));
    }
    let params: Vec<(String, Zeroizing<String>)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Zeroizing::new(v.into_owned())))
        .collect();
    match state
        .service
        .paythru()
        .handle(method, &params, client)
        .await
    {
        Ok(Outcome::Ok) => render(
            encoding,
            StatusCode::OK,
            vec![("result".into(), Node::text("OK"))],
        ),
        Ok(Outcome::Cards(cards)) => render(
            encoding,
            StatusCode::OK,
            vec![(
                "cardKeyDetails".into(),
                Node::List(
                    "cardKeyDetail",
                    cards.into_iter().map(detail_node).collect(),
                ),
            )],
        ),
        Ok(Outcome::Session {
            session_key,
            expires_at,
        }) => render(
            encoding,
            StatusCode::OK,
            vec![
                ("sessionKey".into(), Node::text(session_key)),
                (
                    "expiresAt".into(),
                    Node::text(crate::util::time::rfc3339(expires_at)),
                ),
            ],
        ),
        Err(Failure::Api(e)) => error_response(encoding, e),
        Err(Failure::Internal(e)) => ApiError::from(e).into_response(),
    }
}

/// Paythru Card Tokenisation API v3 (the Paythru v3 document): `lookup`, `enable`,
/// `disable`, `delete`, `updateCardKeyDetails`, `create`,
/// `tokeniseSessionKey`. Form body with `apiKey`, `apiPassword` and
/// `shaSignature` (SHA-512 of the sorted `name=value` + shaKey); answers in
/// XML (`paythruResponse` root) or JSON. Errors: `errorCode` (§5.1),
/// `traceCode`, `errorMessage`, with status 400, 401 or 403. Replay
/// profile (optional unless the credentials or tenant require it): signed
/// `requestTime` (Unix seconds, ±300 s) and `requestNonce` (16-64 URL-safe
/// characters, once per apiKey).
#[utoipa::path(post, path = "/v3/token/{method}/{encoding}", tag = "paythru",
    params(("method" = String, Path, description = "lookup | enable | disable | delete | updateCardKeyDetails | create | tokeniseSessionKey"),
           ("encoding" = String, Path, description = "xml | json (optional segment; XML when absent)")),
    request_body(content_type = "application/x-www-form-urlencoded", content = String),
    responses((status = 200, description = "paythruResponse (XML) or JSON object"),
              (status = 400, description = "errorCode/traceCode/errorMessage: 101 (no form body: Content-Type must be application/x-www-form-urlencoded), 103 (unknown method, other HTTP method than POST, wrong version, extra path segments), 104, 107, 108, 109, 125, 144, 146-148, 150-152"),
              (status = 401, description = "102 credentials, 123 signature, 124 request time, 126 request nonce"),
              (status = 403, description = "105, 106, 121, 122, 149")))]
async fn paythru_method(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    paythru(&state, &method, None, &client, &headers, &body).await
}

async fn paythru_method_encoded(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Path((method, encoding)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    paythru(&state, &method, Some(&encoding), &client, &headers, &body).await
}

/// Opens a Client POST session (the first step of `tokeniseSessionKey`):
/// signed like every Paythru request (optional `merchantCustomerReference`);
/// answers `sessionKey` and `expiresAt` (15 minutes). The merchant's page
/// hands the session key to the browser, which posts the card to
/// `/v3/clientpost/card` (with `sessionKey` in the body).
#[utoipa::path(post, path = "/v3/clientpost/session/{encoding}", tag = "paythru",
    params(("encoding" = String, Path, description = "xml | json (optional segment)")),
    request_body(content_type = "application/x-www-form-urlencoded", content = String),
    responses((status = 200, description = "sessionKey, expiresAt")))]
async fn clientpost_session(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    paythru(&state, "createSession", None, &client, &headers, &body).await
}

async fn clientpost_session_encoded(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Path(encoding): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    paythru(
        &state,
        "createSession",
        Some(&encoding),
        &client,
        &headers,
        &body,
    )
    .await
}

/// What the capturing page may show of the card it sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapturedSummary {
    /// e.g. `444433******1111`.
    pub masked_pan: String,
    /// 1..=12.
    pub expiry_month: i64,
    /// Four digits.
    pub expiry_year: i64,
    /// e.g. `VISA`.
    pub brand: String,
}

impl From<paythru::CapturedSummary> for CapturedSummary {
    fn from(c: paythru::CapturedSummary) -> Self {
        CapturedSummary {
            masked_pan: c.masked_pan,
            expiry_month: c.expiry_month,
            expiry_year: c.expiry_year,
            brand: c.brand,
        }
    }
}

/// The browser's card capture for a Client POST session.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureBody {
    /// The session key the merchant opened (in the body, never in a URL:
    /// URLs end up in logs and histories).
    #[schema(value_type = String)]
    pub session_key: Zeroizing<String>,
    /// paysecure-wasm `encryptCard(...)` output.
    pub encrypted_card: String,
}

/// The capture's answer: what the page may show.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaptureResponse {
    /// `OK`.
    pub result: String,
    /// The masked card.
    pub card: CapturedSummary,
}

/// Client POST: the cardholder's browser sends the card it encrypted with
/// paysecure-wasm `encryptCard` for a session the merchant opened. No
/// credentials: the session key is the capability; one card per session.
/// Cross-origin (CORS `*`). Unknown session keys count as failed
/// authentications of the address (429 while it is blocked); a valid
/// session key passes the address's block.
#[utoipa::path(post, path = "/v3/clientpost/card", tag = "paythru",
    request_body = CaptureBody,
    responses((status = 200, body = CaptureResponse), (status = 400, body = crate::http::error::ErrorEnvelope),
              (status = 429, body = crate::http::error::ErrorEnvelope)))]
async fn clientpost_card(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<CaptureBody>,
) -> Result<Json<CaptureResponse>, ApiError> {
    match state
        .service
        .paythru()
        .capture_card(&body.session_key, &body.encrypted_card)
        .await
    {
        Ok(card) => Ok(Json(CaptureResponse {
            result: "OK".into(),
            card: card.into(),
        })),
        // An unknown session key, and a card that does not open, count as
        // failed attempts of the address (the session is used up either way).
        Err(e @ (Error::BadRequest { .. } | Error::UndecryptableValue)) => {
            match state.service.failed_authentication(&client).await? {
                Some(secs) => Err(ApiError::rate_limited(secs)),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The routes of the Paythru API and its Client POST capture.
pub fn routes() -> Router<AppState> {
    let capture = Router::new()
        // OPTIONS is routed so that the CORS layer answers the preflight.
        .route(
            "/v3/clientpost/card",
            post(clientpost_card).options(|| async { StatusCode::NO_CONTENT }),
        )
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([HttpMethod::POST])
                .allow_headers([header::CONTENT_TYPE]),
        );
    Router::new()
        .route(
            "/v3/token/{method}",
            post(paythru_method).fallback(wrong_method),
        )
        .route(
            "/v3/token/{method}/{encoding}",
            post(paythru_method_encoded).fallback(wrong_method),
        )
        .route(
            "/v3/clientpost/session",
            post(clientpost_session).fallback(wrong_method),
        )
        .route(
            "/v3/clientpost/session/{encoding}",
            post(clientpost_session_encoded).fallback(wrong_method),
        )
        .merge(capture)
}

/// The OpenAPI paths of this module (merged into [`crate::http::router::ApiDoc`]).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(paythru_method, clientpost_session, clientpost_card),
    components(schemas(CaptureBody, CaptureResponse, CapturedSummary)),
    tags((name = "paythru", description = "Paythru Card Tokenisation API v3 (the Paythru v3 document) and its Client POST capture"))
)]
pub struct PaythruApiDoc;
