//! The real binary, over real HTTP (and HTTPS): restart survival, the PIN
//! counter under 50 concurrent attempts, TLS, and a scan of the logs for
//! secrets.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use paysecure_core::{EncryptedValue, KeySize, Pin, PublicKey, Session, Version};
use serde_json::{json, Value};

use crate::common::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_paysecure-server");
/// Each test keeps its master key in its own data dir (the default
/// location, ~/.config/paysecure, is the operator's).
const MASTER_KEY_FILE_ENV: &str = "PAYSECURE_MASTER_KEY_FILE";

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path, db: &TestDb, log: &Path, extra: &[&str]) -> Server {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--log-format",
            "json",
        ])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "debug")
        .env(MASTER_KEY_FILE_ENV, data.join("master.key"));
        Server::spawn(cmd, log_file, log)
    }

    /// Starts `cmd` (a `serve`), logging to `log` (the file at `log_path`),
    /// and waits for its "listening on URL" line. A server that exits
    /// instead fails the test with its exit status and the end of its log.
    fn spawn(mut cmd: Command, log: std::fs::File, log_path: &Path) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_owned();
        if !url.starts_with("http") {
            let status = child.wait();
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            panic!("the server did not start ({status:?}); stdout: {line:?}; the end of its log:\n{tail}");
        }
        Server { child, url }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0: {status}");
    }
}

