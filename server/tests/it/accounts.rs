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

fn uuid_ok(s: &str) -> bool {
    s.len() == 36 && s.matches('-').count() == 4
}

#[tokio::test]
async fn seed_calls_replayed_and_every_field_checked() {
    let app = TestApp::new().await;
    let c = client(&app);
    // The literal example: its card expired in 2018.
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&seed_create("251153cb-de49-4afb-9fb5-acb33e332b26", "2018")),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, 933));
    assert_eq!(
        r.body["error"]["message"],
        "Failed to create payment information."
    );
    assert_eq!(r.body["error"]["detail"], "The card has expired.");
    // With a card that has not expired.
    let r = c
        .call(
            Method::POST,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            Some(&seed_create("251153cb-de49-4afb-9fb5-acb33e332b26", "2099")),
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

    // UpdatePaymentInfo (the seed's example).
    let r = c
        .call(
            Method::PUT,
            ONE,
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_update("2098")),
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
    assert_eq!(d["paymentInfos"][0]["paymentInfoId"], id2.as_str());
    assert_eq!(
        d["paymentInfos"][0]["paymentInfo"]["card"],
        json!({"cardExpYear": this_month.0, "cardExpMonth": this_month.1})
    );

    // ReVerifyPaymentInfo: the seed's token is not this card's: 906; the right one: ACTIVE.
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
        r.body["error"]["message"],
        "cvv information does not exist."
    );
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify("1000000000000016")),
        )
        .await;
    assert_eq!(
        r.body["data"],
        json!({"uuid": USER, "paymentInfoId": id, "status": "ACTIVE"})
    );

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
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 903));
    let r = c
        .call(Method::DELETE, ONE, &[("{u}", USER), ("{p}", &id)], None)
        .await;
    assert_eq!(r.body["data"], json!({"uuid": USER}));
    for (m, p) in [(Method::GET, ONE), (Method::DELETE, ONE)] {
        let r = c.call(m, p, &[("{u}", USER), ("{p}", &id)], None).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 903));
        assert_eq!(r.body["error"]["detail"], Value::Null);
    }
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", USER)],
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, 903));
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
            Some(&seed_create("o-1", "2099")),
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
    // The card itself: 933.
    for (body, detail) in [
        (
            with("/paymentInfo/card/cardNum", json!("4111111111111112")),
            "Invalid credit card information. Please re-enter. (Invalid account number)",
        ),
        (
            with("/paymentInfo/card/cardExpYear", json!("2001")),
            "The card has expired.",
        ),
    ] {
        let r = create(body).await;
        assert_eq!(
            (r.status, r.code(), r.body["error"]["detail"].as_str()),
            (StatusCode::BAD_REQUEST, 933, Some(detail))
        );
    }
    let r = create(seed_create("o-2", "2099")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["data"]["paymentInfoId"].as_str().unwrap().to_owned();
    let r = create(seed_create("o-3", "2099")).await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (933, Some("This card is already registered for the user."))
    );
    let mut again = seed_create("o-2", "2099");
    again["paymentInfo"]["card"]["cardNum"] = json!("5555555555554444");
    let r = create(again).await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (933, Some("orderId was already used for this user."))
    );
    // A path id that is not a UUID; a body without data=.
    let r = c
        .call(
            Method::GET,
            "/account/{u}/paymentinfo",
            &[("{u}", "not-a-uuid")],
            None,
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
        (StatusCode::BAD_REQUEST, 975, Some("The card has expired."))
    );
    // Three wrong CVV tokens: FRAUD for good; updates refused (975).
    for _ in 0..3 {
        let r = c
            .call(
                Method::POST,
                &format!("{ONE}/verification"),
                &[("{u}", USER), ("{p}", &id)],
                Some(&seed_reverify("1000000000000999")),
            )
            .await;
        assert_eq!(r.code(), 906);
    }
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify("1000000000000016")),
        )
        .await;
    assert_eq!(r.body["data"]["status"], "FRAUD");
    let r = c
        .call(
            Method::PUT,
            ONE,
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_update("2099")),
        )
        .await;
    assert_eq!(
        (r.code(), r.body["error"]["detail"].as_str()),
        (975, Some("Cannot authorize this card information."))
    );
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
}

#[tokio::test]
async fn a_refused_credential_does_not_use_up_the_session_id() {
    let app = TestApp::new().await;
    let s = Session::generate(Version::V2, KeySize::Aes256).unwrap();
    let sid = s.session_id(&app.public_key).unwrap();
    let key = SessionKey::from_bytes(s.key().expose_bytes()).unwrap();
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
                body::seal(
                    &key,
                    seed_create("o-9", "2099").to_string().as_bytes(),
                    now()
                )
                .unwrap()
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
            Some(&seed_create("o-ok", "2099")),
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
    // The stored token still verifies.
    let r = c
        .call(
            Method::POST,
            &format!("{ONE}/verification"),
            &[("{u}", USER), ("{p}", &id)],
            Some(&seed_reverify("1000000000000016")),
        )
        .await;
    assert_eq!(r.body["data"]["status"], "ACTIVE");
}

/// CVV tokens racing on two nodes (two services over one database): right
/// ones are all answered; wrong ones are each counted atomically, the card
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
            Some(&seed_create("o-race", "2099")),
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
    for t in race(vec!["1000000000000016".to_owned(); 24]) {
        let r = t.await.unwrap();
        assert_eq!(r.body["data"]["status"], "ACTIVE", "{}", r.body);
    }
    let (mut unknown, mut fraud) = (0, 0);
    for t in race((0..24).map(|i| format!("20000000000{i:05}")).collect()) {
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
