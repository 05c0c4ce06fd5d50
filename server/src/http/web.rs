//! The browser side the server hosts: the card-reveal and PIN widgets (to be
//! framed by host pages of other origins), the host helper, the web build of
//! paysecure-wasm, and, in demo mode only, the demo cardholder app with a
//! tiny backend that mints ephemeral keys for the demo tenant's cards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

use crate::domain::card_list::PageRequest;
use crate::domain::error::{Error, Result};
use crate::domain::service::CardFilter;
use crate::domain::service::{IssueCard, Principal, Service};
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::paysecure::CardDto;
use crate::http::router::AppState;
use crate::util::time::UnixTime;

/// Where the web files are and who may frame the widgets.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The `www/` folder (widget/, elements/, demo/).
    pub www: PathBuf,
    /// The web build of paysecure-wasm (`pkg/paysecure-wasm`).
    pub pkg: PathBuf,
    /// The origin the widgets are served from (what host pages frame).
    pub widget_origin: String,
    /// Origins allowed to frame the widgets (CSP `frame-ancestors`).
    pub frame_ancestors: Vec<String>,
    /// The demo tenant, in demo mode.
    pub demo_tenant: Option<String>,
}

fn csp(value: String) -> HeaderValue {
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

fn static_dir(dir: PathBuf, policy: HeaderValue) -> SetResponseHeader<ServeDir, HeaderValue> {
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            policy,
        ))
        .service(ServeDir::new(dir).append_index_html_on_directories(true))
}

/// Where script-tag users load the host SDK from.
pub const SDK_PATH: &str = "/sdk/paysecure-embed.js";
/// The SDK's source under `www/` (also the npm package's main entry).
const SDK_SOURCE: &str = "elements/src/index.js";

/// The web routes.
pub fn routes(cfg: WebConfig) -> Router<AppState> {
    let ancestors = if cfg.frame_ancestors.is_empty() {
        "'self'".to_owned()
    } else {
        cfg.frame_ancestors.join(" ")
    };
    // No inline script anywhere; WebAssembly allowed; only our own origin,
    // except font files: a host's `appearance.fonts` are https font URLs the
    // frame loads with the CSS Font Loading API (no host stylesheet: style-src
    // stays 'self'; see docs/widgets.md on what this admits).
    let widget_csp = csp(format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         font-src 'self' https:; connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
    ));
    // The host SDK for script-tag users: the very file the npm package
    // @paysecure/elements ships (www/elements/src/index.js), one source.
    let sdk_csp = csp(
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            .to_owned(),
    );
    let host_csp = csp(format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         frame-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        cfg.widget_origin
    ));
    let mut r = Router::new()
        .nest_service(
            "/widget",
            static_dir(cfg.www.join("widget"), widget_csp.clone()),
        )
        .nest_service("/pkg", static_dir(cfg.pkg.clone(), widget_csp.clone()))
        .route_service(
            SDK_PATH,
            // Public script that host pages of other origins import as a module: CORS-readable.
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    sdk_csp,
                ))
                .service(ServeFile::new(cfg.www.join(SDK_SOURCE))),
        );
    if let Some(tenant) = cfg.demo_tenant.clone() {
        let demo = Arc::new(DemoState {
            tenant,
            widget_origin: cfg.widget_origin.clone(),
        });
        let (d1, d2, d3) = (Arc::clone(&demo), Arc::clone(&demo), demo);
        r = r
            .nest_service("/demo", static_dir(cfg.www.join("demo"), host_csp))
            .route("/", get(|| async { Redirect::temporary("/demo/") }))
            .route(
                "/demo-api/config",
                get(move |s: State<AppState>| demo_config(s, Arc::clone(&d1))),
            )
            .route(
                "/demo-api/ephemeral-keys",
                post(move |s: State<AppState>, b: JsonBody<DemoKeyRequest>| {
                    demo_ephemeral_key(s, Arc::clone(&d2), b)
                }),
            )
            .route(
                "/demo-api/cards/{token}/unblock",
                post(move |s: State<AppState>, t: UrlPath<String>| {
                    demo_unblock(s, Arc::clone(&d3), t)
                }),
            );
    }
    r
}

#[derive(Debug)]
struct DemoState {
    tenant: String,
    widget_origin: String,
}

impl DemoState {
    fn principal(&self) -> Principal {
        Principal::Tenant {
            tenant_id: self.tenant.clone(),
        }
    }
}

