//! The account payment-information API over the real router and
//! database (SQLite, or PostgreSQL with PAYSECURE_TEST_POSTGRES): the seed's
//! example requests re-encrypted under test keys, every answer decrypted and
//! checked field by field, tampered, stale and replayed bodies, every error.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::TestApp;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use paysecure_core::{body, KeySize, Session, SessionKey, Version};
use paysecure_server::domain::service::Principal;
use serde_json::{json, Value};
use tower::ServiceExt;

const USER: &str = "2a50a2e4-a93a-4823-9674-c63aba792325";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// How a request is keyed: a fresh PaySecure session, or the tenant's data key.
enum Keying {
    Session,
    DataKey(SessionKey),
}

struct Client<'a> {
    app: &'a TestApp,
    keying: Keying,
    token: String,
}

struct Answer {
    status: StatusCode,
    /// The decrypted answer (200), or the plain error envelope.
    body: Value,
}

impl Answer {
    fn code(&self) -> i64 {
        self.body["error"]["code"].as_i64().unwrap_or(0)
    }
}

impl Client<'_> {
    /// One request: `path` has `{u}`/`{p}`/`{o}` placeholders for ids that
    /// are encrypted here; `data` is encrypted into the form field.
    async fn call(
        &self,
        method: Method,
        path: &str,
        ids: &[(&str, &str)],
        data: Option<&Value>,
    ) -> Answer {
        let (key, sid) = match &self.keying {
            Keying::Session => {
                let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
                let sid = s.session_id(&self.app.public_key).unwrap();
                (
                    SessionKey::from_bytes(s.key().expose_bytes()).unwrap(),
                    Some(sid),
                )
            }
            Keying::DataKey(k) => (SessionKey::from_bytes(k.expose_bytes()).unwrap(), None),
        };
        let mut uri = path.to_owned();
        for (slot, id) in ids {
            uri = uri.replace(slot, &body::seal(&key, id.as_bytes(), now()).unwrap());
        }
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("PLTOKEN {}", self.token));
        if let Some(sid) = &sid {
            req = req.header("session-id", sid);
        }
        let body = match data {
            Some(d) => {
                req = req.header("content-type", "application/x-www-form-urlencoded");
                let hex = body::seal(&key, d.to_string().as_bytes(), now()).unwrap();
                Body::from(format!("data={hex}"))
            }
            None => Body::empty(),
        };
        send(self.app, req.body(body).unwrap(), &key).await
    }
}

async fn send(app: &TestApp, req: Request<Body>, key: &SessionKey) -> Answer {
    send_via(&app.router, req, key).await
}

/// [`send`] through `router` (another node over the same database).
async fn send_via(router: &axum::Router, mut req: Request<Body>, key: &SessionKey) -> Answer {
    req.extensions_mut()
        .insert(ConnectInfo::<std::net::SocketAddr>(
            "192.0.2.90:1".parse().unwrap(),
        ));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ctype = res.headers().get("content-type").cloned();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let body = if status == StatusCode::OK {
        assert_eq!(ctype.unwrap(), "text/plain; charset=utf-8");
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        let opened = body::open(key, &text).unwrap();
        assert!((now() as i64 - opened.timestamp as i64).abs() < 5);
        serde_json::from_slice(&opened.plaintext).unwrap()
    } else {
        assert_eq!(ctype.unwrap(), "application/json");
        serde_json::from_str(&text).unwrap()
    };
    Answer { status, body }
}

/// Seed 003's CreatePaymentInfo example, with an expiry given.
fn seed_create(order: &str, year: &str) -> Value {
    json!({
      "orderId": order,
      "udid": "2083718938012321038243",
      "billingInfo": {
        "firstName": "John",
        "lastName": "Doe",
        "dateOfBirth":"19870704",
        "phoneNumber":"1234567890",
        "emailAddress": "abc@xyz.com",
        "addressInfo": {
          "street": "18th Floore Prtlan House",
          "street2": "Bressenden Place",
          "city": "Victoria",
          "state": "London",
          "postalCode": "SW1E 5RS",
          "countryCode": "GB"
        }
      },
      "paymentInfo": {
        "paymentType": "CreditCard",
        "isDefault": true,
        "card": {
          "cardNum": "4111111111111111",
          "cardExpYear": year,
          "cardExpMonth": "08",
          "cardHolder": "John Doe",
          "cardNickName": "Card1",
          "cardCvvToken": "1000000000000016"
        }
      },
      "accessCountryCode": "GB",
      "ipAddress": "127.0.0.1"
    })
}

/// Seed 003's UpdatePaymentInfo example.
fn seed_update(year: &str) -> Value {
    let mut v = seed_create("4e260748-60d6-4985-80da-bfdf481bffdf", year);
    let card = v["paymentInfo"]["card"].as_object_mut().unwrap();
    card.remove("cardNum");
    v["paymentInfo"]["isDefault"] = json!(false);
    v
}

/// Seed 003's ReVerifyPaymentInfo example.
fn seed_reverify(token: &str) -> Value {
    json!({
      "orderId": "f98a9325-89fb-4aa0-8ac9-30869b5f1a79",
      "udid": "2083718938012321038243",
      "paymentInfo": {"paymentType": "CreditCard", "card": {"cardCvvToken": token}},
      "accessCountryCode": "KR",
      "ipAddress": "127.0.0.1"
    })
}

fn client(app: &TestApp) -> Client<'_> {
    Client {
        app,
        keying: Keying::Session,
        token: app.tenant_key.clone(),
    }
}

const ONE: &str = "/account/{u}/paymentinfo/{p}";

/// The card's CVV, as the user would type it: the CVV2 of the tenant's CVK
/// for this card number and expiry, through the run's key custody (the CVK
/// is sealed by the test vault, or held in the token under rust-hsm).
async fn card_cvv(app: &TestApp, pan: &str, year: &str, month: &str) -> String {
    use paysecure_server::crypto::cvv;
    use paysecure_server::crypto::vault::{Binding, Vault};
    let t = app
        .service
        .storage()
        .tenant(&app.tenant_id)
        .await
        .unwrap()
        .unwrap();
    let binding = Binding {
        tenant: &app.tenant_id,
        subject: "-",
        field: "cvk",
    };
    let cvk = app
        .service
        .custody()
        .load_cvk(&Vault::new(&[42u8; 32]).unwrap(), binding, &t.cvk_sealed)
        .unwrap();
    cvv::cvv2(&*cvk, pan, &format!("{}{}", &year[2..], month)).unwrap()
}

