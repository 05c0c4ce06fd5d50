//! HTTP: routes, request/response shapes, extractors and the error envelope.
//! Handlers only parse, call [`Service`], and map the result.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Path, Query, Request, State,
};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use paysecure_core::{EncryptedValue, Pin, Session, Version};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::Error;
use crate::service::{base64url, rfc3339, CardSummary, IssueCard, Principal, Scope, Service};
use crate::sessions::SessionIdHeader;
use crate::storage::CardFilter;
use crate::telemetry::Metrics;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Per-request time limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    /// The domain.
    pub service: Arc<Service>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
}

// ------------------------------------------------------------------ errors

/// An API error: status, stable code, safe message. The envelope middleware
/// turns it into `{ "error": { "code", "message", "traceId" } }`.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    retry_after: Option<i64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        ApiError {
            status,
            code,
            message,
            retry_after: None,
        }
    }

    fn bad_request(code: &'static str, message: &'static str) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 429 with `Retry-After`, for a Client POST capture from an address
    /// blocked after failed attempts.
    pub(crate) fn rate_limited(secs: i64) -> Self {
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many failed authentications; retry later",
            )
        }
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The safe message.
    pub fn message(&self) -> &'static str {
        self.message
    }
}

/// Marks an error response whose body is already in its API's own format
/// (the Paythru API's `errorCode` answers): the envelope leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorBody;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::BadRequest { code, message } => ApiError::new(S::BAD_REQUEST, code, message),
            Error::InvalidSession => ApiError::new(
                S::BAD_REQUEST,
                "INVALID_SESSION_ID",
                "the session id is not valid",
            ),
            Error::UndecryptableValue => ApiError::new(
                S::BAD_REQUEST,
                "UNDECRYPTABLE_VALUE",
                "an encrypted value could not be decrypted with the session key",
            ),
            Error::Unauthenticated => ApiError::new(
                S::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing or invalid credentials",
            ),
            Error::Forbidden(message) => ApiError::new(S::FORBIDDEN, "FORBIDDEN", message),
            Error::CardNotFound => ApiError::new(S::NOT_FOUND, "CARD_NOT_FOUND", "no such card"),
            Error::TokenNotFound => ApiError::new(S::NOT_FOUND, "TOKEN_NOT_FOUND", "no such token"),
            Error::Conflict { code, message } => ApiError::new(S::CONFLICT, code, message),
            Error::PinBlocked => ApiError::new(
                S::LOCKED,
                "PIN_BLOCKED",
                "the PIN is blocked after too many wrong attempts",
            ),
            Error::Cvv2Blocked => ApiError::new(
                S::LOCKED,
                "CVV2_BLOCKED",
                "CVV2 verification is blocked after too many wrong attempts",
            ),
            Error::RateLimited { retry_after } => ApiError {
                retry_after: Some(i64::try_from(retry_after).unwrap_or(i64::MAX)),
                ..ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    "too many requests; retry later",
                )
            },
            e @ (Error::Storage(_) | Error::Crypto(_)) => {
                // Details to the log only.
                tracing::error!(error = %e, detail = ?e, "internal error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
            }
        }
    }
}

#[derive(Debug, Clone)]
struct ErrorInfo {
    code: &'static str,
    message: &'static str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(ErrorInfo {
            code: self.code,
            message: self.message,
        });
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// The error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorDetail,
}

/// Error details.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable code, e.g. `PIN_BLOCKED`.
    pub code: String,
    /// Explanation; never contains submitted values.
    pub message: String,
    /// The request id (`x-request-id`), for support.
    pub trace_id: String,
}

fn default_error(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("METHOD_NOT_ALLOWED", "method not allowed on this endpoint")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => ("TIMEOUT", "the request took too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UNSUPPORTED_MEDIA_TYPE",
            "the body must be application/json",
        ),
        s if s.is_server_error() => ("INTERNAL", "internal error"),
        _ => ("INVALID_REQUEST", "the request is not valid"),
    }
}