/// Demo configuration for the host page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DemoConfig {
    widget_origin: String,
    cards: Vec<CardDto>,
}

async fn demo_config(
    State(state): State<AppState>,
    demo: Arc<DemoState>,
) -> std::result::Result<Json<DemoConfig>, ApiError> {
    let filter = CardFilter {
        customer_id: Some(DEMO_CUSTOMER.into()),
        ..CardFilter::default()
    };
    let page = state
        .service
        .list_cards(&demo.principal(), &filter, &PageRequest::first())
        .await?;
    Ok(Json(DemoConfig {
        widget_origin: demo.widget_origin.clone(),
        cards: page.cards.into_iter().map(CardDto::from).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoKeyRequest {
    token: String,
    scopes: Vec<String>,
    ttl_seconds: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DemoKey {
    key: String,
    expires_at: UnixTime,
}

/// What the issuer client's own backend does for its logged-in cardholder:
/// mint a short-lived key for one of their cards. (The demo has no login.)
async fn demo_ephemeral_key(
    State(state): State<AppState>,
    demo: Arc<DemoState>,
    JsonBody(req): JsonBody<DemoKeyRequest>,
) -> std::result::Result<(StatusCode, Json<DemoKey>), ApiError> {
    let ttl = req.ttl_seconds.unwrap_or(300);
    let (key, expires_at) = state
        .service
        .create_ephemeral_key(&demo.principal(), &req.token, &req.scopes, ttl)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DemoKey {
            key: key.to_string(),
            expires_at,
        }),
    ))
}

async fn demo_unblock(
    State(state): State<AppState>,
    demo: Arc<DemoState>,
    UrlPath(token): UrlPath<String>,
) -> std::result::Result<Json<CardDto>, ApiError> {
    Ok(Json(
        state
            .service
            .unblock_pin(&demo.principal(), &token)
            .await?
            .into(),
    ))
}

/// The demo cardholder's customer id.
pub const DEMO_CUSTOMER: &str = "demo-customer";
const DEMO_TENANT_FILE: &str = "demo-tenant.id";
/// The demo tenant's API key, for developers who want to call the API by hand.
pub const DEMO_KEY_FILE: &str = "demo-tenant.key";

/// Creates (once) the demo tenant with three cards (VISA with PIN 1432,
/// Mastercard 2-series, AMEX) and returns its id.
pub async fn seed_demo(service: &Service, data_dir: &Path) -> Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let id_file = data_dir.join(DEMO_TENANT_FILE);
    if let Ok(id) = std::fs::read_to_string(&id_file) {
        let id = id.trim().to_owned();
        if service.tenant_exists(&id).await? {
            return Ok(id);
        }
    }
    let (tenant, api_key) = service.create_tenant("Demo Bank").await?;
    let write = |name: &str, text: &str| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(data_dir.join(name))?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")
    };
    write(DEMO_KEY_FILE, &api_key).map_err(|_| Error::Crypto("cannot write the demo key file"))?;
    let principal = Principal::Tenant {
        tenant_id: tenant.clone(),
    };
    let cards = [
        ("400000", "ADA LOVELACE", "ada-visa"),
        ("222100", "ADA LOVELACE", "ada-mc"),
        ("370000", "ADA LOVELACE", "ada-amex"),
    ];
    for (i, (bin, name, reference)) in cards.into_iter().enumerate() {
        let card = service
            .issue_card(
                &principal,
                &IssueCard {
                    account_id: Some("demo-account".into()),
                    customer_id: Some(DEMO_CUSTOMER.into()),
                    customer_ref: Some(reference.into()),
                    bin: Some(bin.into()),
                    cardholder_name: Some(name.into()),
                    exid: None,
                },
            )
            .await?;
        if i == 0 {
            let pin = paysecure_core::Pin::new("1432").map_err(|_| Error::Crypto("demo PIN"))?;
            let grant = service
                .grant_card(
                    &principal,
                    paysecure_core::Version::V2,
                    &card.token,
                    crate::domain::service::Scope::PinWrite,
                )
                .await?;
            service.set_pin(&grant, &pin).await?;
        }
    }
    write(DEMO_TENANT_FILE, &tenant)
        .map_err(|_| Error::Crypto("cannot write the demo tenant file"))?;
    Ok(tenant)
}
