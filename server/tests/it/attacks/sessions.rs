//! Attacks on session ids and on the order of authorization and RSA work:
//! re-encoded and re-wrapped replays, duplicate headers, scope and card
//! checks before any decryption, failures after the unwrap, V1 switched
//! off by default and without a padding oracle when on, single-use card
//! captures, key revocation and single-flight key reloads.

use paysecure_core::{KeySize, PublicKey, Session, Version};
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::*;

const V1: Version = Version::V1;
const V2: Version = Version::V2;

async fn pan(
    s: &Server,
    token: &str,
    auth: &str,
    headers: &[(&str, &str)],
    v: &str,
) -> (u16, Value) {
    s.send(
        Method::POST,
        &format!("/{v}/cards/{token}/pan"),
        Some(auth),
        headers,
        None,
    )
    .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The tenant id of the server's first tenant (its key is in the harness).
async fn tenant_id(s: &Server) -> String {
    let out = s.cli(&["tenant", "create", "Probe"]);
    drop(out);
    // The harness's tenant is the first one created: read it from the
    // database through a card's owner instead of guessing.
    let pool = pool(s).await;
    let id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE name = 'Attack Bank'")
        .fetch_one(&pool)
        .await
        .unwrap();
    id
}

async fn pool(s: &Server) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&s.db.url).await.unwrap()
}

async fn used_rows(s: &Server) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM used_session_ids")
        .fetch_one(&pool(s).await)
        .await
        .unwrap()
}

/// Finding 1: the replay record was a hash of the header text while the
/// decoder ignored whitespace and missing padding. Now only canonical
/// base64 parses, and single use is by the unwrapped key, so neither a
/// re-encoding nor a fresh RSA wrap of the same key opens it again.
#[tokio::test]
async fn a_used_session_id_reencoded_or_rewrapped_is_refused() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let (session, sid) = s.session(V2);
    let (st, body) = pan(&s, &token, &s.tenant_key, &[("session-id", &sid)], "v2").await;
    assert_eq!(st, 200, "{body}");
    let trimmed = sid.trim_end_matches('=').to_owned();
    let mid = sid.len() / 2;
    let variants = [
        ("same", sid.clone()),
        ("unpadded", trimmed),
        ("space inside", format!("{} {}", &sid[..mid], &sid[mid..])),
        ("tab inside", format!("{}\t{}", &sid[..mid], &sid[mid..])),
        ("leading space", format!(" {sid}")),
        ("trailing tab", format!("{sid}\t")),
        ("extra padding", format!("{sid}=")),
        // The same session key wrapped again (OAEP is randomized): a
        // different header text for the same key.
        ("re-wrapped", session.session_id(&s.public_key).unwrap()),
    ];
    for (name, v) in &variants {
        let (st, body) = pan(&s, &token, &s.tenant_key, &[("session-id", v)], "v2").await;
        assert_eq!((st, code(&body)), (400, "INVALID_SESSION_ID"), "{name}");
    }
    assert_log_clean(&s, &[&sid]);
}

/// Two `Session-Id` headers: a proxy and the server could each pick another.
#[tokio::test]
async fn two_session_id_headers_are_refused() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let (_, a) = s.session(V2);
    let (_, b) = s.session(V2);
    let (st, body) = pan(
        &s,
        &token,
        &s.tenant_key,
        &[("session-id", &a), ("session-id", &b)],
        "v2",
    )
    .await;
    assert_eq!((st, code(&body)), (400, "INVALID_SESSION_ID"));
    // Neither was used up: the refusal came before any unwrap.
    let (st, _) = pan(&s, &token, &s.tenant_key, &[("session-id", &a)], "v2").await;
    assert_eq!(st, 200);
}

