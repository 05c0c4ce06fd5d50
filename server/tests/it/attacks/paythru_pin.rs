//! Attacks: weak PINs set straight through the API (around the widget), and
//! replayed or stale Paythru signed requests.

use std::time::{SystemTime, UNIX_EPOCH};

use paysecure_core::{Pin, Version};
use paysecure_server::domain::paythru::signature;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::*;

// ------------------------------------------------------------------ weak PINs

/// The PINs the widget refuses, one of each rule and more.
const WEAK: [&str; 8] = [
    "1111",
    "1234",
    "4321",
    "1212",
    "2580",
    "8901",
    "000000",
    "123456789012",
];

/// `PUT /v2/cards/{token}/pin` of `pin` with `key`: (status, body).
async fn put_pin(s: &Server, key: &str, token: &str, pin: &str) -> (u16, Value) {
    let (session, sid) = s.session(Version::V2);
    let block = session.encrypt_pin(&Pin::new(pin).unwrap()).unwrap();
    s.send(
        Method::PUT,
        &format!("/v2/cards/{token}/pin"),
        Some(key),
        &[("session-id", &sid)],
        Some(json!({ "pinBlock": enc(block) })),
    )
    .await
}

/// The card's PIN read back with the tenant key: `Ok(pin)` or the error code.
async fn stored_pin(s: &Server, token: &str) -> Result<String, String> {
    let (session, sid) = s.session(Version::V2);
    let (status, body) = s
        .send(
            Method::POST,
            &format!("/v2/cards/{token}/pin"),
            Some(&s.tenant_key),
            &[("session-id", &sid)],
            None,
        )
        .await;
    if status != 200 {
        return Err(body["error"]["code"].as_str().unwrap_or("").to_owned());
    }
    Ok(session
        .decrypt_pin(&ev(&body["pinBlock"]))
        .unwrap()
        .expose()
        .to_owned())
}

/// The widget refuses weak PINs in the browser; a caller holding the same
/// ephemeral key (or the tenant key) who talks to the API directly must be
/// refused as well, with `WEAK_PIN`, nothing stored, and nothing of the PIN
/// in the answer or the log.
#[tokio::test]
async fn weak_pins_sent_straight_to_the_api_are_refused_with_weak_pin() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let widget_key = s.ephemeral(&token, &["pin:write"]).await;
    for key in [widget_key.as_str(), s.tenant_key.as_str()] {
        for pin in WEAK {
            let (status, body) = put_pin(&s, key, &token, pin).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some("WEAK_PIN")),
                "{pin}: {body}"
            );
            // Without the random traceId, whose hex digits can spell a short PIN by chance.
            let mut shown = body.clone();
            if let Some(error) = shown.get_mut("error").and_then(Value::as_object_mut) {
                error.remove("traceId");
            }
            assert!(
                !shown.to_string().contains(pin),
                "the answer names the PIN: {shown}"
            );
        }
    }
    assert_eq!(stored_pin(&s, &token).await, Err("PIN_NOT_SET".into()));
    // A good PIN is accepted; a weak one then does not replace it.
    let (status, body) = put_pin(&s, &widget_key, &token, "7093").await;
    assert_eq!(
        (status, body["pinSet"].clone()),
        (200, json!(true)),
        "{body}"
    );
    let (status, _) = put_pin(&s, &widget_key, &token, "1234").await;
    assert_eq!(status, 400);
    assert_eq!(stored_pin(&s, &token).await, Ok("7093".into()));
    let mut secrets: Vec<String> = WEAK.iter().map(|p| format!("\"{p}\"")).collect();
    secrets.extend(WEAK.iter().map(|p| {
        let mut block = format!("2{:X}{p}", p.len());
        block.push_str(&"F".repeat(16 - block.len()));
        block
    }));
    secrets.push("247093FFFFFFFFFF".into());
    assert_log_clean(&s, &secrets.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The weak-PIN answer is given only to a caller allowed to set this card's
/// PIN: a key without `pin:write`, or for another card, learns nothing
/// about its PIN's strength (403 first), and nothing is stored.
#[tokio::test]
async fn weak_pin_refusal_comes_after_authorization() {
    let s = Server::start(&[]).await;
    let token = s.issue_card().await;
    let other = s.issue_card().await;
    let reveal_only = s.ephemeral(&token, &["reveal", "pin:read"]).await;
    let other_card = s.ephemeral(&other, &["pin:write"]).await;
    for key in [&reveal_only, &other_card] {
        for pin in ["1111", "7093"] {
            let (status, body) = put_pin(&s, key, &token, pin).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("FORBIDDEN")),
                "{pin}: {body}"
            );
        }
    }
    let (status, _) = put_pin(&s, "psk_not-a-key-at-all-000000000000", &token, "1111").await;
    assert_eq!(status, 401);
    // The card's own pin:write key is told.
    let allowed = s.ephemeral(&token, &["pin:write"]).await;
    let (status, body) = put_pin(&s, &allowed, &token, "1111").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("WEAK_PIN"))
    );
    assert_eq!(stored_pin(&s, &token).await, Err("PIN_NOT_SET".into()));
}

