//! The router: every API's routes behind one middleware stack, the shared
//! state, the operations endpoints and the OpenAPI document.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::{self};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use utoipa::OpenApi;

use crate::domain::error::Code;
use crate::domain::service::Service;
use crate::http::error::error_envelope;
use crate::http::error::{ApiError, ErrorDetail, ErrorEnvelope};
use crate::http::telemetry::record_metrics;
use crate::http::telemetry::Metrics;

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

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "database and keys ready"), (status = 503, body = ErrorEnvelope)))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let ready = state.service.ping().await.is_ok()
        && state
            .service
            .keyring()
            .active(crate::crypto::keys::Purpose::Session)
            .is_ok()
        && state
            .service
            .keyring()
            .has_active(crate::crypto::keys::Purpose::Capture);
    if ready {
        Ok("ready")
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::NotReady,
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
/// tokenisation APIs, completed by [`crate::http::openapi::complete`].
pub fn api_doc() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::http::paysecure::PaySecureApiDoc::openapi());
    doc.merge(crate::http::paythru::PaythruApiDoc::openapi());
    doc.merge(crate::http::verifone::VerifoneApiDoc::openapi());
    doc.merge(crate::http::get_cvv2::NiApiDoc::openapi());
    doc.merge(crate::http::account::AccountApiDoc::openapi());
    doc.merge(crate::http::wallet::WalletApiDoc::openapi());
    crate::http::openapi::complete(doc)
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "PaySecure API",
        version = "1",
        description = "The issuer side of PaySecure V1/V2/V3. See docs/api.md."
    ),
    paths(healthz, readyz, metrics, openapi),
    components(schemas(ErrorEnvelope, ErrorDetail))
)]
pub struct ApiDoc;

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    // Under the Paythru prefix, failures answer in Paythru's own format.
    if crate::http::paythru::is_paythru_path(uri.path()) {
        return crate::http::paythru::unknown_path(uri.path());
    }
    ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, "no such endpoint").into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::MethodNotAllowed,
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
    crate::http::paysecure::routes()
        .merge(crate::http::paythru::routes())
        .merge(crate::http::verifone::routes())
        .merge(crate::http::get_cvv2::routes())
        .merge(crate::http::account::routes())
        .merge(crate::http::wallet::routes())
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
        // The Get CVV2 envelope answers even these failures in its own format.
        .layer(middleware::from_fn(crate::http::get_cvv2::envelope_failures))
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
                    let path = crate::http::telemetry::redact_path(req.uri().path());
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