/// Finding 2: an ephemeral key without the right scope (or for another
/// card) made the server decrypt first, answering 400 for garbage and 403
/// for a valid ciphertext, and used up a replay row. Now the answer is the
/// same 403 either way, and the valid session id is still unused (no RSA
/// operation happened): the tenant can use it afterwards.
#[tokio::test]
async fn credentials_and_scopes_are_checked_before_any_rsa_work() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let other = s.issue_card().await;
    let reveal_only = s.ephemeral(&token, &["reveal"]).await;
    let pan_other_card = s.ephemeral(&other, &["pan"]).await;
    let before = used_rows(&s).await;
    let (session, sid) = s.session(V2);
    let garbage = paysecure_core::encoding::encode(&[0x5a; 256]);
    let calls: Vec<(Method, String, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/v2/tokens".into(),
            &reveal_only,
            Some(json!({"pan": enc_text(&session, "4111111111111111")})),
        ),
        (
            Method::POST,
            "/v1/tokens".into(),
            &reveal_only,
            Some(json!({"pan": enc_text(&session, "4111111111111111")})),
        ),
        (
            Method::POST,
            "/v3/tokens".into(),
            &reveal_only,
            Some(json!({"pan": enc_text(&session, "4111111111111111")})),
        ),
        (
            Method::POST,
            "/v2/pin/verify".into(),
            &reveal_only,
            Some(
                json!({"pan": enc_text(&session, "4111111111111111"), "pinBlock": enc_text(&session, "x")}),
            ),
        ),
        (
            Method::POST,
            "/v2/cvv2/verify".into(),
            &reveal_only,
            Some(
                json!({"pan": enc_text(&session, "4111111111111111"), "cvv2": enc_text(&session, "123")}),
            ),
        ),
        (
            Method::POST,
            format!("/v2/cards/{token}/pan"),
            &reveal_only,
            None,
        ),
        (
            Method::POST,
            format!("/v2/cards/{token}/pin"),
            &reveal_only,
            None,
        ),
        (
            Method::PUT,
            format!("/v2/cards/{token}/pin"),
            &reveal_only,
            Some(json!({"pinBlock": enc_text(&session, "x")})),
        ),
        (
            Method::POST,
            format!("/v2/cards/{token}/cvv2/verify"),
            &reveal_only,
            Some(json!({"cvv2": enc_text(&session, "123")})),
        ),
        (
            Method::POST,
            format!("/v2/cards/{token}/pan"),
            &pan_other_card,
            None,
        ),
        (
            Method::POST,
            format!("/v2/cards/{token}/reveal"),
            &pan_other_card,
            None,
        ),
    ];
    for (method, path, key, body) in calls {
        let mut answers = vec![];
        for id in [&sid, &garbage] {
            let (st, b) = s
                .send(
                    method.clone(),
                    &path,
                    Some(key),
                    &[("session-id", id)],
                    body.clone(),
                )
                .await;
            answers.push((st, code(&b).to_owned()));
        }
        assert_eq!(answers[0], (403, "FORBIDDEN".to_owned()), "{method} {path}");
        assert_eq!(answers[0], answers[1], "{method} {path}: no oracle");
    }
    assert_eq!(used_rows(&s).await, before, "no replay row was written");
    let (st, body) = pan(&s, &token, &s.tenant_key, &[("session-id", &sid)], "v2").await;
    assert_eq!(st, 200, "the session id was never unwrapped: {body}");
}

/// An unknown card costs no RSA operation either.
#[tokio::test]
async fn an_unknown_card_is_refused_before_the_unwrap() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let (_, sid) = s.session(V2);
    let (st, body) = pan(
        &s,
        "tok_000000000000000000000000",
        &s.tenant_key,
        &[("session-id", &sid)],
        "v2",
    )
    .await;
    assert_eq!((st, code(&body)), (404, "CARD_NOT_FOUND"));
    let (st, _) = pan(&s, &token, &s.tenant_key, &[("session-id", &sid)], "v2").await;
    assert_eq!(st, 200);
}