// ------------------------------------------------------------------ Paythru replay

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Paythru credentials made by the CLI.
struct Creds {
    api_key: String,
    api_password: String,
    sha_key: String,
}

impl Creds {
    /// The signed form body of `params` (plus apiKey and apiPassword).
    fn body(&self, params: &[(&str, &str)]) -> String {
        let mut all = vec![
            ("apiKey", self.api_key.as_str()),
            ("apiPassword", self.api_password.as_str()),
        ];
        all.extend_from_slice(params);
        let sig = signature(all.iter().copied(), &self.sha_key);
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &all {
            form.append_pair(k, v);
        }
        form.append_pair("shaSignature", &sig);
        form.finish()
    }

    /// As [`Creds::body`], with a fresh `requestTime` and `requestNonce`.
    fn fresh(&self, params: &[(&str, &str)]) -> String {
        let time = unix_now().to_string();
        let nonce = random_nonce();
        let mut all = params.to_vec();
        all.push(("requestTime", &time));
        all.push(("requestNonce", &nonce));
        self.body(&all)
    }
}

fn random_nonce() -> String {
    let mut b = [0u8; 18];
    getrandom::getrandom(&mut b).unwrap();
    hex::encode(b)
}

/// A new tenant; returns its id.
fn new_tenant(s: &Server, name: &str) -> String {
    let out = s.cli(&["tenant", "create", name]);
    let first = out.lines().next().unwrap();
    first.split_whitespace().nth(1).unwrap().to_owned()
}

fn paythru_credentials(s: &Server, tenant: &str) -> Creds {
    let out = s.cli(&["tenant", "paythru-credentials", tenant]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .trim()
            .to_owned()
    };
    Creds {
        api_key: field("apiKey"),
        api_password: field("apiPassword"),
        sha_key: field("shaKey"),
    }
}

fn require_nonce(s: &Server, target: &str, require: bool) {
    s.cli(&[
        "tenant",
        "paythru-require-nonce",
        target,
        &require.to_string(),
    ]);
}

