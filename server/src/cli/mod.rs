//! The `paysecure-server` command line: `serve` the APIs, `migrate` the
//! database, manage tenants (`tenant …`) and the issuer's RSA keys
//! (`keys …`). Commands reach the database only through the domain.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use zeroize::Zeroizing;

use crate::crypto::custody::pkcs11::{Pkcs11Config, Pkcs11Custody, PIN_ENV as PKCS11_PIN_ENV};
use crate::crypto::custody::software::SoftwareCustody;
use crate::crypto::custody::KeyCustody;
use crate::crypto::keys::Purpose;
use crate::crypto::vault::{
    default_master_key_path, find_master_key, load_master_key, MasterKeySource, MASTER_KEY_ENV,
};
use crate::domain::custody::{import_to_token, open_token_vault, VaultKeyOrigin};
use crate::domain::ratelimit;
use crate::domain::service::{connect_database, Service, ServiceConfig, StorageOptions};
use crate::http::server::{serve, WebOptions};
use crate::http::telemetry;
use crate::http::transport::{self, ConnectionLimits};
use crate::util::time::rfc3339;

#[derive(Parser)]
#[command(
    name = "paysecure-server",
    version,
    about = "The PaySecure issuer API over an encrypted card vault"
)]
struct Cli {
    /// Directory for the SQLite database.
    #[arg(
        long,
        global = true,
        env = "PAYSECURE_DATA_DIR",
        default_value = "paysecure-data"
    )]
    data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in --data-dir].
    /// May hold a password: its value is never shown in --help.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The vault's master key file (base64; must be owned by this user,
    /// mode 0600) [default: $XDG_CONFIG_HOME/paysecure/master.key or
    /// ~/.config/paysecure/master.key, created on first start; an existing
    /// <data-dir>/master.key is still used, with a warning].
    /// PAYSECURE_MASTER_KEY (the key itself, base64) overrides it.
    #[arg(long, global = true, env = "PAYSECURE_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// PAYSECURE_MASTER_KEY, taken from the environment (and removed from
    /// it) first thing in `main`.
    #[arg(skip)]
    master_key_env: Option<Zeroizing<String>>,
    /// Where the RSA private keys and the PIN key live: `software` (sealed
    /// by the vault, used in this process) or `pkcs11` (generated and used
    /// inside an HSM; see docs/deployment.md).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "PAYSECURE_KEY_CUSTODY",
        default_value = "software"
    )]
    key_custody: KeyCustodyArg,
    /// The PKCS#11 module of the HSM (--key-custody pkcs11), e.g.
    /// /usr/lib/softhsm/libsofthsm2.so.
    #[arg(long, global = true, env = "PAYSECURE_PKCS11_MODULE")]
    pkcs11_module: Option<PathBuf>,
    /// The label of the token (--key-custody pkcs11).
    #[arg(long, global = true, env = "PAYSECURE_PKCS11_TOKEN_LABEL")]
    pkcs11_token_label: Option<String>,
    /// A file holding the token's user PIN (owned by this user, mode 0600);
    /// PAYSECURE_PKCS11_PIN (the PIN itself) overrides it.
    #[arg(long, global = true, env = "PAYSECURE_PKCS11_PIN_FILE")]
    pkcs11_pin_file: Option<PathBuf>,
    /// PAYSECURE_PKCS11_PIN, taken from the environment (and wiped there)
    /// first thing in `main`.
    #[arg(skip)]
    pkcs11_pin_env: Option<Zeroizing<String>>,
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
    /// Microseconds the group commit of used session ids waits under load
    /// (after a batch of two or more) to gather more records into one
    /// commit, as PostgreSQL's commit_delay; 0: no wait. At most 100000.
    #[arg(
        long,
        global = true,
        env = "PAYSECURE_COMMIT_DELAY_US",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(0..=100_000)
    )]
    commit_delay_us: u64,
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeyCustodyArg {
    /// Keys sealed by the vault, operations in this process.
    Software,
    /// Keys inside a PKCS#11 token (HSM), operations in the token.
    Pkcs11,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

// Parsed once at start; boxing the serve options would only add noise.
#[allow(clippy::large_enum_variant)]
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
        /// Folder with widget/, elements/ and demo/ (served when it exists).
        #[arg(long, default_value = "www")]
        www: PathBuf,
        /// The web build of paysecure-wasm, served at /pkg/.
        #[arg(long, default_value = "pkg/paysecure-wasm")]
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
        /// Proxies whose X-Forwarded-For names the client (for the
        /// failed-authentication throttle): CIDRs or addresses separated by
        /// commas or spaces; `private` is loopback plus the private ranges
        /// (10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10);
        /// `none` trusts nobody (the client is always the TCP peer).
        #[arg(long, env = "PAYSECURE_TRUSTED_PROXIES", default_value = "private")]
        trusted_proxies: String,
        /// Requests per second one credential may make (per node).
        #[arg(long, env = "PAYSECURE_CREDENTIAL_RATE",
            default_value_t = ratelimit::DEFAULT_CREDENTIAL_RATE.per_second,
            value_parser = clap::value_parser!(u32).range(1..))]
        credential_rate: u32,
        /// Requests one credential may make at once (per node).
        #[arg(long, env = "PAYSECURE_CREDENTIAL_BURST",
            default_value_t = ratelimit::DEFAULT_CREDENTIAL_RATE.burst,
            value_parser = clap::value_parser!(u32).range(1..))]
        credential_burst: u32,
        /// Requests per second on one card's data routes (per node).
        #[arg(long, env = "PAYSECURE_CARD_RATE",
            default_value_t = ratelimit::DEFAULT_CARD_RATE.per_second,
            value_parser = clap::value_parser!(u32).range(1..))]
        card_rate: u32,
        /// Requests at once on one card's data routes (per node).
        #[arg(long, env = "PAYSECURE_CARD_BURST",
            default_value_t = ratelimit::DEFAULT_CARD_RATE.burst,
            value_parser = clap::value_parser!(u32).range(1..))]
        card_burst: u32,
        /// Milliseconds the Get CVV2 envelope may take before it answers
        /// 504 Gateway Timeout in its own format (below the 15 s request
        /// timeout).
        #[arg(long, env = "PAYSECURE_ENVELOPE_DEADLINE_MS", default_value_t = 10_000,
            value_parser = clap::value_parser!(u64).range(1..15_000))]
        envelope_deadline_ms: u64,
        /// Seconds a client has to send a request's headers (HTTP/1; also
        /// how long a kept-alive HTTP/1 connection may wait for its next
        /// request) or a new connection's first bytes.
        #[arg(long, default_value_t = transport::DEFAULT_HEADER_READ_TIMEOUT_SECS)]
        header_read_timeout_secs: u64,
        /// Seconds a connection may go with nothing read or written before it
        /// is closed (must exceed the 15 s request timeout).
        #[arg(long, default_value_t = transport::DEFAULT_IDLE_TIMEOUT_SECS)]
        idle_timeout_secs: u64,
        /// Most connections open at once; one more is closed as soon as it
        /// is accepted.
        #[arg(long, env = "PAYSECURE_MAX_CONNECTIONS", default_value_t = transport::DEFAULT_MAX_CONNECTIONS)]
        max_connections: usize,
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
    /// Manage the BIN range table (the card type, issuer, country and
    /// currency fields of the Paythru and Verifone APIs).
    Bins {
        #[command(subcommand)]
        command: BinsCommand,
    },
}