impl Server {
    /// A cluster node: its own data dir, the shared database and master key.
    fn node(dir: &Path, name: &str, db: &TestDb, master_key: &str) -> Server {
        let data = dir.join(name);
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--log-format",
            "json",
        ])
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--housekeeping-secs",
            "1",
        ])
        .env("PAYSECURE_MASTER_KEY", master_key);
        Server::spawn(cmd, log, &log_path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn create_tenant(data: &Path, db: &TestDb, name: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db.url,
            "tenant",
            "create",
            name,
        ])
        .env(MASTER_KEY_FILE_ENV, data.join("master.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
    public_key: PublicKey,
}

fn ev(v: &Value) -> EncryptedValue {
    EncryptedValue {
        data: v["data"].as_str().unwrap().into(),
        iv: v["iv"].as_str().unwrap().into(),
    }
}

impl Client {
    async fn new(url: &str, key: &str) -> Client {
        let http = reqwest::Client::new();
        let pk: Value = http
            .get(format!("{url}/v2/public-key"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Client {
            http,
            url: url.into(),
            key: key.into(),
            public_key: PublicKey::parse(pk["publicKey"].as_str().unwrap()).unwrap(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        session: Option<&Session>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key);
        if let Some(s) = session {
            req = req.header("Session-Id", s.session_id(&self.public_key).unwrap());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    async fn issue(&self) -> String {
        let (st, card) = self
            .send(
                reqwest::Method::POST,
                "/v2/cards",
                None,
                Some(json!({"accountId": "a"})),
            )
            .await;
        assert_eq!(st, 201);
        card["token"].as_str().unwrap().to_owned()
    }

    /// Calls a card-data endpoint with a fresh session and decrypts `field`.
    async fn read_value(&self, version: Version, path: &str, field: &str) -> String {
        use secrecy::ExposeSecret;
        let s = Session::generate(version, KeySize::Aes256).unwrap();
        let (st, r) = self.send(reqwest::Method::POST, path, Some(&s), None).await;
        assert_eq!(st, 200, "{r}");
        s.decrypt_string(&ev(&r[field]))
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    async fn pan(&self, token: &str) -> String {
        self.read_value(Version::V2, &format!("/v2/cards/{token}/pan"), "pan")
            .await
    }

    async fn cvv2(&self, token: &str) -> String {
        self.read_value(Version::V2, &format!("/v2/cards/{token}/cvv2"), "cvv2")
            .await
    }

    async fn set_pin(&self, token: &str, pin: &str) {
        let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
        let body = json!({"pinBlock": pin_value(&s, pin)});
        let (st, r) = self
            .send(
                reqwest::Method::PUT,
                &format!("/v2/cards/{token}/pin"),
                Some(&s),
                Some(body),
            )
            .await;
        assert_eq!(st, 200, "{r}");
    }

    /// Verifies `pin` on a fresh session; returns (status, body).
    async fn verify_pin(&self, token: &str, pin: &str) -> (u16, Value) {
        let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
        let body = json!({"pinBlock": pin_value(&s, pin)});
        self.send(
            reqwest::Method::POST,
            &format!("/v2/cards/{token}/pin/verify"),
            Some(&s),
            Some(body),
        )
        .await
    }

    async fn get_pin(&self, token: &str) -> String {
        let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
        let (st, r) = self
            .send(
                reqwest::Method::POST,
                &format!("/v2/cards/{token}/pin"),
                Some(&s),
                None,
            )
            .await;
        assert_eq!(st, 200, "{r}");
        s.decrypt_pin(&ev(&r["pinBlock"]))
            .unwrap()
            .expose()
            .to_owned()
    }
}

fn pin_value(s: &Session, pin: &str) -> Value {
    let v = s.encrypt_pin(&Pin::new(pin).unwrap()).unwrap();
    json!({"data": v.data, "iv": v.iv})
}

async fn tmp() -> (tempfile::TempDir, PathBuf, PathBuf, TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let db = TestDb::new(&data).await;
    (dir, data, log, db)
}

/// Secrets that must never appear in the log.
fn assert_log_clean(log: &Path, secrets: &[&str]) {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("\"path\":\"/v2/cards\""),
        "request logs present"
    );
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "JSON log lines"
    );
    for s in secrets {
        assert!(!s.is_empty());
        assert!(
            !contains_token(&text, s),
            "a secret ({} chars) appears in the log",
            s.len()
        );
    }
}

/// Whether `secret` occurs as a whole token: not inside a longer run of
/// letters and digits (a 4-digit PIN can occur by chance inside a UUID, a
/// timestamp or a latency; a leaked PIN stands alone, e.g. `"8642"`).
fn contains_token(text: &str, secret: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(secret).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + secret.len()..].chars().next();
        !alnum(before) && !alnum(after)
    })
}

#[test]
fn contains_token_matches_whole_tokens_only() {
    assert!(contains_token(r#"{"pin":"8642"}"#, "8642"));
    assert!(contains_token("pin=8642 ok", "8642"));
    assert!(contains_token("8642", "8642"));
    assert!(!contains_token("latency=18642us", "8642"));
    assert!(!contains_token("id=3f8642ab-", "8642"));
    assert!(!contains_token("t=23:58:18.64213Z", "8642"));
}

#[tokio::test]
async fn data_survives_a_restart_and_logs_carry_no_secrets() {
    let (_dir, data, log, db) = tmp().await;
    let key = create_tenant(&data, &db, "Restart Bank");
    let server = Server::start(&data, &db, &log, &[]);
    let c = Client::new(&server.url, &key).await;
    let token = c.issue().await;
    let pan = c.pan(&token).await;
    let cvv2 = c.cvv2(&token).await;
    c.set_pin(&token, "8642").await;
    server.stop();

    let server = Server::start(&data, &db, &log, &[]);
    let c2 = Client::new(&server.url, &key).await;
    assert_eq!(c2.public_key, c.public_key, "same RSA key after restart");
    assert_eq!(c2.pan(&token).await, pan);
    assert_eq!(c2.cvv2(&token).await, cvv2);
    assert_eq!(c2.get_pin(&token).await, "8642");
    server.stop();

    // With the PKCS#11 custody no key file is made: the vault key is kept
    // wrapped by the token's KEK.
    let master = if crate::common::pkcs11_run() {
        assert!(!data.join("master.key").exists());
        String::new()
    } else {
        std::fs::read_to_string(data.join("master.key")).unwrap()
    };
    // Short secrets as JSON strings: as bare digits they can occur by
    // chance (e.g. a latency of "8642 µs").
    let cvv2 = format!("\"{cvv2}\"");
    let mut secrets = vec![
        pan.as_str(),
        key.as_str(),
        "\"8642\"",
        "248642FFFFFFFFFF",
        cvv2.as_str(),
    ];
    if !master.is_empty() {
        secrets.push(master.trim());
    }
    assert_log_clean(&log, &secrets);
}

#[tokio::test]
async fn fifty_concurrent_wrong_pins_block_exactly_and_lose_no_update() {
    let (_dir, data, log, db) = tmp().await;
    let key = create_tenant(&data, &db, "Counter Bank");
    let server = Server::start(&data, &db, &log, &[]);
    let c = std::sync::Arc::new(Client::new(&server.url, &key).await);
    let token = c.issue().await;
    c.set_pin(&token, "1358").await;
    let mut tasks = vec![];
    for i in 0..50 {
        let c = std::sync::Arc::clone(&c);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            c.verify_pin(&token, &format!("{:04}", 2000 + i)).await
        }));
    }
    let mut remaining = vec![];
    let mut locked = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => {
                assert_eq!(body["verified"], false);
                remaining.push(body["triesRemaining"].as_i64().unwrap());
            }
            423 => {
                assert_eq!(body["error"]["code"], "PIN_BLOCKED");
                locked += 1;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    remaining.sort();
    assert_eq!(
        remaining,
        vec![0, 1, 2],
        "each of the three counted attempts seen once"
    );
    assert_eq!(locked, 47);
    // The right PIN is refused now; after unblocking it works.
    let (st, _) = c.verify_pin(&token, "1358").await;
    assert_eq!(st, 423);
    let (st, _) = c
        .send(
            reqwest::Method::POST,
            &format!("/v2/cards/{token}/pin/unblock"),
            None,
            None,
        )
        .await;
    assert_eq!(st, 200);
    let (st, body) = c.verify_pin(&token, "1358").await;
    assert_eq!((st, body["verified"].clone()), (200, json!(true)));
    server.stop();
    assert_log_clean(&log, &[&key, "\"1358\"", "241358FFFFFFFFFF"]);
}

#[tokio::test]
async fn serves_https_with_a_given_certificate() {
    let (dir, data, log, db) = tmp().await;
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let server = Server::start(
        &data,
        &db,
        &log,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let res = https
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pk: Value = https
        .get(format!("{}/v2/public-key", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(pk["publicKey"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    // Plain HTTP to the TLS port does not get an answer.
    let plain = server.url.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(r.is_err() || r.unwrap().status() != 200);
    // A bad certificate path fails at start with a clear error.
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.pem",
        ])
        .env(MASTER_KEY_FILE_ENV, data.join("master.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS certificate"));
    server.stop();
}

#[tokio::test]
async fn cli_keys_list_and_rotate_and_migrate() {
    let (_dir, data, _log, db) = tmp().await;
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "--database-url",
                &db.url,
            ])
            .args(args)
            .env(MASTER_KEY_FILE_ENV, data.join("master.key"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let list = run(&["keys", "list"]);
    // A session key and a card-capture key, each active.
    assert_eq!(
        list.lines().filter(|l| l.contains(" active ")).count(),
        2,
        "{list}"
    );
    for purpose in ["session ", "capture "] {
        assert_eq!(
            list.lines()
                .filter(|l| l.contains(" active ") && l.contains(purpose))
                .count(),
            1,
            "{list}"
        );
    }
    // `--capture` rotates the capture key alone.
    let rotated = run(&["keys", "rotate", "--capture"]);
    let previous: Vec<&str> = rotated
        .lines()
        .filter(|l| l.contains(" previous "))
        .collect();
    assert_eq!(previous.len(), 1, "{rotated}");
    assert!(previous[0].contains("capture "), "{rotated}");
    let rotated = run(&["keys", "rotate"]);
    assert!(rotated.contains("is now active"), "{rotated}");
    // The session key's previous one, and the capture key's.
    assert_eq!(
        rotated.lines().filter(|l| l.contains(" previous ")).count(),
        2,
        "{rotated}"
    );
    let again = run(&["keys", "rotate"]);
    assert_eq!(
        again.lines().filter(|l| l.contains(" retired ")).count(),
        1,
        "{again}"
    );
    let migrated = run(&["migrate"]);
    // The newest migration's number.
    let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .get(..4)?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap();
    assert!(
        migrated.starts_with(&format!("database schema at version {newest} ")),
        "{migrated}"
    );
    let out = run(&["tenant", "create", "CLI Bank"]);
    assert!(out.lines().last().unwrap().starts_with("psk_"), "{out}");
    let bad = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db.url,
            "tenant",
            "create",
            " ",
        ])
        .env(MASTER_KEY_FILE_ENV, data.join("master.key"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// The limiter keys on the real peer address: failures from 127.0.0.2 block
/// 127.0.0.2 only, not 127.0.0.3; and only requests without a valid
/// credential.
#[tokio::test]
async fn failed_logins_block_only_the_offending_address() {
    let (_dir, data, log, db) = tmp().await;
    let key = create_tenant(&data, &db, "Limit Bank");
    let server = Server::start(&data, &db, &log, &[]);
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let (bad, good) = (from("127.0.0.2"), from("127.0.0.3"));
    let cards = format!("{}/v2/cards", server.url);
    for _ in 0..5 {
        assert_eq!(
            bad.get(&cards)
                .bearer_auth("psk_nope")
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let blocked = bad
        .get(&cards)
        .bearer_auth("psk_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 401);
    assert!(blocked.headers().contains_key("retry-after"), "blocked");
    // A valid credential passes the block of its address.
    assert_eq!(
        bad.get(&cards)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        good.get(&cards)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop();
}

// ---------------------------------------------------------------- cluster
// Two nodes on one PostgreSQL (PAYSECURE_TEST_POSTGRES, or the local server
// these machines run): every piece of shared state must agree.

async fn cluster() -> (tempfile::TempDir, TestDb, Server, Server, String) {
    let admin = std::env::var(crate::common::POSTGRES_ENV)
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into());
    let db = TestDb::postgres(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let master = paysecure_core::encoding::encode(&[0x33; 32]);
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            dir.path().join("cli").to_str().unwrap(),
            "--database-url",
            &db.url,
            "tenant",
            "create",
            "Cluster Bank",
        ])
        .env("PAYSECURE_MASTER_KEY", &master)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let a = Server::node(dir.path(), "a", &db, &master);
    let b = Server::node(dir.path(), "b", &db, &master);
    (dir, db, a, b, key)
}

#[tokio::test]
async fn cluster_a_card_issued_on_a_is_revealed_through_b() {
    let (_dir, _db, a, b, key) = cluster().await;
    let ca = Client::new(&a.url, &key).await;
    let cb = Client::new(&b.url, &key).await;
    assert_eq!(ca.public_key, cb.public_key, "one key ring");
    let token = ca.issue().await;
    assert_eq!(ca.pan(&token).await, cb.pan(&token).await);
    assert_eq!(ca.cvv2(&token).await, cb.cvv2(&token).await);
    ca.set_pin(&token, "8086").await;
    assert_eq!(cb.get_pin(&token).await, "8086");
}

#[tokio::test]
async fn cluster_fifty_wrong_pins_across_two_nodes_block_at_exactly_three() {
    let (_dir, _db, a, b, key) = cluster().await;
    let clients = std::sync::Arc::new([
        Client::new(&a.url, &key).await,
        Client::new(&b.url, &key).await,
    ]);
    let token = clients[0].issue().await;
    clients[0].set_pin(&token, "2581").await;
    let mut tasks = vec![];
    for i in 0..50 {
        let clients = std::sync::Arc::clone(&clients);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let c = &clients[i % 2];
            c.verify_pin(&token, &format!("{:04}", 3000 + i)).await
        }));
    }
    let (mut remaining, mut locked) = (vec![], 0);
    for t in tasks {
        match t.await.unwrap() {
            (200, body) => remaining.push(body["triesRemaining"].as_i64().unwrap()),
            (423, _) => locked += 1,
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    remaining.sort();
    assert_eq!(remaining, vec![0, 1, 2]);
    assert_eq!(locked, 47);
}

#[tokio::test]
async fn cluster_a_session_id_used_on_a_is_refused_on_b() {
    let (_dir, _db, a, b, key) = cluster().await;
    let ca = Client::new(&a.url, &key).await;
    let token = ca.issue().await;
    let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let sid = s.session_id(&ca.public_key).unwrap();
    let http = reqwest::Client::new();
    let call = |url: String| {
        http.post(format!("{url}/v2/cards/{token}/pan"))
            .bearer_auth(&key)
            .header("Session-Id", &sid)
            .send()
    };
    assert_eq!(call(a.url.clone()).await.unwrap().status(), 200);
    let replay = call(b.url.clone()).await.unwrap();
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"]["code"],
        "INVALID_SESSION_ID"
    );
}

#[tokio::test]
async fn cluster_authentication_throttling_counts_across_nodes() {
    let (_dir, _db, a, b, key) = cluster().await;
    let from = reqwest::Client::builder()
        .local_address("127.0.0.5".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    for (i, url) in [&a.url, &b.url, &a.url, &b.url, &a.url]
        .into_iter()
        .enumerate()
    {
        let r = from
            .get(format!("{url}/v2/cards"))
            .bearer_auth("psk_wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "failure {i}");
    }
    for url in [&a.url, &b.url] {
        let r = from
            .get(format!("{url}/v2/cards"))
            .bearer_auth("psk_wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{url}");
        assert!(r.headers().contains_key("retry-after"), "blocked on {url}");
        let r = from
            .get(format!("{url}/v2/cards"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a valid key passes on {url}");
    }
}

#[tokio::test]
async fn cluster_a_key_rotated_through_a_decrypts_on_b() {
    let (dir, db, a, b, key) = cluster().await;
    let before = Client::new(&a.url, &key).await.public_key;
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            dir.path().join("a").to_str().unwrap(),
            "--database-url",
            &db.url,
            "keys",
            "rotate",
        ])
        .env(
            "PAYSECURE_MASTER_KEY",
            paysecure_core::encoding::encode(&[0x33; 32]),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Node A publishes the new key after its next housekeeping (1 s here).
    let mut ca = Client::new(&a.url, &key).await;
    for _ in 0..50 {
        if ca.public_key != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ca = Client::new(&a.url, &key).await;
    }
    assert_ne!(ca.public_key, before, "node A serves the rotated key");
    let token = ca.issue().await;
    // A session id for the new key, sent to node B.
    let cb = Client {
        public_key: ca.public_key.clone(),
        ..Client::new(&b.url, &key).await
    };
    assert_eq!(cb.pan(&token).await.len(), 16);
    // And one for the previous key still works on B until it retires.
    let old = Client {
        public_key: before,
        ..Client::new(&b.url, &key).await
    };
    assert_eq!(old.pan(&token).await.len(), 16);
}

/// The Get CVV2 envelope when the database goes away under a running server
/// (PostgreSQL: the test's database dropped, its connections terminated):
/// the seed's 503 in the `NISrvResponse` envelope, never the generic JSON
/// error, and the card number never in the log. On SQLite (a file the
/// process keeps open) the in-process test `ni_cvv2::an_unavailable_database_answers_503`
/// covers the mapping.
#[tokio::test]
async fn get_cvv2_envelope_answers_503_when_the_database_is_dropped() {
    let (_dir, data, log, db) = tmp().await;
    let Ok(admin) = std::env::var(crate::common::POSTGRES_ENV) else {
        eprintln!("PostgreSQL only (PAYSECURE_TEST_POSTGRES)");
        return;
    };
    let key = create_tenant(&data, &db, "Bank");
    let server = Server::start(&data, &db, &log, &[]);
    let http = reqwest::Client::new();
    let card: Value = http
        .post(format!("{}/v2/cards", server.url))
        .bearer_auth(&key)
        .json(&json!({"exid": "EX-DROP"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let yymm = format!(
        "{:02}{:02}",
        card["expiryYear"].as_i64().unwrap() % 100,
        card["expiryMonth"].as_i64().unwrap()
    );
    let request = json!({"NISrvRequest": {"request_get_cvv2": {
        "header": {"msg_id": "223001", "msg_type": "TRANSACTION", "msg_function": "REQ_GET_CVV2",
                   "src_application": "IVR", "target_application": "WAY4",
                   "timestamp": "2020-07-20T10:49:02.366+04:00", "tracking_id": "223001", "bank_id": "NIC"},
        "body": {"card_identifier_id": "EX-DROP", "card_identifier_type": "EXID", "expiry_date": yymm}}}});
    let call = || async {
        let r = http
            .post(format!("{}/pin-management/v2/cvv2", server.url))
            .bearer_auth(&key)
            .json(&request)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    // Up: the bank does not allow clear CVV2 (104), so the database answered.
    let (status, body) = call().await;
    assert_eq!(status, 403, "{body}");
    // The database is dropped under the running server.
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let name = db.url.rsplit('/').next().unwrap().to_owned();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let started = std::time::Instant::now();
    let (status, body) = call().await;
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let res = &body["NISrvResponse"]["response_get_cvv2"];
    assert_eq!(res["header"]["msg_id"], "223001");
    assert_eq!(res["exception_details"]["status"], "F");
    assert_eq!(res["exception_details"]["error_code"], "503");
    assert!(body.get("error").is_none());
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("unavailable"), "the outage is logged");
}
