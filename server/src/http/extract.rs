//! What handlers take from a request: the caller (`Authorization`), the
//! client address, the session-id headers and JSON bodies. Headers are
//! read here once for every API.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use paysecure_core::Version;
use serde::de::DeserializeOwned;

use crate::domain::error::{Code, Error};
use crate::domain::service::Principal;
use crate::domain::sessions::SessionIdHeader;
use crate::http::error::ApiError;
use crate::http::router::AppState;
use axum::http::HeaderMap;

// ------------------------------------------------------------------ extractors

/// A JSON body whose rejection is an API error.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::PayloadTooLarge,
                "the request body is too large",
            )
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|_| {
            ApiError::bad_request(
                Code::InvalidRequest,
                "the body is not valid JSON of the expected shape",
            )
        })
    }
}

/// The client's throttle key: its address
/// ([`crate::domain::ratelimit::TrustedProxies::client_address`]:
/// the peer, or from `X-Forwarded-For` when the peer is a trusted proxy),
/// IPv6 aggregated per /64 ([`crate::domain::ratelimit::throttle_key`]).
fn client_key(parts: &Parts, state: &AppState) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(crate::domain::ratelimit::UNKNOWN_PEER, |c| c.0.ip());
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .into_iter()
        .map(HeaderValue::as_bytes);
    let client = state
        .service
        .trusted_proxies()
        .client_address(peer, forwarded);
    crate::domain::ratelimit::throttle_key(client)
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
        let credential = credential(&parts.headers, "Bearer ");
        let result = match credential {
            Some(c) => state.service.authenticate(c).await,
            None => Err(Error::Unauthenticated),
        };
        match (result, credential) {
            (Ok(p), Some(c)) => {
                crate::http::telemetry::record_principal(&p);
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
                Err(ApiError::from(Error::Unauthenticated).with_retry_after(blocked))
            }
            (Err(e), _) => Err(e.into()),
        }
    }
}

/// The `Session-Id` (and optional `Key-Id`) headers, parsed strictly but
/// not decrypted, and the protocol version of the path (`/v1/`, `/v2/`,
/// `/v3/`). Handlers open it with [`crate::domain::service::Service::open_session`] only after a
/// grant (see [`crate::domain::sessions`]).
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
        let header = required_session_id_header(&parts.headers)?;
        Ok(SessionId(header, path_version(parts.uri.path())))
    }
}

/// The one value of header `name`, if sent. Two values, or one that is not
/// visible ASCII, are [`Error::InvalidSession`]: a proxy and the server
/// might each pick another one.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Error> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Error::InvalidSession);
    }
    first
        .map(|v| v.to_str().map_err(|_| Error::InvalidSession))
        .transpose()
}

/// The `Session-Id` (and optional `Key-Id`) headers, parsed strictly
/// ([`SessionIdHeader::parse`]); `Ok(None)` if there is no `Session-Id`.
/// Either header twice is [`Error::InvalidSession`].
pub fn session_id_header(headers: &HeaderMap) -> Result<Option<SessionIdHeader>, Error> {
    let Some(session_id) = single(headers, "session-id")? else {
        return Ok(None);
    };
    let key_id = single(headers, "key-id")?;
    SessionIdHeader::parse(session_id, key_id).map(Some)
}

/// As [`session_id_header`], with a missing header an error.
pub fn required_session_id_header(headers: &HeaderMap) -> Result<SessionIdHeader, Error> {
    session_id_header(headers)?.ok_or(Error::InvalidSession)
}

/// The credential of `Authorization: <scheme><credential>`: `Bearer ` for
/// the card, Verifone-style and Get CVV2 APIs; `PLTOKEN ` for the account
/// payment-information API, whose scheme name this is (the credential is
/// the tenant API key either way). Trimmed; `None` if absent, empty, of another scheme
/// or longer than 200 characters (no credential is that long).
pub fn credential<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(scheme))
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 200)
}