/// POSTs a form to `/v3/token/{method}/json`: (status, JSON body).
async fn paythru(s: &Server, method: &str, body: &str) -> (u16, Value) {
    let res = s
        .http
        .post(format!("{}/v3/token/{method}/json", s.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// The Paythru error code of an answer, or "OK".
fn outcome(answer: &(u16, Value)) -> (u16, String) {
    let (status, body) = answer;
    let code = body["errorCode"]
        .as_str()
        .map_or_else(|| "OK".to_owned(), str::to_owned);
    (*status, code)
}

fn ok() -> (u16, String) {
    (200, "OK".into())
}

fn refused(code: u16) -> (u16, String) {
    (401, code.to_string())
}

/// Tokenises a test card (with a fresh time and nonce); returns its cardKey.
async fn create_card(s: &Server, c: &Creds) -> String {
    let expiry = format!("12{}", (unix_now() / 31_556_952 + 1970 + 2) % 100);
    let body = c.fresh(&[("cardNumber", "4444333322221111"), ("cardExpiry", &expiry)]);
    let (status, body) = paythru(s, "create", &body).await;
    assert_eq!(status, 200, "{body}");
    body["cardKeyDetails"]["0"]["cardKey"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn enabled(s: &Server, c: &Creds, card_key: &str) -> String {
    let (status, body) = paythru(s, "lookup", &c.fresh(&[("cardKey", card_key)])).await;
    assert_eq!(status, 200, "{body}");
    body["cardKeyDetails"]["0"]["enabled"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A server with one tenant that has Paythru credentials.
async fn paythru_server() -> (Server, String, Creds) {
    let s = Server::start(&[]).await;
    let tenant = new_tenant(&s, "Paythru Merchant");
    let creds = paythru_credentials(&s, &tenant);
    (s, tenant, creds)
}

/// With the profile required, a captured signed request is refused when
/// sent again (126), whatever the method, and changes nothing; a request
/// without the profile's parameters is refused (124 for the time first).
#[tokio::test]
async fn paythru_replayed_signed_request_is_refused_with_the_profile() {
    let (s, _, c) = paythru_server().await;
    require_nonce(&s, &c.api_key, true);
    let card = create_card(&s, &c).await;
    // The seed's format alone is no longer enough.
    let seed_format = c.body(&[("cardKey", &card)]);
    assert_eq!(
        outcome(&paythru(&s, "lookup", &seed_format).await),
        refused(124)
    );
    let time = unix_now().to_string();
    let only_time = c.body(&[("cardKey", &card), ("requestTime", &time)]);
    assert_eq!(
        outcome(&paythru(&s, "lookup", &only_time).await),
        refused(126)
    );
    // A captured `disable`, then the merchant enables the card again.
    let disable = c.fresh(&[("cardKey", &card)]);
    assert_eq!(outcome(&paythru(&s, "disable", &disable).await), ok());
    assert_eq!(
        outcome(&paythru(&s, "enable", &c.fresh(&[("cardKey", &card)])).await),
        ok()
    );
    // The replayed disable is refused and the card stays enabled.
    assert_eq!(
        outcome(&paythru(&s, "disable", &disable).await),
        refused(126)
    );
    assert_eq!(enabled(&s, &c, &card).await, "1");
    // The same signed parameters on another method: still the same nonce.
    assert_eq!(
        outcome(&paythru(&s, "lookup", &disable).await),
        refused(126)
    );
    // A replayed create makes no second token.
    let expiry = format!("12{}", (unix_now() / 31_556_952 + 1970 + 2) % 100);
    let create = c.fresh(&[("cardNumber", "4444333322221111"), ("cardExpiry", &expiry)]);
    assert_eq!(outcome(&paythru(&s, "create", &create).await), ok());
    assert_eq!(outcome(&paythru(&s, "create", &create).await), refused(126));
    // Nothing of the credentials in the log.
    assert_log_clean(&s, &[&c.api_password, &c.sha_key]);
}

/// `requestTime` more than 300 s from the server's clock, either way, or
/// not a number, is refused (124), and such a refusal does not use the
/// nonce up.
#[tokio::test]
async fn paythru_request_outside_the_time_window_is_refused() {
    let (s, _, c) = paythru_server().await;
    require_nonce(&s, &c.api_key, true);
    let card = create_card(&s, &c).await;
    let nonce = random_nonce();
    // Each time is read from the clock just before its request: on a slow
    // host a `now` read once can be seconds old by the later requests, and
    // `now + 301` would then land inside the window (seen in CI).
    let times: [fn(i64) -> String; 6] = [
        |now| (now - 305).to_string(),
        |now| (now + 305).to_string(),
        |_| "0".into(),
        |_| "99999999999".into(),
        |_| "1.7e9".into(),
        |now| format!("{now}0"),
    ];
    for time_at in times {
        let time = time_at(unix_now());
        let body = c.body(&[
            ("cardKey", &card),
            ("requestTime", &time),
            ("requestNonce", &nonce),
        ]);
        assert_eq!(
            outcome(&paythru(&s, "lookup", &body).await),
            refused(124),
            "{time}"
        );
    }
    // Inside the window (with room for a slow test host), the same nonce
    // is accepted once.
    let now = unix_now();
    for time in [now - 240, now + 240] {
        let body = c.body(&[
            ("cardKey", &card),
            ("requestTime", &time.to_string()),
            ("requestNonce", &format!("{nonce}{}", time - now + 1000)),
        ]);
        assert_eq!(outcome(&paythru(&s, "lookup", &body).await), ok(), "{time}");
    }
    let body = c.body(&[
        ("cardKey", &card),
        ("requestTime", &now.to_string()),
        ("requestNonce", &nonce),
    ]);
    assert_eq!(outcome(&paythru(&s, "lookup", &body).await), ok());
}

/// Nonces are single-use per credential: another credential (of the same
/// or another tenant) may use the same nonce; the first may not again.
#[tokio::test]
async fn paythru_nonce_reused_by_another_credential_is_accepted() {
    let (s, tenant, a) = paythru_server().await;
    let b = paythru_credentials(&s, &tenant);
    let other_tenant = new_tenant(&s, "Other Merchant");
    let c = paythru_credentials(&s, &other_tenant);
    for creds in [&a, &b, &c] {
        require_nonce(&s, &creds.api_key, true);
    }
    let card_a = create_card(&s, &a).await;
    let card_c = create_card(&s, &c).await;
    let time = unix_now().to_string();
    let nonce = random_nonce();
    let with = |creds: &Creds, card: &str| {
        creds.body(&[
            ("cardKey", card),
            ("requestTime", &time),
            ("requestNonce", &nonce),
        ])
    };
    assert_eq!(
        outcome(&paythru(&s, "lookup", &with(&a, &card_a)).await),
        ok()
    );
    assert_eq!(
        outcome(&paythru(&s, "lookup", &with(&b, &card_a)).await),
        ok()
    );
    assert_eq!(
        outcome(&paythru(&s, "lookup", &with(&c, &card_c)).await),
        ok()
    );
    for creds in [&a, &b] {
        assert_eq!(
            outcome(&paythru(&s, "lookup", &with(creds, &card_a)).await),
            refused(126)
        );
    }
    assert_eq!(
        outcome(&paythru(&s, "lookup", &with(&c, &card_c)).await),
        refused(126)
    );
}

/// Without the profile, the seed's request format is valid as written
/// (and, as the seed has it, can be sent again); a request that does carry
/// `requestTime` / `requestNonce` is verified all the same.
#[tokio::test]
async fn paythru_without_the_profile_the_seed_format_works_and_sent_nonces_are_checked() {
    let (s, _, c) = paythru_server().await;
    let card = create_card(&s, &c).await;
    let seed_format = c.body(&[("cardKey", &card)]);
    for _ in 0..2 {
        assert_eq!(outcome(&paythru(&s, "lookup", &seed_format).await), ok());
    }
    let with_nonce = c.fresh(&[("cardKey", &card)]);
    assert_eq!(outcome(&paythru(&s, "lookup", &with_nonce).await), ok());
    assert_eq!(
        outcome(&paythru(&s, "lookup", &with_nonce).await),
        refused(126)
    );
    let stale = (unix_now() - 3600).to_string();
    let old = c.body(&[
        ("cardKey", &card),
        ("requestTime", &stale),
        ("requestNonce", &random_nonce()),
    ]);
    assert_eq!(outcome(&paythru(&s, "lookup", &old).await), refused(124));
    let no_time = c.body(&[("cardKey", &card), ("requestNonce", &random_nonce())]);
    assert_eq!(
        outcome(&paythru(&s, "lookup", &no_time).await),
        refused(124)
    );
    // Bad nonces: too short, too long, outside the URL-safe alphabet.
    let time = unix_now().to_string();
    for nonce in [
        "abcdefghij12345",
        &"n".repeat(65),
        "abcdefghij123456=",
        "abcdefgh.ijk123456",
    ] {
        let body = c.body(&[
            ("cardKey", &card),
            ("requestTime", &time),
            ("requestNonce", nonce),
        ]);
        assert_eq!(
            outcome(&paythru(&s, "lookup", &body).await),
            refused(126),
            "{nonce}"
        );
    }
    let shortest = c.body(&[
        ("cardKey", &card),
        ("requestTime", &time),
        ("requestNonce", "aZ0-_aZ0-_aZ0-_a"),
    ]);
    assert_eq!(outcome(&paythru(&s, "lookup", &shortest).await), ok());
}

/// The profile's parameters are covered by the signature: moving the time
/// forward or changing the nonce of a captured request breaks it (123).
#[tokio::test]
async fn paythru_request_time_and_nonce_are_signed() {
    let (s, _, c) = paythru_server().await;
    require_nonce(&s, &c.api_key, true);
    let card = create_card(&s, &c).await;
    let captured = c.fresh(&[("cardKey", &card)]);
    assert_eq!(outcome(&paythru(&s, "lookup", &captured).await), ok());
    let params: Vec<(String, String)> = form_urlencoded::parse(captured.as_bytes())
        .into_owned()
        .collect();
    for field in ["requestTime", "requestNonce"] {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            let v = if k == field {
                match field {
                    "requestTime" => (v.parse::<i64>().unwrap() + 1).to_string(),
                    _ => format!("{v}x"),
                }
            } else {
                v.clone()
            };
            form.append_pair(k, &v);
        }
        let (status, body) = paythru(&s, "lookup", &form.finish()).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (401, Some("123")),
            "{field}"
        );
    }
}

/// The requirement can be set for every credential of a tenant, and
/// switched off again; unknown targets are refused by the CLI.
#[tokio::test]
async fn paythru_tenant_wide_requirement() {
    let (s, tenant, c) = paythru_server().await;
    let card = create_card(&s, &c).await;
    let seed_format = c.body(&[("cardKey", &card)]);
    require_nonce(&s, &tenant, true);
    assert_eq!(
        outcome(&paythru(&s, "lookup", &seed_format).await),
        refused(124)
    );
    // Credentials made later are covered too.
    let later = paythru_credentials(&s, &tenant);
    let later_seed_format = later.body(&[("cardKey", &card)]);
    assert_eq!(
        outcome(&paythru(&s, "lookup", &later_seed_format).await),
        refused(124)
    );
    require_nonce(&s, &tenant, false);
    assert_eq!(outcome(&paythru(&s, "lookup", &seed_format).await), ok());
    for target in ["ten_0000000000000000", "NoSuchApiKey0000"] {
        let out = s.cli_output(&["tenant", "paythru-require-nonce", target, "true"]);
        assert!(!out.status.success(), "{target}");
    }
}

/// The stored card's (version, updated_at), read from the database.
async fn card_version(db: &mut sqlx::AnyConnection, card: &str) -> (i64, i64) {
    use sqlx::Row;
    let row = sqlx::query("SELECT version, updated_at FROM stored_cards WHERE token = $1")
        .bind(card)
        .fetch_one(db)
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// What a retried state change answers: enable/disable of a token already
/// in that state succeed without writing anything (seed §3.2/§3.3); a
/// second delete answers 147, the seed's code for a card key that is not
/// there (§3.4: a deleted token is gone).
#[tokio::test]
async fn paythru_enable_and_disable_are_idempotent_and_delete_is_final() {
    use sqlx::Connection;
    let (s, _, c) = paythru_server().await;
    let card = create_card(&s, &c).await;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&s.db.url).await.unwrap();
    // A new token is disabled (seed §3.6's examples).
    let before = card_version(&mut db, &card).await;
    assert_eq!(enabled(&s, &c, &card).await, "0");
    assert_eq!(
        outcome(&paythru(&s, "disable", &c.fresh(&[("cardKey", &card)])).await),
        ok()
    );
    assert_eq!(
        card_version(&mut db, &card).await,
        before,
        "disable of a disabled token wrote"
    );
    assert_eq!(
        outcome(&paythru(&s, "enable", &c.fresh(&[("cardKey", &card)])).await),
        ok()
    );
    let enabled_version = card_version(&mut db, &card).await;
    assert_eq!(enabled_version.0, before.0 + 1);
    assert_eq!(
        outcome(&paythru(&s, "enable", &c.fresh(&[("cardKey", &card)])).await),
        ok()
    );
    assert_eq!(
        card_version(&mut db, &card).await,
        enabled_version,
        "enable of an enabled token wrote"
    );
    assert_eq!(enabled(&s, &c, &card).await, "1");
    assert_eq!(
        outcome(&paythru(&s, "delete", &c.fresh(&[("cardKey", &card)])).await),
        ok()
    );
    let (status, body) = paythru(&s, "delete", &c.fresh(&[("cardKey", &card)])).await;
    assert_eq!((status, body["errorCode"].as_str()), (400, Some("147")));
}
