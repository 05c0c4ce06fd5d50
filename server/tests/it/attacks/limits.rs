//! Attacks: limits. Guessing a CVV2, locking tenants out through a shared
//! address, escaping the throttle by rotating or spoofing addresses, and
//! flooding one credential or one card.
#![allow(unused_imports)]

use paysecure_core::Version;
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::*;

/// `CVV2_TRY_LIMIT` of the server.
const CVV2_LIMIT: usize = 5;

/// The right CVV2 of a card (read with the tenant key).
async fn cvv2_of(server: &Server, token: &str) -> String {
    let (s, sid) = server.session(Version::V2);
    let (status, body) = server
        .send(
            Method::POST,
            &format!("/v2/cards/{token}/cvv2"),
            Some(&server.tenant_key),
            &[("session-id", &sid)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    open(&s, &body["cvv2"])
}

/// Three-digit CVV2s other than `right`.
fn wrong_cvv2s(right: &str) -> impl Iterator<Item = String> + '_ {
    (0..1000)
        .map(|i| format!("{i:03}"))
        .filter(move |c| c != right)
}

/// `POST /v2/cards/{token}/cvv2/verify` of `cvv2` with `key`, on `base`.
async fn verify_cvv2_on(
    server: &Server,
    base: &str,
    key: &str,
    token: &str,
    cvv2: &str,
) -> (u16, Value) {
    let (s, sid) = server.session(Version::V2);
    server
        .send_to(
            base,
            Method::POST,
            &format!("/v2/cards/{token}/cvv2/verify"),
            Some(key),
            &[("session-id", &sid)],
            Some(json!({"cvv2": enc_text(&s, cvv2)})),
        )
        .await
}

async fn verify_cvv2(server: &Server, key: &str, token: &str, cvv2: &str) -> (u16, Value) {
    verify_cvv2_on(server, &server.url, key, token, cvv2).await
}

/// `POST /v2/cvv2/verify` (by PAN) with the tenant key.
async fn verify_cvv2_by_pan(server: &Server, pan: &str, cvv2: &str) -> (u16, Value) {
    let (s, sid) = server.session(Version::V2);
    server
        .send(
            Method::POST,
            "/v2/cvv2/verify",
            Some(&server.tenant_key),
            &[("session-id", &sid)],
            Some(json!({"pan": enc_text(&s, pan), "cvv2": enc_text(&s, cvv2)})),
        )
        .await
}

/// Finding 3: a key allowed only to verify CVV2 used to recover it in at
/// most 1,000 requests. After `CVV2_TRY_LIMIT` wrong guesses verification
/// is blocked (423) for every route and every credential, the right CVV2
/// included; the block survives a restart; a wrong guess never says more
/// than `verified: false`; only the tenant unblocks.
#[tokio::test]
async fn cvv2_brute_force_stops_at_the_limit_and_the_right_cvv2_then_does_not_verify() {
    let mut server = Server::start(&[]).await;
    let token = server.issue_card().await;
    let pan = server.pan_of(&token).await;
    let right = cvv2_of(&server, &token).await;
    let guesser = server.ephemeral(&token, &["cvv2:verify"]).await;

    let mut answers = vec![];
    for guess in wrong_cvv2s(&right).take(CVV2_LIMIT + 10) {
        answers.push(verify_cvv2(&server, &guesser, &token, &guess).await);
    }
    for (i, (status, body)) in answers.iter().enumerate() {
        if i < CVV2_LIMIT {
            assert_eq!(*status, 200, "guess {i}: {body}");
            assert_eq!(
                *body,
                json!({"verified": false}),
                "nothing but verified:false"
            );
        } else {
            assert_eq!(*status, 423, "guess {i}: {body}");
            assert_eq!(body["error"]["code"], "CVV2_BLOCKED");
        }
    }
    // The right CVV2 does not verify now: not with the guessing key, not
    // with the tenant's, not by PAN.
    let (status, body) = verify_cvv2(&server, &guesser, &token, &right).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (423, Some("CVV2_BLOCKED"))
    );
    let tenant_key = server.tenant_key.clone();
    let (status, _) = verify_cvv2(&server, &tenant_key, &token, &right).await;
    assert_eq!(status, 423);
    let (status, _) = verify_cvv2_by_pan(&server, &pan, &right).await;
    assert_eq!(status, 423);

    // The block is in the database: it survives a restart.
    server.restart(&[]).await;
    let (status, _) = verify_cvv2(&server, &guesser, &token, &right).await;
    assert_eq!(status, 423, "still blocked after a restart");

    // Only the tenant may unblock.
    let (status, _) = server
        .send(
            Method::POST,
            &format!("/v2/cards/{token}/cvv2/unblock"),
            Some(&guesser),
            &[],
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = verify_cvv2(&server, &guesser, &token, &right).await;
    assert_eq!(status, 423);
    let (status, body) = server
        .send(
            Method::POST,
            &format!("/v2/cards/{token}/cvv2/unblock"),
            Some(&server.tenant_key),
            &[],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token"], token.as_str());
    let (status, body) = verify_cvv2(&server, &guesser, &token, &right).await;
    assert_eq!((status, body), (200, json!({"verified": true})));
    assert_log_clean(&server, &[&pan, &guesser, &server.tenant_key]);
}

/// A right CVV2 resets the count of consecutive wrong ones (a cardholder's
/// typos do not add up), and the by-PAN route shares the card's counter.
#[tokio::test]
async fn a_right_cvv2_resets_the_count_and_both_routes_share_it() {
    let server = Server::start(&[]).await;
    let token = server.issue_card().await;
    let pan = server.pan_of(&token).await;
    let right = cvv2_of(&server, &token).await;
    let key = server.tenant_key.clone();
    let mut wrong = wrong_cvv2s(&right);
    for _ in 0..CVV2_LIMIT - 1 {
        let (status, body) = verify_cvv2(&server, &key, &token, &wrong.next().unwrap()).await;
        assert_eq!((status, body), (200, json!({"verified": false})));
    }
    let (status, body) = verify_cvv2_by_pan(&server, &pan, &right).await;
    assert_eq!((status, body), (200, json!({"verified": true})));
    for _ in 0..CVV2_LIMIT - 1 {
        let (status, _) = verify_cvv2_by_pan(&server, &pan, &wrong.next().unwrap()).await;
        assert_eq!(status, 200);
    }
    // The last allowed wrong guess, then blocked.
    let (status, _) = verify_cvv2(&server, &key, &token, &wrong.next().unwrap()).await;
    assert_eq!(status, 200);
    let (status, body) = verify_cvv2_by_pan(&server, &pan, &right).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (423, Some("CVV2_BLOCKED"))
    );
}

/// Two nodes on one database, 50 concurrent wrong CVV2s split between
/// them: exactly `CVV2_TRY_LIMIT` are answered (the rest 423) — no update
/// lost, no guess past the limit.
#[tokio::test]
async fn cluster_fifty_wrong_cvv2s_across_two_nodes_block_at_exactly_the_limit() {
    let server = std::sync::Arc::new(Server::start(&["--housekeeping-secs", "1"]).await);
    let node = server.start_node("b", &["--housekeeping-secs", "1"]);
    let token = server.issue_card().await;
    let right = cvv2_of(&server, &token).await;
    let guesses: Vec<String> = wrong_cvv2s(&right).take(50).collect();
    let bases = [server.url.clone(), node.url.clone()];
    let mut tasks = vec![];
    for (i, guess) in guesses.into_iter().enumerate() {
        let server = std::sync::Arc::clone(&server);
        let base = bases[i % 2].clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let key = server.tenant_key.clone();
            verify_cvv2_on(&server, &base, &key, &token, &guess).await
        }));
    }
    let (mut answered, mut blocked) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (200, body) => {
                assert_eq!(body, json!({"verified": false}));
                answered += 1;
            }
            (423, body) => {
                assert_eq!(body["error"]["code"], "CVV2_BLOCKED");
                blocked += 1;
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!((answered, blocked), (CVV2_LIMIT, 50 - CVV2_LIMIT));
    // Blocked on both nodes, for the right CVV2 too.
    for base in &bases {
        let (status, _) = verify_cvv2_on(&server, base, &server.tenant_key, &token, &right).await;
        assert_eq!(status, 423, "{base}");
    }
}

