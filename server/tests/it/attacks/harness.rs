//! The attack suite's harness: a real `paysecure-server` process over real
//! HTTP, its JSON log, and the client side played by the paysecure-wasm core.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use paysecure_core::{EncryptedValue, KeySize, Pin, PublicKey, Session, Version};
use serde_json::{json, Value};

pub use crate::common::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_paysecure-server");

/// A running server with its own data dir, database and log file.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub log: PathBuf,
    pub db: TestDb,
    /// The API key of a tenant created before start.
    pub tenant_key: String,
    pub http: reqwest::Client,
    pub public_key: PublicKey,
    key_id: String,
    /// The card-capture key (`/v2/capture-key`, JWE RSA-OAEP-256).
    pub capture_key: PublicKey,
    capture_key_id: String,
    /// The V1 key, once [`Server::enable_v1`] fetched it.
    pub v1_public_key: Option<PublicKey>,
}

/// The global options every CLI call of one server shares.
fn base_args(data: &Path, db: &TestDb) -> Vec<String> {
    vec![
        "--data-dir".into(),
        data.display().to_string(),
        "--database-url".into(),
        db.url.clone(),
        "--log-format".into(),
        "json".into(),
    ]
}

impl Server {
    /// A server on a fresh database with one tenant, started with `extra`
    /// `serve` arguments.
    pub async fn start(extra: &[&str]) -> Server {
        Self::start_with(extra, &[]).await
    }

