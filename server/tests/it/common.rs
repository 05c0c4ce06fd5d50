//! A test fixture: the real router over a real SQLite vault in a temp dir,
//! with the client side played by the paysecure-wasm core.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use paysecure_core::{EncryptedValue, KeySize, Pin, PublicKey, Session, Version};
use paysecure_server::crypto::custody::pkcs11::{Pkcs11Config, Pkcs11Custody};
use paysecure_server::crypto::custody::software::SoftwareCustody;
use paysecure_server::crypto::custody::KeyCustody;
use paysecure_server::crypto::vault::Vault;
use paysecure_server::http::telemetry::Metrics;
use paysecure_server::storage::{Storage, StorageOptions};
use paysecure_server::{router, AppState, Service, ServiceConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The database of one test: SQLite in a temp dir by default; a fresh
/// PostgreSQL database (dropped afterwards) when `PAYSECURE_TEST_POSTGRES`
/// holds an admin URL such as `postgres://root@127.0.0.1:5432/postgres`.
pub struct TestDb {
    pub url: String,
    admin: Option<(String, String)>,
}

pub const POSTGRES_ENV: &str = "PAYSECURE_TEST_POSTGRES";

/// `pkcs11`: the in-process services of this run use the PKCS#11 key
/// custody (the token named by `PAYSECURE_PKCS11_MODULE`,
/// `PAYSECURE_PKCS11_TOKEN_LABEL` and `PAYSECURE_PKCS11_PIN`, the variables
/// the server processes the tests start read too, with
/// `PAYSECURE_KEY_CUSTODY=pkcs11`); `scripts/test.sh rust-hsm` sets them
/// up over a SoftHSM2 token made for the run. Anything else: software.
pub const KEY_CUSTODY_ENV: &str = "PAYSECURE_TEST_KEY_CUSTODY";

/// Whether this run uses the PKCS#11 custody.
pub fn pkcs11_run() -> bool {
    std::env::var(KEY_CUSTODY_ENV).is_ok_and(|v| v == "pkcs11")
}

/// The PKCS#11 module of SoftHSM2 (Debian's `softhsm2`, installed by
/// scripts/setup.sh).
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// How to reach the run's token: what a server process needs in its
/// environment (`SOFTHSM2_CONF` is set in this process's, and inherited).
#[derive(Clone, Debug)]
pub struct TokenEnv {
    pub module: String,
    pub label: String,
    pub pin: String,
}

impl TokenEnv {
    /// Points a `paysecure-server` command at the token.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        cmd.env("PAYSECURE_KEY_CUSTODY", "pkcs11")
            .env("PAYSECURE_PKCS11_MODULE", &self.module)
            .env("PAYSECURE_PKCS11_TOKEN_LABEL", &self.label)
            .env("PAYSECURE_PKCS11_PIN", &self.pin);
    }
}

/// The token of this test process. In a pkcs11 run, the one the
/// environment names (scripts/test.sh rust-hsm made it); otherwise a
/// SoftHSM2 token made now for this process, in a directory of its own
/// under target/tmp with its own `SOFTHSM2_CONF` (set in this process's
/// environment once, before the module is loaded).
pub fn token_env() -> TokenEnv {
    static TOKEN: std::sync::OnceLock<TokenEnv> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(|| {
            let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
            if pkcs11_run() {
                return TokenEnv {
                    module: var("PAYSECURE_PKCS11_MODULE"),
                    label: var("PAYSECURE_PKCS11_TOKEN_LABEL"),
                    pin: var("PAYSECURE_PKCS11_PIN"),
                };
            }
            let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("softhsm-it-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("tokens")).unwrap();
            let conf = dir.join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                    dir.join("tokens").display()
                ),
            )
            .unwrap();
            std::env::set_var("SOFTHSM2_CONF", &conf);
            let token = TokenEnv {
                module: SOFTHSM_MODULE.into(),
                label: "paysecure-it".into(),
                pin: "it-user-pin-4821".into(),
            };
            let out = std::process::Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", &token.label])
                .args(["--so-pin", "it-so-pin-9402", "--pin", &token.pin])
                .env("SOFTHSM2_CONF", &conf)
                .output()
                .expect("softhsm2-util runs (scripts/setup.sh installs softhsm2)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            token
        })
        .clone()
}

