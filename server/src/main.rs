//! `paysecure-server`: serve the API, create tenants, manage RSA keys.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use paysecure_server::service::rfc3339;
use paysecure_server::storage::{Storage, StorageOptions};
use paysecure_server::telemetry::{self, Metrics};
use paysecure_server::vault::{MasterKeySource, Vault, MASTER_KEY_ENV};
use paysecure_server::web::WebConfig;
use paysecure_server::{router_with, AppState, Service, ServiceConfig};

#[derive(Parser)]
#[command(
    name = "paysecure-server",
    version,
    about = "The PaySecure issuer API over an encrypted card vault"
)]
struct Cli {
    /// Directory for the SQLite database and the master key file.
    #[arg(
        long,
        global = true,
        env = "PAYSECURE_DATA_DIR",
        default_value = "paysecure-data"
    )]
    data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in --data-dir].
    #[arg(long, global = true, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Largest number of database connections per process.
    #[arg(
        long,
        global = true,
        env = "PAYSECURE_DB_MAX_CONNECTIONS",
        default_value_t = 8
    )]
    db_max_connections: u32,
    /// Seconds a request waits for a free database connection.
    #[arg(
        long,
        global = true,
        env = "PAYSECURE_DB_ACQUIRE_TIMEOUT",
        default_value_t = 10
    )]
    db_acquire_timeout_secs: u64,
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "PAYSECURE_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on (port 0: any free port).
        #[arg(long, env = "PAYSECURE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// PEM certificate chain: serve HTTPS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Accept a session id more than once (default: single use).
        #[arg(long)]
        allow_session_id_reuse: bool,
        /// Demo mode: seed a demo tenant with cards and serve the demo
        /// cardholder app at /demo/ with its ephemeral-key backend.
        #[arg(long)]
        demo: bool,
        /// Folder with widget/, sdk/ and demo/ (served when it exists).
        #[arg(long, default_value = "www")]
        www: PathBuf,
        /// The web build of paysecure-wasm, served at /pkg/.
        #[arg(long, default_value = "pkg/web")]
        pkg: PathBuf,
        /// Origin the widgets are served from [default: http(s)://127.0.0.1:PORT].
        #[arg(long)]
        widget_origin: Option<String>,
        /// Origins allowed to frame the widgets, space-separated
        /// [default: 'self', plus http(s)://localhost:PORT in demo mode].
        #[arg(long)]
        frame_ancestors: Option<String>,
        /// Seconds between housekeeping runs (key-ring reload, purging
        /// expired ephemeral keys and throttle rows).
        #[arg(long, default_value_t = 30)]
        housekeeping_secs: u64,
    },
    /// Apply the database migrations and exit (serve applies them too).
    Migrate,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage the RSA key pairs.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its API key on the last line (shown once).
    Create {
        /// Display name.
        name: String,
    },
    /// Make Paythru Card Tokenisation API credentials (apiKey, apiPassword,
    /// shaKey) for a tenant; printed once.
    PaythruCredentials {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// Methods they may call, comma-separated (default: all), e.g.
        /// `lookup,create,tokeniseSessionKey,createSession`.
        #[arg(long, value_delimiter = ',')]
        methods: Vec<String>,
    },
    /// Allow (or forbid, the default) CVV2 in clear from the Get CVV2
    /// envelope API when a request carries no Session-Id.
    AllowPlainCvv2 {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// `true` or `false`.
        #[arg(action = clap::ArgAction::Set)]
        allow: bool,
    },
    /// Make (or replace) the tenant's data key for the account API's
    /// encrypted bodies sent without a Session-Id; printed once (base64).
    DataKey {
        /// Tenant id (`ten_...`).
        tenant: String,
    },
    /// Revoke Paythru credentials (their requests then get error 105).
    PaythruRevoke {
        /// The apiKey.
        api_key: String,
    },
    /// Require (or not, the default) Paythru requests to carry the signed
    /// `requestTime` and `requestNonce` of the replay profile: for one
    /// credential (its apiKey) or every credential of a tenant (`ten_...`).
    PaythruRequireNonce {
        /// An apiKey, or a tenant id (`ten_...`).
        target: String,
        /// `true` or `false`.
        #[arg(action = clap::ArgAction::Set)]
        require: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the key pairs.
    List,
    /// Make a new active key; the current one keeps decrypting as `previous`.
    Rotate,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(matches!(cli.log_format, LogFormat::Json));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn open(cli: &Cli, config: ServiceConfig) -> Result<Service, String> {
    create_data_dir(&cli.data_dir)?;
    let env_key = std::env::var(MASTER_KEY_ENV).ok();
    let (vault, source) =
        Vault::load_or_create(&cli.data_dir, env_key.as_deref()).map_err(|e| e.to_string())?;
    if source == MasterKeySource::Created {
        tracing::warn!(dir = %cli.data_dir.display(), "created a new master key file; back it up: without it the vault cannot be read");
    }
    let options = StorageOptions {
        max_connections: cli.db_max_connections,
        acquire_timeout: Duration::from_secs(cli.db_acquire_timeout_secs.max(1)),
    };
    let url = match &cli.database_url {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            cli.data_dir.join("paysecure.db").display()
        ),
    };
    let storage = Storage::connect(&url, &options)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    Service::new(storage, vault, config)
        .await
        .map_err(|e| e.to_string())
}