/// A fresh token from the CVV token service for `cvv`.
async fn token_for(app: &TestApp, cvv: &str) -> String {
    let (token, _) = app
        .service
        .mint_cvv_token(&app.tenant_id, cvv)
        .await
        .unwrap();
    assert!(token.len() == 20 && token.bytes().all(|b| b.is_ascii_digit()));
    token
}

/// A fresh token for the card's own CVV.
async fn right_token(app: &TestApp, pan: &str, year: &str, month: &str) -> String {
    token_for(app, &card_cvv(app, pan, year, month).await).await
}

/// A fresh token for a CVV that is not the card's.
async fn wrong_token(app: &TestApp, pan: &str, year: &str, month: &str) -> String {
    let right: u32 = card_cvv(app, pan, year, month).await.parse().unwrap();
    token_for(app, &format!("{:03}", (right + 1) % 1000)).await
}

/// `body` with a fresh token for the card's own CVV.
async fn with_token(app: &TestApp, mut body: Value, pan: &str) -> Value {
    let card = &body["paymentInfo"]["card"];
    let (y, m) = (
        card["cardExpYear"].as_str().unwrap().to_owned(),
        card["cardExpMonth"].as_str().unwrap().to_owned(),
    );
    body["paymentInfo"]["card"]["cardCvvToken"] = json!(right_token(app, pan, &y, &m).await);
    body
}

const VISA: &str = "4111111111111111";

fn uuid_ok(s: &str) -> bool {
    s.len() == 36 && s.matches('-').count() == 4
}

#[tokio::test]
async fn seed_calls_replayed_and_every_field_checked() {
    let app = TestApp::new().await;
    let c = client(&app);
    // The literal example: its card expired in 2018 (500, as the seed).
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&seed_create("251153cb-de49-4afb-9fb5-acb33e332b26", "2018")),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::INTERNAL_SERVER_ERROR, 933)
    );
    assert_eq!(
        r.body["error"]["message"],
        "Failed to create payment information."
    );
    assert_eq!(r.body["error"]["detail"], "The card has expired.");
    // The seed's literal CVV token was never minted: 906, detail null.
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&seed_create("251153cb-de49-4afb-9fb5-acb33e332b26", "2099")),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));
    assert_eq!(
        r.body["error"],
        json!({"code": 906, "message": "cvv information does not exist.", "detail": null})
    );
    // With a card that has not expired and a token minted for its CVV.
    let body = with_token(
        &app,
        seed_create("251153cb-de49-4afb-9fb5-acb33e332b26", "2099"),
        VISA,
    )
    .await;
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        d.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["uuid", "paymentInfoId", "registeredDate"]
    );
    assert_eq!(d["uuid"], USER);
    let id = d["paymentInfoId"].as_str().unwrap().to_owned();
    assert!(uuid_ok(&id));
    let date = d["registeredDate"].as_str().unwrap();
    assert!(
        date.len() == 19 && &date[2..3] == "/" && &date[5..6] == "/" && &date[10..11] == " ",
        "{date}"
    );

    // GetPaymentinfoByPaymentInfoID: every field.
    let r = c
        .call(Method::GET, ONE, &[("{u}", USER), ("{p}", &id)], None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["uuid"], USER);
    assert_eq!(d["paymentInfoId"], id.as_str());
    assert_eq!(d["status"], "ACTIVE");
    assert_eq!(d["billingInfo"], seed_create("x", "2099")["billingInfo"]);
    let card = &d["paymentInfo"]["card"];
    assert_eq!(d["paymentInfo"]["paymentType"], "CreditCard");
    assert_eq!(d["paymentInfo"]["isDefault"], true);
    assert_eq!(
        card["cardNum"], "411111******1111",
        "the PAN never leaves the vault"
    );
    assert_eq!(card["cardExpYear"], "2099");
    assert_eq!(card["cardExpMonth"], "08");
    assert_eq!(card["cardHolder"], "John Doe");
    assert_eq!(card["cardNickName"], "Card1");
    assert_eq!(card["cardBrand"], "VISA");
    assert_eq!(card["cardLastNum"], "1111");
    assert!(card.get("cardCvvToken").is_none());

    // UpdatePaymentInfo (the seed's example, with a new token for the CVV).
    let r = c
        .call(
            Method::PUT,
            ONE,
            &[("{u}", USER), ("{p}", &id)],
            Some(&with_token(&app, seed_update("2098"), VISA).await),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        d.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["uuid", "paymentInfoId", "status", "updatedDate"]
    );
    assert_eq!(
        (
            d["uuid"].as_str(),
            d["paymentInfoId"].as_str(),
            d["status"].as_str()
        ),
        (Some(USER), Some(id.as_str()), Some("ACTIVE"))
    );
    let r = c
        .call(Method::GET, ONE, &[("{u}", USER), ("{p}", &id)], None)
        .await;
    assert_eq!(r.body["data"]["paymentInfo"]["card"]["cardExpYear"], "2098");
    // `isDefault: false` cannot leave the user without a default card.
    assert_eq!(r.body["data"]["paymentInfo"]["isDefault"], true);

    // A second card, expiring this month: the list and the expiries.
    let this_month = {
        let t = time::OffsetDateTime::now_utc();
        (
            format!("{:04}", t.year()),
            format!("{:02}", u8::from(t.month())),
        )
    };
    let mut second = seed_create("8bae8471-0785-4c39-b016-086f8d54d58a", &this_month.0);
    second["paymentInfo"]["card"]["cardNum"] = json!("5555555555554444");
    second["paymentInfo"]["card"]["cardExpMonth"] = json!(this_month.1);
    let second = with_token(&app, second, "5555555555554444").await;
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&second),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id2 = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
        .await;
    let d = &r.body["data"];
    assert_eq!(d["uuid"], USER);
    assert_eq!(d["totalCount"], 2);
    // Oldest first; two cards made in the same second are ordered by id.
    let infos = d["paymentInfos"].as_array().unwrap();
    let of = |pid: &str| {
        infos
            .iter()
            .find(|i| i["paymentInfoId"] == pid)
            .unwrap_or_else(|| panic!("{pid} not listed"))
    };
    assert_eq!(of(&id)["status"], "ACTIVE");
    assert_eq!(of(&id)["paymentInfo"]["paymentType"], "CreditCard");
    // The newer card asked to be the default: it took the flag.
    assert_eq!(of(&id)["paymentInfo"]["isDefault"], false);
    assert_eq!(of(&id2)["paymentInfo"]["isDefault"], true);
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo/expiries",
            &[("{u}", USER)],
            None,
        )
        .await;
    let d = &r.body["data"];
    assert_eq!(d["totalCount"], 1);
    // The seed's fields, and which card is about to expire (not expired).
    assert_eq!(
        d["paymentInfos"][0],
        json!({"paymentInfoId": id2, "expired": false, "paymentInfo": {"paymentType": "CreditCard",
            "card": {"cardExpYear": this_month.0, "cardExpMonth": this_month.1}}})
    );

    // ReVerifyPaymentInfo: the seed's literal token was never minted: 906
    // exactly as the seed (detail null).
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify("1000000000000183")),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));
    assert_eq!(
        r.body["error"],
        json!({"code": 906, "message": "cvv information does not exist.", "detail": null})
    );
    // A token other than the create's and the update's, for the card's
    // CVV: ACTIVE, as the seed's example.
    let token = right_token(&app, VISA, "2098", "08").await;
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify(&token)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["data"],
        json!({"uuid": USER, "paymentInfoId": id, "status": "ACTIVE"})
    );
    // The token was used up.
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify(&token)),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));

    // CancelPaymentInfoByOrderId, then DeletePaymentInfo.
    let r = c
        .call(
            Method::DELETE,
            "/account/{u}/orders/{o}",
            &[
                ("{u}", USER),
                ("{o}", "8bae8471-0785-4c39-b016-086f8d54d58a"),
            ],
            None,
        )
        .await;
    assert_eq!(
        r.body["data"],
        json!({"orderId": "8bae8471-0785-4c39-b016-086f8d54d58a"})
    );
    // Each call's 903 exactly as the seed words it (status, code, message,
    // detail null).
    let not_found = |r: &Answer, status: StatusCode, message: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(
            r.body,
            json!({"error": {"code": 903, "message": message, "detail": null}})
        );
    };
    let r = c
        .call(
            Method::DELETE,
            "/account/{u}/orders/{o}",
            &[
                ("{u}", USER),
                ("{o}", "8bae8471-0785-4c39-b016-086f8d54d58a"),
            ],
            None,
        )
        .await;
    not_found(
        &r,
        StatusCode::BAD_REQUEST,
        "This account payment information does not exist",
    );
    let r = c
        .call(Method::DELETE, ONE, &[("{u}", USER), ("{p}", &id)], None)
        .await;
    assert_eq!(r.body["data"], json!({"uuid": USER}));
    let r = c
        .call(Method::DELETE, ONE, &[("{u}", USER), ("{p}", &id)], None)
        .await;
    not_found(
        &r,
        StatusCode::NOT_FOUND,
        "This account payment information does not exist",
    );
    let r = c
        .call(Method::GET, ONE, &[("{u}", USER), ("{p}", &id)], None)
        .await;
    not_found(
        &r,
        StatusCode::NOT_FOUND,
        "This account's payment information does not exist.",
    );
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
        .await;
    not_found(
        &r,
        StatusCode::NOT_FOUND,
        "This account's payment information does not exist",
    );
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo/expiries",
            &[("{u}", USER)],
            None,
        )
        .await;
    not_found(
        &r,
        StatusCode::NOT_FOUND,
        "This account payment information does not exist.",
    );
}

