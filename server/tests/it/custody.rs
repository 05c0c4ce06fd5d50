//! The key custody (issue #18): PINs at rest as ISO 9564 format-4 blocks,
//! the re-encryption of the format-2 blocks stored before migration 0011,
//! and the PKCS#11 custody over a real SoftHSM2 token: key material that
//! the token refuses to give out, session ids made by the client core that
//! open only through the token, V1's implicit rejection with the token
//! doing the unwrapping, revocation destroying the token's objects, and two
//! server processes sharing one token.
//!
//! The PKCS#11 tests run in every pass: in a pkcs11 run
//! (`scripts/test.sh rust-hsm`) on that run's token, otherwise on a
//! SoftHSM2 token this test process makes for itself under target/tmp.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use paysecure_core::{KeySize, Pin, PublicKey, Session, Version};
use paysecure_server::crypto::custody::software::SoftwareCustody;
use paysecure_server::crypto::vault::{Binding, Vault};
use paysecure_server::storage::{Storage, StorageOptions};
use paysecure_server::{Service, ServiceConfig};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

use crate::common::{enc, open, open_pin, pkcs11_custody, token_env, TestApp, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_paysecure-server");

async fn db(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.unwrap()
}

fn vault() -> Vault {
    Vault::new(&[42u8; 32]).unwrap()
}

async fn get_pin(app: &TestApp, token: &str) -> (StatusCode, Option<String>) {
    let (s, r) = app
        .card_call(
            Version::V2,
            Method::POST,
            &format!("/v2/cards/{token}/pin"),
            &app.tenant_key,
            |_| None,
        )
        .await;
    let pin = (r.status == StatusCode::OK).then(|| open_pin(&s, &r.body["pinBlock"]));
    (r.status, pin)
}

/// (token, pin_sealed, pin_format) of every card with a PIN.
async fn pin_rows(url: &str) -> Vec<(String, String, Vec<u8>, Option<i64>)> {
    let mut c = db(url).await;
    sqlx::query(
        "SELECT tenant_id, token, pin_sealed, pin_format FROM cards WHERE pin_sealed IS NOT NULL",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

#[tokio::test]
async fn pins_are_stored_as_format4_blocks_never_format2() {
    let app = TestApp::new().await;
    let pins = ["2479", "731946", "58203917"];
    let mut tokens = vec![];
    for pin in pins {
        let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
        app.set_pin(&token, pin).await;
        tokens.push(token);
    }
    // The database, scanned: every PIN is a format-4 block (16 bytes of
    // AES output under the PIN key), none a format-2 block, none in clear.
    let rows = pin_rows(&app.db.url).await;
    assert_eq!(rows.len(), 3);
    let v = vault();
    for (tenant, token, sealed, format) in &rows {
        assert_eq!(*format, Some(4), "{token}");
        let b = |field| Binding {
            tenant,
            subject: token,
            field,
        };
        let block = v
            .open(b("pin_block_iso4"), sealed)
            .expect("a format-4 block");
        assert_eq!(block.len(), 16);
        assert!(
            v.open(b("pin_block"), sealed).is_err(),
            "no format-2 sealing"
        );
        for pin in pins {
            let text = format!("2{:X}{pin}", pin.len());
            for hay in [&block[..], &sealed[..]] {
                assert!(!hay.windows(pin.len()).any(|w| w == pin.as_bytes()));
                assert!(!hay.windows(text.len()).any(|w| w == text.as_bytes()));
            }
        }
    }
    for (token, pin) in tokens.iter().zip(pins) {
        assert_eq!(
            get_pin(&app, token).await,
            (StatusCode::OK, Some(pin.into()))
        );
    }
    // Two settings of one PIN give two different blocks (random fill).
    app.set_pin(&tokens[0], "2479").await;
    let again = pin_rows(&app.db.url).await;
    let before = rows.iter().find(|r| r.1 == tokens[0]).unwrap();
    let after = again.iter().find(|r| r.1 == tokens[0]).unwrap();
    assert_ne!(
        v.open(
            Binding {
                tenant: &before.0,
                subject: &before.1,
                field: "pin_block_iso4"
            },
            &before.2
        )
        .unwrap()[..],
        v.open(
            Binding {
                tenant: &after.0,
                subject: &after.1,
                field: "pin_block_iso4"
            },
            &after.2
        )
        .unwrap()[..]
    );
}

/// Writes a PIN the way the server stored it before migration 0011: the
/// format-2 block as 16 ASCII characters, sealed by the vault.
async fn write_legacy_pin(url: &str, tenant: &str, token: &str, sealed: &[u8]) {
    let mut c = db(url).await;
    let done = sqlx::query(
        "UPDATE cards SET pin_sealed = $1, pin_format = NULL WHERE tenant_id = $2 AND token = $3",
    )
    .bind(sealed)
    .bind(tenant)
    .bind(token)
    .execute(&mut c)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

#[tokio::test]
async fn format2_pins_from_before_0011_are_reencrypted_at_start_and_none_is_lost() {
    let app = TestApp::new().await;
    let token = |c: Value| c["token"].as_str().unwrap().to_owned();
    let (a, b, c) = (
        token(app.issue_card().await),
        token(app.issue_card().await),
        token(app.issue_card().await),
    );
    app.set_pin(&a, "2479").await;
    let legacy = |t: &str, text: &str| {
        vault()
            .seal(
                Binding {
                    tenant: &app.tenant_id,
                    subject: t,
                    field: "pin_block",
                },
                text.as_bytes(),
            )
            .unwrap()
    };
    write_legacy_pin(
        &app.db.url,
        &app.tenant_id,
        &b,
        &legacy(&b, "247315FFFFFFFFFF"),
    )
    .await;
    // A row that cannot be read (sealed for another card): left as it is.
    let broken = legacy(&a, "248264FFFFFFFFFF");
    write_legacy_pin(&app.db.url, &app.tenant_id, &c, &broken).await;
    assert_eq!(app.service.legacy_pin_count().await.unwrap(), 2);
    // Before the re-encryption the running server still reads the old row.
    assert_eq!(
        get_pin(&app, &b).await,
        (StatusCode::OK, Some("7315".into()))
    );

    // A node starting over this database re-encrypts.
    let storage = Storage::connect(&app.db.url, &StorageOptions::default())
        .await
        .unwrap();
    let restarted = crate::common::test_service(storage, ServiceConfig::default()).await;
    assert_eq!(
        restarted.legacy_pin_count().await.unwrap(),
        1,
        "only the unreadable row is left"
    );
    let rows = pin_rows(&app.db.url).await;
    let row = |t: &str| rows.iter().find(|r| r.1 == t).unwrap().clone();
    assert_eq!(row(&b).3, Some(4));
    assert_eq!(row(&a).3, Some(4));
    assert_eq!((row(&c).2, row(&c).3), (broken.clone(), None), "unchanged");
    assert_eq!(
        get_pin(&app, &a).await,
        (StatusCode::OK, Some("2479".into()))
    );
    assert_eq!(
        get_pin(&app, &b).await,
        (StatusCode::OK, Some("7315".into()))
    );
    // Run again (what `keys migrate-pins` does): nothing more to do.
    assert_eq!(restarted.migrate_pins().await.unwrap(), (0, 1));
    // Verification works on the re-encrypted PIN.
    let (_, r) = app
        .card_call(
            Version::V2,
            Method::POST,
            &format!("/v2/cards/{b}/pin/verify"),
            &app.tenant_key,
            |s| Some(json!({"pinBlock": enc(s.encrypt_pin(&Pin::new("7315").unwrap()).unwrap())})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["verified"]),
        (StatusCode::OK, &json!(true))
    );
}

fn pkcs11_app_custody() -> Arc<dyn paysecure_server::crypto::custody::KeyCustody> {
    Arc::new(pkcs11_custody())
}

#[tokio::test]
async fn pkcs11_private_and_pin_keys_refuse_to_give_their_material() {
    let custody = pkcs11_custody();
    let mut app = TestApp::with_custody(pkcs11_app_custody(), ServiceConfig::default()).await;
    app.enable_v1().await;
    let keys = app.service.all_keys().await.unwrap();
    assert_eq!(keys.len(), 3, "a session, a capture and a V1 key pair");
    for k in &keys {
        // The row holds a reference, no key material.
        assert_eq!(k.private_sealed, format!("pkcs11:{}", k.key_id).as_bytes());
        assert_eq!(
            custody.refuses_key_material(&k.key_id),
            Ok(true),
            "{}",
            k.key_id
        );
    }
    let mut c = db(&app.db.url).await;
    let r = sqlx::query("SELECT custody, reference FROM custody_keys WHERE name = 'pin-key'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(r.get::<String, _>(0), "pkcs11");
    let reference: Vec<u8> = r.get(1);
    let id = std::str::from_utf8(reference.strip_prefix(b"pkcs11:").unwrap()).unwrap();
    assert!(id.starts_with("pin-"), "{id}");
    assert_eq!(custody.refuses_key_material(id), Ok(true));
    // A key the token does not hold is an error, not "refused".
    assert!(custody
        .refuses_key_material("rsa-0000000000000000")
        .is_err());
}

#[tokio::test]
async fn pkcs11_client_session_ids_open_only_through_the_token() {
    let mut app = TestApp::with_custody(pkcs11_app_custody(), ServiceConfig::default()).await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    // The client core wraps a session key for the published key; the
    // token unwraps it (OAEP SHA-1), for every AES size.
    for size in KeySize::ALL {
        let s = Session::generate(Version::V2, size).unwrap();
        let sid = s.session_id(&app.public_key).unwrap();
        let r = app
            .call(
                Method::POST,
                &format!("/v2/cards/{token}/pan"),
                Some(&app.tenant_key),
                &[("session-id", &sid)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert!(paysecure_core::card::luhn_check(&open(&s, &r.body["pan"])));
    }
    app.set_pin(&token, "8264").await;
    assert_eq!(
        get_pin(&app, &token).await,
        (StatusCode::OK, Some("8264".into()))
    );

    // V1 (PKCS#1 v1.5 in the token) with implicit rejection kept: a bad
    // padding answers like a good id with an unknown key.
    app.enable_v1().await;
    let (s, r) = app
        .card_call(
            Version::V1,
            Method::POST,
            &format!("/v1/cards/{token}/pan"),
            &app.tenant_key.clone(),
            |_| None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(paysecure_core::card::luhn_check(&open(&s, &r.body["pan"])));
    let garbage = {
        let mut b = [0u8; 256];
        getrandom::getrandom(&mut b).unwrap();
        b[0] = 0x01; // below the modulus
        paysecure_core::encoding::encode(&b)
    };
    let r = app
        .call(
            Method::POST,
            &format!("/v1/cards/{token}/pan"),
            Some(&app.tenant_key),
            &[("session-id", &garbage)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "implicit rejection: {:?}", r.body);

    // The database alone opens nothing: a server over it without the
    // token cannot load the keys.
    let storage = Storage::connect(&app.db.url, &StorageOptions::default())
        .await
        .unwrap();
    let e = Service::with_custody(
        storage,
        vault(),
        Arc::new(SoftwareCustody),
        ServiceConfig::default(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("PKCS#11"), "{e}");
}

#[tokio::test]
async fn pkcs11_revocation_destroys_the_key_in_the_token() {
    let custody = pkcs11_custody();
    let mut app = TestApp::with_custody(pkcs11_app_custody(), ServiceConfig::default()).await;
    let old = app
        .service
        .keyring()
        .active(paysecure_server::crypto::keys::Purpose::Session)
        .unwrap()
        .key_id
        .clone();
    let old_public = app.public_key.clone();
    let new = app
        .service
        .rotate_keys(paysecure_server::crypto::keys::Purpose::Session)
        .await
        .unwrap();
    assert_eq!(custody.refuses_key_material(&new), Ok(true));
    assert_eq!(
        custody.refuses_key_material(&old),
        Ok(true),
        "rotated out, kept for the overlap"
    );
    app.service.revoke_key(&old).await.unwrap().unwrap();
    assert!(
        custody.refuses_key_material(&old).is_err(),
        "destroyed in the token"
    );
    app.refresh_public_key().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/v2/cards/{token}/pan"),
            Some(&app.tenant_key),
            &[
                ("session-id", &s.session_id(&old_public).unwrap()),
                ("key-id", &old),
            ],
            None,
        )
        .await;
    assert_eq!(r.code(), "INVALID_SESSION_ID");
    assert_eq!(app.pan_of(&token).await.len(), 16);
}

struct Node(Child, String);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(dir: &std::path::Path, db: &TestDb, master: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        &db.url,
    ])
    .env("PAYSECURE_MASTER_KEY", master);
    token_env().apply(&mut cmd);
    cmd
}

fn node(dir: &std::path::Path, db: &TestDb, master: &str) -> Node {
    node_of(command(dir, db, master))
}

/// A server command on the token with no master key anywhere: none in the
/// environment, `XDG_CONFIG_HOME` and `HOME` in `dir` (so the default key
/// file would be there).
fn keyless_command(dir: &std::path::Path, db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--data-dir",
        dir.join("data").to_str().unwrap(),
        "--database-url",
        &db.url,
    ])
    .env_remove("PAYSECURE_MASTER_KEY")
    .env_remove("PAYSECURE_MASTER_KEY_FILE")
    .env("XDG_CONFIG_HOME", dir.join("config"))
    .env("HOME", dir.join("home"));
    token_env().apply(&mut cmd);
    cmd
}

/// Spawns `serve` without waiting for it to listen.
fn spawn_node(mut cmd: Command) -> Child {
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--housekeeping-secs",
        "1",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap()
}

/// Starts `serve` and waits for its listening line (the process is
/// killed on drop, also when the wait fails).
fn node_of(cmd: Command) -> Node {
    use std::io::BufRead;
    let mut node = Node(spawn_node(cmd), String::new());
    let mut line = String::new();
    std::io::BufReader::new(node.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http"), "{line}");
    node.1 = url;
    node
}

fn cli(dir: &std::path::Path, db: &TestDb, master: &str, args: &[&str]) -> String {
    let out = command(dir, db, master).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn public_key(http: &reqwest::Client, url: &str) -> (PublicKey, String) {
    let v: Value = http
        .get(format!("{url}/v2/public-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        PublicKey::parse(v["publicKey"].as_str().unwrap()).unwrap(),
        v["keyId"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn pan_via(http: &reqwest::Client, url: &str, key: &str, card: &str, pk: &PublicKey) -> u16 {
    let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let res = http
        .post(format!("{url}/v2/cards/{card}/pan"))
        .bearer_auth(key)
        .header("Session-Id", s.session_id(pk).unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    if status == 200 {
        let v: Value = res.json().await.unwrap();
        assert!(paysecure_core::card::luhn_check(&open(&s, &v["pan"])));
    }
    status
}

/// Two server processes (and the CLI) over one database and one token: a
/// key pair made in the token by one node opens session ids on the other;
/// a rotation by the CLI reaches both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_two_server_processes_share_one_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path()).await;
    let master = paysecure_core::encoding::encode(&[7u8; 32]);
    let (da, db_dir) = (dir.path().join("a"), dir.path().join("b"));
    let a = node(&da, &db, &master);
    let b = node(&db_dir, &db, &master);
    let key = cli(
        &da,
        &db,
        &master,
        &["tenant", "create", "Shared Token Bank"],
    )
    .lines()
    .last()
    .unwrap()
    .trim()
    .to_owned();
    let http = reqwest::Client::new();
    let (pk_a, _) = public_key(&http, &a.1).await;
    let (pk_b, _) = public_key(&http, &b.1).await;
    assert_eq!(
        pk_a.modulus_be(),
        pk_b.modulus_be(),
        "one key pair for both nodes"
    );
    let card: Value = http
        .post(format!("{}/v2/cards", a.1))
        .bearer_auth(&key)
        .json(&json!({"accountId": "shared"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = card["token"].as_str().unwrap().to_owned();
    assert_eq!(pan_via(&http, &b.1, &key, &card, &pk_a).await, 200);
    assert_eq!(pan_via(&http, &a.1, &key, &card, &pk_a).await, 200);

    // The CLI (a third process on the token) rotates; both nodes use the
    // new key pair, made in the token, within a housekeeping run or two.
    let out = cli(&da, &db, &master, &["keys", "rotate"]);
    assert!(out.contains("rotated"), "{out}");
    let mut rotated = None;
    for _ in 0..100 {
        let (pk, _) = public_key(&http, &a.1).await;
        let (pk2, _) = public_key(&http, &b.1).await;
        if pk.modulus_be() != pk_a.modulus_be() && pk2.modulus_be() == pk.modulus_be() {
            rotated = Some(pk);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let new = rotated.expect("both nodes publish the rotated key");
    assert_eq!(pan_via(&http, &a.1, &key, &card, &new).await, 200);
    assert_eq!(pan_via(&http, &b.1, &key, &card, &new).await, 200);
    let listing = cli(&db_dir, &db, &master, &["keys", "list"]);
    // The header, the session key and its previous one, the capture key.
    assert_eq!(listing.lines().count(), 4, "{listing}");
    let pins = cli(&db_dir, &db, &master, &["keys", "migrate-pins"]);
    assert!(pins.contains("format-2 blocks left: 0"), "{pins}");

    // The token PIN given in the environment is wiped from each node's
    // environment block (/proc/<pid>/environ keeps the name, zeros after).
    let pin = token_env().pin;
    for n in [&a, &b] {
        let environ = std::fs::read(format!("/proc/{}/environ", n.0.id())).unwrap();
        let text = String::from_utf8_lossy(&environ);
        assert!(
            text.contains("PAYSECURE_PKCS11_MODULE="),
            "read the right process"
        );
        assert!(
            !text.contains(&pin),
            "the token PIN is in /proc/<pid>/environ"
        );
    }
    drop((a, b));
}

/// JWE captures (RSA-OAEP-256) made by the client core (its own OAEP over
/// its own RSA kernel) open through the token: with OAEP-256 in the token,
/// or, on SoftHSM2 (SHA-1 only), raw RSA in the token and the server's
/// constant-time OAEP decoding. A changed byte anywhere is refused.
#[tokio::test]
async fn pkcs11_captures_decrypt_with_oaep_sha256_through_the_token() {
    use paysecure_core::Padding;
    let app = TestApp::with_custody(pkcs11_app_custody(), ServiceConfig::default()).await;
    let ring = app.service.keyring();
    let kid = ring
        .active(paysecure_server::crypto::keys::Purpose::Capture)
        .unwrap()
        .key_id
        .clone();
    let session_kid = ring
        .active(paysecure_server::crypto::keys::Purpose::Session)
        .unwrap()
        .key_id
        .clone();
    for round in 0..20u8 {
        let cek = [round.wrapping_mul(37) ^ 0x5c; 32];
        let ct = app.capture_key.encrypt(&cek, Padding::OaepSha256).unwrap();
        let opened = ring.unwrap_content_key(&kid, &ct).unwrap().unwrap();
        assert_eq!(opened.expose_bytes(), &cek);
        let mut bad = ct.clone();
        bad[usize::from(round) * 12] ^= 1;
        assert!(ring.unwrap_content_key(&kid, &bad).unwrap().is_err());
        // OAEP SHA-1 is not a capture: refused.
        let sha1 = app.capture_key.encrypt(&cek, Padding::OaepSha1).unwrap();
        assert!(ring.unwrap_content_key(&kid, &sha1).unwrap().is_err());
        // The session key (its own token object) opens no capture: as if
        // there were no such key.
        let for_session = app.public_key.encrypt(&cek, Padding::OaepSha256).unwrap();
        assert!(ring
            .unwrap_content_key(&session_kid, &for_session)
            .is_none());
    }
}

/// (custody, reference) of a `custody_keys` row.
async fn custody_row(url: &str, name: &str) -> Option<(String, Vec<u8>)> {
    let mut c = db(url).await;
    sqlx::query("SELECT custody, reference FROM custody_keys WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut c)
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

/// Item 1 of issue #18's remainder, with real processes: with the PKCS#11
/// custody the vault's master key is made by the first node and stored
/// only wrapped by an AES-256 KEK in the token: no master key file or
/// variable anywhere, a second node (and the CLI) opens the same data, the
/// data opens after a restart, and a different master key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_vault_key_is_wrapped_by_a_token_kek_and_needs_no_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path()).await;
    let a = node_of(keyless_command(&dir.path().join("a"), &db));
    let b = node_of(keyless_command(&dir.path().join("b"), &db));
    let out = keyless_command(&dir.path().join("c"), &db)
        .args(["tenant", "create", "Wrapped Vault Bank"])
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
    let http = reqwest::Client::new();
    let (pk, _) = public_key(&http, &a.1).await;
    let card: Value = http
        .post(format!("{}/v2/cards", a.1))
        .bearer_auth(&key)
        .json(&json!({"accountId": "wrapped"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = card["token"].as_str().unwrap().to_owned();
    assert_eq!(
        pan_via(&http, &b.1, &key, &card, &pk).await,
        200,
        "node b opens what a sealed"
    );
    for sub in ["a", "b", "c"] {
        for f in [
            "config/paysecure/master.key",
            "home/.config/paysecure/master.key",
            "data/master.key",
        ] {
            assert!(!dir.path().join(sub).join(f).exists(), "{sub}/{f} was made");
        }
    }

    // The database holds the KEK's reference and the wrapped vault key.
    let (kind, kek_ref) = custody_row(&db.url, "kek").await.unwrap();
    assert_eq!(kind, "pkcs11");
    let kek_id = std::str::from_utf8(kek_ref.strip_prefix(b"pkcs11:").unwrap()).unwrap();
    assert!(kek_id.starts_with("kek-"), "{kek_id}");
    let (kind, wrapped) = custody_row(&db.url, "vault-master-key").await.unwrap();
    assert_eq!(kind, "pkcs11");
    assert_eq!(wrapped.len(), 40, "RFC 3394 wrap of 32 bytes");

    // Restarted, a node opens the same data with the same recorded key.
    drop((a, b));
    let a = node_of(keyless_command(&dir.path().join("a"), &db));
    assert_eq!(pan_via(&http, &a.1, &key, &card, &pk).await, 200);
    assert_eq!(
        custody_row(&db.url, "vault-master-key").await.unwrap().1,
        wrapped
    );

    // A master key that is not the recorded one is refused.
    let other = paysecure_core::encoding::encode(&[9u8; 32]);
    let out = keyless_command(&dir.path().join("c"), &db)
        .env("PAYSECURE_MASTER_KEY", &other)
        .args(["keys", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the vault key recorded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(a);
}

/// The domain's part of item 1, in process (one SoftHSM2 index: objects a
/// node process makes are not always visible at once to a long-running
/// process that writes the token too): a master key given on the first
/// start is imported (wrapped under the KEK, whose value the token
/// refuses to give out, and recorded), found again afterwards, a different
/// one refused, an altered wrap refused; two nodes racing on a new
/// database agree; the software custody has no KEK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_vault_imports_a_given_master_key_once_and_refuses_another() {
    use paysecure_server::crypto::custody::KeyCustody;
    use paysecure_server::domain::custody::{open_token_vault, VaultKeyOrigin};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path()).await;
    let storage = Storage::connect(&db.url, &StorageOptions::default())
        .await
        .unwrap();
    let custody = pkcs11_custody();
    let b = Binding {
        tenant: "t",
        subject: "s",
        field: "f",
    };
    let sealed = vault().seal(b, b"imported data").unwrap();
    let (v, origin) = open_token_vault(&storage, &custody, Some(&[42u8; 32]))
        .await
        .unwrap();
    assert_eq!(origin, VaultKeyOrigin::Imported);
    assert_eq!(&v.open(b, &sealed).unwrap()[..], b"imported data");

    // What is stored is the key wrapped by the KEK, never the key.
    let (_, kek_ref) = custody_row(&db.url, "kek").await.unwrap();
    let kek_id = std::str::from_utf8(kek_ref.strip_prefix(b"pkcs11:").unwrap()).unwrap();
    assert_eq!(
        custody.refuses_key_material(kek_id),
        Ok(true),
        "the KEK's CKA_VALUE is refused"
    );
    let (_, wrapped) = custody_row(&db.url, "vault-master-key").await.unwrap();
    assert_eq!(wrapped.len(), 40);
    assert!(!wrapped.windows(4).any(|w| w == [42u8; 4]));
    let kek = custody.load_kek(&kek_ref).unwrap();
    assert_eq!(&kek.unwrap(&wrapped).unwrap()[..], &[42u8; 32]);
    let mut bad = wrapped.clone();
    bad[17] ^= 1;
    assert!(kek.unwrap(&bad).is_err(), "the wrap's integrity check");

    let (v, origin) = open_token_vault(&storage, &custody, None).await.unwrap();
    assert_eq!(origin, VaultKeyOrigin::Recorded);
    assert_eq!(&v.open(b, &sealed).unwrap()[..], b"imported data");
    let (_, origin) = open_token_vault(&storage, &custody, Some(&[42u8; 32]))
        .await
        .unwrap();
    assert_eq!(origin, VaultKeyOrigin::Recorded);
    assert!(open_token_vault(&storage, &custody, Some(&[43u8; 32]))
        .await
        .is_err());
    assert!(open_token_vault(&storage, &SoftwareCustody, None)
        .await
        .is_err());

    // A new database, two nodes at once: one key made, both use it.
    std::fs::create_dir_all(dir.path().join("second")).unwrap();
    let db2 = TestDb::new(&dir.path().join("second")).await;
    let options = StorageOptions::default();
    let (s1, s2) = (
        Storage::connect(&db2.url, &options).await.unwrap(),
        Storage::connect(&db2.url, &options).await.unwrap(),
    );
    let (c1, c2) = (custody.clone(), custody.clone());
    let (r1, r2) = tokio::join!(
        async move { open_token_vault(&s1, &c1, None).await },
        async move { open_token_vault(&s2, &c2, None).await }
    );
    let ((v1, o1), (v2, o2)) = (r1.unwrap(), r2.unwrap());
    assert!(
        matches!(
            (o1, o2),
            (VaultKeyOrigin::Created, VaultKeyOrigin::Recorded)
                | (VaultKeyOrigin::Recorded, VaultKeyOrigin::Created)
        ),
        "{o1:?} {o2:?}"
    );
    let sealed2 = v1.seal(b, b"made by one node").unwrap();
    assert_eq!(&v2.open(b, &sealed2).unwrap()[..], b"made by one node");
    assert!(
        v1.open(b, &sealed).is_err(),
        "a fresh key, not the imported one"
    );
}

/// Item 2: with the PKCS#11 custody a tenant's CVK pair lives in the token
/// (CVK-A as a DES3 key A‖A‖A, the pair as a DES2 key A‖B, both
/// non-extractable; `CKM_DES3_ECB`), and the token computes the same CVVs
/// as the software path: every published vector of tests/data/cvv_vectors.json.
#[tokio::test]
async fn pkcs11_cvks_live_in_the_token_and_compute_the_published_cvvs() {
    use paysecure_server::crypto::custody::KeyCustody;
    use paysecure_server::crypto::cvv::{self, CvkPair};
    let custody = pkcs11_custody();
    let v = vault();
    let file: Value = serde_json::from_str(include_str!("../data/cvv_vectors.json")).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 30);
    let mut tokens = std::collections::HashMap::new();
    for case in cases {
        let t = |k: &str| case[k].as_str().unwrap().to_owned();
        let pair_hex = (t("cvk_a_hex"), t("cvk_b_hex"));
        let mut bytes = hex::decode(&pair_hex.0).unwrap();
        bytes.extend(hex::decode(&pair_hex.1).unwrap());
        let pair = CvkPair::from_bytes(&bytes).unwrap();
        let binding = Binding {
            tenant: "ten_kat",
            subject: "-",
            field: "cvk",
        };
        let stored = tokens
            .entry(pair_hex.clone())
            .or_insert_with(|| {
                let stored = custody.store_cvk(&v, binding, &pair).unwrap();
                let id = std::str::from_utf8(stored.strip_prefix(b"pkcs11:").unwrap())
                    .unwrap()
                    .to_owned();
                assert!(id.starts_with("cvk-"), "{id}");
                for part in ["a", "ab"] {
                    assert_eq!(
                        custody.refuses_key_material(&format!("{id}-{part}")),
                        Ok(true),
                        "{id}-{part}"
                    );
                }
                stored
            })
            .clone();
        let in_token = custody.load_cvk(&v, binding, &stored).unwrap();
        let digits = case["digits"].as_u64().unwrap() as usize;
        let (pan, exp, sc) = (t("pan"), t("expiry_yymm"), t("service_code"));
        let by_token = cvv::compute(&*in_token, &pan, &exp, &sc, digits).unwrap();
        let by_software = cvv::compute(&pair, &pan, &exp, &sc, digits).unwrap();
        assert_eq!(by_token, t("expected"), "{}", t("id"));
        assert_eq!(by_token, by_software, "{}", t("id"));
        // The software custody's form (sealed by the vault) opens in both.
        let sealed = SoftwareCustody.store_cvk(&v, binding, &pair).unwrap();
        for c in [&custody as &dyn KeyCustody, &SoftwareCustody] {
            let k = c.load_cvk(&v, binding, &sealed).unwrap();
            assert_eq!(
                cvv::compute(&*k, &pan, &exp, &sc, digits).unwrap(),
                by_software
            );
        }
        assert!(SoftwareCustody.load_cvk(&v, binding, &stored).is_err());
    }
    assert_eq!(tokens.len(), 3);
    // A discarded pair is gone from the token.
    let id = tokens.values().next().unwrap().clone();
    custody.discard_cvk(&id).unwrap();
    let name = std::str::from_utf8(id.strip_prefix(b"pkcs11:").unwrap()).unwrap();
    assert!(custody.refuses_key_material(&format!("{name}-a")).is_err());
}

/// Item 2 through the API: a tenant made by a pkcs11 server has its CVKs
/// in the token; with a known pair put there, Get CVV2 answers what the
/// software algorithm computes, and CVV2 verification agrees.
#[tokio::test]
async fn pkcs11_tenant_cvv2_is_computed_in_the_token() {
    use paysecure_server::crypto::custody::KeyCustody;
    use paysecure_server::crypto::cvv::{self, CvkPair};
    let app = TestApp::with_custody(pkcs11_app_custody(), ServiceConfig::default()).await;
    let mut c = db(&app.db.url).await;
    let made: Vec<u8> = sqlx::query("SELECT cvk_sealed FROM tenants WHERE id = $1")
        .bind(&app.tenant_id)
        .fetch_one(&mut c)
        .await
        .unwrap()
        .get(0);
    assert!(
        made.starts_with(b"pkcs11:cvk-"),
        "tenant creation put the CVKs in the token"
    );
    let pair =
        CvkPair::from_bytes(&hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
    let stored = pkcs11_custody()
        .store_cvk(
            &vault(),
            Binding {
                tenant: &app.tenant_id,
                subject: "-",
                field: "cvk",
            },
            &pair,
        )
        .unwrap();
    sqlx::query("UPDATE tenants SET cvk_sealed = $1 WHERE id = $2")
        .bind(&stored)
        .bind(&app.tenant_id)
        .execute(&mut c)
        .await
        .unwrap();
    let card = app.issue_card().await;
    let token = card["token"].as_str().unwrap().to_owned();
    let pan = app.pan_of(&token).await;
    let yymm = format!(
        "{:02}{:02}",
        card["expiryYear"].as_i64().unwrap() % 100,
        card["expiryMonth"].as_i64().unwrap()
    );
    let (s, r) = app
        .card_call(
            Version::V2,
            Method::POST,
            &format!("/v2/cards/{token}/cvv2"),
            &app.tenant_key,
            |_| None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let expected = cvv::cvv2(&pair, &pan, &yymm).unwrap();
    assert_eq!(open(&s, &r.body["cvv2"]), expected);
    let (_, r) = app
        .card_call(
            Version::V2,
            Method::POST,
            &format!("/v2/cards/{token}/cvv2/verify"),
            &app.tenant_key,
            |s| Some(json!({"cvv2": crate::common::enc_text(s, &expected)})),
        )
        .await;
    assert_eq!(r.body["verified"], json!(true), "{:?}", r.body);
}

/// A server command in the software custody with `master` as its key.
fn software_command(dir: &std::path::Path, db: &TestDb, master: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--data-dir",
        dir.join("data").to_str().unwrap(),
        "--database-url",
        &db.url,
    ])
    .env("PAYSECURE_MASTER_KEY", master)
    .env("PAYSECURE_KEY_CUSTODY", "software")
    .env("XDG_CONFIG_HOME", dir.join("config"))
    .env("HOME", dir.join("home"));
    cmd
}

fn run_ok(mut cmd: Command, args: &[&str]) -> String {
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A cardholder-data call over HTTP with a fresh V2 session.
async fn card_http(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    pk: &PublicKey,
    method: reqwest::Method,
    path: &str,
    body: impl FnOnce(&Session) -> Option<Value>,
) -> (Session, Value) {
    let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let mut req = http
        .request(method, format!("{url}{path}"))
        .bearer_auth(key)
        .header("Session-Id", s.session_id(pk).unwrap());
    if let Some(b) = body(&s) {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "{path}");
    let v = res.json().await.unwrap();
    (s, v)
}

/// (PAN, CVV2, PIN) of `card` through the API.
async fn card_secrets(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    pk: &PublicKey,
    card: &str,
) -> (String, String, String) {
    let post = reqwest::Method::POST;
    let (s, v) = card_http(
        http,
        url,
        key,
        pk,
        post.clone(),
        &format!("/v2/cards/{card}/pan"),
        |_| None,
    )
    .await;
    let pan = open(&s, &v["pan"]);
    let (s, v) = card_http(
        http,
        url,
        key,
        pk,
        post.clone(),
        &format!("/v2/cards/{card}/cvv2"),
        |_| None,
    )
    .await;
    let cvv2 = open(&s, &v["cvv2"]);
    let (s, v) = card_http(
        http,
        url,
        key,
        pk,
        post,
        &format!("/v2/cards/{card}/pin"),
        |_| None,
    )
    .await;
    (pan, cvv2, open_pin(&s, &v["pinBlock"]))
}

/// Item 4: a deployment made in the software custody, its keys imported
/// into the token by `keys import-to-token` (run again after an
/// interruption, and once more with nothing left), then served with
/// `--key-custody pkcs11` and no master key: the same session key pair
/// (same public key), the same PAN, PIN and CVV2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_deployment_imported_into_the_token_serves_the_same_keys_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path()).await;
    let master = paysecure_core::encoding::encode(&[0x5a; 32]);
    let soft = dir.path().join("soft");
    let key = run_ok(
        software_command(&soft, &db, &master),
        &["tenant", "create", "Imported Bank"],
    )
    .lines()
    .last()
    .unwrap()
    .trim()
    .to_owned();
    let http = reqwest::Client::new();
    let node = node_of(software_command(&soft, &db, &master));
    let (pk0, _) = public_key(&http, &node.1).await;
    let card: Value = http
        .post(format!("{}/v2/cards", node.1))
        .bearer_auth(&key)
        .json(&json!({"accountId": "imported"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let card = card["token"].as_str().unwrap().to_owned();
    card_http(
        &http,
        &node.1,
        &key,
        &pk0,
        reqwest::Method::PUT,
        &format!("/v2/cards/{card}/pin"),
        |s| Some(json!({"pinBlock": enc(s.encrypt_pin(&Pin::new("4825").unwrap()).unwrap())})),
    )
    .await;
    let before = card_secrets(&http, &node.1, &key, &pk0, &card).await;
    assert_eq!(before.2, "4825");
    drop(node);
    let mut c = self::db(&db.url).await;
    let sealed_rsa: Vec<(String, Vec<u8>)> =
        sqlx::query("SELECT key_id, private_sealed FROM rsa_keys")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(sealed_rsa.len(), 2, "a session and a capture key pair");
    assert!(sealed_rsa.iter().all(|k| !k.1.starts_with(b"pkcs11:")));

    // Without the master key the import refuses (nothing would open).
    let tok = dir.path().join("tok");
    let out = keyless_command(&tok, &db)
        .args(["keys", "import-to-token"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let import = || {
        let mut cmd = keyless_command(&tok, &db);
        cmd.env("PAYSECURE_MASTER_KEY", &master);
        run_ok(cmd, &["keys", "import-to-token"])
    };
    let out = import();
    assert!(out.contains("vault master key wrapped by the token now: true; RSA keys imported now: 2; PIN key imported now: true; tenant CVK pairs imported now: 1; rows that changed meanwhile (run again): 0"), "{out}");
    // An interrupted run: the key is in the token but its row still
    // holds the sealed key. The next run replaces the object, rewrites the row.
    sqlx::query("UPDATE rsa_keys SET private_sealed = $1 WHERE key_id = $2")
        .bind(&sealed_rsa[0].1)
        .bind(&sealed_rsa[0].0)
        .execute(&mut c)
        .await
        .unwrap();
    let out = import();
    assert!(out.contains("vault master key wrapped by the token now: false; RSA keys imported now: 1; PIN key imported now: false; tenant CVK pairs imported now: 0"), "{out}");
    let out = import();
    assert!(out.contains("RSA keys imported now: 0; PIN key imported now: false; tenant CVK pairs imported now: 0"), "{out}");
    for (table, column, want) in [
        ("rsa_keys", "private_sealed", "pkcs11:rsa-"),
        ("tenants", "cvk_sealed", "pkcs11:cvk-"),
    ] {
        let rows: Vec<Vec<u8>> = sqlx::query(&format!("SELECT {column} FROM {table}"))
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            rows.iter().all(|r| r.starts_with(want.as_bytes())),
            "{table}"
        );
    }
    let (kind, reference) = custody_row(&db.url, "pin-key").await.unwrap();
    assert_eq!(kind, "pkcs11");
    assert!(reference.starts_with(b"pkcs11:pin-"));

    // The software custody cannot serve it any more; the token can, with
    // no master key, and serves the same key pair and the same data.
    let out = software_command(&soft, &db, &master)
        .args(["keys", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let node = node_of(keyless_command(&tok, &db));
    let (pk1, _) = public_key(&http, &node.1).await;
    assert_eq!(
        pk1.modulus_be(),
        pk0.modulus_be(),
        "the same session key pair"
    );
    let after = card_secrets(&http, &node.1, &key, &pk1, &card).await;
    assert_eq!(after, before, "PAN, CVV2 and PIN");
    drop(node);
}