/// Puts every 4xx/5xx response, including the framework's own (404, 405,
/// 413, 408), into the one JSON envelope with the request id.
async fn error_envelope(req: Request, next: Next) -> Response {
    let trace_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.extensions().get::<OwnErrorBody>().is_some()
    {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let (code, message) = parts
        .extensions
        .remove::<ErrorInfo>()
        .map_or_else(|| default_error(status), |i| (i.code, i.message));
    let body = ErrorEnvelope {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
            trace_id,
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
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

// ------------------------------------------------------------------ extractors

/// A JSON body whose rejection is an API error.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large",
            )
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|_| {
            ApiError::bad_request(
                "INVALID_REQUEST",
                "the body is not valid JSON of the expected shape",
            )
        })
    }
}

/// The client's throttle key: its address
/// ([`crate::ratelimit::TrustedProxies::client_address`]:
/// the peer, or from `X-Forwarded-For` when the peer is a trusted proxy),
/// IPv6 aggregated per /64 ([`crate::ratelimit::throttle_key`]).
fn client_key(parts: &Parts, state: &AppState) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(crate::ratelimit::UNKNOWN_PEER, |c| c.0.ip());
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .into_iter()
        .map(HeaderValue::as_bytes);
    let client = state
        .service
        .trusted_proxies()
        .client_address(peer, forwarded);
    crate::ratelimit::throttle_key(client)
}

/// The client's throttle key (see `client_key`): its address from the
/// connection, or from `X-Forwarded-For` only when the connection comes
/// from a trusted proxy; IPv6 as its /64.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_key(parts, state)))
    }
}

/// The card a card-data route names in its path (`/v1|v2/cards/{token}/…`,
/// not the unblock calls), for the per-card rate limit.
async fn card_route_token(parts: &mut Parts, state: &AppState) -> Option<String> {
    let route = parts.extensions.get::<MatchedPath>()?.as_str();
    let card_route = (route.starts_with("/v1/cards/{token}/")
        || route.starts_with("/v2/cards/{token}/"))
        && !route.ends_with("/unblock");
    if !card_route {
        return None;
    }
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .ok()?;
    params
        .iter()
        .find(|(name, _)| *name == "token")
        .map(|(_, v)| v.to_owned())
}

/// The authenticated caller (`Authorization: Bearer <credential>`).
///
/// A valid credential always passes its client's address block (so a bad
/// client behind a shared address locks out nobody else), then the rate
/// limits: per credential, and per card on the card-data routes — before
/// any session id is unwrapped. A missing or unknown credential from a
/// blocked address gets 429 (not counted: it does not extend the block);
/// otherwise it counts as a failure of the address (401).
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credential = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 200);
        let result = match credential {
            Some(c) => state.service.authenticate(c).await,
            None => Err(Error::Unauthenticated),
        };
        match (result, credential) {
            (Ok(p), Some(c)) => {
                crate::telemetry::record_principal(&p);
                state.service.limit_credential(c)?;
                if let Some(token) = card_route_token(parts, state).await {
                    state.service.limit_card(p.tenant_id(), &token)?;
                }
                Ok(Auth(p))
            }
            // No valid credential: always 401, the request's problem is its
            // credential. An address blocked after repeated failures is no
            // longer counted (no write) and is told when to retry; a valid
            // credential is never refused for its address.
            (Ok(_) | Err(Error::Unauthenticated), _) => {
                let client = client_key(parts, state);
                let blocked = state.service.failed_authentication(&client).await?;
                Err(ApiError {
                    retry_after: blocked,
                    ..Error::Unauthenticated.into()
                })
            }
            (Err(e), _) => Err(e.into()),
        }
    }
}

/// The `Session-Id` (and optional `Key-Id`) headers, parsed strictly but
/// not decrypted, and the protocol version of the path (`/v1/`, `/v2/`,
/// `/v3/`). Handlers open it with [`Service::open_session`] only after a
/// grant (see [`crate::sessions`]).
pub struct SessionId(pub SessionIdHeader, pub Version);

fn path_version(path: &str) -> Version {
    if path.starts_with("/v1/") {
        Version::V1
    } else if path.starts_with("/v3/") {
        Version::V3
    } else {
        Version::V2
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = SessionIdHeader::required(&parts.headers)?;
        Ok(SessionId(header, path_version(parts.uri.path())))
    }
}

// ------------------------------------------------------------------ shapes

/// An encrypted value: base64 `data` and `iv` under the session key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Encrypted {
    /// V2/V3: base64(ciphertext || 16-byte GCM tag). V1: base64 AES-CBC ciphertext.
    pub data: String,
    /// base64 of the 16-byte IV.
    pub iv: String,
}