/// The PKCS#11 custody over [`token_env`]'s token: one per process (a
/// PKCS#11 module is initialized once per process), opened on first use.
pub fn pkcs11_custody() -> Pkcs11Custody {
    static CUSTODY: std::sync::OnceLock<Pkcs11Custody> = std::sync::OnceLock::new();
    CUSTODY
        .get_or_init(|| {
            let t = token_env();
            Pkcs11Custody::open(Pkcs11Config {
                module: t.module.into(),
                token_label: t.label,
                pin: zeroize::Zeroizing::new(t.pin),
            })
            .expect("the PKCS#11 token of this run opens")
        })
        .clone()
}

/// The key custody of this run's in-process services.
pub fn test_custody() -> Arc<dyn KeyCustody> {
    if pkcs11_run() {
        Arc::new(pkcs11_custody())
    } else {
        Arc::new(SoftwareCustody)
    }
}

/// A service over `storage` with the test vault key and this run's custody.
pub async fn test_service(storage: Storage, config: ServiceConfig) -> Service {
    service_with(storage, test_custody(), config).await
}

/// A service over `storage` with the test vault key and `custody`.
pub async fn service_with(
    storage: Storage,
    custody: Arc<dyn KeyCustody>,
    config: ServiceConfig,
) -> Service {
    Service::with_custody(storage, Vault::new(&[42u8; 32]).unwrap(), custody, config)
        .await
        .unwrap()
}

impl TestDb {
    pub async fn new(dir: &std::path::Path) -> TestDb {
        match std::env::var(POSTGRES_ENV) {
            Ok(admin) => TestDb::postgres(&admin).await,
            Err(_) => TestDb {
                url: format!("sqlite://{}?mode=rwc", dir.join("paysecure.db").display()),
                admin: None,
            },
        }
    }