/// A request that fails after the unwrap (a bad PIN block) still uses its
/// session id up: the same id cannot be retried as an oracle.
#[tokio::test]
async fn a_request_failing_after_the_unwrap_uses_the_session_up() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let (session, sid) = s.session(V2);
    let path = format!("/v2/cards/{token}/pin");
    let body = json!({"pinBlock": enc_text(&session, "not a pin block")});
    let (st, b) = s
        .send(
            Method::PUT,
            &path,
            Some(&s.tenant_key),
            &[("session-id", &sid)],
            Some(body.clone()),
        )
        .await;
    assert_eq!((st, code(&b)), (400, "INVALID_PIN_BLOCK"));
    let (st, b) = s
        .send(
            Method::PUT,
            &path,
            Some(&s.tenant_key),
            &[("session-id", &sid)],
            Some(body),
        )
        .await;
    assert_eq!((st, code(&b)), (400, "INVALID_SESSION_ID"));
}

/// V1 (PKCS#1 v1.5 + unauthenticated CBC) is off unless the tenant enables
/// it; ephemeral keys never use it; it has a key pair of its own; and with
/// implicit rejection a well-formed V1 id that does not decrypt answers
/// exactly like one that does (no Bleichenbacher oracle).
#[tokio::test]
async fn v1_is_off_by_default_on_its_own_key_and_has_no_padding_oracle() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    // Off: refused before any unwrap, and no V1 key is published.
    let (_, v2_sid_for_v1) = s.session(V1);
    let (st, b) = pan(
        &s,
        &token,
        &s.tenant_key,
        &[("session-id", &v2_sid_for_v1)],
        "v1",
    )
    .await;
    assert_eq!((st, code(&b)), (403, "FORBIDDEN"));
    let (st, _) = s.send(Method::GET, "/v1/public-key", None, &[], None).await;
    assert_eq!(st, 404);
    // On, through the CLI.
    let id = tenant_id(&s).await;
    s.cli(&["tenant", "allow-v1", &id, "true"]);
    // Running servers reload their key ring at most once a second on demand.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, v1) = s.send(Method::GET, "/v1/public-key", None, &[], None).await;
    assert_eq!(st, 200, "{v1}");
    assert_ne!(v1["keyId"], s.key_id(), "V1 has a key pair of its own");
    assert_eq!(v1["algorithm"], "RSAES-PKCS1-v1_5");
    let v1_key = PublicKey::parse(v1["publicKey"].as_str().unwrap()).unwrap();
    let real = s.pan_of(&token).await;
    let good = Session::generate(V1, KeySize::Aes256).unwrap();
    let good_sid = good.session_id(&v1_key).unwrap();
    let (st, b) = pan(
        &s,
        &token,
        &s.tenant_key,
        &[("session-id", &good_sid)],
        "v1",
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(open(&good, &b["pan"]), real);
    // Bad paddings, a block that is no key, the V2 key's padding: all
    // answer 200 with a PAN under a key nobody knows.
    let mut flipped = paysecure_core::encoding::decode(&good_sid, "sid")
        .unwrap()
        .to_vec();
    flipped[7] ^= 0x40;
    let not_a_key =
        paysecure_core::encoding::encode(&v1_key.encrypt(b"hello", V1.padding()).unwrap());
    for (name, sid) in [
        ("flipped", paysecure_core::encoding::encode(&flipped)),
        ("random", paysecure_core::encoding::encode(&[0x33; 256])),
        ("not a key", not_a_key),
        (
            "OAEP for the V1 key",
            Session::generate(V2, KeySize::Aes256)
                .unwrap()
                .session_id(&v1_key)
                .unwrap(),
        ),
    ] {
        let (st, b) = pan(&s, &token, &s.tenant_key, &[("session-id", &sid)], "v1").await;
        assert_eq!(st, 200, "{name}: {b}");
        assert!(
            good.decrypt(&ev(&b["pan"])).map_or(true, |p| {
                use secrecy::ExposeSecret;
                p.expose_secret() != real.as_bytes()
            }),
            "{name}"
        );
    }
    // An ephemeral key never uses V1, whatever the tenant allows.
    let eph = s.ephemeral(&token, &["pan"]).await;
    let (_, sid) = (
        0,
        Session::generate(V1, KeySize::Aes256)
            .unwrap()
            .session_id(&v1_key)
            .unwrap(),
    );
    let (st, b) = pan(&s, &token, &eph, &[("session-id", &sid)], "v1").await;
    assert_eq!((st, code(&b)), (403, "FORBIDDEN"));
    // V2 session ids do not open with the V1 key and vice versa.
    let (st, b) = pan(
        &s,
        &token,
        &s.tenant_key,
        &[("session-id", &good_sid)],
        "v2",
    )
    .await;
    assert_eq!((st, code(&b)), (400, "INVALID_SESSION_ID"));
}