impl From<EncryptedValue> for Encrypted {
    fn from(v: EncryptedValue) -> Self {
        Encrypted {
            data: v.data,
            iv: v.iv,
        }
    }
}

impl From<&Encrypted> for EncryptedValue {
    fn from(v: &Encrypted) -> Self {
        EncryptedValue {
            data: v.data.clone(),
            iv: v.iv.clone(),
        }
    }
}

pub(crate) fn seal(session: &Session, text: &str) -> Result<Encrypted, ApiError> {
    session
        .encrypt(text.as_bytes())
        .map(Encrypted::from)
        .map_err(|_| Error::Crypto("response encryption failed").into())
}

fn open_text(session: &Session, v: &Encrypted) -> Result<secrecy::SecretString, ApiError> {
    session
        .decrypt_string(&v.into())
        .map_err(|_| Error::UndecryptableValue.into())
}

fn open_pin(session: &Session, v: &Encrypted) -> Result<Pin, ApiError> {
    session.decrypt_pin(&v.into()).map_err(|e| match e {
        paysecure_core::Error::InvalidPinBlock(_) | paysecure_core::Error::InvalidPin(_) => {
            ApiError::bad_request(
                "INVALID_PIN_BLOCK",
                "the PIN block is not an ISO 9564 format-2 block of a 4-12 digit PIN",
            )
        }
        _ => Error::UndecryptableValue.into(),
    })
}

/// The issuer's current RSA public key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyResponse {
    /// Send as `Key-Id` (optional) with session ids made for this key.
    pub key_id: String,
    /// `RSA-OAEP-SHA1` (`/v2/public-key`: V2/V3 session ids and card
    /// captures) or `RSAES-PKCS1-v1_5` (`/v1/public-key`: V1 session ids).
    pub algorithm: String,
    /// SPKI PEM.
    pub public_key: String,
    /// The same key as a JWK.
    pub jwk: Jwk,
    /// RFC 3339.
    pub expires_at: String,
}

/// An RSA JWK.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `RSA`.
    pub kty: String,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
    /// `RSA-OAEP`.
    pub alg: String,
    /// Key id.
    pub kid: String,
    /// `enc`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// Get PAN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PanResponse {
    /// Card token.
    pub token: String,
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// 1-12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
}

/// Get CVV2 response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cvv2Response {
    /// Card token.
    pub token: String,
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
}

/// Get PIN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinResponse {
    /// Card token.
    pub token: String,
    /// ISO 9564 format-2 PIN block, encrypted.
    pub pin_block: Encrypted,
}

/// A body carrying a PIN block.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinBlockBody {
    /// ISO 9564 format-2 PIN block, encrypted.
    pub pin_block: Encrypted,
}

/// Set PIN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetPinResponse {
    /// Card token.
    pub token: String,
    /// Always true.
    pub pin_set: bool,
}

/// Verify PIN for a provided PAN.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PanPinBody {
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// ISO 9564 format-2 PIN block, encrypted.
    pub pin_block: Encrypted,
}

/// Verify PIN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinVerifyResponse {
    /// Whether the PIN was right.
    pub verified: bool,
    /// Wrong attempts left before the PIN blocks.
    pub tries_remaining: i64,
}

/// Verify CVV2 of a card.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cvv2Body {
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
}

/// Verify CVV2 for a provided PAN.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PanCvv2Body {
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
}

/// Verify CVV2 response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cvv2VerifyResponse {
    /// Whether the CVV2 was right.
    pub verified: bool,
}

/// PAN to token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenBody {
    /// The PAN, encrypted.
    pub pan: Encrypted,
}

/// PAN to token response. V3 adds the masked details.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// Card token.
    pub token: String,
    /// V3 only.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<CardDto>,
}

/// Reveal response: everything a card-reveal widget shows, in one round trip.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevealResponse {
    /// Card token.
    pub token: String,
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
    /// 1-12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
}

/// A card, masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardDto {
    /// Card token (absent when flattened into a V3 token response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// First 6 and last 4 digits.
    pub masked_pan: String,
    /// Brand.
    pub brand: String,
    /// 1-12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
    /// `ACTIVE` or `TOKENIZED`.
    pub status: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// Name on card.
    pub cardholder_name: Option<String>,
    /// Whether a PIN is set.
    pub pin_set: bool,
    /// Whether the PIN is blocked.
    pub pin_blocked: bool,
    /// RFC 3339.
    pub created_at: String,
}