    pub async fn postgres(admin: &str) -> TestDb {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let name = format!("paysecure_test_{}", hex::encode(rand_bytes()));
        let mut conn = sqlx::AnyConnection::connect(admin)
            .await
            .expect("PostgreSQL admin connection");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').expect("admin URL has a database");
        TestDb {
            url: format!("{base}/{name}"),
            admin: Some((admin.to_owned(), name)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin.is_some()
    }
}

fn rand_bytes() -> [u8; 6] {
    let mut b = [0u8; 6];
    getrandom::getrandom(&mut b).unwrap();
    b
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.admin.take() {
            // A runtime of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub router: Router,
    pub service: Arc<Service>,
    pub dir: tempfile::TempDir,
    pub tenant_key: String,
    pub tenant_id: String,
    pub public_key: PublicKey,
    /// The card-capture key (`/v2/capture-key`, JWE RSA-OAEP-256).
    pub capture_key: PublicKey,
    /// The V1 (PKCS#1 v1.5) key, once [`TestApp::enable_v1`] made one.
    pub v1_public_key: Option<PublicKey>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(ServiceConfig::default()).await
    }

    pub async fn with_config(config: ServiceConfig) -> Self {
        Self::with_custody(test_custody(), config).await
    }

    /// The app with this key custody (whatever the run's).
    pub async fn with_custody(custody: Arc<dyn KeyCustody>, config: ServiceConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(dir.path()).await;
        let storage = Storage::connect(&db.url, &StorageOptions::default())
            .await
            .unwrap();
        let service = Arc::new(service_with(storage, custody, config).await);
        let (tenant_id, tenant_key) = service.create_tenant("Test Bank").await.unwrap();
        let state = AppState {
            service: Arc::clone(&service),
            metrics: Arc::new(Metrics::default()),
        };
        let mut app = TestApp {
            db,
            router: router(state),
            service,
            dir,
            tenant_key: tenant_key.to_string(),
            tenant_id,
            public_key: dummy_key(),
            capture_key: dummy_key(),
            v1_public_key: None,
        };
        app.refresh_public_key().await;
        app
    }

    pub async fn refresh_public_key(&mut self) {
        let r = self
            .call(Method::GET, "/v2/public-key", None, &[], None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        self.public_key = PublicKey::parse(r.body["publicKey"].as_str().unwrap()).unwrap();
        let r = self
            .call(Method::GET, "/v2/capture-key", None, &[], None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        self.capture_key = PublicKey::parse(r.body["publicKey"].as_str().unwrap()).unwrap();
    }

    /// One request from 192.0.2.10 (or `ip`).
    pub async fn call_from(
        &self,
        ip: &str,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header("authorization", format!("Bearer {a}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&b).unwrap())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        self.call_from("192.0.2.10", method, uri, auth, headers, body)
            .await
    }

    /// Enables V1 for the test tenant (off by default) and fetches the V1
    /// key that V1 session ids are made for.
    pub async fn enable_v1(&mut self) {
        self.service
            .set_tenant_v1(&self.tenant_id, true)
            .await
            .unwrap();
        let r = self
            .call(Method::GET, "/v1/public-key", None, &[], None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        self.v1_public_key = Some(PublicKey::parse(r.body["publicKey"].as_str().unwrap()).unwrap());
    }

    /// The key session ids of `version` are made for.
    pub fn key_for(&self, version: Version) -> &PublicKey {
        match (version, &self.v1_public_key) {
            (Version::V1, Some(k)) => k,
            _ => &self.public_key,
        }
    }

    /// A fresh client session and its session id for this server's key.
    pub fn session(&self, version: Version) -> (Session, String) {
        let s = Session::generate(version, KeySize::Aes256).unwrap();
        let sid = s.session_id(self.key_for(version)).unwrap();
        (s, sid)
    }

    /// A cardholder-data call with a fresh session.
    pub async fn card_call(
        &self,
        version: Version,
        method: Method,
        uri: &str,
        auth: &str,
        body: impl FnOnce(&Session) -> Option<Value>,
    ) -> (Session, Reply) {
        let (s, sid) = self.session(version);
        let b = body(&s);
        let r = self
            .call(method, uri, Some(auth), &[("session-id", &sid)], b)
            .await;
        (s, r)
    }

    pub async fn issue_card(&self) -> Value {
        let r = self
            .call(
                Method::POST,
                "/v2/cards",
                Some(&self.tenant_key),
                &[],
                Some(json!({"accountId": "acc-1", "customerId": "cu-1", "customerRef": "ref-1"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }

    pub async fn set_pin(&self, token: &str, pin: &str) {
        let (_, r) = self
            .card_call(
                Version::V2,
                Method::PUT,
                &format!("/v2/cards/{token}/pin"),
                &self.tenant_key,
                |s| Some(json!({"pinBlock": enc(s.encrypt_pin(&Pin::new(pin).unwrap()).unwrap())})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    pub async fn pan_of(&self, token: &str) -> String {
        let (s, r) = self
            .card_call(
                Version::V2,
                Method::POST,
                &format!("/v2/cards/{token}/pan"),
                &self.tenant_key,
                |_| None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        open(&s, &r.body["pan"])
    }

    pub async fn ephemeral(&self, token: &str, scopes: &[&str]) -> String {
        let r = self
            .call(
                Method::POST,
                "/v2/ephemeral-keys",
                Some(&self.tenant_key),
                &[],
                Some(json!({"token": token, "scopes": scopes, "ttlSeconds": 300})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["key"].as_str().unwrap().to_owned()
    }
}

fn dummy_key() -> PublicKey {
    // Replaced by refresh_public_key() before any use.
    let mut n = vec![0u8; 256];
    n[0] = 0x80;
    n[255] = 1;
    PublicKey::from_components(&n, &[1, 0, 1]).unwrap()
}

pub fn enc(v: EncryptedValue) -> Value {
    json!({"data": v.data, "iv": v.iv})
}

pub fn enc_text(s: &Session, text: &str) -> Value {
    enc(s.encrypt(text.as_bytes()).unwrap())
}

pub fn open(s: &Session, v: &Value) -> String {
    use secrecy::ExposeSecret;
    let ev = EncryptedValue {
        data: v["data"].as_str().unwrap().into(),
        iv: v["iv"].as_str().unwrap().into(),
    };
    s.decrypt_string(&ev).unwrap().expose_secret().to_owned()
}

pub fn open_pin(s: &Session, v: &Value) -> String {
    let ev = EncryptedValue {
        data: v["data"].as_str().unwrap().into(),
        iv: v["iv"].as_str().unwrap().into(),
    };
    s.decrypt_pin(&ev).unwrap().expose().to_owned()
}