/// The Get CVV2 envelope: an ephemeral key without the `cvv2` scope is
/// refused before the session id is opened (it stays unused).
#[tokio::test]
async fn the_cvv2_envelope_authorizes_before_the_unwrap() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let eph = s.ephemeral(&token, &["pan"]).await;
    let (_, sid) = s.session(V2);
    let body = json!({"NISrvRequest": {"request_get_cvv2": {
        "header": {"msg_id": "1", "msg_type": "TRANSACTION", "msg_function": "REQ_GET_CVV2", "src_application": "IVR", "target_application": "WAY4", "timestamp": "2026-11-30T10:00:00.000+00:00", "bank_id": "TEST"},
        "body": {"card_identifier_id": token, "card_identifier_type": "CONTRACT_NUMBER", "expiry_date": "0101"}}}});
    let before = used_rows(&s).await;
    let (st, _) = s
        .send(
            Method::POST,
            "/pin-management/v2/cvv2",
            Some(&eph),
            &[("session-id", &sid)],
            Some(body),
        )
        .await;
    assert_ne!(st, 200);
    assert_eq!(used_rows(&s).await, before);
    let (st, _) = pan(&s, &token, &s.tenant_key, &[("session-id", &sid)], "v2").await;
    assert_eq!(st, 200, "the session id was not used up");
}

/// `keys revoke`: a revoked key decrypts nothing on a running server within
/// the housekeeping interval, a new key replaces it at once, and the replay
/// records of the revoked key are purged (their window has closed).
#[tokio::test]
async fn a_revoked_key_stops_decrypting_and_its_replay_rows_go() {
    let mut s = Server::start(&["--housekeeping-secs", "1"]).await;
    let token = s.issue_card().await;
    let (_, used) = s.session(V2);
    assert_eq!(
        pan(&s, &token, &s.tenant_key, &[("session-id", &used)], "v2")
            .await
            .0,
        200
    );
    let (_, unused) = s.session(V2);
    let old = s.key_id().to_owned();
    assert!(used_rows(&s).await >= 1);
    let out = s.cli(&["keys", "revoke", &old]);
    assert!(out.contains("revoked"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (st, b) = pan(&s, &token, &s.tenant_key, &[("session-id", &unused)], "v2").await;
    assert_eq!((st, code(&b)), (400, "INVALID_SESSION_ID"));
    s.refresh_public_key().await;
    assert_ne!(s.key_id(), old, "a new active key replaced the revoked one");
    let (_, fresh) = s.session(V2);
    assert_eq!(
        pan(&s, &token, &s.tenant_key, &[("session-id", &fresh)], "v2")
            .await
            .0,
        200
    );
    let old_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM used_session_ids WHERE key_id = $1")
            .bind(&old)
            .fetch_one(&pool(&s).await)
            .await
            .unwrap();
    assert_eq!(old_rows, 0, "replay rows of the revoked key purged");
    let list = s.cli(&["keys", "list"]);
    assert!(
        list.lines()
            .any(|l| l.contains(&old) && l.contains("revoked")),
        "{list}"
    );
}

/// Finding 7: N concurrent session ids for an unknown key made N key-ring
/// reloads (N database round trips: pool exhaustion). Now they make none:
/// the ring reloads only when the database has a usable key it lacks.
#[tokio::test]
async fn concurrent_unknown_session_ids_share_one_key_reload() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = s.log_text().matches("key ring reloaded").count();
    let mut tasks = vec![];
    for _ in 0..40 {
        let (_, sid) = s.session(V2);
        let (http, url, key, token) = (
            s.http.clone(),
            s.url.clone(),
            s.tenant_key.clone(),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(format!("{url}/v2/cards/{token}/pan"))
                .bearer_auth(key)
                .header("session-id", sid)
                .header("key-id", "rsa-0123456789abcdef")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 400);
    }
    let reloads = s.log_text().matches("key ring reloaded").count() - before;
    assert_eq!(
        reloads, 0,
        "{reloads} reloads for 40 concurrent unknown ids"
    );
}

/// One Get PAN with `sid` on the node at `base`, spawned so that many can
/// race: its status and JSON body.
fn spawn_pan(
    s: &Server,
    base: &str,
    token: &str,
    sid: &str,
) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, key) = (s.http.clone(), s.tenant_key.clone());
    let (url, sid) = (format!("{base}/v2/cards/{token}/pan"), sid.to_owned());
    tokio::spawn(async move {
        let r = http
            .post(url)
            .bearer_auth(key)
            .header("session-id", sid)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    })
}