impl From<CardSummary> for CardDto {
    fn from(c: CardSummary) -> Self {
        CardDto {
            token: Some(c.token),
            masked_pan: c.masked_pan,
            brand: c.brand,
            expiry_month: c.expiry_month,
            expiry_year: c.expiry_year,
            status: c.status,
            account_id: c.account_id,
            customer_id: c.customer_id,
            customer_ref: c.customer_ref,
            cardholder_name: c.cardholder_name,
            pin_set: c.pin_set,
            pin_blocked: c.pin_blocked,
            created_at: rfc3339(c.created_at),
        }
    }
}

/// Detailed card list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CardsResponse {
    /// The matching cards.
    pub cards: Vec<CardDto>,
}

/// Filters of the card list (any combination).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct CardsQuery {
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// Token.
    pub token: Option<String>,
}

/// Issue a sandbox card.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssueCardBody {
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// 6-11 digit BIN (default 400000).
    pub bin: Option<String>,
    /// Name on card.
    pub cardholder_name: Option<String>,
    /// External id for the Get CVV2 envelope's `EXID` (1-32 letters, digits, `-`, `_`; unique).
    pub exid: Option<String>,
}

/// Create an ephemeral key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralKeyBody {
    /// The one card it may touch.
    pub token: String,
    /// `pan`, `cvv2`, `pin:read`, `pin:write`, `pin:verify`, `cvv2:verify`, `reveal`.
    pub scopes: Vec<String>,
    /// 1-900.
    #[serde(deserialize_with = "crate::openapi::integer")]
    pub ttl_seconds: i64,
}

/// An ephemeral key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralKeyResponse {
    /// Bearer credential for the cardholder's browser.
    pub key: String,
    /// RFC 3339.
    pub expires_at: String,
}

// ------------------------------------------------------------------ handlers

type ApiResult<T> = Result<Json<T>, ApiError>;

#[utoipa::path(get, path = "/v2/public-key", tag = "keys",
    responses((status = 200, body = PublicKeyResponse)))]
async fn public_key(State(state): State<AppState>) -> ApiResult<PublicKeyResponse> {
    public_key_of(&state, crate::keys::Purpose::Session)
}

/// The V1 key (PKCS#1 v1.5) is a key pair of its own, created when the
/// first tenant enables V1: a PKCS#1 v1.5 oracle must never sit on the key
/// that opens V2/V3 session ids.
#[utoipa::path(get, path = "/v1/public-key", tag = "keys",
    responses((status = 200, body = PublicKeyResponse), (status = 404, body = ErrorEnvelope)))]
async fn public_key_v1(State(state): State<AppState>) -> ApiResult<PublicKeyResponse> {
    // Enabled by the CLI in another process: reload (at most once a second).
    let present = state.service.has_v1_key()
        || (state.service.reload_keys_if_stale().await? && state.service.has_v1_key());
    if !present {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "V1_NOT_ENABLED",
            "no tenant has enabled V1 on this server",
        ));
    }
    public_key_of(&state, crate::keys::Purpose::V1)
}