async fn cards_with(server: &Server, key: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = server
        .http
        .get(format!("{}/v2/cards", server.url))
        .bearer_auth(key);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Finding 6: behind the load balancer every client shares its address.
/// With the proxy trusted (loopback is, by default), the client is the
/// address the proxy appends to `X-Forwarded-For`: a bad client gets
/// blocked alone, a good tenant behind the same proxy is untouched, and
/// even the bad client's address does not lock out a valid credential.
#[tokio::test]
async fn a_bad_client_behind_a_shared_proxy_does_not_lock_out_a_good_tenant() {
    let server = Server::start(&[]).await;
    let bad = [("x-forwarded-for", "203.0.113.66")];
    // What a client writes itself is left of the proxy's entry: ignored.
    let good = [("x-forwarded-for", "203.0.113.66, 198.51.100.77")];
    for i in 0..5 {
        let r = cards_with(&server, "psk_guess", &bad).await;
        assert_eq!(r.status(), 401, "failure {i}");
    }
    let r = cards_with(&server, "psk_guess", &bad).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers().contains_key("retry-after"),
        "the bad client is blocked"
    );
    // The good tenant behind the same proxy: served, and its own mistakes
    // are its own (no Retry-After: not blocked).
    let r = cards_with(&server, &server.tenant_key, &good).await;
    assert_eq!(r.status(), 200);
    let r = cards_with(&server, "psk_typo", &good).await;
    assert_eq!(r.status(), 401);
    assert!(!r.headers().contains_key("retry-after"));
    // Straight from the proxy (no header): the proxy itself is not blocked.
    let r = cards_with(&server, "psk_typo", &[]).await;
    assert_eq!(r.status(), 401);
    assert!(!r.headers().contains_key("retry-after"));
    // A valid credential passes even the bad client's block.
    let r = cards_with(&server, &server.tenant_key, &bad).await;
    assert_eq!(r.status(), 200);
    // And the blocked client's requests do not extend its block: five more
    // would make ten failures (the 5-minute block) if they counted.
    for _ in 0..5 {
        let r = cards_with(&server, "psk_guess", &bad).await;
        assert!(r.headers().contains_key("retry-after"));
    }
    let r = cards_with(&server, "psk_guess", &bad).await;
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

/// Rotating IPv6 addresses within one /64 (one subscriber's allocation)
/// escapes nothing: the throttle counts the /64. Another /64 is another
/// client. (Through the trusted loopback proxy: loopback has one IPv6
/// address; the aggregation itself is unit-tested in `ratelimit.rs`.)
#[tokio::test]
async fn ipv6_rotation_within_one_64_is_still_blocked() {
    let server = Server::start(&[]).await;
    for i in 1..=5 {
        let addr = format!("2001:db8:5:6:{i:x}:{:x}::{i}", i * 7919);
        let r = cards_with(&server, "psk_guess", &[("x-forwarded-for", &addr)]).await;
        assert_eq!(r.status(), 401, "failure {i} from {addr}");
    }
    let r = cards_with(
        &server,
        "psk_guess",
        &[("x-forwarded-for", "2001:db8:5:6:ffff:ffff:ffff:fffe")],
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers().contains_key("retry-after"),
        "a new address in the same /64 is blocked"
    );
    let r = cards_with(
        &server,
        "psk_guess",
        &[("x-forwarded-for", "2001:db8:5:7::1")],
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        !r.headers().contains_key("retry-after"),
        "the next /64 is another client"
    );
}

/// A client that is not a trusted proxy cannot choose its throttle address
/// with `X-Forwarded-For`: with `--trusted-proxies none` (or a list without
/// the peer), spoofed headers are ignored and the peer is blocked after 5
/// failures whatever it claims; its valid credential still passes.
#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    for trusted in ["none", "10.0.0.0/8,fc00::/7"] {
        let server = Server::start(&["--trusted-proxies", trusted]).await;
        for i in 0..5 {
            let spoof = format!("203.0.113.{}", 10 + i);
            let r = cards_with(&server, "psk_guess", &[("x-forwarded-for", &spoof)]).await;
            assert_eq!(r.status(), 401, "{trusted}: failure {i}");
        }
        let r = cards_with(&server, "psk_guess", &[("x-forwarded-for", "198.51.100.1")]).await;
        assert_eq!(r.status(), 401);
        assert!(
            r.headers().contains_key("retry-after"),
            "{trusted}: blocked whatever it claims"
        );
        let r = cards_with(&server, &server.tenant_key, &[]).await;
        assert_eq!(r.status(), 200, "{trusted}: a valid key passes the block");
    }
}