async fn data_key_client(app: &TestApp) -> Client<'_> {
    let tenant = match app.service.authenticate(&app.tenant_key).await.unwrap() {
        Principal::Tenant { tenant_id } => tenant_id,
        _ => unreachable!(),
    };
    let key = app.service.rotate_tenant_data_key(&tenant).await.unwrap();
    let key = SessionKey::from_base64(&key).unwrap();
    Client {
        app,
        keying: Keying::DataKey(key),
        token: app.tenant_key.clone(),
    }
}

#[tokio::test]
async fn tampered_stale_and_replayed_bodies_are_refused() {
    let app = TestApp::new().await;
    // Without a Session-Id and before the tenant has a data key: 910.
    let none = Client {
        app: &app,
        keying: Keying::DataKey(SessionKey::generate(KeySize::Aes256).unwrap()),
        token: app.tenant_key.clone(),
    };
    let r = none
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, 910));
    let c = data_key_client(&app).await;
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&with_token(&app, seed_create("o-1", "2099"), VISA).await),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let Keying::DataKey(key) = &c.keying else {
        unreachable!()
    };
    let raw = |path: String, method: Method| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("PLTOKEN {}", app.tenant_key))
            .body(Body::empty())
            .unwrap()
    };
    let sealed = |at: u64| body::seal(key, USER.as_bytes(), at).unwrap();
    // Replayed: the same encrypted id twice.
    let once = sealed(now());
    let r = send(
        &app,
        raw(format!("/account/{once}/paymentinfo"), Method::GET),
        key,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        raw(format!("/account/{once}/paymentinfo"), Method::GET),
        key,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 913));
    // Stale and from the future (beyond 5 minutes); just inside is fine.
    for (at, code) in [
        (now() - 6 * 60, 912),
        (now() + 6 * 60, 912),
        (now() - 4 * 60, 0),
    ] {
        let r = send(
            &app,
            raw(format!("/account/{}/paymentinfo", sealed(at)), Method::GET),
            key,
        )
        .await;
        assert_eq!(r.code(), code, "{at}");
    }
    // Tampered: every part of the hex.
    let good = sealed(now());
    for i in [0, 30, 52, 60, good.len() - 1] {
        let mut t = good.clone().into_bytes();
        t[i] = if t[i] == b'0' { b'1' } else { b'0' };
        let t = String::from_utf8(t).unwrap();
        let r = send(
            &app,
            raw(format!("/account/{t}/paymentinfo"), Method::GET),
            key,
        )
        .await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 911), "{i}");
    }
    // Under another key; a Session-Id that does not open.
    let other = SessionKey::generate(KeySize::Aes256).unwrap();
    let r = send(
        &app,
        raw(
            format!(
                "/account/{}/paymentinfo",
                body::seal(&other, USER.as_bytes(), now()).unwrap()
            ),
            Method::GET,
        ),
        key,
    )
    .await;
    assert_eq!(r.code(), 911);
    let mut req = raw(
        format!("/account/{}/paymentinfo", sealed(now())),
        Method::GET,
    );
    req.headers_mut()
        .insert("session-id", "AAAA".parse().unwrap());
    assert_eq!(send(&app, req, key).await.code(), 911);
    // Credentials.
    for token in ["psk_wrong", ""] {
        let bad = Client {
            app: &app,
            keying: Keying::Session,
            token: token.into(),
        };
        let r = bad
            .call(
                Method::GET,
                "/account/{u}/paymentinfo",
                &[("{u}", USER)],
                None,
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, 910));
    }
    let card = app.issue_card().await;
    let eph = app
        .ephemeral(card["token"].as_str().unwrap(), &["pan"])
        .await;
    let r = Client {
        app: &app,
        keying: Keying::Session,
        token: eph,
    }
    .call(
        Method::GET,
        "/account/{u}/paymentinfo",
        &[("{u}", USER)],
        None,
    )
    .await;
    assert_eq!(r.code(), 910);
}