fn public_key_of(state: &AppState, purpose: crate::keys::Purpose) -> ApiResult<PublicKeyResponse> {
    let ring = state.service.keyring();
    let key = ring.active(purpose)?;
    let v1 = purpose == crate::keys::Purpose::V1;
    Ok(Json(PublicKeyResponse {
        key_id: key.key_id.clone(),
        algorithm: if v1 {
            "RSAES-PKCS1-v1_5"
        } else {
            "RSA-OAEP-SHA1"
        }
        .into(),
        public_key: key.public_pem(),
        jwk: Jwk {
            kty: "RSA".into(),
            n: base64url(&key.public.modulus_be()),
            e: base64url(&key.public.exponent_be()),
            alg: if v1 { "RSA1_5" } else { "RSA-OAEP" }.into(),
            kid: key.key_id.clone(),
            use_: "enc".into(),
        },
        expires_at: rfc3339(key.expires_at),
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/pan", tag = "card data",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    responses((status = 200, body = PanResponse), (status = 404, body = ErrorEnvelope)))]
async fn get_pan(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<PanResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Pan)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let card = state.service.card_secrets(&grant)?;
    Ok(Json(PanResponse {
        pan: seal(&s, &card.pan)?,
        token,
        expiry_month: card.expiry_month,
        expiry_year: card.expiry_year,
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/cvv2", tag = "card data",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    responses((status = 200, body = Cvv2Response)))]
async fn get_cvv2(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<Cvv2Response> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Cvv2)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let cvv2 = state.service.cvv2(&grant).await?;
    Ok(Json(Cvv2Response {
        cvv2: seal(&s, &cvv2)?,
        token,
    }))
}

#[utoipa::path(post, path = "/v2/cards/{token}/reveal", tag = "card data",
    params(("token" = String, Path)), responses((status = 200, body = RevealResponse)))]
async fn reveal(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<RevealResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Reveal)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let card = state.service.card_secrets(&grant)?;
    let cvv2 = state.service.cvv2(&grant).await?;
    Ok(Json(RevealResponse {
        pan: seal(&s, &card.pan)?,
        cvv2: seal(&s, &cvv2)?,
        token,
        expiry_month: card.expiry_month,
        expiry_year: card.expiry_year,
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/pin", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    responses((status = 200, body = PinResponse), (status = 409, body = ErrorEnvelope), (status = 423, body = ErrorEnvelope)))]
async fn get_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<PinResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::PinRead)
        .await?;
    if grant.card().pin_blocked {
        return Err(Error::PinBlocked.into());
    }
    let s = state.service.open_session(&grant, &sid).await?;
    let pin = state.service.get_pin(&grant)?;
    let encrypted = s
        .encrypt_pin(&pin)
        .map_err(|_| Error::Crypto("response encryption failed"))?;
    Ok(Json(PinResponse {
        token,
        pin_block: encrypted.into(),
    }))
}

#[utoipa::path(put, path = "/v{version}/cards/{token}/pin", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    request_body = PinBlockBody, responses((status = 200, body = SetPinResponse), (status = 400, description = "`WEAK_PIN`: too easy to guess (the rules of `pinWeakness`); `INVALID_PIN_BLOCK`", body = ErrorEnvelope), (status = 423, body = ErrorEnvelope)))]
async fn set_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PinBlockBody>,
) -> ApiResult<SetPinResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::PinWrite)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let pin = open_pin(&s, &body.pin_block)?;
    state.service.set_pin(&grant, &pin).await?;
    Ok(Json(SetPinResponse {
        token,
        pin_set: true,
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/pin/verify", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    request_body = PinBlockBody, responses((status = 200, body = PinVerifyResponse), (status = 423, body = ErrorEnvelope)))]
async fn verify_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PinBlockBody>,
) -> ApiResult<PinVerifyResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::PinVerify)
        .await?;
    if grant.card().pin_blocked {
        return Err(Error::PinBlocked.into());
    }
    let s = state.service.open_session(&grant, &sid).await?;
    let pin = open_pin(&s, &body.pin_block)?;
    let v = state.service.verify_pin(&grant, &pin).await?;
    Ok(Json(PinVerifyResponse {
        verified: v.verified,
        tries_remaining: v.tries_remaining,
    }))
}

#[utoipa::path(post, path = "/v{version}/pin/verify", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2")),
    request_body = PanPinBody, responses((status = 200, body = PinVerifyResponse)))]
async fn verify_pin_by_pan(
    State(state): State<AppState>,
    Auth(p): Auth,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PanPinBody>,
) -> ApiResult<PinVerifyResponse> {
    let grant = state.service.grant_tenant(&p, version).await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let pan = open_text(&s, &body.pan)?;
    let pin = open_pin(&s, &body.pin_block)?;
    let v = state
        .service
        .verify_pin_by_pan(&grant, pan.expose_secret(), &pin)
        .await?;
    Ok(Json(PinVerifyResponse {
        verified: v.verified,
        tries_remaining: v.tries_remaining,
    }))
}

#[utoipa::path(post, path = "/v2/cards/{token}/pin/unblock", tag = "PIN",
    params(("token" = String, Path)), responses((status = 200, body = CardDto), (status = 403, body = ErrorEnvelope)))]
async fn unblock_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
) -> ApiResult<CardDto> {
    Ok(Json(state.service.unblock_pin(&p, &token).await?.into()))
}

