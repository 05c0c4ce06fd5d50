//! The JSON error envelope every PaySecure API answer shares: status,
//! stable code, safe message and the request id.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::error::{Code, Error};

// ------------------------------------------------------------------ errors

/// An API error: status, stable code, safe message. The envelope middleware
/// turns it into `{ "error": { "code", "message", "traceId" } }`.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: Code,
    message: &'static str,
    retry_after: Option<i64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: Code, message: &'static str) -> Self {
        ApiError {
            status,
            code,
            message,
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(code: Code, message: &'static str) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 429 with `Retry-After`, for a Client POST capture from an address
    /// blocked after failed attempts.
    pub(crate) fn rate_limited(secs: i64) -> Self {
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::RateLimited,
                "too many failed authentications; retry later",
            )
        }
    }
}

impl ApiError {
    /// The same error with `Retry-After: secs` (when `Some`).
    pub(crate) fn with_retry_after(self, secs: Option<i64>) -> Self {
        ApiError {
            retry_after: secs,
            ..self
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> Code {
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

impl From<crate::crypto::Error> for ApiError {
    fn from(e: crate::crypto::Error) -> Self {
        Error::from(e).into()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::BadRequest { code, message } => ApiError::new(S::BAD_REQUEST, code, message),
            Error::InvalidSession => ApiError::new(
                S::BAD_REQUEST,
                Code::InvalidSessionId,
                "the session id is not valid",
            ),
            Error::UndecryptableValue => ApiError::new(
                S::BAD_REQUEST,
                Code::UndecryptableValue,
                "an encrypted value could not be decrypted with the session key",
            ),
            Error::Unauthenticated => ApiError::new(
                S::UNAUTHORIZED,
                Code::Unauthorized,
                "missing or invalid credentials",
            ),
            Error::Forbidden(message) => ApiError::new(S::FORBIDDEN, Code::Forbidden, message),
            Error::CardNotFound => ApiError::new(S::NOT_FOUND, Code::CardNotFound, "no such card"),
            Error::TokenNotFound => {
                ApiError::new(S::NOT_FOUND, Code::TokenNotFound, "no such token")
            }
            Error::Conflict { code, message } => ApiError::new(S::CONFLICT, code, message),
            Error::PinBlocked => ApiError::new(
                S::LOCKED,
                Code::PinBlocked,
                "the PIN is blocked after too many wrong attempts",
            ),
            Error::Cvv2Blocked => ApiError::new(
                S::LOCKED,
                Code::Cvv2Blocked,
                "CVV2 verification is blocked after too many wrong attempts",
            ),
            Error::RateLimited { retry_after } => ApiError {
                retry_after: Some(i64::try_from(retry_after).unwrap_or(i64::MAX)),
                ..ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    Code::RateLimited,
                    "too many requests; retry later",
                )
            },
            Error::Storage(e) if e.is_unavailable() => {
                // The database is down or unreachable: retry later.
                tracing::error!(error = %e, detail = ?e, "database unavailable");
                ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    Code::NotReady,
                    "service unavailable",
                )
            }
            e @ (Error::Storage(_) | Error::Crypto(_)) => {
                // Details to the log only.
                tracing::error!(error = %e, detail = ?e, "internal error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, Code::Internal, "internal error")
            }
        }
    }
}

#[derive(Debug, Clone)]
struct ErrorInfo {
    code: Code,
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

fn default_error(status: StatusCode) -> (Code, &'static str) {
    match status {
        StatusCode::NOT_FOUND => (Code::NotFound, "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => (
            Code::MethodNotAllowed,
            "method not allowed on this endpoint",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (Code::PayloadTooLarge, "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => (Code::Timeout, "the request took too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            Code::UnsupportedMediaType,
            "the body must be application/json",
        ),
        s if s.is_server_error() => (Code::Internal, "internal error"),
        _ => (Code::InvalidRequest, "the request is not valid"),
    }
}

/// Puts every 4xx/5xx response, including the framework's own (404, 405,
/// 413, 408), into the one JSON envelope with the request id.
pub(crate) async fn error_envelope(req: Request, next: Next) -> Response {
    let trace_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let paythru_path = crate::http::paythru::is_paythru_path(req.uri().path())
        .then(|| req.uri().path().to_owned());
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.extensions().get::<OwnErrorBody>().is_some()
    {
        return res;
    }
    // The framework's own refusals under the Paythru prefix (a body over
    // the limit, a timeout) answer in that API's format too.
    if let Some(path) = paythru_path.filter(|_| status.is_client_error()) {
        return crate::http::paythru::framework_error(&path, status);
    }
    let (mut parts, _) = res.into_parts();
    let (code, message) = parts
        .extensions
        .remove::<ErrorInfo>()
        .map_or_else(|| default_error(status), |i| (i.code, i.message));
    let body = ErrorEnvelope {
        error: ErrorDetail {
            code: code.as_str().to_owned(),
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