#[tokio::test]
async fn validation_and_card_errors() {
    let app = TestApp::new().await;
    let c = client(&app);
    let create = |body: Value| {
        let c = &c;
        async move {
            c.call(
                Method::POST,
                "/account/{u}/paymentinfo",
                &[("{u}", USER)],
                Some(&body),
            )
            .await
        }
    };
    let with = |path: &str, v: Value| {
        let mut b = seed_create("o-2", "2099");
        *b.pointer_mut(path).unwrap() = v;
        b
    };
    let without = |parent: &str, field: &str| {
        let mut b = seed_create("o-2", "2099");
        b.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(field);
        b
    };
    for (body, detail) in [
        (without("", "orderId"), "orderId is mandatory"),
        (without("", "udid"), "udid is mandatory"),
        (
            without("/billingInfo", "firstName"),
            "billingInfo.firstName is mandatory",
        ),
        (
            without("/billingInfo/addressInfo", "street"),
            "billingInfo.addressInfo.street is mandatory",
        ),
        (
            without("/billingInfo", "addressInfo"),
            "billingInfo.addressInfo is mandatory",
        ),
        (
            without("/paymentInfo/card", "cardCvvToken"),
            "paymentInfo.card.cardCVVToken is mandatory",
        ),
        (
            without("/paymentInfo/card", "cardHolder"),
            "paymentInfo.card.cardHolder is mandatory",
        ),
        (
            with("/billingInfo/firstName", json!("x".repeat(51))),
            "billingInfo.firstName is longer than 50 characters",
        ),
        (
            with("/billingInfo/addressInfo/postalCode", json!("x".repeat(21))),
            "billingInfo.addressInfo.postalCode is longer than 20 characters",
        ),
        (
            with("/paymentInfo/card/cardNickName", json!("x".repeat(21))),
            "paymentInfo.card.cardNickName is longer than 20 characters",
        ),
        (
            with("/billingInfo/dateOfBirth", json!("19871304")),
            "billingInfo.dateOfBirth must be YYYYMMDD",
        ),
        (
            with("/billingInfo/addressInfo/countryCode", json!("UK1")),
            "billingInfo.addressInfo.countryCode is longer than 2 characters",
        ),
        (
            with("/billingInfo/addressInfo/countryCode", json!("US")),
            "billingInfo.addressInfo.state must be a 2-character code in the US and Canada",
        ),
        (
            with("/ipAddress", json!("localhost")),
            "ipAddress is not an IP address",
        ),
        (
            with("/paymentInfo/paymentType", json!("Cash")),
            "paymentInfo.paymentType must be CreditCard",
        ),
        (
            with("/paymentInfo/card/cardExpMonth", json!("13")),
            "paymentInfo.card.cardExpYear/cardExpMonth must be YYYY and MM",
        ),
        (
            with("/paymentInfo/card/cardCvvToken", json!("12 34")),
            "paymentInfo.card.cardCVVToken must be at most 20 letters and digits",
        ),
        (
            {
                let mut b = seed_create("o-2", "2099");
                b["surprise"] = json!(1);
                b
            },
            "data is not JSON of the expected shape",
        ),
    ] {
        let r = create(body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, 914),
            "{detail}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["detail"], detail);
    }
    // The card itself: 933, answered 500 as the seed does.
    for (body, detail) in [
        (
            with("/paymentInfo/card/cardNum", json!("4111111111111112")),
            "[23] Invalid credit card information. Please re-enter. (Invalid account number)",
        ),
        (
            with("/paymentInfo/card/cardExpYear", json!("2001")),
            "The card has expired.",
        ),
        (
            with(
                "/paymentInfo/card/cardCvvToken",
                json!(wrong_token(&app, VISA, "2099", "08").await),
            ),
            "Invalid credit card information. Please re-enter. (Invalid card verification value)",
        ),
    ] {
        let r = create(body).await;
        assert_eq!(
            (r.status, r.code(), r.body["error"]["detail"].as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, 933, Some(detail))
        );
        assert_eq!(
            r.body["error"]["message"],
            "Failed to create payment information."
        );
    }
    let r = create(with_token(&app, seed_create("o-2", "2099"), VISA).await).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let r = create(seed_create("o-3", "2099")).await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (933, Some("This card is already registered for the user."))
    );
    let mut again = seed_create("o-2", "2099");
    again["paymentInfo"]["card"]["cardNum"] = json!("5555555555554444");
    let r = create(with_token(&app, again, "5555555555554444").await).await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (933, Some("orderId was already used for this user."))
    );
    // A path id that is not a UUID names nothing: 903 (but 914 on create,
    // whose user may have no card yet).
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", "not-a-uuid")],
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 903));
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", "not-a-uuid")],
            Some(&seed_create("o-x", "2099")),
        )
        .await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (914, Some("uuid must be a UUID"))
    );
    // Update: the PAN cannot change; an expired card: 975.
    let mut u = seed_update("2099");
    u["paymentInfo"]["card"]["cardNum"] = json!("4111111111111111");
    let r = c
        .call(Method::PUT, ONE, &[("{u}", USER), ("{p}", &id)], Some(&u))
        .await;
    assert_eq!(r.code(), 914);
    let r = c
        .call(
            Method::PUT,
            ONE,
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_update("2001")),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.body["error"]["detail"].as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            975,
            Some("The card has expired.")
        )
    );
    assert_eq!(
        r.body["error"]["message"],
        "An unexpected error occurred during update payment information. Please try again."
    );
    // Update with a CVV that is not the card's: 975 with the seed's own
    // detail (and counted).
    let u = with(
        "/paymentInfo/card/cardCvvToken",
        json!(wrong_token(&app, VISA, "2099", "08").await),
    );
    let mut u = u;
    u["paymentInfo"]["card"]
        .as_object_mut()
        .unwrap()
        .remove("cardNum");
    let r = c
        .call(Method::PUT, ONE, &[("{u}", USER), ("{p}", &id)], Some(&u))
        .await;
    assert_eq!(
        (r.status, r.code(), r.body["error"]["detail"].as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            975,
            Some("Cannot authorize this card information.")
        )
    );
    // Two more mismatches on re-verify: FRAUD at the third; any token then
    // reads FRAUD (even the right one); updates are refused (975).
    for _ in 0..2 {
        let r = c
            .call(
                Method::POST,
                &format!("{ONE}/verification"),
                &[("{u}", USER), ("{p}", &id)],
                Some(&seed_reverify(&wrong_token(&app, VISA, "2099", "08").await)),
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));
        assert_eq!(
            r.body["error"]["detail"],
            "The card verification value does not match the card."
        );
    }
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify(&right_token(&app, VISA, "2099", "08").await)),
        )
        .await;
    assert_eq!(r.body["data"]["status"], "FRAUD", "{}", r.body);
    let r = c
        .call(
            Method::PUT,
            ONE,
            &[("{u}", USER), ("{p}", &id)],
            Some(&with_token(&app, seed_update("2099"), VISA).await),
        )
        .await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (975, Some("Cannot authorize this card information."))
    );
    // The tenant's way back: reset (audited), then the right CVV is ACTIVE.
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/reset"),
            &[("{u}", USER), ("{p}", &id)],
            None,
        )
        .await;
    assert_eq!(
        r.body["data"],
        json!({"uuid": USER, "paymentInfoId": id, "status": "ACTIVE"})
    );
    assert_eq!(cvv_state(&app, &id).await.1, 0, "mismatches cleared");
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify(&right_token(&app, VISA, "2099", "08").await)),
        )
        .await;
    assert_eq!(r.body["data"]["status"], "ACTIVE", "{}", r.body);
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/reset"),
            &[
                ("{u}", USER),
                ("{p}", "7eb5db22-c716-46f6-95d1-f54dc63fa3e1"),
            ],
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 903));
    // Another user sees nothing of this one's cards.
    let r = c
        .call(
            Method::GET,
            ONE,
            &[
                ("{u}", "dc79042f-321e-42df-9e12-25fc2a4a8f1a"),
                ("{p}", &id),
            ],
            None,
        )
        .await;
    assert_eq!(r.code(), 903);
    // A card past its expiry reads INACTIVE (moved in the database).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    sqlx::query("UPDATE payment_infos SET status = 'ACTIVE', expiry_year = 2001")
        .execute(&pool)
        .await
        .unwrap();
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
        .await;
    assert_eq!(r.body["data"]["paymentInfos"][0]["status"], "INACTIVE");
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo/expiries",
            &[("{u}", USER)],
            None,
        )
        .await;
    assert_eq!(r.body["data"]["totalCount"], 1);
    assert_eq!(r.body["data"]["paymentInfos"][0]["expired"], true);
}