    /// As [`Server::start`], with extra environment variables.
    pub async fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let db = TestDb::new(&data).await;
        let mut s = Server {
            child: None,
            url: String::new(),
            dir,
            data,
            log,
            db,
            tenant_key: String::new(),
            // No pooled connections: several attacks wait past the server's
            // header-read or idle timeouts, and a kept-alive connection the
            // server closes meanwhile can race the next request sent on it.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            public_key: dummy_key(),
            key_id: String::new(),
            capture_key: dummy_key(),
            capture_key_id: String::new(),
            v1_public_key: None,
        };
        s.tenant_key = s.create_tenant("Attack Bank");
        s.spawn(extra, env);
        s.refresh_public_key().await;
        s
    }

    /// Runs a CLI command against this server's database; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_output(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a CLI command with `input` on its standard input; returns stdout.
    pub fn cli_with_input(&self, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = Command::new(BIN)
            .args(base_args(&self.data, &self.db))
            .args(args)
            .env("PAYSECURE_MASTER_KEY_FILE", self.data.join("master.key"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a CLI command; returns its whole output, success or not.
    pub fn cli_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(base_args(&self.data, &self.db))
            .args(args)
            .env("PAYSECURE_MASTER_KEY_FILE", self.data.join("master.key"))
            .output()
            .unwrap()
    }

    /// Creates a tenant through the CLI; returns its API key.
    pub fn create_tenant(&self, name: &str) -> String {
        self.cli(&["tenant", "create", name])
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned()
    }

    fn spawn(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(base_args(&self.data, &self.db))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "debug")
            .env("PAYSECURE_MASTER_KEY_FILE", self.data.join("master.key"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(log_file).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(self.url.starts_with("http"), "server did not start: {line}");
        self.child = Some(child);
    }

    /// Stops (SIGTERM) and starts again on the same data, with `extra`.
    pub async fn restart(&mut self, extra: &[&str]) {
        self.stop_process();
        self.spawn(extra, &[]);
        self.refresh_public_key().await;
    }

    fn stop_process(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    pub async fn refresh_public_key(&mut self) {
        let v: Value = self
            .http
            .get(format!("{}/v2/public-key", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.public_key = PublicKey::parse(v["publicKey"].as_str().unwrap()).unwrap();
        self.key_id = v["keyId"].as_str().unwrap().to_owned();
        let v: Value = self
            .http
            .get(format!("{}/v2/capture-key", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.capture_key = PublicKey::parse(v["publicKey"].as_str().unwrap()).unwrap();
        self.capture_key_id = v["keyId"].as_str().unwrap().to_owned();
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The id of the card-capture key.
    pub fn capture_key_id(&self) -> &str {
        &self.capture_key_id
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A fresh client session and its session id for this server's key
    /// (the V1 key for V1, once [`Server::enable_v1`] ran).
    pub fn session(&self, version: Version) -> (Session, String) {
        let s = Session::generate(version, KeySize::Aes256).unwrap();
        let key = match (version, &self.v1_public_key) {
            (Version::V1, Some(k)) => k,
            _ => &self.public_key,
        };
        let sid = s.session_id(key).unwrap();
        (s, sid)
    }

    /// Enables V1 for `tenant_id` through the CLI and fetches the V1 key
    /// (after the running server's once-a-second reload allowance).
    pub async fn enable_v1(&mut self, tenant_id: &str) {
        self.cli(&["tenant", "allow-v1", tenant_id, "true"]);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let v: Value = self
            .http
            .get(format!("{}/v1/public-key", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        self.v1_public_key = Some(PublicKey::parse(v["publicKey"].as_str().unwrap()).unwrap());
    }

    /// One request; answers (status, JSON body or the text as a JSON string).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send_to(&self.url, method, path, auth, headers, body)
            .await
    }

    /// Issues a sandbox card for the tenant; returns its token.
    pub async fn issue_card(&self) -> String {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/v2/cards",
                Some(&self.tenant_key),
                &[],
                Some(json!({"customerId": "cu-1"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// An ephemeral key for `token` with `scopes`.
    pub async fn ephemeral(&self, token: &str, scopes: &[&str]) -> String {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/v2/ephemeral-keys",
                Some(&self.tenant_key),
                &[],
                Some(json!({"token": token, "scopes": scopes, "ttlSeconds": 300})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["key"].as_str().unwrap().to_owned()
    }

    /// Sets a card's PIN with the tenant key.
    pub async fn set_pin(&self, token: &str, pin: &str) {
        let (s, sid) = self.session(Version::V2);
        let (status, body) = self
            .send(
                reqwest::Method::PUT,
                &format!("/v2/cards/{token}/pin"),
                Some(&self.tenant_key),
                &[("session-id", &sid)],
                Some(json!({"pinBlock": enc(s.encrypt_pin(&Pin::new(pin).unwrap()).unwrap())})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// The PAN of a card, read with the tenant key.
    pub async fn pan_of(&self, token: &str) -> String {
        let (s, sid) = self.session(Version::V2);
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                &format!("/v2/cards/{token}/pan"),
                Some(&self.tenant_key),
                &[("session-id", &sid)],
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        open(&s, &body["pan"])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn dummy_key() -> PublicKey {
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

pub fn ev(v: &Value) -> EncryptedValue {
    EncryptedValue {
        data: v["data"].as_str().unwrap().into(),
        iv: v["iv"].as_str().unwrap().into(),
    }
}

pub fn open(s: &Session, v: &Value) -> String {
    use secrecy::ExposeSecret;
    s.decrypt_string(&ev(v)).unwrap().expose_secret().to_owned()
}

/// Whether `secret` occurs in `text` as a whole token (not inside a longer
/// run of letters and digits).
pub fn contains_token(text: &str, secret: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(secret).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + secret.len()..].chars().next();
        !alnum(before) && !alnum(after)
    })
}

/// Asserts no secret of `secrets` appears in the server's log.
pub fn assert_log_clean(server: &Server, secrets: &[&str]) {
    let text = server.log_text();
    for s in secrets {
        assert!(!s.is_empty());
        assert!(
            !contains_token(&text, s),
            "a secret ({} chars) appears in the log",
            s.len()
        );
    }
}

/// Another node of a [`Server`]'s cluster: its own process, data dir and
/// log; the same database and master key.
pub struct Node {
    child: Option<Child>,
    pub url: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts another node on this server's database and master key, with
    /// `extra` `serve` arguments.
    pub fn start_node(&self, name: &str, extra: &[&str]) -> Node {
        let data = self.dir.path().join(format!("data-{name}"));
        let log = self.dir.path().join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(BIN);
        // No key file with the PKCS#11 custody: every node unwraps the
        // vault key recorded in the database.
        if let Ok(master) = std::fs::read_to_string(self.data.join("master.key")) {
            cmd.env("PAYSECURE_MASTER_KEY", master.trim());
        }
        let mut child = cmd
            .args(base_args(&data, &self.db))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "debug")
            .env("PAYSECURE_MASTER_KEY_FILE", self.data.join("master.key"))
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(
            url.starts_with("http"),
            "node did not start: {line}{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Node {
            child: Some(child),
            url,
            log,
        }
    }

    /// One request to `base` (this server's URL or a node's).
    pub async fn send_to(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{base}{path}"));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// `host:port` of the server, for raw TCP clients.
    pub fn addr(&self) -> String {
        self.url.split("://").nth(1).unwrap().to_owned()
    }

    /// As [`Server::start`], serving HTTPS with a fresh self-signed
    /// certificate for 127.0.0.1; `self.http` trusts it.
    pub async fn start_tls(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let db = TestDb::new(&data).await;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .add_root_certificate(
                reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        let mut s = Server {
            child: None,
            url: String::new(),
            dir,
            data,
            log,
            db,
            tenant_key: String::new(),
            http,
            public_key: dummy_key(),
            key_id: String::new(),
            capture_key: dummy_key(),
            capture_key_id: String::new(),
            v1_public_key: None,
        };
        s.tenant_key = s.create_tenant("Attack Bank");
        let (cert_arg, key_arg) = (
            cert_path.display().to_string(),
            key_path.display().to_string(),
        );
        let mut args = vec!["--tls-cert", &cert_arg, "--tls-key", &key_arg];
        args.extend_from_slice(extra);
        s.spawn(&args, &[]);
        assert!(s.url.starts_with("https://"), "{}", s.url);
        s.refresh_public_key().await;
        s
    }
}