#[utoipa::path(post, path = "/v2/cards/{token}/cvv2/unblock", tag = "card data",
    params(("token" = String, Path)),
    responses((status = 200, body = CardDto), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn unblock_cvv2(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
) -> ApiResult<CardDto> {
    Ok(Json(state.service.unblock_cvv2(&p, &token).await?.into()))
}

#[utoipa::path(post, path = "/v2/cards/{token}/cvv2/verify", tag = "card data",
    params(("token" = String, Path)), request_body = Cvv2Body,
    responses((status = 200, body = Cvv2VerifyResponse), (status = 423, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
async fn verify_cvv2(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<Cvv2Body>,
) -> ApiResult<Cvv2VerifyResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Cvv2Verify)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let cvv2 = open_text(&s, &body.cvv2)?;
    let verified = state
        .service
        .verify_cvv2(&grant, cvv2.expose_secret())
        .await?;
    Ok(Json(Cvv2VerifyResponse { verified }))
}

#[utoipa::path(post, path = "/v2/cvv2/verify", tag = "card data",
    request_body = PanCvv2Body,
    responses((status = 200, body = Cvv2VerifyResponse), (status = 423, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
async fn verify_cvv2_by_pan(
    State(state): State<AppState>,
    Auth(p): Auth,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PanCvv2Body>,
) -> ApiResult<Cvv2VerifyResponse> {
    let grant = state.service.grant_tenant(&p, version).await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let pan = open_text(&s, &body.pan)?;
    let cvv2 = open_text(&s, &body.cvv2)?;
    let verified = state
        .service
        .verify_cvv2_by_pan(&grant, pan.expose_secret(), cvv2.expose_secret())
        .await?;
    Ok(Json(Cvv2VerifyResponse { verified }))
}

#[utoipa::path(post, path = "/v{version}/tokens", tag = "tokens",
    params(("version" = u8, Path, description = "1, 2 or 3 (3 adds the masked card details)")),
    request_body = TokenBody, responses((status = 200, body = TokenResponse)))]
async fn pan_to_token(
    State(state): State<AppState>,
    Auth(p): Auth,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<TokenResponse> {
    let grant = state.service.grant_tenant(&p, version).await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let v3 = version == Version::V3;
    let pan = open_text(&s, &body.pan)?;
    let card = state.service.tokenize(&grant, pan.expose_secret()).await?;
    let token = card.token.clone();
    let details = v3.then(|| CardDto {
        token: None,
        ..CardDto::from(card)
    });
    Ok(Json(TokenResponse { token, details }))
}

#[utoipa::path(get, path = "/v2/cards", tag = "cards", params(CardsQuery),
    responses((status = 200, body = CardsResponse)))]
async fn list_cards(
    State(state): State<AppState>,
    Auth(p): Auth,
    query: Result<Query<CardsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<CardsResponse> {
    let Query(q) =
        query.map_err(|_| ApiError::bad_request("INVALID_REQUEST", "invalid query parameters"))?;
    let filter = CardFilter {
        account_id: q.account_id,
        customer_id: q.customer_id,
        customer_ref: q.customer_ref,
        token: q.token,
    };
    let cards = state.service.list_cards(&p, &filter).await?;
    Ok(Json(CardsResponse {
        cards: cards.into_iter().map(CardDto::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v2/cards", tag = "cards", request_body = IssueCardBody,
    responses((status = 201, body = CardDto)))]
async fn issue_card(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(body): JsonBody<IssueCardBody>,
) -> Result<(StatusCode, Json<CardDto>), ApiError> {
    let req = IssueCard {
        account_id: body.account_id,
        customer_id: body.customer_id,
        customer_ref: body.customer_ref,
        bin: body.bin,
        cardholder_name: body.cardholder_name,
        exid: body.exid,
    };
    let card = state.service.issue_card(&p, &req).await?;
    Ok((StatusCode::CREATED, Json(card.into())))
}

#[utoipa::path(post, path = "/v2/ephemeral-keys", tag = "keys", request_body = EphemeralKeyBody,
    responses((status = 201, body = EphemeralKeyResponse)))]
async fn create_ephemeral_key(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(body): JsonBody<EphemeralKeyBody>,
) -> Result<(StatusCode, Json<EphemeralKeyResponse>), ApiError> {
    let (key, expires_at) = state
        .service
        .create_ephemeral_key(&p, &body.token, &body.scopes, body.ttl_seconds)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EphemeralKeyResponse {
            key: key.to_string(),
            expires_at: rfc3339(expires_at),
        }),
    ))
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "database and keys ready"), (status = 503, body = ErrorEnvelope)))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let ready = state.service.storage().ping().await.is_ok()
        && state
            .service
            .keyring()
            .active(crate::keys::Purpose::Session)
            .is_ok();
    if ready {
        Ok("ready")
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "not ready",
        ))
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "this document")))]
async fn openapi() -> Json<serde_json::Value> {
    Json(api_doc())
}