#[tokio::test]
async fn a_refused_credential_does_not_use_up_the_session_id() {
    let app = TestApp::new().await;
    let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let sid = s.session_id(&app.public_key).unwrap();
    let key = SessionKey::from_bytes(s.key().expose_bytes()).unwrap();
    let data = with_token(&app, seed_create("o-9", "2099"), VISA).await;
    let req = |token: &str| {
        let path = format!(
            "/account/{}/paymentinfo",
            body::seal(&key, USER.as_bytes(), now()).unwrap()
        );
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("PLTOKEN {token}"))
            .header("session-id", &sid)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "data={}",
                body::seal(&key, data.to_string().as_bytes(), now()).unwrap()
            )))
            .unwrap()
    };
    let r = send(&app, req("psk_wrong"), &key).await;
    assert_eq!(r.code(), 910);
    let r = send(&app, req(&app.tenant_key), &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Now it is used: the same session id again is refused (911).
    let r = send(&app, req(&app.tenant_key), &key).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 911));
}

async fn tenant_of(app: &TestApp) -> String {
    app.service
        .authenticate(&app.tenant_key)
        .await
        .unwrap()
        .tenant_id()
        .to_owned()
}

/// The stored (CVV token MAC, failures, status, version) of a card.
async fn cvv_state(app: &TestApp, id: &str) -> (Vec<u8>, i64, String, i64) {
    let row = app
        .service
        .storage()
        .payment_info(&tenant_of(app).await, USER, id)
        .await
        .unwrap()
        .unwrap();
    (row.cvv_token_mac, row.cvv_failures, row.status, row.version)
}

