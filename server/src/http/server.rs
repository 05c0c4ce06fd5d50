//! Serving: the listener (plain or TLS, under the connection limits of
//! [`crate::http::transport`]), the whole app (APIs, browser side, HSTS),
//! the housekeeping timer and graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::service::Service;
use crate::http::telemetry::Metrics;
use crate::http::transport::{ConnectionLimits, GuardedAcceptor};
use crate::http::web::WebConfig;
use crate::http::{router_with, AppState};

/// The browser side `serve` hosts besides the APIs (see [`crate::http::web`]).
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// The `www` folder (widgets, host helper, demo app); not served if
    /// missing.
    pub www: PathBuf,
    /// The web build of paysecure-wasm.
    pub pkg: PathBuf,
    /// The origin the widgets are served from (default: this server's).
    pub widget_origin: Option<String>,
    /// The `frame-ancestors` allowed to frame the widgets (default `'self'`).
    pub frame_ancestors: Option<String>,
    /// The demo tenant, in `--demo` mode: the demo backend mints its keys.
    pub demo_tenant: Option<String>,
}

/// Serves every API (and the browser side) on `listen` until SIGINT or
/// SIGTERM: plain HTTP, or HTTPS with HSTS when `tls` names a certificate
/// and key; runs the housekeeping every `housekeeping_secs`; drains and
/// closes the database at the end.
pub async fn serve(
    service: Arc<Service>,
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    web: WebOptions,
    housekeeping_secs: u64,
    limits: ConnectionLimits,
) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };

    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        service: Arc::clone(&service),
        metrics: Arc::clone(&metrics),
    };
    let extra = if web.www.is_dir() {
        let port = local.port();
        let widget_origin = web
            .widget_origin
            .unwrap_or_else(|| format!("{scheme}://127.0.0.1:{port}"));
        let mut ancestors: Vec<String> = match &web.frame_ancestors {
            Some(list) => list.split_whitespace().map(str::to_owned).collect(),
            None => vec!["'self'".to_owned()],
        };
        if web.frame_ancestors.is_none() && web.demo_tenant.is_some() {
            ancestors.push(format!("{scheme}://localhost:{port}"));
        }
        if !web.pkg.is_dir() {
            tracing::warn!(pkg = %web.pkg.display(), "the web build of paysecure-wasm is missing: widgets will not load (run scripts/build.sh)");
        }
        crate::http::web::routes(WebConfig {
            www: web.www,
            pkg: web.pkg,
            widget_origin,
            frame_ancestors: ancestors,
            demo_tenant: web.demo_tenant,
        })
    } else {
        if web.demo_tenant.is_some() {
            return Err(format!(
                "--demo needs the www folder ({} not found)",
                web.www.display()
            ));
        }
        axum::Router::new()
    };
    let mut app = router_with(state, extra);
    if tls.is_some() {
        // HTTPS only: browsers then refuse plain HTTP to this host for two
        // years, on every response (errors included).
        app = app.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static(HSTS),
        ));
    }
    let app = app.into_make_service_with_connect_info::<SocketAddr>();

    // Pick up key rotations made by `keys rotate` in another process, and
    // drop expired ephemeral keys.
    let upkeep = Arc::clone(&service);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(housekeeping_secs.max(1)));
        loop {
            tick.tick().await;
            if let Err(e) = upkeep.housekeeping().await {
                tracing::error!(error = %e, "housekeeping failed");
            }
        }
    });

    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.graceful_shutdown(Some(Duration::from_secs(10)));
    });

    let served = match tls {
        Some((cert, key)) => {
            let _ = rustls_default_provider();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| format!("cannot load the TLS certificate or key: {e}"))?;
            announce("https", local);
            let mut server = axum_server::from_tcp_rustls(listener, config)
                .map(|rustls| GuardedAcceptor::new(rustls, limits, metrics));
            limits.configure(server.http_builder());
            server
                .handle(handle)
                .serve(app)
                .await
                .map_err(|e| e.to_string())
        }
        None => {
            announce("http", local);
            let mut server = axum_server::from_tcp(listener).acceptor(GuardedAcceptor::new(
                axum_server::accept::DefaultAcceptor::new(),
                limits,
                metrics,
            ));
            limits.configure(server.http_builder());
            server
                .handle(handle)
                .serve(app)
                .await
                .map_err(|e| e.to_string())
        }
    };
    // Drained: close the database pool cleanly.
    service.close().await;
    served
}

/// `Strict-Transport-Security` on every HTTPS response.
const HSTS: &str = "max-age=63072000; includeSubDomains";

fn rustls_default_provider() -> Result<(), ()> {
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .map_err(|_| ())
}

/// One line on stdout that scripts and tests wait for.
fn announce(scheme: &str, addr: SocketAddr) {
    tracing::info!(%addr, "listening");
    println!("paysecure-server listening on {scheme}://{addr}");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