fn create_data_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    match &cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            allow_session_id_reuse,
            demo,
            www,
            pkg,
            widget_origin,
            frame_ancestors,
            housekeeping_secs,
        } => {
            let config = ServiceConfig {
                single_use_session_ids: !allow_session_id_reuse,
            };
            let service = Arc::new(open(&cli, config).await?);
            let demo_tenant = if *demo {
                Some(
                    paysecure_server::web::seed_demo(&service, &cli.data_dir)
                        .await
                        .map_err(|e| e.to_string())?,
                )
            } else {
                None
            };
            let web = WebOptions {
                www: www.clone(),
                pkg: pkg.clone(),
                widget_origin: widget_origin.clone(),
                frame_ancestors: frame_ancestors.clone(),
                demo_tenant,
            };
            serve(
                service,
                *listen,
                tls_cert.clone().zip(tls_key.clone()),
                web,
                *housekeeping_secs,
            )
            .await
        }
        Command::Migrate => {
            let service = open(&cli, ServiceConfig::default()).await?;
            let version = service
                .storage()
                .migrate()
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "database schema at version {version} ({:?})",
                service.storage().backend()
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Create { name },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            let (id, key) = service
                .create_tenant(name)
                .await
                .map_err(|e| e.to_string())?;
            println!("tenant {id} created ({name})");
            println!("API key (shown once; store it now):");
            println!("{}", key.as_str());
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::PaythruCredentials { tenant, methods },
        } => {
            let parsed = methods
                .iter()
                .map(|m| {
                    paysecure_server::paythru::Method::ALL
                        .into_iter()
                        .find(|x| x.as_str() == m)
                        .ok_or_else(|| format!("unknown method {m}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let service = open(&cli, ServiceConfig::default()).await?;
            let creds = service
                .create_paythru_credentials(
                    tenant,
                    None,
                    (!parsed.is_empty()).then_some(&parsed[..]),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!("Paythru credentials for {tenant} (shown once; store them now):");
            println!("apiKey={}", creds.api_key);
            println!("apiPassword={}", creds.api_password.as_str());
            println!("shaKey={}", creds.sha_key.as_str());
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::AllowPlainCvv2 { tenant, allow },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            service
                .set_allow_plain_cvv2(tenant, *allow)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{tenant}: CVV2 in clear without a Session-Id {}",
                if *allow { "allowed" } else { "refused" }
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::DataKey { tenant },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            let key = service
                .rotate_tenant_data_key(tenant)
                .await
                .map_err(|e| e.to_string())?;
            println!("data key for {tenant} (AES-256, base64; shown once; the previous one no longer works):");
            println!("{}", key.as_str());
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::PaythruRevoke { api_key },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            if service
                .revoke_paythru_credentials(api_key)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("revoked");
                Ok(())
            } else {
                Err("no active credentials with that apiKey".into())
            }
        }
        Command::Tenant {
            command: TenantCommand::PaythruRequireNonce { target, require },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            service
                .set_paythru_require_nonce(target, *require)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{target}: Paythru requestTime/requestNonce {}",
                if *require { "required" } else { "optional" }
            );
            Ok(())
        }
        Command::Keys { command } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            if matches!(command, KeysCommand::Rotate) {
                let id = service.rotate_keys().await.map_err(|e| e.to_string())?;
                println!("rotated: {id} is now active (running servers pick it up within 30 s)");
            }
            let rows = service
                .storage()
                .all_rsa_keys()
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<22} {:<9} {:<21} {:<21}",
                "KEY ID", "STATUS", "CREATED", "EXPIRES"
            );
            for r in rows {
                println!(
                    "{:<22} {:<9} {:<21} {:<21}",
                    r.key_id,
                    r.status,
                    rfc3339(r.created_at),
                    rfc3339(r.expires_at)
                );
            }
            Ok(())
        }
    }
}

struct WebOptions {
    www: PathBuf,
    pkg: PathBuf,
    widget_origin: Option<String>,
    frame_ancestors: Option<String>,
    demo_tenant: Option<String>,
}

async fn serve(
    service: Arc<Service>,
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    web: WebOptions,
    housekeeping_secs: u64,
) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };

    let state = AppState {
        service: Arc::clone(&service),
        metrics: Arc::new(Metrics::default()),
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
            tracing::warn!(pkg = %web.pkg.display(), "the web build of paysecure-wasm is missing: widgets will not load (run scripts/build.sh web)");
        }
        paysecure_server::web::routes(WebConfig {
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
    let app = router_with(state, extra).into_make_service_with_connect_info::<SocketAddr>();

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
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(app)
                .await
                .map_err(|e| e.to_string())
        }
        None => {
            announce("http", local);
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await
                .map_err(|e| e.to_string())
        }
    };
    // Drained: close the database pool cleanly.
    service.storage().close().await;
    served
}

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