/// A real CVV sent as `cardCvvToken` (3 or 4 digits) is refused with the
/// invalid-field error (914) on create, update and re-verify, and nothing
/// derived from it is stored: no card created, the stored token MAC, count
/// and version unchanged.
#[tokio::test]
async fn a_cvv_shaped_cvv_token_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let c = data_key_client(&app).await;
    let detail = "paymentInfo.card.cardCVVToken must be a token, not a card verification value";
    for cvv in ["123", "0421"] {
        let mut b = seed_create("o-cvv", "2099");
        b["paymentInfo"]["card"]["cardCvvToken"] = json!(cvv);
        let r = c
            .call(
                Method::POST,
                "/account/{u}/paymentinfo",
                &[("{u}", USER)],
                Some(&b),
            )
            .await;
        assert_eq!(
            (r.status, r.code(), r.body["error"]["detail"].as_str()),
            (StatusCode::BAD_REQUEST, 914, Some(detail)),
            "{cvv}"
        );
    }
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
        .await;
    assert_eq!(r.code(), 903, "nothing was stored");

    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&with_token(&app, seed_create("o-ok", "2099"), VISA).await),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let before = cvv_state(&app, &id).await;
    let mut u = seed_update("2099");
    u["paymentInfo"]["card"]["cardCvvToken"] = json!("987");
    let r = c
        .call(Method::PUT, ONE, &[("{u}", USER), ("{p}", &id)], Some(&u))
        .await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (914, Some(detail))
    );
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify("9876")),
        )
        .await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (914, Some(detail))
    );
    assert_eq!(cvv_state(&app, &id).await, before, "nothing changed");
    assert!(before.0.is_empty(), "nothing about a CVV token on the card");
    // A fresh token for the card's CVV verifies.
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify(&right_token(&app, VISA, "2099", "08").await)),
        )
        .await;
    assert_eq!(r.body["data"]["status"], "ACTIVE");
}

/// CVV tokens racing on two nodes (two services over one database): right
/// CVVs are all answered; wrong CVVs are each counted atomically, the card
/// turns FRAUD at exactly the third, the others see FRAUD; no attempt is
/// lost or refused as "kept changing".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_cvv_tokens_on_two_nodes_mark_fraud_at_exactly_the_limit() {
    use paysecure_server::domain::account::FRAUD_AFTER;
    use paysecure_server::http::telemetry::Metrics;
    use paysecure_server::storage::{Storage, StorageOptions};
    use paysecure_server::{router, AppState, ServiceConfig};
    use std::sync::Arc;

    let app = TestApp::new().await;
    let c = data_key_client(&app).await;
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&with_token(&app, seed_create("o-race", "2099"), VISA).await),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let storage = Storage::connect(&app.db.url, &StorageOptions::default())
        .await
        .unwrap();
    let other = crate::common::test_service(storage, ServiceConfig::default()).await;
    let routers = [
        app.router.clone(),
        router(AppState {
            service: Arc::new(other),
            metrics: Arc::new(Metrics::default()),
        }),
    ];
    let Keying::DataKey(key) = &c.keying else {
        unreachable!()
    };
    let race = |tokens: Vec<String>| {
        let mut tasks = vec![];
        for (i, cvv_token) in tokens.into_iter().enumerate() {
            let router = routers[i % 2].clone();
            let key = SessionKey::from_bytes(key.expose_bytes()).unwrap();
            let (token, id) = (app.tenant_key.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let seal = |v: &[u8]| body::seal(&key, v, now()).unwrap();
                let data = seal_reverify(&key, &cvv_token);
                let req = Request::builder()
                    .method(Method::POST)
                    .uri(format!(
                        "/account/{}/paymentinfo/{}/verification",
                        seal(USER.as_bytes()),
                        seal(id.as_bytes())
                    ))
                    .header("authorization", format!("PLTOKEN {token}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(data))
                    .unwrap();
                send_via(&router, req, &key).await
            }));
        }
        tasks
    };
    // Right tokens racing: all answered ACTIVE (no "kept changing").
    let mut rights = vec![];
    for _ in 0..24 {
        rights.push(right_token(&app, VISA, "2099", "08").await);
    }
    for t in race(rights) {
        let r = t.await.unwrap();
        assert_eq!(r.body["data"]["status"], "ACTIVE", "{}", r.body);
    }
    let (mut unknown, mut fraud) = (0, 0);
    let mut wrongs = vec![];
    for _ in 0..24 {
        wrongs.push(wrong_token(&app, VISA, "2099", "08").await);
    }
    for t in race(wrongs) {
        let r = t.await.unwrap();
        match (r.status, r.code()) {
            (StatusCode::NOT_FOUND, 906) => unknown += 1,
            (StatusCode::OK, _) if r.body["data"]["status"] == "FRAUD" => fraud += 1,
            other => panic!("unexpected {other:?}: {}", r.body),
        }
    }
    assert_eq!((unknown, fraud), (FRAUD_AFTER, 24 - FRAUD_AFTER));
    let (_, failures, status, _) = cvv_state(&app, &id).await;
    assert_eq!((failures, status.as_str()), (FRAUD_AFTER, "FRAUD"));
}

fn seal_reverify(key: &SessionKey, token: &str) -> String {
    format!(
        "data={}",
        body::seal(key, seed_reverify(token).to_string().as_bytes(), now()).unwrap()
    )
}

