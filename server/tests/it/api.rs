//! In-process tests of every endpoint and error, over the real router, a real
//! SQLite vault and real RSA keys; the client side is the paysecure-wasm core.

use crate::common::{enc, enc_text, open, open_pin, TestApp};
use axum::http::{Method, StatusCode};
use paysecure_core::card::luhn_check;
use paysecure_core::{encoding, KeySize, Pin, Session, Version};
use serde_json::{json, Value};

const V1: Version = Version::V1;
const V2: Version = Version::V2;

#[tokio::test]
async fn public_key_is_published_as_pem_and_jwk() {
    let app = TestApp::new().await;
    let r = app
        .call(Method::GET, "/v2/public-key", None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["algorithm"], "RSA-OAEP-SHA1");
    assert!(r.body["keyId"].as_str().unwrap().starts_with("rsa-"));
    assert_eq!(r.body["jwk"]["kid"], r.body["keyId"]);
    assert_eq!(r.body["jwk"]["e"], "AQAB");
    let from_jwk =
        paysecure_core::PublicKey::from_jwk(r.body["jwk"]["n"].as_str().unwrap(), "AQAB").unwrap();
    assert_eq!(from_jwk, app.public_key);
    assert_eq!(app.public_key.bits(), 2048);
    assert!(r.body["expiresAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn issue_card_then_get_pan_cvv2_and_reveal_v1_and_v2() {
    let mut app = TestApp::new().await;
    app.enable_v1().await;
    let card = app.issue_card().await;
    let token = card["token"].as_str().unwrap();
    assert_eq!(card["status"], "ACTIVE");
    assert_eq!(card["brand"], "VISA");
    assert_eq!(card["pinSet"], false);
    let masked = card["maskedPan"].as_str().unwrap();
    assert!(masked.starts_with("400000******"), "{masked}");

    let mut pans = vec![];
    let mut cvvs = vec![];
    for (version, prefix) in [(V1, "v1"), (V2, "v2")] {
        let (s, r) = app
            .card_call(
                version,
                Method::POST,
                &format!("/{prefix}/cards/{token}/pan"),
                &app.tenant_key,
                |_| None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["token"], token);
        assert_eq!(r.body["expiryMonth"], card["expiryMonth"]);
        let pan = open(&s, &r.body["pan"]);
        assert!(
            luhn_check(&pan) && pan.len() == 16 && pan.ends_with(&masked[12..]),
            "{pan}"
        );
        pans.push(pan);
        let (s, r) = app
            .card_call(
                version,
                Method::POST,
                &format!("/{prefix}/cards/{token}/cvv2"),
                &app.tenant_key,
                |_| None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let cvv2 = open(&s, &r.body["cvv2"]);
        assert!(cvv2.len() == 3 && cvv2.bytes().all(|b| b.is_ascii_digit()));
        cvvs.push(cvv2);
    }
    assert_eq!(pans[0], pans[1]);
    assert_eq!(cvvs[0], cvvs[1]);

    let (s, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{token}/reveal"),
            &app.tenant_key,
            |_| None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(open(&s, &r.body["pan"]), pans[0]);
    assert_eq!(open(&s, &r.body["cvv2"]), cvvs[0]);

    // The CVV2 verifies by recomputation; another value does not.
    for (cvv2, want) in [
        (cvvs[0].clone(), true),
        (
            format!("{:03}", (cvvs[0].parse::<u32>().unwrap() + 1) % 1000),
            false,
        ),
    ] {
        let (_, r) = app
            .card_call(
                V2,
                Method::POST,
                &format!("/v2/cards/{token}/cvv2/verify"),
                &app.tenant_key,
                |s| Some(json!({"cvv2": enc_text(s, &cvv2)})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["verified"], want);
        let (_, r) = app
            .card_call(V2, Method::POST, "/v2/cvv2/verify", &app.tenant_key, |s| {
                Some(json!({"pan": enc_text(s, &pans[0]), "cvv2": enc_text(s, &cvv2)}))
            })
            .await;
        assert_eq!(r.body["verified"], want, "{:?}", r.body);
    }
}

#[tokio::test]
async fn pin_set_get_verify_block_unblock() {
    let mut app = TestApp::new().await;
    app.enable_v1().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let key = app.tenant_key.clone();

    // No PIN yet.
    let (_, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{token}/pin"),
            &key,
            |_| None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "PIN_NOT_SET"));

    // Set in V1, read in V1 and V2.
    let (_, r) = app
        .card_call(
            V1,
            Method::PUT,
            &format!("/v1/cards/{token}/pin"),
            &key,
            |s| Some(json!({"pinBlock": enc(s.encrypt_pin(&Pin::new("2479").unwrap()).unwrap())})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["pinSet"], true);
    for (v, p) in [(V1, "v1"), (V2, "v2")] {
        let (s, r) = app
            .card_call(
                v,
                Method::POST,
                &format!("/{p}/cards/{token}/pin"),
                &key,
                |_| None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(open_pin(&s, &r.body["pinBlock"]), "2479");
    }

    let verify = |pin: &'static str| {
        let token = token.clone();
        let key = key.clone();
        let app = &app;
        async move {
            app.card_call(
                V2,
                Method::POST,
                &format!("/v2/cards/{token}/pin/verify"),
                &key,
                |s| Some(json!({"pinBlock": enc(s.encrypt_pin(&Pin::new(pin).unwrap()).unwrap())})),
            )
            .await
            .1
        }
    };
    let r = verify("2479").await;
    assert_eq!(
        (r.body["verified"].clone(), r.body["triesRemaining"].clone()),
        (json!(true), json!(3))
    );
    // A right PIN resets the count: wrong, right, wrong, wrong leaves 1.
    assert_eq!(verify("0000").await.body["triesRemaining"], 2);
    assert_eq!(verify("2479").await.body["triesRemaining"], 3);
    assert_eq!(verify("0000").await.body["triesRemaining"], 2);
    assert_eq!(verify("1111").await.body["triesRemaining"], 1);
    let r = verify("2222").await;
    assert_eq!(
        (r.body["verified"].clone(), r.body["triesRemaining"].clone()),
        (json!(false), json!(0))
    );
    // Blocked: even the right PIN gets 423, and so do get/set.
    let r = verify("2479").await;
    assert_eq!((r.status, r.code()), (StatusCode::LOCKED, "PIN_BLOCKED"));
    let (_, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{token}/pin"),
            &key,
            |_| None,
        )
        .await;
    assert_eq!(r.status, StatusCode::LOCKED);
    let list = app
        .call(
            Method::GET,
            &format!("/v2/cards?token={token}"),
            Some(&key),
            &[],
            None,
        )
        .await;
    assert_eq!(list.body["cards"][0]["pinBlocked"], true);

    // Unblock: tenant credential only.
    let eph = app.ephemeral(&token, &["pin:verify"]).await;
    let r = app
        .call(
            Method::POST,
            &format!("/v2/cards/{token}/pin/unblock"),
            Some(&eph),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = app
        .call(
            Method::POST,
            &format!("/v2/cards/{token}/pin/unblock"),
            Some(&key),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["pinBlocked"], false);
    assert_eq!(verify("2479").await.body["verified"], true);

    // Verify by PAN.
    let pan = app.pan_of(&token).await;
    let (_, r) = app
        .card_call(V1, Method::POST, "/v1/pin/verify", &key, |s| {
            Some(json!({"pan": enc_text(s, &pan), "pinBlock": enc(s.encrypt_pin(&Pin::new("2479").unwrap()).unwrap())}))
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["verified"], true);
}

#[tokio::test]
async fn bad_pin_blocks_are_refused() {
    let mut app = TestApp::new().await;
    app.enable_v1().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    for (v, p) in [(V1, "v1"), (V2, "v2")] {
        // Not a PIN block at all.
        let (_, r) = app
            .card_call(
                v,
                Method::PUT,
                &format!("/{p}/cards/{token}/pin"),
                &app.tenant_key,
                |s| Some(json!({"pinBlock": enc_text(s, "1234")})),
            )
            .await;
        let want = if v == V1 {
            "UNDECRYPTABLE_VALUE"
        } else {
            "INVALID_PIN_BLOCK"
        };
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, want));
        // Encrypted under another key.
        let other = Session::generate(v, KeySize::Aes256).unwrap();
        let (_, r) = app
            .card_call(v, Method::PUT, &format!("/{p}/cards/{token}/pin"), &app.tenant_key, |_| {
                Some(json!({"pinBlock": enc(other.encrypt_pin(&Pin::new("1234").unwrap()).unwrap())}))
            })
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "UNDECRYPTABLE_VALUE")
        );
        // Missing field.
        let (_, r) = app
            .card_call(
                v,
                Method::PUT,
                &format!("/{p}/cards/{token}/pin"),
                &app.tenant_key,
                |_| Some(json!({"pin": "1234"})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
        );
    }
}

#[tokio::test]
async fn pan_to_token_is_stable_per_tenant_and_v3_adds_details() {
    let mut app = TestApp::new().await;
    app.enable_v1().await;
    let mut tokens = vec![];
    for (v, p) in [(V1, "v1"), (V2, "v2"), (Version::V3, "v3")] {
        let (_, r) = app
            .card_call(
                v,
                Method::POST,
                &format!("/{p}/tokens"),
                &app.tenant_key,
                |s| Some(json!({"pan": enc_text(s, "4111 1111 1111 1111")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        tokens.push(r.body["token"].as_str().unwrap().to_owned());
        if v == Version::V3 {
            assert_eq!(r.body["maskedPan"], "411111******1111");
            assert_eq!(r.body["brand"], "VISA");
            assert_eq!(r.body["status"], "TOKENIZED");
        } else {
            assert!(r.body.get("maskedPan").is_none());
        }
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    // The token opens the same PAN.
    assert_eq!(app.pan_of(&tokens[0]).await, "4111111111111111");
    // An issued card's PAN maps to its own token.
    let card = app.issue_card().await;
    let pan = app.pan_of(card["token"].as_str().unwrap()).await;
    let (_, r) = app
        .card_call(V2, Method::POST, "/v2/tokens", &app.tenant_key, |s| {
            Some(json!({"pan": enc_text(s, &pan)}))
        })
        .await;
    assert_eq!(r.body["token"], card["token"]);
    // Bad PANs.
    for bad in ["4111111111111112", "41111", "4111-1111-1111-111x"] {
        let (_, r) = app
            .card_call(V2, Method::POST, "/v2/tokens", &app.tenant_key, |s| {
                Some(json!({"pan": enc_text(s, bad)}))
            })
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_PAN"),
            "{bad}"
        );
    }
    // Another tenant gets another token for the same PAN, and cannot see ours.
    let (_, other_key) = app.service.create_tenant("Other Bank").await.unwrap();
    let (_, r) = app
        .card_call(V2, Method::POST, "/v2/tokens", &other_key, |s| {
            Some(json!({"pan": enc_text(s, "4111111111111111")}))
        })
        .await;
    assert_ne!(r.body["token"], json!(tokens[0]));
    let (_, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{}/pan", tokens[0]),
            &other_key,
            |_| None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "CARD_NOT_FOUND")
    );
    let r = app
        .call(Method::GET, "/v2/cards", Some(&other_key), &[], None)
        .await;
    assert_eq!(r.body["cards"].as_array().unwrap().len(), 1);
}

/// Tenant API keys found once are remembered per node (one database round
/// trip less per request): each key keeps resolving to its own tenant, and an
/// unknown key is refused every time (it is never remembered).
#[tokio::test]
async fn remembered_tenant_keys_stay_per_key_and_unknown_keys_stay_refused() {
    let app = TestApp::new().await;
    app.issue_card().await;
    let (_, other_key) = app.service.create_tenant("Other Bank").await.unwrap();
    let last = if other_key.ends_with('x') { "y" } else { "x" };
    let unknown = format!("{}{last}", &other_key[..other_key.len() - 1]);
    for _ in 0..4 {
        for (key, cards) in [(&app.tenant_key, 1), (&other_key, 0)] {
            let r = app
                .call(Method::GET, "/v2/cards", Some(key.as_str()), &[], None)
                .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.body["cards"].as_array().unwrap().len(), cards);
        }
        let r = app
            .call(Method::GET, "/v2/cards", Some(unknown.as_str()), &[], None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn card_list_filters_and_issue_validation() {
    let app = TestApp::new().await;
    let key = app.tenant_key.clone();
    for (acc, cu, r) in [("A", "c1", "r1"), ("A", "c2", "r2"), ("B", "c2", "r3")] {
        let body = json!({"accountId": acc, "customerId": cu, "customerRef": r, "bin": "52000000", "cardholderName": "J DOE"});
        let res = app
            .call(Method::POST, "/v2/cards", Some(&key), &[], Some(body))
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
        assert_eq!(res.body["brand"], "MASTERCARD");
    }
    let count = |q: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let r = app
                .call(Method::GET, &format!("/v2/cards{q}"), Some(&key), &[], None)
                .await;
            assert_eq!(r.status, StatusCode::OK);
            r.body["cards"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("").await, 3);
    assert_eq!(count("?accountId=A").await, 2);
    assert_eq!(count("?customerId=c2").await, 2);
    assert_eq!(count("?accountId=A&customerId=c2").await, 1);
    assert_eq!(count("?customerRef=r3").await, 1);
    assert_eq!(count("?accountId=Z").await, 0);
    let r = app
        .call(Method::GET, "/v2/cards", Some(&key), &[], None)
        .await;
    let text = r.body.to_string();
    for c in r.body["cards"].as_array().unwrap() {
        assert!(c["maskedPan"].as_str().unwrap().contains("******"));
        assert_eq!(c["cardholderName"], "J DOE");
    }
    assert!(!text.contains("\"pan\""));
    for bad in [
        json!({"bin": "12"}),
        json!({"bin": "abcdef"}),
        json!({"bin": "123456789012"}),
    ] {
        let r = app
            .call(Method::POST, "/v2/cards", Some(&key), &[], Some(bad))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_BIN")
        );
    }
    let r = app
        .call(
            Method::POST,
            "/v2/cards",
            Some(&key),
            &[],
            Some(json!({"accountId": 5})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
}

#[tokio::test]
async fn ephemeral_keys_are_scoped_to_one_card_and_some_operations() {
    let app = TestApp::new().await;
    let a = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let b = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let eph = app.ephemeral(&a, &["reveal", "pan"]).await;
    assert!(eph.starts_with("pse_"));
    let (_, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{a}/reveal"),
            &eph,
            |_| None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (_, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{a}/pan"),
            &eph,
            |_| None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for (uri, want) in [
        (format!("/v2/cards/{a}/cvv2"), StatusCode::FORBIDDEN),
        (format!("/v2/cards/{a}/pin"), StatusCode::FORBIDDEN),
        (format!("/v2/cards/{b}/pan"), StatusCode::FORBIDDEN),
        (format!("/v2/cards/{b}/reveal"), StatusCode::FORBIDDEN),
    ] {
        let (_, r) = app.card_call(V2, Method::POST, &uri, &eph, |_| None).await;
        assert_eq!((r.status, r.code()), (want, "FORBIDDEN"), "{uri}");
    }
    // Tenant-only calls.
    for (m, uri, body) in [
        (Method::GET, "/v2/cards", None),
        (Method::POST, "/v2/cards", Some(json!({}))),
        (
            Method::POST,
            "/v2/ephemeral-keys",
            Some(json!({"token": a, "scopes": ["pan"], "ttlSeconds": 60})),
        ),
    ] {
        let r = app.call(m, uri, Some(&eph), &[], body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let (_, r) = app
        .card_call(V2, Method::POST, "/v2/tokens", &eph, |s| {
            Some(json!({"pan": enc_text(s, "4111111111111111")}))
        })
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Creation rules.
    for (body, code) in [
        (
            json!({"token": a, "scopes": ["pan"], "ttlSeconds": 901}),
            "INVALID_REQUEST",
        ),
        (
            json!({"token": a, "scopes": ["pan"], "ttlSeconds": 0}),
            "INVALID_REQUEST",
        ),
        (
            json!({"token": a, "scopes": [], "ttlSeconds": 60}),
            "INVALID_SCOPE",
        ),
        (
            json!({"token": a, "scopes": ["everything"], "ttlSeconds": 60}),
            "INVALID_SCOPE",
        ),
    ] {
        let r = app
            .call(
                Method::POST,
                "/v2/ephemeral-keys",
                Some(&app.tenant_key),
                &[],
                Some(body),
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code));
    }
    let r = app
        .call(
            Method::POST,
            "/v2/ephemeral-keys",
            Some(&app.tenant_key),
            &[],
            Some(json!({"token": "tok_nope", "scopes": ["pan"], "ttlSeconds": 60})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Expiry.
    let r = app
        .call(
            Method::POST,
            "/v2/ephemeral-keys",
            Some(&app.tenant_key),
            &[],
            Some(json!({"token": a, "scopes": ["pan"], "ttlSeconds": 1})),
        )
        .await;
    let short = r.body["key"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, r) = app
        .card_call(
            V2,
            Method::POST,
            &format!("/v2/cards/{a}/pan"),
            &short,
            |_| None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
    );
}

/// Every bad session id gets the same status, code and body: no padding
/// oracle, V1 included.
#[tokio::test]
async fn every_bad_session_id_looks_the_same() {
    let mut app = TestApp::new().await;
    app.enable_v1().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    for (version, prefix) in [(V1, "v1"), (V2, "v2")] {
        let key_id = app
            .call(
                Method::GET,
                &format!("/{prefix}/public-key"),
                None,
                &[],
                None,
            )
            .await
            .body["keyId"]
            .as_str()
            .unwrap()
            .to_owned();
        let uri = format!("/{prefix}/cards/{token}/pan");
        let (_, good) = app.session(version);
        let (_, other_version) = app.session(if version == V1 { V2 } else { V1 });
        let mut flipped = encoding::decode(&good, "sid").unwrap().to_vec();
        flipped[100] ^= 1;
        let random = encoding::encode(&[0x5a; 256]);
        // A wrapped plaintext that is not a key: a valid RSA block, wrong content.
        let not_a_key =
            encoding::encode(&app.public_key.encrypt(b"hello", version.padding()).unwrap());
        let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
            ("missing", vec![]),
            ("empty", vec![("session-id", String::new())]),
            ("not base64", vec![("session-id", "%%%%".into())]),
            ("short", vec![("session-id", encoding::encode(&[1; 100]))]),
            ("long", vec![("session-id", encoding::encode(&[1; 300]))]),
            (
                "bit flipped",
                vec![("session-id", encoding::encode(&flipped))],
            ),
            ("random block", vec![("session-id", random)]),
            (
                "wrong padding (other version)",
                vec![("session-id", other_version)],
            ),
            ("not a key inside", vec![("session-id", not_a_key)]),
            (
                "unknown key id",
                vec![("session-id", good.clone()), ("key-id", "rsa-0000".into())],
            ),
        ];
        let mut bodies = vec![];
        // V1 uses implicit rejection: a well-formed id that does not unwrap
        // opens a session under a synthetic key instead of failing, so it
        // answers 200 with a PAN nobody can decrypt, and the cases cannot
        // be told from a good id by the answer's status.
        let implicit = [
            "bit flipped",
            "random block",
            "wrong padding (other version)",
            "not a key inside",
        ];
        for (name, headers) in &cases {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app
                .call(Method::POST, &uri, Some(&app.tenant_key), &h, None)
                .await;
            if version == V1 && implicit.contains(name) {
                assert_eq!(r.status, StatusCode::OK, "{prefix} {name}");
                let ev = paysecure_core::EncryptedValue {
                    data: r.body["pan"]["data"].as_str().unwrap().into(),
                    iv: r.body["pan"]["iv"].as_str().unwrap().into(),
                };
                let (other, _) = app.session(V1);
                let pan = app.pan_of(&token).await;
                assert!(
                    other.decrypt(&ev).map_or(true, |p| {
                        use secrecy::ExposeSecret;
                        p.expose_secret() != pan.as_bytes()
                    }),
                    "{name}: opens only under the synthetic key"
                );
                continue;
            }
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "INVALID_SESSION_ID"),
                "{prefix} {name}"
            );
            let mut b = r.body.clone();
            b["error"]["traceId"] = Value::Null;
            bodies.push(b);
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]));
        // The right key id works; then the same session id is refused (replay).
        let r = app
            .call(
                Method::POST,
                &uri,
                Some(&app.tenant_key),
                &[("session-id", &good), ("key-id", &key_id)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .call(
                Method::POST,
                &uri,
                Some(&app.tenant_key),
                &[("session-id", &good)],
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_SESSION_ID"),
            "replay"
        );
        let mut b = r.body.clone();
        b["error"]["traceId"] = Value::Null;
        assert_eq!(b, bodies[0]);
    }
}

#[tokio::test]
async fn session_reuse_can_be_allowed() {
    let app = TestApp::with_config(paysecure_server::ServiceConfig {
        single_use_session_ids: false,
        ..Default::default()
    })
    .await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let (s, sid) = app.session(V2);
    for _ in 0..3 {
        let r = app
            .call(
                Method::POST,
                &format!("/v2/cards/{token}/pan"),
                Some(&app.tenant_key),
                &[("session-id", &sid)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        open(&s, &r.body["pan"]);
    }
}

#[tokio::test]
async fn key_rotation_keeps_the_previous_key_until_retired() {
    let mut app = TestApp::new().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let uri = format!("/v2/cards/{token}/pan");
    let old_key_id = app
        .call(Method::GET, "/v2/public-key", None, &[], None)
        .await
        .body["keyId"]
        .clone();
    let (_, old_sid_1) = app.session(V2);
    let (_, old_sid_2) = app.session(V2);
    app.service
        .rotate_keys(paysecure_server::crypto::keys::Purpose::Session)
        .await
        .unwrap();
    app.refresh_public_key().await;
    let new = app
        .call(Method::GET, "/v2/public-key", None, &[], None)
        .await;
    assert_ne!(new.body["keyId"], old_key_id);
    // Old-key session ids still open (with or without Key-Id), new ones too.
    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&app.tenant_key),
            &[("session-id", &old_sid_1)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&app.tenant_key),
            &[
                ("session-id", &old_sid_2),
                ("key-id", old_key_id.as_str().unwrap()),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (_, old_sid_3) = {
        // Made for the old key before the second rotation.
        let s = Session::generate(V2, KeySize::Aes128).unwrap();
        let ring = app.service.keyring();
        let old = ring
            .keys()
            .iter()
            .find(|k| {
                k.purpose == paysecure_server::crypto::keys::Purpose::Session
                    && k.status == "previous"
            })
            .unwrap();
        let old_pk = paysecure_core::PublicKey::parse(&old.public_pem()).unwrap();
        let sid = s.session_id(&old_pk).unwrap();
        (s, sid)
    };
    app.service
        .rotate_keys(paysecure_server::crypto::keys::Purpose::Session)
        .await
        .unwrap();
    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&app.tenant_key),
            &[("session-id", &old_sid_3)],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "INVALID_SESSION_ID"),
        "retired key"
    );
}

#[tokio::test]
async fn authentication_failures_are_rate_limited_per_address() {
    let app = TestApp::new().await;
    for i in 0..5 {
        let r = app
            .call_from(
                "198.51.100.7",
                Method::GET,
                "/v2/cards",
                Some("psk_wrong"),
                &[],
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            "attempt {i}"
        );
    }
    // Blocked now for requests without a valid credential...
    let r = app
        .call_from(
            "198.51.100.7",
            Method::GET,
            "/v2/cards",
            Some("psk_wrong"),
            &[],
            None,
        )
        .await;
    // Blocked: still 401 (no valid credential), now with Retry-After.
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
    );
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    // ...but a valid credential is never locked out by its address.
    let r = app
        .call_from(
            "198.51.100.7",
            Method::GET,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Another address is unaffected; missing credentials count too.
    let r = app
        .call_from(
            "198.51.100.8",
            Method::GET,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call_from("198.51.100.8", Method::GET, "/v2/cards", None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn error_envelope_everywhere() {
    let app = TestApp::new().await;
    let r = app.call(Method::GET, "/v9/nothing", None, &[], None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    assert!(!r.body["error"]["traceId"].as_str().unwrap().is_empty());
    assert_eq!(
        r.headers["x-request-id"].to_str().unwrap(),
        r.body["error"]["traceId"].as_str().unwrap()
    );
    let r = app
        .call(
            Method::DELETE,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    let big = json!({"accountId": "x".repeat(70_000)});
    let r = app
        .call(
            Method::POST,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            Some(big),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
    let r = app
        .call(
            Method::POST,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            Some(json!("not an object")),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
    let r = app
        .call(Method::POST, "/v2/cards/tok_x/pan", None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["content-type"], "application/json");
}

#[tokio::test]
async fn operations_endpoints() {
    let app = TestApp::new().await;
    assert_eq!(
        app.call(Method::GET, "/healthz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/readyz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
    app.issue_card().await;
    let m = app.call(Method::GET, "/metrics", None, &[], None).await;
    let text = m.body.as_str().unwrap();
    assert!(
        text.contains(
            "paysecure_http_requests_total{method=\"POST\",route=\"/v2/cards\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("paysecure_http_request_duration_seconds_bucket"));
    let doc = app
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().unwrap();
    for p in [
        "/v2/public-key",
        "/v{version}/cards/{token}/pan",
        "/v{version}/cards/{token}/cvv2",
        "/v2/cards/{token}/reveal",
        "/v{version}/cards/{token}/pin",
        "/v{version}/cards/{token}/pin/verify",
        "/v{version}/pin/verify",
        "/v2/cards/{token}/pin/unblock",
        "/v2/cards/{token}/cvv2/verify",
        "/v2/cvv2/verify",
        "/v{version}/tokens",
        "/v2/cards",
        "/v2/ephemeral-keys",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} missing from openapi.json");
    }
    assert!(doc.body["components"]["schemas"]["RevealResponse"].is_object());
}

/// Sealed values are bound to their card and field: swapping two cards'
/// sealed PANs at rest makes both unreadable (500, no details in the body)
/// instead of handing out the other card's PAN.
#[tokio::test]
async fn swapped_values_at_rest_do_not_open_and_500s_say_nothing() {
    let app = TestApp::new().await;
    let a = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let b = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let pan_a = app.pan_of(&a).await;
    let pan_b = app.pan_of(&b).await;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url)
        .await
        .unwrap();
    // Read both sealed values, write each into the other row.
    let sealed = |t: String| {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT pan_sealed FROM cards WHERE token = $1").bind(t)
    };
    let sa = sealed(a.clone()).fetch_one(&mut conn).await.unwrap();
    let sb = sealed(b.clone()).fetch_one(&mut conn).await.unwrap();
    assert_ne!(sa, sb);
    for (token, value) in [(&a, &sb), (&b, &sa)] {
        let done = sqlx::query("UPDATE cards SET pan_sealed = $1 WHERE token = $2")
            .bind(value)
            .bind(token)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    }
    for token in [&a, &b] {
        let (_, r) = app
            .card_call(
                V2,
                Method::POST,
                &format!("/v2/cards/{token}/pan"),
                &app.tenant_key,
                |_| None,
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
        );
        assert_eq!(r.body["error"]["message"], "internal error");
        let text = r.body.to_string();
        assert!(
            !text.contains(&pan_a) && !text.contains(&pan_b) && !text.contains("authentication"),
            "{text}"
        );
    }
    // Other fields still work (the CVV2 needs the PAN, so it fails too; the list does not).
    let list = app
        .call(Method::GET, "/v2/cards", Some(&app.tenant_key), &[], None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
}

#[tokio::test]
async fn housekeeping_drops_expired_ephemeral_keys() {
    let app = TestApp::new().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::POST,
            "/v2/ephemeral-keys",
            Some(&app.tenant_key),
            &[],
            Some(json!({"token": token, "scopes": ["pan"], "ttlSeconds": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let _live = app.ephemeral(&token, &["pan"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.service.housekeeping().await.unwrap();
    let removed = app
        .service
        .storage()
        .delete_expired_ephemeral_keys(paysecure_server::util::time::now())
        .await
        .unwrap();
    assert_eq!(removed, 0, "housekeeping already removed the expired key");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ephemeral_keys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 1, "the unexpired key stays");
}

/// The suite runs once per backend: prove which one this run used.
#[tokio::test]
async fn runs_on_the_backend_the_run_asked_for() {
    let app = TestApp::new().await;
    let want = if std::env::var(crate::common::POSTGRES_ENV).is_ok() {
        paysecure_server::storage::Backend::Postgres
    } else {
        paysecure_server::storage::Backend::Sqlite
    };
    assert_eq!(app.service.storage().backend(), want);
    assert_eq!(
        app.db.is_postgres(),
        want == paysecure_server::storage::Backend::Postgres
    );
}

/// The shared throttle's rule, on this backend: the 5th failure in a day
/// blocks for 60 s, the 10th and later for 300 s, a new day starts over.
#[tokio::test]
async fn auth_throttle_rule_in_the_database() {
    use paysecure_server::domain::ratelimit::{LONG_BLOCK, SHORT_BLOCK};
    use paysecure_server::util::time::UnixTime;
    let app = TestApp::new().await;
    let s = app.service.storage();
    let now = UnixTime(1_000_000);
    let mut seen = vec![];
    for _ in 0..11 {
        seen.push(
            s.record_auth_failure("203.0.113.9", now, SHORT_BLOCK, LONG_BLOCK)
                .await
                .unwrap(),
        );
    }
    assert_eq!(seen[3], (4, UnixTime(0)));
    assert_eq!(seen[4], (5, now + 60));
    assert_eq!(seen[8], (9, now + 60));
    assert_eq!(seen[9], (10, now + 300));
    assert_eq!(seen[10], (11, now + 300));
    assert_eq!(
        s.auth_blocked_until("203.0.113.9", now).await.unwrap(),
        Some(now + 300)
    );
    assert_eq!(
        s.auth_blocked_until("203.0.113.10", now).await.unwrap(),
        None
    );
    // A day later the count restarts (the old block has long expired).
    let next_day = now + 86_400;
    assert_eq!(
        s.record_auth_failure("203.0.113.9", next_day, SHORT_BLOCK, LONG_BLOCK)
            .await
            .unwrap(),
        (1, now + 300)
    );
    assert_eq!(
        s.auth_blocked_until("203.0.113.9", next_day).await.unwrap(),
        None
    );
    assert_eq!(s.purge_auth_failures(next_day + 86_400).await.unwrap(), 1);
}

/// `/readyz` reflects the database: with the pool closed it answers 503.
#[tokio::test]
async fn readyz_reflects_the_database() {
    let app = TestApp::new().await;
    assert_eq!(
        app.call(Method::GET, "/readyz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
    app.service.storage().close().await;
    let r = app.call(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "NOT_READY")
    );
    assert_eq!(
        app.call(Method::GET, "/healthz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
}

/// The per-card rate covers the routes that name the card by PAN (verify
/// PIN/CVV2 by PAN, PAN to token) as well as by token: with a burst of 3,
/// the fourth request on one card is 429 `RATE_LIMITED` with `Retry-After`,
/// whichever route; another card is untouched.
#[tokio::test]
async fn the_card_rate_covers_the_by_pan_routes() {
    use paysecure_server::domain::ratelimit::{Rate, RateLimits};
    let app = TestApp::with_config(paysecure_server::ServiceConfig {
        rate_limits: RateLimits {
            card: Rate {
                per_second: 1,
                burst: 3,
            },
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let other = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let pan = app.pan_of(&token).await; // 1
    let by_pan = |uri: &'static str, body: fn(&Session, &str) -> Value| {
        let (app, pan) = (&app, pan.clone());
        async move {
            app.card_call(V2, Method::POST, uri, &app.tenant_key, |s| {
                Some(body(s, &pan))
            })
            .await
            .1
        }
    };
    let r = by_pan(
        "/v2/cvv2/verify",
        |s, pan| json!({"pan": enc_text(s, pan), "cvv2": enc_text(s, "000")}),
    )
    .await; // 2
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = by_pan("/v2/tokens", |s, pan| json!({"pan": enc_text(s, pan)})).await; // 3
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (uri, body) in [
        (
            "/v2/tokens",
            (|s, pan| json!({"pan": enc_text(s, pan)})) as fn(&Session, &str) -> Value,
        ),
        (
            "/v2/cvv2/verify",
            |s, pan| json!({"pan": enc_text(s, pan), "cvv2": enc_text(s, "000")}),
        ),
        (
            "/v2/pin/verify",
            |s, pan| json!({"pan": enc_text(s, pan), "pinBlock": enc(s.encrypt_pin(&Pin::new("1234").unwrap()).unwrap())}),
        ),
    ] {
        let r = by_pan(uri, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            "{uri}"
        );
        assert!(r.headers.contains_key("retry-after"), "{uri}");
    }
    assert_eq!(app.pan_of(&other).await.len(), 16);
}

/// `expiresAt` is enforced: housekeeping rotates an active key a day before
/// it expires (the old key keeps decrypting until then, at most), and a key
/// past its expiry opens nothing, with or without `Key-Id`.
#[tokio::test]
async fn key_expiry_is_enforced_with_automatic_rotation_before_it() {
    let mut app = TestApp::new().await;
    let token = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let uri = format!("/v2/cards/{token}/pan");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let old = app
        .call(Method::GET, "/v2/public-key", None, &[], None)
        .await
        .body["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = paysecure_server::util::time::now();
    // The active key expires in 100 s: inside the rotation overlap.
    sqlx::query("UPDATE rsa_keys SET expires_at = $1 WHERE key_id = $2")
        .bind(now + 100)
        .bind(&old)
        .execute(&pool)
        .await
        .unwrap();
    app.service.reload_keys().await.unwrap();
    let (_, before_rotation) = app.session(V2);
    app.service.housekeeping().await.unwrap();
    let new = app
        .call(Method::GET, "/v2/public-key", None, &[], None)
        .await
        .body["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old, "rotated before expiry");
    // The old key still opens its ids until it expires.
    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&app.tenant_key),
            &[("session-id", &before_rotation)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Past its expiry: refused, also when named.
    let (_, late) = app.session(V2);
    sqlx::query("UPDATE rsa_keys SET expires_at = $1 WHERE key_id = $2")
        .bind(now - 1)
        .bind(&old)
        .execute(&pool)
        .await
        .unwrap();
    app.service.reload_keys().await.unwrap();
    for headers in [
        vec![("session-id", late.as_str())],
        vec![("session-id", late.as_str()), ("key-id", old.as_str())],
    ] {
        let r = app
            .call(Method::POST, &uri, Some(&app.tenant_key), &headers, None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_SESSION_ID")
        );
    }
    // And the new key works.
    app.refresh_public_key().await;
    let (_, fresh) = app.session(V2);
    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&app.tenant_key),
            &[("session-id", &fresh)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