/// The whole OpenAPI document: the PaySecure card API and the merchant
/// tokenisation APIs, completed by [`crate::openapi::complete`].
pub fn api_doc() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::token_api::TokenApiDoc::openapi());
    doc.merge(crate::ni_api::NiApiDoc::openapi());
    doc.merge(crate::account_api::AccountApiDoc::openapi());
    crate::openapi::complete(doc)
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "PaySecure API",
        version = "1",
        description = "The issuer side of PaySecure V1/V2/V3. See docs/api.md."
    ),
    paths(
        public_key,
        public_key_v1,
        get_pan,
        get_cvv2,
        reveal,
        get_pin,
        set_pin,
        verify_pin,
        verify_pin_by_pan,
        unblock_pin,
        unblock_cvv2,
        verify_cvv2,
        verify_cvv2_by_pan,
        pan_to_token,
        list_cards,
        issue_card,
        create_ephemeral_key,
        healthz,
        readyz,
        metrics,
        openapi
    ),
    components(schemas(ErrorEnvelope, ErrorDetail, Encrypted))
)]
pub struct ApiDoc;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "method not allowed on this endpoint",
    )
}

/// The API router with all middleware.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The API router plus `extra` routes (static pages, demo backend), all
/// behind the same middleware: request ids, logs, metrics, error envelope,
/// limits and security headers.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let api = Router::new()
        // Public, and read by merchants' pages on other origins.
        .route(
            "/v2/public-key",
            get(public_key).layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(tower_http::cors::Any)
                    .allow_methods([axum::http::Method::GET]),
            ),
        )
        .route(
            "/v1/public-key",
            get(public_key_v1).layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(tower_http::cors::Any)
                    .allow_methods([axum::http::Method::GET]),
            ),
        )
        .route("/v2/cards", get(list_cards).post(issue_card))
        .route("/v2/ephemeral-keys", post(create_ephemeral_key))
        .route("/v2/cards/{token}/reveal", post(reveal))
        .route("/v2/cards/{token}/pin/unblock", post(unblock_pin))
        .route("/v2/cards/{token}/cvv2/verify", post(verify_cvv2))
        .route("/v2/cards/{token}/cvv2/unblock", post(unblock_cvv2))
        .route("/v2/cvv2/verify", post(verify_cvv2_by_pan))
        .route("/v3/tokens", post(pan_to_token));
    let api = ["v1", "v2"].into_iter().fold(api, |r, v| {
        r.route(&format!("/{v}/cards/{{token}}/pan"), post(get_pan))
            .route(&format!("/{v}/cards/{{token}}/cvv2"), post(get_cvv2))
            .route(
                &format!("/{v}/cards/{{token}}/pin"),
                post(get_pin).put(set_pin),
            )
            .route(
                &format!("/{v}/cards/{{token}}/pin/verify"),
                post(verify_pin),
            )
            .route(&format!("/{v}/pin/verify"), post(verify_pin_by_pan))
            .route(&format!("/{v}/tokens"), post(pan_to_token))
    });
    api.merge(crate::token_api::routes())
        .merge(crate::ni_api::routes())
        .merge(crate::account_api::routes())
        .merge(extra)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .with_state(state)
        // Inside the envelope, so that their 408 and 413 are JSON too.
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn(error_envelope))
        // Card data must never be cached; nothing is sniffed; no referrers.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // Method and path only: no query string, no header values;
                    // card-shaped digit runs in the path masked. `principal` is
                    // recorded once the caller authenticates.
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                    let path = crate::telemetry::redact_path(req.uri().path());
                    tracing::info_span!("request", method = %req.method(), path = %path, request_id = id, principal = tracing::field::Empty)
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Micros)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::HeaderName::from_static("session-id"),
        ]))
}