/// The account API's tenant key has the per-credential rate too: past its
/// burst, 429 (code 429, "Too many requests."), before any body is opened.
#[tokio::test]
async fn the_account_api_rate_limits_a_credential() {
    use paysecure_server::domain::ratelimit::{Rate, RateLimits};
    let app = TestApp::with_config(paysecure_server::ServiceConfig {
        rate_limits: RateLimits {
            credential: Rate {
                per_second: 1,
                burst: 2,
            },
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = data_key_client(&app).await;
    let list = || {
        c.call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
    };
    for _ in 0..2 {
        assert_eq!(list().await.code(), 903);
    }
    let r = list().await;
    assert_eq!(
        (r.status, r.code(), r.body["error"]["message"].as_str()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            429,
            Some("Too many requests.")
        )
    );
}

/// Existence before validation: an unknown (or non-UUID) id answers the
/// call's 903, even with a body that would not validate, decrypt or parse;
/// authorization still comes first (910).
#[tokio::test]
async fn unknown_ids_are_903_before_the_body_is_looked_at() {
    let app = TestApp::new().await;
    let c = client(&app);
    let unknown = "49660ff3-8d52-4641-9770-fdd199e1cd18";
    let one = "This account's payment information does not exist.";
    // Bodies that fail validation (914) or are not even the expected shape.
    let mut no_udid = seed_update("2099");
    no_udid.as_object_mut().unwrap().remove("udid");
    for (method, path, body) in [
        (Method::PUT, ONE.to_owned(), json!({})),
        (Method::PUT, ONE.to_owned(), no_udid.clone()),
        (Method::PUT, ONE.to_owned(), seed_update("2001")),
        (Method::POST, format!("{ONE}/verification"), json!({"x": 1})),
        (
            Method::POST,
            format!("{ONE}/verification"),
            seed_reverify("12 34"),
        ),
    ] {
        for id in [unknown, "not-a-uuid"] {
            let r = c
                .call(
                    method.clone(),
                    &path,
                    &[("{u}", USER), ("{p}", id)],
                    Some(&body),
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path} {body}");
            assert_eq!(
                r.body,
                json!({"error": {"code": 903, "message": one, "detail": null}})
            );
        }
    }
    // No data= at all, or data= that does not decrypt: still 903 first.
    for form in ["", "data=00"] {
        let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
        let sid = s.session_id(&app.public_key).unwrap();
        let key = SessionKey::from_bytes(s.key().expose_bytes()).unwrap();
        let seal = |v: &str| body::seal(&key, v.as_bytes(), now()).unwrap();
        let req = Request::builder()
            .method(Method::PUT)
            .uri(format!(
                "/account/{}/paymentinfo/{}",
                seal(USER),
                seal(unknown)
            ))
            .header("authorization", format!("PLTOKEN {}", app.tenant_key))
            .header("session-id", sid)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        let r = send(&app, req, &key).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 903), "{form}");
    }
    // Authorization first: a wrong PLTOKEN is 910 whatever the id.
    let bad = Client {
        app: &app,
        keying: Keying::Session,
        token: "psk_wrong".into(),
    };
    let r = bad
        .call(
            Method::PUT,
            ONE,
            &[("{u}", USER), ("{p}", unknown)],
            Some(&json!({})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, 910));
    // An order id that cannot exist: CancelPaymentInfoByOrderId's 903.
    for order in ["", &"x".repeat(37)] {
        let r = c
            .call(
                Method::DELETE,
                "/account/{u}/orders/{o}",
                &[("{u}", USER), ("{o}", order)],
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.code(), r.body["error"]["message"].as_str()),
            (
                StatusCode::BAD_REQUEST,
                903,
                Some("This account payment information does not exist")
            )
        );
    }
}

