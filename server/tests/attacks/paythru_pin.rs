//! Attacks: weak PINs set straight through the API (around the widget), and
//! replayed or stale Paythru signed requests.

use paysecure_wasm::{Pin, Version};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::*;

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
            assert!(!body.to_string().contains(pin), "the answer names the PIN");
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