/// The same session id raced on two nodes sharing one database (a relay
/// sending it everywhere at once): it opens exactly once.
#[tokio::test]
async fn one_session_id_raced_on_two_nodes_opens_exactly_once() {
    let s = Server::start(&[]).await;
    let node = s.start_node("b", &[]);
    let token = s.issue_card().await;
    let (_, sid) = s.session(V2);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let base = if i % 2 == 0 { &s.url } else { &node.url };
            spawn_pan(&s, base, &token, &sid)
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap().0);
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 400),
        "{statuses:?}"
    );
}

/// The group commit's delay under load (`--commit-delay-us`, here 50 ms so
/// that every batch gathers duplicates): ten session ids, each sent four
/// times at once, alternately to two nodes. Each id opens exactly once, the
/// other 30 requests are refused as `INVALID_SESSION_ID`, and exactly ten
/// replay rows are written, whether the copies met in one node's batch or
/// in two nodes' commits.
#[tokio::test]
async fn session_ids_raced_through_a_long_commit_delay_open_exactly_once() {
    let delay = ["--commit-delay-us", "50000"];
    let s = Server::start(&delay).await;
    let node = s.start_node("b", &delay);
    let token = s.issue_card().await;
    let sids: Vec<String> = (0..10).map(|_| s.session(V2).1).collect();
    let mut tasks = vec![];
    for copy in 0..4 {
        for (i, sid) in sids.iter().enumerate() {
            let base = if (i + copy) % 2 == 0 {
                &s.url
            } else {
                &node.url
            };
            tasks.push((sid.clone(), spawn_pan(&s, base, &token, sid)));
        }
    }
    let mut opened = std::collections::HashMap::new();
    for (sid, t) in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => *opened.entry(sid).or_insert(0) += 1,
            400 => assert_eq!(code(&body), "INVALID_SESSION_ID"),
            other => panic!("status {other} ({body})"),
        }
    }
    assert_eq!(opened.len(), 10, "{opened:?}");
    assert!(opened.values().all(|&n| n == 1), "{opened:?}");
    assert_eq!(used_rows(&s).await, 10);
}

/// A client announcing a gigabyte body: the server answers 413 after at
/// most the 64 KiB limit and stops reading, with no decryption and no
/// memory growth to speak of.
#[tokio::test]
async fn a_gigabyte_body_is_refused_at_the_limit_without_reading_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let (_, sid) = s.session(V2);
    let rss = || {
        std::fs::read_to_string(format!("/proc/{}/status", s.pid()))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap()
    };
    let before = rss();
    let mut c = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let head = format!(
        "PUT /v2/cards/{token}/pin HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         session-id: {sid}\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n",
        s.tenant_key
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    // Keep sending until the server stops reading (or 8 MiB, far past the limit).
    while sent < 8 * 1024 * 1024 {
        match tokio::time::timeout(std::time::Duration::from_secs(2), c.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut answer))
        .await
        .unwrap()
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        rss() < before + 16 * 1024,
        "RSS grew from {before} kB to {} kB",
        rss()
    );
    // The session id was never opened (refused before the unwrap).
    let (st, _) = pan(&s, &token, &s.tenant_key, &[("session-id", &sid)], "v2").await;
    assert_eq!(st, 200);
}