/// The CVV token service: minted over HTTP by the tenant (201, in
/// /openapi.json), one use, tenant-bound, short-lived, held sealed and
/// deleted on use; ephemeral keys and bad CVVs refused.
#[tokio::test]
async fn cvv_tokens_are_one_time_short_lived_and_tenant_bound() {
    let app = TestApp::new().await;
    let c = client(&app);
    let cvv = card_cvv(&app, VISA, "2099", "08").await;
    let mint = |auth: Option<String>, body: Value| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/v2/cvv-tokens",
                auth.as_deref(),
                &[],
                Some(body),
            )
            .await
        }
    };
    let key = Some(app.tenant_key.clone());
    let r = mint(key.clone(), json!({"cvv": cvv})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["cvvToken"].as_str().unwrap().to_owned();
    assert!(token.len() == 20 && token.bytes().all(|b| b.is_ascii_digit()));
    let expires = r.body["expiresAt"].as_str().unwrap();
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let ttl = expires.unix_timestamp() - now() as i64;
    assert!((595..=600).contains(&ttl), "{ttl}");
    assert!(!r.body.to_string().contains(&format!("\"{cvv}\"")));
    // The CVV is held sealed only: not in clear in the token table.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT cvv_sealed FROM cvv_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!sealed.windows(cvv.len()).any(|w| w == cvv.as_bytes()));
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&{
                let mut b = seed_create("o-t", "2099");
                b["paymentInfo"]["card"]["cardCvvToken"] = json!(token);
                b
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM cvv_tokens")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0, "deleted on use");
    // Used: 906.
    let reverify = |t: String| {
        let c = &c;
        let id = id.clone();
        async move {
            c.call(
                Method::POST,
                &format!("{ONE}/verification"),
                &[("{u}", USER), ("{p}", &id)],
                Some(&seed_reverify(&t)),
            )
            .await
        }
    };
    let r = reverify(token.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));
    assert_eq!(r.body["error"]["detail"], Value::Null);
    // Another tenant's token for the right CVV: 906, and it is not used up
    // by the attempt.
    let (other, _) = app.service.create_tenant("Other").await.unwrap();
    let (foreign, _) = app.service.mint_cvv_token(&other, &cvv).await.unwrap();
    let r = reverify(foreign).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));
    assert_eq!(count().await, 1);
    // Expired: 906 (and gone).
    let t = token_for(&app, &cvv).await;
    sqlx::query("UPDATE cvv_tokens SET expires_at = 1")
        .execute(&pool)
        .await
        .unwrap();
    let r = reverify(t).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 906));
    // Fresh: ACTIVE; no failure was counted by the unresolvable tokens.
    let r = reverify(token_for(&app, &cvv).await).await;
    assert_eq!(r.body["data"]["status"], "ACTIVE", "{}", r.body);
    assert_eq!(cvv_state(&app, &id).await.1, 0);
    // Housekeeping deletes expired tokens.
    token_for(&app, "123").await;
    sqlx::query("UPDATE cvv_tokens SET expires_at = 1")
        .execute(&pool)
        .await
        .unwrap();
    app.service.housekeeping().await.unwrap();
    assert_eq!(count().await, 0);
    // Refused: not 3-4 digits; no or an ephemeral credential; unknown fields.
    for bad in [
        json!({"cvv": "12"}),
        json!({"cvv": "12345"}),
        json!({"cvv": "12a"}),
    ] {
        let r = mint(key.clone(), bad.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_CVV"),
            "{bad}"
        );
    }
    let r = mint(key.clone(), json!({"cvv": "123", "pan": VISA})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = mint(None, json!({"cvv": "123"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let card = app.issue_card().await;
    let eph = app
        .ephemeral(card["token"].as_str().unwrap(), &["cvv2"])
        .await;
    let r = mint(Some(eph), json!({"cvv": "123"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // In the OpenAPI document.
    let r = app
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await;
    assert!(r.body["paths"]["/v2/cvv-tokens"]["post"].is_object());
    assert!(
        r.body["paths"]["/account/{uuid}/paymentinfo/{paymentInfoId}/reset"]["post"].is_object()
    );
}

/// The CVV token service's route has the per-credential rate too: past its
/// burst, 429 before anything is minted.
#[tokio::test]
async fn the_cvv_token_service_is_rate_limited_per_credential() {
    use paysecure_server::domain::ratelimit::{Rate, RateLimits};
    let app = TestApp::with_config(paysecure_server::ServiceConfig {
        rate_limits: RateLimits {
            credential: Rate {
                per_second: 1,
                burst: 2,
            },
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mint = || {
        app.call(
            Method::POST,
            "/v2/cvv-tokens",
            Some(&app.tenant_key),
            &[],
            Some(json!({"cvv": "123"})),
        )
    };
    for _ in 0..2 {
        assert_eq!(mint().await.status, StatusCode::CREATED);
    }
    let r = mint().await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cvv_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2, "nothing minted past the rate");
}

/// Log capture for in-process tests: one process-wide subscriber (installed
/// once) that formats an event only on a thread that asked for a capture,
/// into that thread's buffer. A thread-scoped subscriber
/// (`tracing::subscriber::set_default`) is not enough: tracing caches each
/// call site's interest process-wide, and a call site first reached on
/// another test's thread stayed disabled for this one: the capture came back
/// empty when tests ran in parallel.
mod log_capture {
    use std::cell::RefCell;
    use std::sync::{Arc, Mutex, OnceLock};

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    thread_local! {
        static BUFFER: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
    }

    struct ThreadWriter;

    impl std::io::Write for ThreadWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            BUFFER.with(|b| {
                if let Some(b) = &*b.borrow() {
                    b.lock().unwrap().extend_from_slice(buf);
                }
            });
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Events at DEBUG and up, on threads with a capture. Decided per event:
    /// a filter's default answer per call site is its answer on the thread
    /// that first reaches the site (often another test's), cached for all.
    struct OnCapturingThreads;

    impl<S> tracing_subscriber::layer::Filter<S> for OnCapturingThreads {
        fn enabled(
            &self,
            m: &tracing::Metadata<'_>,
            _: &tracing_subscriber::layer::Context<'_, S>,
        ) -> bool {
            *m.level() <= tracing::Level::DEBUG && BUFFER.with(|b| b.borrow().is_some())
        }

        fn callsite_enabled(
            &self,
            _: &'static tracing::Metadata<'static>,
        ) -> tracing::subscriber::Interest {
            tracing::subscriber::Interest::sometimes()
        }
    }

    /// Captures this thread's log (JSON lines, DEBUG and up) until dropped.
    pub struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Capture {
        pub fn start() -> Self {
            static INSTALLED: OnceLock<()> = OnceLock::new();
            INSTALLED.get_or_init(|| {
                let layer = tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(|| ThreadWriter)
                    .with_filter(OnCapturingThreads);
                tracing_subscriber::registry()
                    .with(layer)
                    .try_init()
                    .expect("no other process-wide subscriber in the test binary");
            });
            // A call site first reached before the subscriber was installed
            // keeps its cached "never" otherwise.
            tracing::callsite::rebuild_interest_cache();
            let buffer = Arc::new(Mutex::new(Vec::new()));
            BUFFER.with(|b| *b.borrow_mut() = Some(Arc::clone(&buffer)));
            Capture(buffer)
        }

        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Drop for Capture {
        fn drop(&mut self) {
            BUFFER.with(|b| *b.borrow_mut() = None);
        }
    }
}

/// FRAUD and its reset are audit events (`paysecure::audit`: tenant,
/// paymentInfoId, action), and no CVV, token or card number is logged.
#[tokio::test]
async fn fraud_and_its_reset_are_audited_and_nothing_secret_is_logged() {
    let cap = log_capture::Capture::start();
    let app = TestApp::new().await;
    let c = data_key_client(&app).await;
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&with_token(&app, seed_create("o-audit", "2099"), VISA).await),
        )
        .await;
    let id = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let mut tokens = vec![];
    for _ in 0..FRAUD_AFTER_TEST {
        let t = wrong_token(&app, VISA, "2099", "08").await;
        tokens.push(t.clone());
        let r = c
            .call(
                Method::POST,
                &format!("{ONE}/verification"),
                &[("{u}", USER), ("{p}", &id)],
                Some(&seed_reverify(&t)),
            )
            .await;
        assert_eq!(r.code(), 906);
    }
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/reset"),
            &[("{u}", USER), ("{p}", &id)],
            None,
        )
        .await;
    assert_eq!(r.body["data"]["status"], "ACTIVE");
    let text = cap.text();
    let audit: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        // This card's events only: the capture may hold other tests' (the
        // subscriber is process-wide), and the key custody has its own.
        .filter(|v| v["target"] == "paysecure::audit" && v["fields"]["payment_info"] == id.as_str())
        .collect();
    let actions: Vec<&str> = audit
        .iter()
        .map(|v| v["fields"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["fraud", "reset"], "{text}");
    for v in &audit {
        assert_eq!(v["fields"]["payment_info"], id.as_str());
        assert_eq!(v["fields"]["tenant"], app.tenant_id.as_str());
    }
    let cvv = card_cvv(&app, VISA, "2099", "08").await;
    for secret in tokens
        .iter()
        .map(String::as_str)
        .chain([VISA, &format!("\"{cvv}\"")[..]])
    {
        assert!(!text.contains(secret), "{secret} in the log");
    }
}

const FRAUD_AFTER_TEST: i64 = paysecure_server::domain::account::FRAUD_AFTER;