#[derive(Subcommand)]
enum BinsCommand {
    /// Replace the BIN table with the ranges of a CSV file (format in
    /// docs/deployment.md), atomically: on any error (printed with its line
    /// number) the old table stays. Running servers use the new table
    /// within 30 seconds.
    Load {
        /// The CSV file; `sandbox` loads the built-in test ranges.
        file: PathBuf,
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
    /// Enable (or disable, the default) V1 for a tenant: RSAES-PKCS1-v1_5
    /// session ids (on a key pair of their own, /v1/public-key) and AES-CBC
    /// values with no integrity protection. Legacy clients only.
    AllowV1 {
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
    /// Make a new API key for a tenant; prints it on the last line (shown
    /// once). The tenant's older keys keep working for --overlap-secs, then
    /// stop.
    RotateKey {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// Seconds the older keys keep working (0: they stop now).
        #[arg(long, default_value_t = crate::domain::service::DEFAULT_KEY_OVERLAP_SECS)]
        overlap_secs: i64,
    },
    /// Revoke every API key of a tenant at once (running servers refuse them
    /// within 5 s) and delete its ephemeral keys. `rotate-key` makes a new one.
    RevokeKey {
        /// Tenant id (`ten_...`).
        tenant: String,
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
    /// Wallet provisioning: set the Apple root certificate(s) that the
    /// chains of `POST /v2/cards/{token}/digitization/apple` must lead to
    /// (PEM, possibly several, or DER files; replaces earlier ones).
    WalletAppleRoots {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// Certificate files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Wallet provisioning: make the Apple KDF's PartyVInfo the SHA-256 of
    /// this identifier (as Apple's onboarding names it); without --id, the
    /// ephemeral public key (the default).
    WalletApplePartyV {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// The identifier.
        #[arg(long)]
        id: Option<String>,
    },
    /// Wallet provisioning: set Mastercard's encryption key for MDES card
    /// data (a certificate or a public key, PEM or DER); prints its
    /// fingerprint.
    WalletMastercardKey {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// The certificate or public-key file.
        file: PathBuf,
        /// The fingerprint Mastercard gave for the key (hex) [default:
        /// SHA-256 of the certificate, or of the public key].
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Wallet provisioning: make (or replace) the tenant's TAV signing key;
    /// prints its public key (PEM) to register with Mastercard.
    WalletTavKey {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// RSA-2048 (PKCS#1 v1.5, SHA-256) instead of ECDSA P-256.
        #[arg(long)]
        rsa: bool,
    },
    /// The sandbox CVV token service: mints a one-time `cardCVVToken` for
    /// the account API (valid 10 minutes, this tenant only). Reads one line
    /// from standard input: the CVV (3 or 4 digits); with `--expiry`, a
    /// card number instead, and the token holds that card's own CVV2 under
    /// the tenant's CVK (never shown). Prints the token.
    CvvToken {
        /// Tenant id (`ten_...`).
        tenant: String,
        /// The card's expiry `YYMM`: standard input is a card number.
        #[arg(long)]
        expiry: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the key pairs.
    List,
    /// Make a new active key; the current one keeps decrypting as
    /// `previous` for 24 hours (at most until it expires).
    Rotate {
        /// Rotate the V1 (PKCS#1 v1.5) key pair instead of the session one.
        #[arg(long, conflicts_with = "capture")]
        v1: bool,
        /// Rotate the card-capture (JWE RSA-OAEP-256) key pair instead of
        /// the session one.
        #[arg(long)]
        capture: bool,
    },
    /// Revoke a key at once (compromised): it decrypts nothing from now
    /// on; an active key is replaced by a new one, with no overlap (with
    /// --key-custody pkcs11 its objects are destroyed in the token).
    Revoke {
        /// Key id (`rsa-...`).
        key_id: String,
    },
    /// Re-encrypt every PIN still stored as a format-2 block (written
    /// before migration 0011) as a format-4 block under the PIN key; the
    /// server also does this at every start. Prints the counts.
    MigratePins,
    /// Move a software deployment's keys into the PKCS#11 token (run with
    /// --key-custody pkcs11, the token options and the deployment's master
    /// key): the vault's master key wrapped under the token's KEK, the RSA
    /// private keys and the PIN key imported (non-extractable), every
    /// tenant's CVK pair. Idempotent; safe to interrupt and run again.
    ImportToToken,
}

/// Takes `PAYSECURE_MASTER_KEY` out of the environment (see
/// [`take_secret_env`]).
fn take_master_key_env() -> Option<Zeroizing<String>> {
    take_secret_env(MASTER_KEY_ENV)
}

/// Takes a secret variable (`PAYSECURE_MASTER_KEY`, `PAYSECURE_PKCS11_PIN`)
/// out of the environment: reads it, wipes its bytes in the environment
/// block (`/proc/<pid>/environ`, what `ps e` shows, reads that block, which
/// `remove_var` alone leaves intact), and removes the variable, so no child
/// process or later reader sees it. Called first in `main`, while the
/// process has one thread.
fn take_secret_env(var: &str) -> Option<Zeroizing<String>> {
    // Not UTF-8: kept (as replacement characters) so that decoding fails
    // with a clear error instead of silently falling back to a file.
    let value = std::env::var_os(var).map(|v| Zeroizing::new(v.to_string_lossy().into_owned()));
    if let Ok(name) = std::ffi::CString::new(var) {
        // SAFETY: no other thread exists yet, so nothing reads or changes
        // the environment meanwhile; `getenv` returns null or a pointer to
        // the variable's NUL-terminated value in the (writable) environment
        // block, and exactly its `strlen` bytes are overwritten.
        unsafe {
            let p = libc::getenv(name.as_ptr());
            if !p.is_null() {
                std::ptr::write_bytes(p, 0, libc::strlen(p));
            }
        }
    }
    std::env::remove_var(var);
    value
}

/// Reads the token PIN from `path`: a regular file owned by this user that
/// gives group and others no access; surrounding white space is dropped.
fn read_pin_file(path: &Path) -> Result<Zeroizing<String>, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open the PKCS#11 PIN file {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "refusing the PKCS#11 PIN file {}: it must be a regular file owned by this user with mode 0600",
            path.display()
        ));
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}

/// The key custody the command line asks for.
fn key_custody(cli: &Cli) -> Result<Arc<dyn KeyCustody>, String> {
    if cli.key_custody == KeyCustodyArg::Software {
        return Ok(Arc::new(SoftwareCustody));
    }
    Ok(Arc::new(pkcs11_custody(cli)?))
}

/// The PKCS#11 token the command line names.
fn pkcs11_custody(cli: &Cli) -> Result<Pkcs11Custody, String> {
    let module = cli
        .pkcs11_module
        .clone()
        .ok_or("--key-custody pkcs11 needs --pkcs11-module (PAYSECURE_PKCS11_MODULE)")?;
    let token_label = cli
        .pkcs11_token_label
        .clone()
        .ok_or("--key-custody pkcs11 needs --pkcs11-token-label (PAYSECURE_PKCS11_TOKEN_LABEL)")?;
    let pin = match (&cli.pkcs11_pin_env, &cli.pkcs11_pin_file) {
        (Some(pin), _) => pin.clone(),
        (None, Some(path)) => read_pin_file(path)?,
        (None, None) => {
            return Err(format!(
                "--key-custody pkcs11 needs the token PIN: --pkcs11-pin-file or {PKCS11_PIN_ENV}"
            ))
        }
    };
    Pkcs11Custody::open(Pkcs11Config {
        module,
        token_label,
        pin,
    })
}

/// `keys import-to-token`: see [`KeysCommand::ImportToToken`].
async fn import_to_token_command(cli: &Cli) -> Result<(), String> {
    if cli.key_custody != KeyCustodyArg::Pkcs11 {
        return Err(
            "keys import-to-token needs --key-custody pkcs11 and the token's options".into(),
        );
    }
    let custody = pkcs11_custody(cli)?;
    let options = StorageOptions {
        max_connections: cli.db_max_connections,
        acquire_timeout: Duration::from_secs(cli.db_acquire_timeout_secs.max(1)),
        commit_delay: Duration::from_micros(cli.commit_delay_us),
    };
    let url = match &cli.database_url {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            cli.data_dir.join("paysecure.db").display()
        ),
    };
    let storage = connect_database(&url, &options)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let given = find_master_key(
        cli.master_key_env.as_deref().map(String::as_str),
        cli.master_key_file.as_deref(),
        default_master_key_path().as_deref(),
        &cli.data_dir,
    )
    .map_err(|e| e.to_string())?;
    let r = import_to_token(&storage, &custody, given.as_ref().map(|(k, _)| &k[..]))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "vault master key wrapped by the token now: {}; RSA keys imported now: {}; PIN key imported now: {}; tenant CVK pairs imported now: {}; rows that changed meanwhile (run again): {}",
        r.vault_key_imported, r.rsa_keys, r.pin_key, r.cvks, r.changed_meanwhile
    );
    if r.changed_meanwhile == 0 {
        println!("every key is in the token: start the servers with --key-custody pkcs11; once every node does, destroy the master key file (or unset PAYSECURE_MASTER_KEY)");
    }
    Ok(())
}

/// The `paysecure-server` command: parses the command line, sets up
/// logging and the async runtime, and runs the command.
pub fn main() -> std::process::ExitCode {
    let master_key_env = take_master_key_env();
    let pkcs11_pin_env = take_secret_env(PKCS11_PIN_ENV);
    let mut cli = Cli::parse();
    cli.master_key_env = master_key_env;
    cli.pkcs11_pin_env = pkcs11_pin_env;
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
    let options = StorageOptions {
        max_connections: cli.db_max_connections,
        acquire_timeout: Duration::from_secs(cli.db_acquire_timeout_secs.max(1)),
        commit_delay: Duration::from_micros(cli.commit_delay_us),
    };
    let url = match &cli.database_url {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            cli.data_dir.join("paysecure.db").display()
        ),
    };
    if cli.key_custody == KeyCustodyArg::Pkcs11 {
        let custody = key_custody(cli)?;
        let storage = connect_database(&url, &options)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        // The vault's master key is kept in the database wrapped by the
        // token's key-encryption key (no key file); a master key still
        // configured (an existing software deployment's) is imported on
        // the first start and must match afterwards.
        let given = find_master_key(
            cli.master_key_env.as_deref().map(String::as_str),
            cli.master_key_file.as_deref(),
            default_master_key_path().as_deref(),
            &cli.data_dir,
        )
        .map_err(|e| e.to_string())?;
        let (vault, origin) =
            open_token_vault(&storage, &*custody, given.as_ref().map(|(k, _)| &k[..]))
                .await
                .map_err(|e| e.to_string())?;
        match (origin, given) {
            (VaultKeyOrigin::Imported, Some((_, source))) => {
                tracing::warn!(source = ?source, "the vault's master key was imported: it is now kept wrapped by the token's key-encryption key; once every node runs with --key-custody pkcs11, destroy the key file (or unset PAYSECURE_MASTER_KEY)");
            }
            (VaultKeyOrigin::Created, _) => {
                tracing::info!("made the vault's master key: kept in the database wrapped by the token's key-encryption key");
            }
            _ => {}
        }
        return Service::with_custody(storage, vault, custody, config)
            .await
            .map_err(|e| e.to_string());
    }
    let (vault, source) = load_master_key(
        cli.master_key_env.as_deref().map(String::as_str),
        cli.master_key_file.as_deref(),
        default_master_key_path().as_deref(),
        &cli.data_dir,
    )
    .map_err(|e| e.to_string())?;
    match source {
        MasterKeySource::Created(path) => {
            tracing::warn!(path = %path.display(), "created a new master key file; back it up (apart from the database): without it the vault cannot be read");
        }
        MasterKeySource::DataDir(path) => {
            tracing::warn!(path = %path.display(), default = ?default_master_key_path(), "the master key file is in the data directory, beside the database: move it out (to the default location, or anywhere with --master-key-file)");
        }
        MasterKeySource::Environment | MasterKeySource::File(_) => {}
    }
    let custody = key_custody(cli)?;
    let storage = connect_database(&url, &options)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    Service::with_custody(storage, vault, custody, config)
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
            trusted_proxies,
            credential_rate,
            credential_burst,
            card_rate,
            card_burst,
            envelope_deadline_ms,
            header_read_timeout_secs,
            idle_timeout_secs,
            max_connections,
        } => {
            let limits = ConnectionLimits {
                header_read_timeout: Duration::from_secs(*header_read_timeout_secs),
                idle_timeout: Duration::from_secs(*idle_timeout_secs),
                max_connections: *max_connections,
            };
            limits.validate().map_err(|e| e.to_string())?;
            let config = ServiceConfig {
                single_use_session_ids: !allow_session_id_reuse,
                trusted_proxies: ratelimit::TrustedProxies::parse(trusted_proxies)?,
                rate_limits: ratelimit::RateLimits {
                    credential: ratelimit::Rate {
                        per_second: *credential_rate,
                        burst: *credential_burst,
                    },
                    card: ratelimit::Rate {
                        per_second: *card_rate,
                        burst: *card_burst,
                    },
                },
                envelope_deadline: Duration::from_millis(*envelope_deadline_ms),
            };
            let service = Arc::new(open(&cli, config).await?);
            if *demo
                && service
                    .load_sandbox_bins_if_empty()
                    .await
                    .map_err(|e| e.to_string())?
            {
                tracing::info!("demo: loaded the sandbox BIN table (test card ranges)");
            }
            let demo_tenant = if *demo {
                Some(
                    crate::http::web::seed_demo(&service, &cli.data_dir)
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
                limits,
            )
            .await
        }
        Command::Migrate => {
            let service = open(&cli, ServiceConfig::default()).await?;
            let version = service.migrate().await.map_err(|e| e.to_string())?;
            println!(
                "database schema at version {version} ({:?})",
                service.backend()
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
                    crate::domain::paythru::Method::ALL
                        .into_iter()
                        .find(|x| x.as_str() == m)
                        .ok_or_else(|| format!("unknown method {m}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let service = open(&cli, ServiceConfig::default()).await?;
            let creds = service
                .paythru()
                .create_credentials(tenant, None, (!parsed.is_empty()).then_some(&parsed[..]))
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
            command: TenantCommand::AllowV1 { tenant, allow },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            service
                .set_tenant_v1(tenant, *allow)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{tenant}: V1 {}",
                if *allow { "enabled" } else { "disabled" }
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::CvvToken { tenant, expiry },
        } => {
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("standard input: {e}"))?;
            let value = line.trim();
            let service = open(&cli, ServiceConfig::default()).await?;
            let minted = match expiry {
                Some(yymm) => service.mint_cvv_token_for_card(tenant, value, yymm).await,
                None => service.mint_cvv_token(tenant, value).await,
            };
            let (token, expires) = minted.map_err(|e| e.to_string())?;
            eprintln!(
                "CVV token for {tenant}, one use, until {}:",
                rfc3339(expires)
            );
            println!("{token}");
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
                .paythru()
                .revoke_credentials(api_key)
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
            command:
                TenantCommand::RotateKey {
                    tenant,
                    overlap_secs,
                },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            let key = service
                .rotate_tenant_key(tenant, *overlap_secs)
                .await
                .map_err(|e| e.to_string())?;
            println!("new API key for {tenant}; the older keys stop working in {overlap_secs} s");
            println!("API key (shown once; store it now):");
            println!("{}", key.as_str());
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::RevokeKey { tenant },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            let n = service
                .revoke_tenant_keys(tenant)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{tenant}: {n} API key(s) revoked (running servers refuse them within {} s), ephemeral keys deleted; make a new key with `tenant rotate-key`",
                crate::domain::service::TENANT_KEY_CACHE_SECS
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::PaythruRequireNonce { target, require },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            service
                .paythru()
                .set_require_nonce(target, *require)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{target}: Paythru requestTime/requestNonce {}",
                if *require { "required" } else { "optional" }
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::WalletAppleRoots { tenant, files },
        } => {
            let mut roots = Vec::new();
            for file in files {
                let bytes = std::fs::read(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                roots.extend(
                    crate::crypto::wallet::certificates_from_file(&bytes)
                        .map_err(|e| format!("{}: {e}", file.display()))?,
                );
            }
            let service = open(&cli, ServiceConfig::default()).await?;
            let subjects = service
                .set_apple_roots(tenant, &roots)
                .await
                .map_err(|e| e.to_string())?;
            println!("{tenant}: {} Apple root(s) set:", subjects.len());
            for s in subjects {
                println!("  {s}");
            }
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::WalletApplePartyV { tenant, id },
        } => {
            let service = open(&cli, ServiceConfig::default()).await?;
            service
                .set_apple_party_v(tenant, id.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            match id {
                Some(_) => println!("{tenant}: Apple KDF PartyVInfo = SHA-256 of the identifier"),
                None => println!("{tenant}: Apple KDF PartyVInfo = the ephemeral public key"),
            }
            Ok(())
        }
        Command::Tenant {
            command:
                TenantCommand::WalletMastercardKey {
                    tenant,
                    file,
                    fingerprint,
                },
        } => {
            let bytes =
                std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let service = open(&cli, ServiceConfig::default()).await?;
            let fp = service
                .set_mastercard_key(tenant, &bytes, fingerprint.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!("{tenant}: Mastercard encryption key set; publicKeyFingerprint:");
            println!("{fp}");
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::WalletTavKey { tenant, rsa },
        } => {
            let alg = if *rsa {
                crate::crypto::wallet::TavAlgorithm::Rsa2048
            } else {
                crate::crypto::wallet::TavAlgorithm::EcdsaP256
            };
            let service = open(&cli, ServiceConfig::default()).await?;
            let pem = service
                .generate_tav_key(tenant, alg)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{tenant}: new TAV key ({}); public key for Mastercard:",
                alg.as_str()
            );
            print!("{pem}");
            Ok(())
        }
        Command::Bins {
            command: BinsCommand::Load { file },
        } => {
            let csv = if file.as_os_str() == "sandbox" {
                crate::domain::bins::SANDBOX_CSV.to_owned()
            } else {
                std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let service = open(&cli, ServiceConfig::default()).await?;
            let done = service.load_bins(&csv).await.map_err(|e| match e {
                crate::domain::bins::BinLoadError::File(e) => {
                    format!("{}: {e} (nothing changed)", file.display())
                }
                other => other.to_string(),
            })?;
            println!(
                "BIN table replaced: {} ranges, version {} (running servers use it within {} s)",
                done.ranges,
                done.version,
                crate::domain::bins::BIN_CACHE_SECS
            );
            Ok(())
        }
        Command::Keys { command } => {
            if let KeysCommand::ImportToToken = command {
                return import_to_token_command(&cli).await;
            }
            let service = open(&cli, ServiceConfig::default()).await?;
            match command {
                KeysCommand::List | KeysCommand::ImportToToken => {}
                KeysCommand::Rotate { v1, capture } => {
                    let purpose = match (*v1, *capture) {
                        (true, _) => Purpose::V1,
                        (_, true) => Purpose::Capture,
                        _ => Purpose::Session,
                    };
                    let id = service
                        .rotate_keys(purpose)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!(
                        "rotated: {id} is now active (running servers pick it up within \
                         --housekeeping-secs); the old key decrypts for 24 h more"
                    );
                }
                KeysCommand::Revoke { key_id } => {
                    match service
                        .revoke_key(key_id)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        Some(_) => println!(
                            "revoked: {key_id} decrypts nothing from now on (running servers \
                             drop it within --housekeeping-secs)"
                        ),
                        None => return Err(format!("no usable key {key_id}")),
                    }
                }
                KeysCommand::MigratePins => {
                    let (done, unreadable) =
                        service.migrate_pins().await.map_err(|e| e.to_string())?;
                    let left = service
                        .legacy_pin_count()
                        .await
                        .map_err(|e| e.to_string())?;
                    println!(
                        "PINs re-encrypted as format-4 blocks now: {done}; unreadable (left unchanged): {unreadable}; format-2 blocks left: {left}"
                    );
                    return Ok(());
                }
            }
            let rows = service.all_keys().await.map_err(|e| e.to_string())?;
            println!(
                "{:<22} {:<8} {:<9} {:<21} {:<21}",
                "KEY ID", "PURPOSE", "STATUS", "CREATED", "EXPIRES"
            );
            for r in rows {
                let status = if r.revoked_at.is_some() {
                    "revoked"
                } else {
                    r.status.as_str()
                };
                println!(
                    "{:<22} {:<8} {:<9} {:<21} {:<21}",
                    r.key_id,
                    r.purpose,
                    status,
                    rfc3339(r.created_at),
                    rfc3339(r.expires_at)
                );
            }
            Ok(())
        }
    }
}
