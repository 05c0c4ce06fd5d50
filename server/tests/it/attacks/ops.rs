//! Attacks on the transport and on operations: slow and idle connections,
//! connection floods, HTTP/2 limits, unbounded metrics, HSTS, secrets in
//! `--help`, the master key's location and environment, tenant API key
//! rotation and revocation, and secrets or card data in the logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paysecure_core::{body, KeySize, Pin, Session, SessionKey, Version};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::*;

// ---------------------------------------------------------------- helpers

/// Reads (and discards) until the server closes the connection; how long
/// that took, or `None` if it was still open after `limit`. Any bytes the
/// server sends first must not be a successful answer.
async fn closed_within(c: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => {
                let text = String::from_utf8_lossy(&seen);
                assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
                return Some(start.elapsed());
            }
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// One HTTP/1.1 request on a raw connection, kept alive; the response head
/// and body (read up to its Content-Length).
async fn raw_get(c: &mut TcpStream, path: &str) -> String {
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads one HTTP/2 frame: (type, flags, payload).
async fn h2_frame(c: &mut TcpStream) -> (u8, u8, Vec<u8>) {
    let mut head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut head))
        .await
        .expect("a frame")
        .unwrap();
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    c.read_exact(&mut payload).await.unwrap();
    (head[3], head[4], payload)
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).unwrap();
    hex::encode(b)
}

/// A tenant made through the CLI: (tenant id, API key).
fn new_tenant(s: &Server, name: &str) -> (String, String) {
    let out = s.cli(&["tenant", "create", name]);
    let id = out
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(id.starts_with("ten_"), "{out}");
    (id, out.lines().last().unwrap().trim().to_owned())
}

/// One request with an optional bearer credential and Session-Id.
async fn call(
    s: &Server,
    method: Method,
    path: &str,
    auth: Option<&str>,
    sid: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = sid.iter().map(|v| ("session-id", *v)).collect();
    s.send(method, path, auth, &headers, body).await
}

async fn status_with(s: &Server, key: &str) -> u16 {
    s.send(Method::GET, "/v2/cards", Some(key), &[], None)
        .await
        .0
}

// ---------------------------------------------------------------- connections