/// One credential may not flood a node: past its burst it gets 429
/// `RATE_LIMITED` with `Retry-After`, other credentials are untouched, and
/// after waiting it is served again. Unknown credentials are not rate
/// limited by credential (they are failures of the address).
#[tokio::test]
async fn a_credential_past_its_rate_gets_429_with_retry_after() {
    let server = Server::start(&["--credential-rate", "1", "--credential-burst", "3"]).await;
    let other = server.create_tenant("Other Bank");
    for i in 0..3 {
        let r = cards_with(&server, &server.tenant_key, &[]).await;
        assert_eq!(r.status(), 200, "request {i}");
    }
    let r = cards_with(&server, &server.tenant_key, &[]).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    assert_eq!(cards_with(&server, &other, &[]).await.status(), 200);
    assert_eq!(cards_with(&server, "psk_unknown", &[]).await.status(), 401);
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(
        cards_with(&server, &server.tenant_key, &[]).await.status(),
        200
    );
}

/// One card may not be hammered: past its burst the card-data routes
/// answer 429 with `Retry-After`, whichever credential asks (the limit is
/// the card's), before the session id is unwrapped (the refused id is
/// still unused and works after the wait); other cards are untouched.
#[tokio::test]
async fn a_card_past_its_rate_gets_429_before_any_decryption() {
    let server = Server::start(&["--card-rate", "1", "--card-burst", "2"]).await;
    let a = server.issue_card().await;
    let b = server.issue_card().await;
    let pan_call = |token: &str, key: &str, sid: &str| {
        server
            .http
            .post(format!("{}/v2/cards/{token}/pan", server.url))
            .bearer_auth(key.to_owned())
            .header("session-id", sid.to_owned())
            .send()
    };
    for _ in 0..2 {
        let (_, sid) = server.session(Version::V2);
        assert_eq!(
            pan_call(&a, &server.tenant_key, &sid)
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let (s, sid) = server.session(Version::V2);
    let r = pan_call(&a, &server.tenant_key, &sid).await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "RATE_LIMITED"
    );
    // Another credential on the same card: the same limit.
    let widget = server.ephemeral(&a, &["pan"]).await;
    let (_, sid2) = server.session(Version::V2);
    assert_eq!(pan_call(&a, &widget, &sid2).await.unwrap().status(), 429);
    // Another card: its own.
    let (_, sid3) = server.session(Version::V2);
    assert_eq!(
        pan_call(&b, &server.tenant_key, &sid3)
            .await
            .unwrap()
            .status(),
        200
    );
    // The refused session id was never unwrapped nor recorded: after the
    // wait it opens a session and decrypts the answer.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    let r = pan_call(&a, &server.tenant_key, &sid).await.unwrap();
    assert_eq!(r.status(), 200);
    let pan = open(&s, &r.json::<Value>().await.unwrap()["pan"]);
    assert_eq!(pan.len(), 16);
}