/// Finding 4: a client trickling header lines (one a second) is cut off at
/// the header-read timeout, not kept for ever (hyper ignores the timeout
/// unless the connection builder has a timer).
#[tokio::test]
async fn slow_headers_are_cut_off_at_the_header_read_timeout() {
    let s = Server::start(&["--header-read-timeout-secs", "2"]).await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    let start = Instant::now();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut closed = None;
    // Without the timeout a trickle of one header a second keeps the
    // connection open for the whole 16 s; the bounds leave room for a
    // loaded machine (the timer fires late, the close is seen a poll later).
    for i in 0..16 {
        if c.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = Some(start.elapsed());
            break;
        }
        if closed_within(&mut c, Duration::from_secs(1))
            .await
            .is_some()
        {
            closed = Some(start.elapsed());
            break;
        }
    }
    let closed = closed.expect("a connection trickling headers stayed open for 16 s");
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(8)).contains(&closed),
        "closed after {closed:?}"
    );
    // The server still serves everyone else: a new connection (the harness
    // client's pooled one has been idle past the same timeout, and the
    // server closing it can race a request sent on it).
    let mut fresh = TcpStream::connect(s.addr()).await.unwrap();
    let answer = raw_get(&mut fresh, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Finding 4: before hyper parses anything it reads the first bytes to
/// tell HTTP/2 from HTTP/1, with no time limit of its own: a connection
/// that sends nothing, or trickles the HTTP/2 preface, is closed at the
/// header-read timeout too.
#[tokio::test]
async fn silent_and_preface_trickling_connections_are_closed() {
    let s = Server::start(&["--header-read-timeout-secs", "2"]).await;
    let mut silent = TcpStream::connect(s.addr()).await.unwrap();
    let mut trickler = TcpStream::connect(s.addr()).await.unwrap();
    let start = Instant::now();
    let mut trickle_closed = None;
    for b in H2_PREFACE {
        if trickler.write_all(&[*b]).await.is_err() {
            trickle_closed = Some(start.elapsed());
            break;
        }
        if closed_within(&mut trickler, Duration::from_millis(500))
            .await
            .is_some()
        {
            trickle_closed = Some(start.elapsed());
            break;
        }
    }
    let trickle_closed = trickle_closed.expect("a trickled preface kept its connection");
    // Bounds with room for a loaded machine; without the timeout neither
    // connection would ever be closed.
    assert!(
        trickle_closed < Duration::from_secs(8),
        "{trickle_closed:?}"
    );
    let left = Duration::from_secs(10).saturating_sub(start.elapsed());
    assert!(
        closed_within(&mut silent, left).await.is_some(),
        "a silent connection stayed open"
    );
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

/// Finding 4: a kept-alive HTTP/1 connection that sends no next request is
/// closed (hyper restarts the header-read timeout while it waits).
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = Server::start(&["--header-read-timeout-secs", "2"]).await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    let answer = raw_get(&mut c, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("connection: close"));
    let idle = closed_within(&mut c, Duration::from_secs(10))
        .await
        .expect("an idle keep-alive connection stayed open for 10 s");
    assert!(idle < Duration::from_secs(5), "{idle:?}");
}

/// Finding 4: at most `--max-connections` connections at once; one more is
/// closed as soon as it is accepted (and counted), the ones held are still
/// served, and a slot frees when a connection ends.
#[tokio::test]
async fn connections_beyond_the_cap_are_refused_and_counted() {
    let s = Server::start(&["--max-connections", "3", "--header-read-timeout-secs", "3"]).await;
    // Let the server close the harness client's pooled connection.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(s.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(s.addr()).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(1))
            .await
            .is_some(),
        "a fourth connection was kept"
    );
    // A held connection is served.
    let answer = raw_get(&mut held[0], "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // One ends: its slot frees.
    drop(held.remove(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut next = TcpStream::connect(s.addr()).await.unwrap();
    let metrics = raw_get(&mut next, "/metrics").await;
    assert!(
        metrics.contains("paysecure_http_connections_refused_total 1\n"),
        "{metrics}"
    );
}

/// Finding 4: HTTP/2 connections (prior knowledge on plain HTTP, or ALPN
/// on TLS) advertise at most 100 concurrent streams and 16 KiB of headers
/// (hyper's defaults: 200 and 16 MiB).
#[tokio::test]
async fn http2_streams_and_header_lists_are_limited() {
    let s = Server::start(&[]).await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(H2_PREFACE).await.unwrap();
    c.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let (kind, flags, payload) = h2_frame(&mut c).await;
    assert_eq!((kind, flags), (4, 0), "the server's SETTINGS first");
    let settings: Vec<(u16, u32)> = payload
        .chunks(6)
        .map(|e| {
            (
                u16::from_be_bytes([e[0], e[1]]),
                u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
            )
        })
        .collect();
    let get = |id: u16| settings.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    assert_eq!(get(3), Some(100), "MAX_CONCURRENT_STREAMS: {settings:?}");
    assert_eq!(
        get(6),
        Some(16 * 1024),
        "MAX_HEADER_LIST_SIZE: {settings:?}"
    );
}

/// Finding 4: hyper never times out an HTTP/2 connection; one on which
/// nothing happens is closed at the idle timeout.
#[tokio::test]
async fn an_idle_http2_connection_is_closed_at_the_idle_timeout() {
    let s = Server::start(&["--idle-timeout-secs", "16"]).await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(H2_PREFACE).await.unwrap();
    c.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let (kind, _, _) = h2_frame(&mut c).await;
    assert_eq!(kind, 4);
    c.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await.unwrap(); // SETTINGS ACK
    let idle = closed_within(&mut c, Duration::from_secs(30))
        .await
        .expect("an idle HTTP/2 connection stayed open for 30 s");
    assert!(
        (Duration::from_secs(14)..Duration::from_secs(22)).contains(&idle),
        "closed after {idle:?}"
    );
    // An idle timeout shorter than the request timeout is refused at start.
    let out = s.cli_output(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--idle-timeout-secs",
        "5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("request timeout"));
}

// ---------------------------------------------------------------- metrics, HSTS, help

/// Finding 5: every HTTP method token is valid, and each used to become a
/// new `/metrics` label value (unauthenticated memory growth). 200 random
/// methods leave a handful of series.
#[tokio::test]
async fn metrics_series_stay_bounded_under_random_method_tokens() {
    let s = Server::start(&[]).await;
    let mut tokens = Vec::new();
    for i in 0..200 {
        let token = format!("Z{}", random_hex(6).to_ascii_uppercase());
        let method = Method::from_bytes(token.as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/v2/cards".to_owned()
        } else {
            format!("/nowhere/{}", random_hex(4))
        };
        let (status, _) = s.send(method, &path, None, &[], None).await;
        assert!(status >= 400, "{status}");
        tokens.push(token);
    }
    let (status, text) = s.send(Method::GET, "/metrics", None, &[], None).await;
    assert_eq!(status, 200);
    let text = text.as_str().unwrap().to_owned();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("paysecure_http_requests_total{"))
        .collect();
    assert!(series.len() <= 6, "{series:#?}");
    assert!(series.iter().any(|l| l.contains("method=\"OTHER\"")));
    for t in &tokens {
        assert!(!text.contains(t.as_str()), "a method token became a label");
    }
}

/// Found in #13: no HSTS on TLS. Every HTTPS answer (errors included)
/// carries `Strict-Transport-Security`; plain HTTP answers do not (browsers
/// ignore it there, and it would be wrong behind a TLS-terminating proxy
/// that sets its own).
#[tokio::test]
async fn https_answers_carry_hsts_and_plain_http_ones_do_not() {
    let tls = Server::start_tls(&[]).await;
    for (path, status) in [("/healthz", 200), ("/no/such/route", 404)] {
        let res = tls
            .http
            .get(format!("{}{path}", tls.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains",
            "{path}"
        );
    }
    let res = tls
        .http
        .get(format!("{}/v2/cards", tls.url))
        .bearer_auth(&tls.tenant_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("strict-transport-security"));
    let plain = Server::start(&[]).await;
    let res = plain
        .http
        .get(format!("{}/healthz", plain.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("strict-transport-security"));
}

/// Found in #13: clap printed `[env: DATABASE_URL=postgres://u:pw@…]` in
/// `--help`. The value is hidden everywhere help is printed, and a start
/// that cannot reach the database does not echo the URL's password either.
#[tokio::test]
async fn help_and_startup_errors_never_show_the_database_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://paysecure:secretpw@127.0.0.1:1/paysecure";
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["tenant", "rotate-key", "--help"],
        &["migrate", "--help"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("DATABASE_URL"), "{args:?}: {text}");
        assert!(!text.contains("secretpw"), "{args:?}: {text}");
    }
    let out = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "migrate"])
        .env("DATABASE_URL", url)
        .env("PAYSECURE_MASTER_KEY_FILE", dir.path().join("master.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("cannot open the database"), "{all}");
    assert!(!all.contains("secretpw"), "{all}");
}

// ---------------------------------------------------------------- master key

/// A CLI run with no master key setting, `HOME` in `home`.
fn run_bare(home: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["--data-dir", data.to_str().unwrap()])
        .args(args)
        .env_remove("PAYSECURE_MASTER_KEY")
        .env_remove("PAYSECURE_MASTER_KEY_FILE")
        .env_remove("XDG_CONFIG_HOME")
        // The master key file exists only in the software custody (with
        // pkcs11 the vault key is kept wrapped by the token's KEK).
        .env("PAYSECURE_KEY_CUSTODY", "software")
        .env_remove("DATABASE_URL")
        .env("HOME", home)
        .output()
        .unwrap()
}

/// As [`run_bare`], for a command that must end by itself: killed (and
/// the test failed) if it still runs after `secs`.
fn run_bare_within(home: &Path, data: &Path, args: &[&str], secs: u64) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["--data-dir", data.to_str().unwrap()])
        .args(args)
        .env_remove("PAYSECURE_MASTER_KEY")
        .env_remove("PAYSECURE_MASTER_KEY_FILE")
        .env_remove("XDG_CONFIG_HOME")
        // The master key file exists only in the software custody (with
        // pkcs11 the vault key is kept wrapped by the token's KEK).
        .env("PAYSECURE_KEY_CUSTODY", "software")
        .env_remove("DATABASE_URL")
        .env("HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Found in #13: `master.key` sat beside the database, so one copy of the
/// data directory (a backup, a volume snapshot) held both the sealed cards
/// and their key. By default it is now made in ~/.config/paysecure (0600 in
/// a 0700 directory), never in the data directory.
#[tokio::test]
async fn the_master_key_is_made_outside_the_data_dir_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (home, data) = (dir.path().join("home"), dir.path().join("data"));
    std::fs::create_dir(&home).unwrap();
    let out = run_bare(&home, &data, &["tenant", "create", "Bank"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key: PathBuf = home.join(".config/paysecure/master.key");
    assert_eq!(mode_of(&key), 0o600);
    assert_eq!(mode_of(key.parent().unwrap()), 0o700);
    assert!(!data.join("master.key").exists());
    assert!(data.join("paysecure.db").exists());
    // The next run reads the same key (the vault opens).
    let out = run_bare(&home, &data, &["keys", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // XDG_CONFIG_HOME wins over HOME.
    let xdg = dir.path().join("xdg");
    let out = Command::new(BIN)
        .args(["--data-dir", dir.path().join("data2").to_str().unwrap()])
        .args(["tenant", "create", "Bank"])
        .env_remove("PAYSECURE_MASTER_KEY")
        .env_remove("PAYSECURE_MASTER_KEY_FILE")
        .env("PAYSECURE_KEY_CUSTODY", "software")
        .env("XDG_CONFIG_HOME", &xdg)
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(mode_of(&xdg.join("paysecure/master.key")), 0o600);
}

/// A master key file that group or others can read, or that another user
/// owns, stops the server at start with a clear message.
#[tokio::test]
async fn a_master_key_file_others_can_read_stops_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (home, data) = (dir.path().join("home"), dir.path().join("data"));
    std::fs::create_dir(&home).unwrap();
    assert!(run_bare(&home, &data, &["migrate"]).status.success());
    let key = home.join(".config/paysecure/master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_bare_within(&home, &data, &["serve", "--listen", "127.0.0.1:0"], 20);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "never listened"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(err.contains(key.to_str().unwrap()), "{err}");
    if running_as_root() {
        // Owned by another user, mode 0600: refused too.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&key, Some(12345), None).unwrap();
        let out = run_bare(&home, &data, &["migrate"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("owned by uid 12345"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Existing deployments keep working: with no key at the new default but
/// one in the data directory, that one is used (with a warning to move
/// it), and no second key is made.
#[tokio::test]
async fn a_master_key_left_in_the_data_dir_still_opens_the_vault_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (home, data) = (dir.path().join("home"), dir.path().join("data"));
    std::fs::create_dir(&home).unwrap();
    let old = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "tenant",
            "create",
            "Old",
        ])
        .env("PAYSECURE_MASTER_KEY_FILE", data.join("master.key"))
        .env("PAYSECURE_KEY_CUSTODY", "software")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(old.status.success());
    let out = run_bare(&home, &data, &["keys", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("move it out"), "{err}");
    assert!(!home.join(".config/paysecure/master.key").exists());
}

/// `PAYSECURE_MASTER_KEY` is read, then wiped from the process: neither the
/// environment a child would inherit nor `/proc/<pid>/environ` (what
/// `ps e` shows) holds the key while the server runs.
#[tokio::test]
async fn the_master_key_environment_variable_is_wiped_after_reading() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let master = paysecure_core::encoding::encode(&[0x5a; 32]);
    let mut child = Command::new(BIN)
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PAYSECURE_MASTER_KEY", &master)
        .env_remove("PAYSECURE_MASTER_KEY_FILE")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("listening"), "{line}");
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("HOME="), "read the right process");
    assert!(
        !environ.contains(&master),
        "the key is in /proc/<pid>/environ"
    );
    assert!(!data.join("master.key").exists());
}

// ---------------------------------------------------------------- tenant keys

/// Found in #13: tenant API keys could be neither rotated nor revoked.
/// `tenant rotate-key` prints a new key; the older ones keep working for
/// the overlap window, then stop (a later rotation with a shorter overlap
/// cuts the earlier window).
#[tokio::test]
async fn a_rotated_tenant_key_overlaps_then_only_the_new_one_works() {
    let s = Server::start(&[]).await;
    let (tenant, key0) = new_tenant(&s, "Rotating Bank");
    assert_eq!(status_with(&s, &key0).await, 200);
    let out = s.cli(&["tenant", "rotate-key", &tenant]);
    let key1 = out.lines().last().unwrap().trim().to_owned();
    assert!(key1.starts_with("psk_") && key1 != key0, "{out}");
    assert!(out.contains("86400 s"), "default overlap: a day: {out}");
    assert_eq!(status_with(&s, &key1).await, 200);
    assert_eq!(status_with(&s, &key0).await, 200, "within the overlap");
    let out = s.cli(&["tenant", "rotate-key", &tenant, "--overlap-secs", "1"]);
    let key2 = out.lines().last().unwrap().trim().to_owned();
    assert_eq!(status_with(&s, &key2).await, 200);
    // After the overlap, and the node's key cache (entries looked up before
    // the rotation live up to 5 s): only the newest key.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    assert_eq!(status_with(&s, &key0).await, 401);
    assert_eq!(status_with(&s, &key1).await, 401);
    assert_eq!(status_with(&s, &key2).await, 200);
    // The other tenant is untouched; an unknown tenant is an error.
    assert_eq!(status_with(&s, &s.tenant_key).await, 200);
    let bad = s.cli_output(&["tenant", "rotate-key", "ten_0000000000000000"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such tenant"));
    assert_log_clean(&s, &[&key0, &key1, &key2]);
}

/// `tenant revoke-key` (run in another process) stops every key of the
/// tenant on a running server within the key cache's bound (5 s), and its
/// ephemeral keys at once; `rotate-key` then makes a working one.
#[tokio::test]
async fn a_revoked_tenant_key_is_refused_by_a_running_server_within_five_seconds() {
    let s = Server::start(&[]).await;
    let (tenant, key) = new_tenant(&s, "Revoked Bank");
    let (status, card) = s
        .send(Method::POST, "/v2/cards", Some(&key), &[], Some(json!({})))
        .await;
    assert_eq!(status, 201, "{card}");
    let token = card["token"].as_str().unwrap();
    let (status, eph) = s
        .send(
            Method::POST,
            "/v2/ephemeral-keys",
            Some(&key),
            &[],
            Some(json!({"token": token, "scopes": ["pan"], "ttlSeconds": 600})),
        )
        .await;
    assert_eq!(status, 201, "{eph}");
    let eph = eph["key"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&s, &key).await, 200, "cached on the node");
    let out = s.cli(&["tenant", "revoke-key", &tenant]);
    assert!(out.contains("1 API key(s) revoked"), "{out}");
    let revoked_at = Instant::now();
    let (session, sid) = s.session(Version::V2);
    let (status, _) = s
        .send(
            Method::POST,
            &format!("/v2/cards/{token}/pan"),
            Some(&eph),
            &[("session-id", &sid)],
            None,
        )
        .await;
    assert_eq!(status, 401, "the tenant's ephemeral keys stop at once");
    drop(session);
    let refused = loop {
        match status_with(&s, &key).await {
            200 => {
                assert!(
                    revoked_at.elapsed() < Duration::from_secs(8),
                    "a revoked key still works"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            401 => break revoked_at.elapsed(),
            other => panic!("unexpected {other}"),
        }
    };
    assert!(refused <= Duration::from_millis(5500), "{refused:?}");
    let out = s.cli(&["tenant", "rotate-key", &tenant]);
    let fresh = out.lines().last().unwrap().trim().to_owned();
    assert_eq!(status_with(&s, &fresh).await, 200);
    assert_eq!(status_with(&s, &key).await, 401, "still revoked");
    let bad = s.cli_output(&["tenant", "revoke-key", "ten_0000000000000000"]);
    assert!(!bad.status.success());
    assert_log_clean(&s, &[&key, &fresh, &eph]);
}

// ---------------------------------------------------------------- logs

/// Found in #13: the raw request path was logged, and a PAN put in a URL
/// went to the log with it. Every route family is driven with real card
/// data and every credential kind; then every log line is checked: no
/// secret in any form, card-shaped paths masked, card tokens kept, and the
/// principal (never the credential) on the access lines.
#[tokio::test]
async fn every_route_family_leaves_no_secret_in_the_log() {
    let mut s = Server::start(&[]).await;
    let (tenant, key) = new_tenant(&s, "Logged Bank");
    s.enable_v1(&tenant).await;
    let mut secrets: Vec<String> = vec![key.clone(), s.tenant_key.clone()];
    let session = |secrets: &mut Vec<String>| {
        let (sess, sid) = s.session(Version::V2);
        secrets.push(sid.clone());
        (sess, sid)
    };

    // Card API: issue, PAN, CVV2 (V1 and V2), PIN set/get/verify, reveal.
    let (st, card) = call(
        &s,
        Method::POST,
        "/v2/cards",
        Some(&key),
        None,
        Some(json!({"exid": "LOG-1"})),
    )
    .await;
    assert_eq!(st, 201, "{card}");
    let token = card["token"].as_str().unwrap().to_owned();
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/pan"),
        Some(&key),
        Some(&sid),
        None,
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let pan = open(&sess, &r["pan"]);
    let mut cvv2 = String::new();
    for v in ["v1", "v2"] {
        let version = if v == "v1" { Version::V1 } else { Version::V2 };
        let (sess, sid) = s.session(version);
        secrets.push(sid.clone());
        let (st, r) = call(
            &s,
            Method::POST,
            &format!("/{v}/cards/{token}/cvv2"),
            Some(&key),
            Some(&sid),
            None,
        )
        .await;
        assert_eq!(st, 200, "{r}");
        cvv2 = open(&sess, &r["cvv2"]);
    }
    let pin = "7391";
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::PUT,
        &format!("/v2/cards/{token}/pin"),
        Some(&key),
        Some(&sid),
        Some(json!({"pinBlock": enc(sess.encrypt_pin(&Pin::new(pin).unwrap()).unwrap())})),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/pin"),
        Some(&key),
        Some(&sid),
        None,
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let _ = sess;
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/pin/verify"),
        Some(&key),
        Some(&sid),
        Some(json!({"pinBlock": enc(sess.encrypt_pin(&Pin::new(pin).unwrap()).unwrap())})),
    )
    .await;
    assert_eq!((st, &r["verified"]), (200, &json!(true)), "{r}");
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(&s, Method::POST, "/v2/pin/verify", Some(&key), Some(&sid),
        Some(json!({"pan": enc_text(&sess, &pan), "pinBlock": enc(sess.encrypt_pin(&Pin::new(pin).unwrap()).unwrap())}))).await;
    assert_eq!(st, 200, "{r}");
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/cvv2/verify"),
        Some(&key),
        Some(&sid),
        Some(json!({"cvv2": enc_text(&sess, &cvv2)})),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let (sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::POST,
        "/v2/cvv2/verify",
        Some(&key),
        Some(&sid),
        Some(json!({"pan": enc_text(&sess, &pan), "cvv2": enc_text(&sess, &cvv2)})),
    )
    .await;
    assert_eq!(st, 200, "{r}");

    // Tokens: a real test card PAN, V1 to V3.
    let real_pan = "4012888888881881";
    for (v, version) in [
        ("v1", Version::V1),
        ("v2", Version::V2),
        ("v3", Version::V3),
    ] {
        let (sess, sid) = s.session(version);
        secrets.push(sid.clone());
        let (st, r) = call(
            &s,
            Method::POST,
            &format!("/{v}/tokens"),
            Some(&key),
            Some(&sid),
            Some(json!({"pan": enc_text(&sess, real_pan)})),
        )
        .await;
        assert_eq!(st, 200, "{v}: {r}");
    }

    // An ephemeral key: reveal.
    let (st, r) = call(
        &s,
        Method::POST,
        "/v2/ephemeral-keys",
        Some(&key),
        None,
        Some(json!({"token": token, "scopes": ["reveal"], "ttlSeconds": 300})),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    let eph = r["key"].as_str().unwrap().to_owned();
    secrets.push(eph.clone());
    let (_sess, sid) = session(&mut secrets);
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/reveal"),
        Some(&eph),
        Some(&sid),
        None,
    )
    .await;
    assert_eq!(st, 200, "{r}");

    // The Get CVV2 envelope, by EXID.
    let yymm = format!(
        "{:02}{:02}",
        card["expiryYear"].as_i64().unwrap() % 100,
        card["expiryMonth"].as_i64().unwrap()
    );
    let (_sess, sid) = session(&mut secrets);
    let (st, r) = call(&s, Method::POST, "/pin-management/v2/cvv2", Some(&key), Some(&sid), Some(json!({
        "NISrvRequest": {"request_get_cvv2": {
            "header": {"msg_id": "1", "msg_type": "TRANSACTION", "msg_function": "REQ_GET_CVV2",
                       "src_application": "IVR", "target_application": "WAY4",
                       "timestamp": "2020-07-20T10:49:02.366+04:00", "tracking_id": "1", "bank_id": "NIC"},
            "body": {"card_identifier_id": "LOG-1", "card_identifier_type": "EXID", "expiry_date": yymm}}}
    }))).await;
    assert_eq!(st, 200, "{r}");
    // And by the card number itself (CONTRACT_NUMBER): never in the log.
    let (_sess, sid) = session(&mut secrets);
    let (st, r) = call(&s, Method::POST, "/pin-management/v2/cvv2", Some(&key), Some(&sid), Some(json!({
        "NISrvRequest": {"request_get_cvv2": {
            "header": {"msg_id": "2", "msg_type": "TRANSACTION", "msg_function": "REQ_GET_CVV2",
                       "src_application": "IVR", "target_application": "WAY4",
                       "timestamp": "2020-07-20T10:49:02.366+04:00", "tracking_id": "2", "bank_id": "NIC"},
            "body": {"card_identifier_id": pan, "card_identifier_type": "CONTRACT_NUMBER", "expiry_date": yymm}}}
    }))).await;
    assert_eq!(st, 200, "{r}");

    // Paythru: credentials, then a signed create with the real card.
    let creds = s.cli(&["tenant", "paythru-credentials", &tenant]);
    let cred = |name: &str| {
        creds
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let (api_key, api_password, sha_key) = (cred("apiKey"), cred("apiPassword"), cred("shaKey"));
    secrets.extend([api_password.clone(), sha_key.clone()]);
    let params: Vec<(&str, &str)> = vec![
        ("apiKey", &api_key),
        ("apiPassword", &api_password),
        ("cardNumber", real_pan),
        ("cardExpiry", "1239"),
        ("cardholderName", "MR LOG TEST"),
    ];
    let sig = paysecure_server::domain::paythru::signature(params.iter().copied(), &sha_key);
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    form.append_pair("shaSignature", &sig);
    let res = s
        .http
        .post(format!("{}/v3/token/create/json", s.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer = res.text().await.unwrap();
    assert!(answer.contains("cardKey"), "{answer}");

    // Verifone: PUT a captured card (JWE with PAN and CVV).
    let capture = paysecure_core::capture::CardCapture::new("5555555555554444", 12, 2039)
        .unwrap()
        .with_cvv("737")
        .unwrap()
        .encrypt(
            &s.capture_key,
            s.capture_key_id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
    let (st, r) = call(&s, Method::PUT, "/api/v2/card", Some(&key), None, Some(json!({
        "token_scope": "0e48425a-f1bc-431a-b7d8-f866de8ba276", "encrypted_card": capture, "public_key_alias": s.capture_key_id()
    }))).await;
    assert_eq!(st, 200, "{r}");

    // The account API: create payment info with a real card and CVV token.
    let acct = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let acct_sid = acct.session_id(&s.public_key).unwrap();
    secrets.push(acct_sid.clone());
    let acct_key = SessionKey::from_bytes(acct.key().expose_bytes()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let uuid = "2a50a2e4-a93a-4823-9674-c63aba792325";
    // The sandbox CVV token service's CLI: a token for this card's own CVV.
    let cvv_token = s
        .cli_with_input(
            &["tenant", "cvv-token", &tenant, "--expiry", "3908"],
            "378282246310005\n",
        )
        .trim()
        .to_owned();
    assert!(cvv_token.len() == 20 && cvv_token.bytes().all(|b| b.is_ascii_digit()));
    secrets.push(cvv_token.clone());
    // Without --expiry it reads the CVV itself; not 3-4 digits: refused.
    let plain = s.cli_with_input(&["tenant", "cvv-token", &tenant], "123\n");
    assert_eq!(plain.trim().len(), 20, "{plain}");
    let out = s.cli_output(&["tenant", "cvv-token", &tenant]);
    assert!(!out.status.success(), "no CVV on standard input");
    let payload = json!({
        "orderId": "4e260748-60d6-4985-80da-bfdf481bffdf", "udid": "2083718938012321038243",
        "billingInfo": {"firstName": "John", "lastName": "Doe", "dateOfBirth": "19870704",
            "phoneNumber": "1234567890", "emailAddress": "abc@xyz.com",
            "addressInfo": {"street": "1 Road", "city": "London", "state": "London", "postalCode": "SW1E 5RS", "countryCode": "GB"}},
        "paymentInfo": {"paymentType": "CreditCard", "isDefault": true, "card": {
            "cardNum": "378282246310005", "cardExpYear": "2039", "cardExpMonth": "08", "cardHolder": "John Doe",
            "cardNickName": "Card1", "cardCvvToken": cvv_token}},
        "accessCountryCode": "GB", "ipAddress": "127.0.0.1"
    });
    let path = format!(
        "/account/{}/paymentinfo",
        body::seal(&acct_key, uuid.as_bytes(), now).unwrap()
    );
    let res = s
        .http
        .post(format!("{}{path}", s.url))
        .header("authorization", format!("PLTOKEN {key}"))
        .header("session-id", &acct_sid)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "data={}",
            body::seal(&acct_key, payload.to_string().as_bytes(), now).unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Wallet provisioning (issue #17): Apple and MDES digitization data.
    let pki = super::wallet::ApplePki::new();
    let mc = super::wallet::Mastercard::new();
    super::wallet::configure(&s, &tenant, &pki, &mc);
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/digitization/apple"),
        Some(&key),
        None,
        Some(pki.body()),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let (st, r) = call(
        &s,
        Method::POST,
        &format!("/v2/cards/{token}/digitization/mdes"),
        Some(&key),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200, "{r}");

    // Someone puts a PAN in a URL, plain, with dashes, with spaces.
    for path in [
        format!("/v2/cards/{pan}/pan"),
        "/v2/cards/4012-8888-8888-1881".to_owned(),
        "/v2/cards/4012%208888%208888%201881/pin".to_owned(),
    ] {
        let (st, _) = call(&s, Method::GET, &path, Some(&key), None, None).await;
        assert!(st >= 400);
    }
    // Failed logins with the credentials shapes, for the failure lines.
    let (st, _) = call(
        &s,
        Method::GET,
        "/v2/cards",
        Some(&format!("psk_{}", random_hex(16))),
        None,
        None,
    )
    .await;
    assert_eq!(st, 401);

    // Give the log a moment, then check every line.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = s.log_text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(lines.len() > 40, "{} lines", lines.len());
    // No key file with the PKCS#11 custody (the vault key is kept wrapped
    // by the token's KEK).
    let master = std::fs::read_to_string(s.data.join("master.key")).ok();
    assert_eq!(master.is_none(), crate::common::pkcs11_run());
    let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
    let mut all: Vec<String> = secrets.clone();
    all.extend(master.map(|m| m.trim().to_owned()));
    all.extend([
        pan.clone(),
        real_pan.into(),
        "5555555555554444".into(),
        "378282246310005".into(),
        "4012-8888-8888-1881".into(),
        "4012%208888%208888%201881".into(),
        api_key.clone(),
        format!("\"{cvv2}\""),
        "\"737\"".into(),
        format!("\"{pin}\""),
        format!("24{pin}FFFFFFFFFF"),
    ]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_log_clean(&s, &refs);
    // No run of a card's digits anywhere, whatever separates them.
    let squeezed: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '%'))
        .collect();
    for p in [&pan, real_pan, "5555555555554444", "378282246310005"] {
        assert!(
            !squeezed.contains(&digits(p)),
            "a PAN's digits are in the log"
        );
    }
    // Access lines: masked card-shaped paths, kept tokens, principals.
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "request")
        .collect();
    let paths: Vec<&str> = access
        .iter()
        .filter_map(|l| l["span"]["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/v2/cards/****************/pan"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/v2/cards/****-****-****-****"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&format!("/v2/cards/{token}/pan").as_str()),
        "tokens kept: {paths:?}"
    );
    let principal_of = |path: &str| {
        access
            .iter()
            .filter(|l| l["span"]["path"] == path)
            .find_map(|l| l["span"]["principal"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(principal_of("/v2/cards").as_deref(), Some(tenant.as_str()));
    assert_eq!(
        principal_of(&format!("/v2/cards/{token}/reveal")),
        Some(format!("ephemeral {tenant} {token}"))
    );
    assert!(
        access.iter().any(|l| l["span"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/account/"))
            && l["span"]["principal"] == tenant.as_str()),
        "account API principal"
    );
    assert!(
        access
            .iter()
            .any(|l| l["span"]["path"] == "/v3/token/create/json"
                && l["span"]["principal"] == tenant.as_str()),
        "Paythru principal"
    );
    assert!(
        access
            .iter()
            .any(|l| l["span"]["path"] == "/pin-management/v2/cvv2"
                && l["span"]["principal"] == tenant.as_str()),
        "NI principal"
    );
}
