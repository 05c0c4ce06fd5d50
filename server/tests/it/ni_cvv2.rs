//! The Get CVV2 envelope API (NISrvRequest / NISrvResponse) over the real router and database
//! (SQLite, or PostgreSQL with PAYSECURE_TEST_POSTGRES): the seed's request
//! replayed, every failure answered in the envelope with its HTTP status.

use crate::common::{open, TestApp};
use axum::http::{Method, StatusCode};
use paysecure_core::Version;
use paysecure_server::domain::service::Principal;
use serde_json::{json, Value};

const PATH: &str = "/pin-management/v2/cvv2";

/// Seed 001's example request, with the card identifier and expiry given.
fn seed_request(id: &str, id_type: &str, expiry: &str) -> Value {
    json!({
        "NISrvRequest": {
            "request_get_cvv2": {
                "header": {
                    "msg_id": "223001",
                    "msg_type": "TRANSACTION",
                    "msg_function": "REQ_GET_CVV2",
                    "src_application": "IVR",
                    "target_application": "WAY4",
                    "timestamp": "2020-07-20T10:49:02.366+04:00",
                    "tracking_id": "223001",
                    "bank_id": "NIC"
                },
                "body": {
                    "card_identifier_id": id,
                    "card_identifier_type": id_type,
                    "expiry_date": expiry
                }
            }
        }
    })
}

/// A card with the seed's EXID; returns (token, YYMM expiry).
async fn card_with_exid(app: &TestApp, exid: &str) -> (String, String) {
    let r = app
        .call(
            Method::POST,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            Some(json!({"exid": exid})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let yymm = format!(
        "{:02}{:02}",
        r.body["expiryYear"].as_i64().unwrap() % 100,
        r.body["expiryMonth"].as_i64().unwrap()
    );
    (r.body["token"].as_str().unwrap().to_owned(), yymm)
}

fn response(r: &crate::common::Reply) -> &Value {
    &r.body["NISrvResponse"]["response_get_cvv2"]
}

fn outcome(r: &crate::common::Reply) -> (StatusCode, String, String) {
    let e = &response(r)["exception_details"];
    (
        r.status,
        e["status"].as_str().unwrap().to_owned(),
        e["error_code"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn seed_request_replayed_with_a_session_id() {
    let app = TestApp::new().await;
    let (token, yymm) = card_with_exid(&app, "99984100148297467162").await;
    let expected_cvv2 = {
        let (s, r) = app
            .card_call(
                Version::V2,
                Method::POST,
                &format!("/v2/cards/{token}/cvv2"),
                &app.tenant_key,
                |_| None,
            )
            .await;
        open(&s, &r.body["cvv2"])
    };
    for (id, id_type) in [
        ("99984100148297467162", "EXID"),
        (token.as_str(), "CONTRACT_NUMBER"),
    ] {
        let (s, sid) = app.session(Version::V2);
        let r = app
            .call(
                Method::POST,
                PATH,
                Some(&app.tenant_key),
                &[("session-id", &sid)],
                Some(seed_request(id, id_type, &yymm)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let res = response(&r);
        // The seed's response, field by field and in its order.
        let h = &res["header"];
        let keys: Vec<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "msg_id",
                "msg_type",
                "msg_function",
                "src_application",
                "target_application",
                "timestamp",
                "bank_id",
                "instance_id"
            ]
        );
        assert_eq!(h["msg_id"], "223001");
        assert_eq!(h["msg_type"], "TRANSACTION");
        assert_eq!(h["msg_function"], "REP_GET_CVV2");
        assert_eq!(h["src_application"], "IVR");
        assert_eq!(h["target_application"], "WAY4");
        assert_eq!(h["bank_id"], "NIC");
        assert!(h["instance_id"].as_str().unwrap().len() <= 10);
        assert!(h["timestamp"].as_str().unwrap().ends_with("+00:00"));
        let e = &res["exception_details"];
        assert_eq!(e["application_name"], "PAYSECURE");
        assert_eq!(
            (
                e["status"].as_str(),
                e["error_code"].as_str(),
                e["error_description"].as_str()
            ),
            (Some("S"), Some("000"), Some("Success"))
        );
        let b = &res["body"];
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "card_identifier_id",
                "card_identifier_type",
                "cvv2",
                "expiry_date"
            ]
        );
        let masked = b["card_identifier_id"].as_str().unwrap();
        assert_eq!(masked.len(), id.len());
        assert!(masked.contains('X') && masked.ends_with(&id[id.len() - 4..]));
        assert_eq!(b["card_identifier_type"], id_type);
        assert_eq!(b["expiry_date"], yymm.as_str());
        // Encrypted under the session key, as the docs recommend.
        assert_eq!(open(&s, &b["cvv2"]), expected_cvv2);
    }
}

#[tokio::test]
async fn clear_cvv2_only_when_the_bank_allows_it() {
    let app = TestApp::new().await;
    let (_, yymm) = card_with_exid(&app, "EX-1").await;
    let req = seed_request("EX-1", "EXID", &yymm);
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[],
            Some(req.clone()),
        )
        .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::FORBIDDEN, "F".into(), "104".into())
    );
    assert!(response(&r)["body"].get("cvv2").is_none());
    let tenant = match app.service.authenticate(&app.tenant_key).await.unwrap() {
        Principal::Tenant { tenant_id } => tenant_id,
        _ => unreachable!(),
    };
    app.service
        .set_allow_plain_cvv2(&tenant, true)
        .await
        .unwrap();
    let r = app
        .call(Method::POST, PATH, Some(&app.tenant_key), &[], Some(req))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let cvv2 = response(&r)["body"]["cvv2"].as_str().unwrap();
    assert!(cvv2.len() == 3 && cvv2.bytes().all(|b| b.is_ascii_digit()));
}

#[tokio::test]
async fn every_failure_is_an_envelope() {
    let app = TestApp::new().await;
    let (token, yymm) = card_with_exid(&app, "EX-2").await;
    let call = |body: Value, auth: Option<String>, sid: bool| {
        let app = &app;
        async move {
            let (_, id) = app.session(Version::V2);
            let headers: Vec<(&str, &str)> = if sid {
                vec![("session-id", id.as_str())]
            } else {
                vec![]
            };
            app.call(Method::POST, PATH, auth.as_deref(), &headers, Some(body))
                .await
        }
    };
    let key = Some(app.tenant_key.clone());
    let with = |path: &str, v: Value| {
        let mut r = seed_request("EX-2", "EXID", &yymm);
        *r.pointer_mut(path).unwrap() = v;
        r
    };
    let cases = [
        (
            with(
                "/NISrvRequest/request_get_cvv2/header/msg_id",
                json!("1234567890123"),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/header/bank_id",
                json!("NICXX"),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/header/msg_function",
                json!("REQ_GET_PIN"),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/header/src_application",
                json!("SELF-SERVICE"),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/body/card_identifier_type",
                json!("PAN"),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/body/card_identifier_id",
                json!("X".repeat(33)),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/body/expiry_date",
                json!("2713"),
            ),
            "100",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/body/expiry_date",
                json!("2701"),
            ),
            "102",
        ),
        (
            with(
                "/NISrvRequest/request_get_cvv2/body/card_identifier_id",
                json!("EX-404"),
            ),
            "101",
        ),
        (
            seed_request("tok_000000000000000000000000", "CONTRACT_NUMBER", &yymm),
            "101",
        ),
        (json!({"NISrvRequest": {}}), "100"),
        (json!([1, 2, 3]), "100"),
    ];
    for (body, code) in cases {
        let r = call(body.clone(), key.clone(), true).await;
        assert_eq!(
            outcome(&r),
            (StatusCode::BAD_REQUEST, "F".into(), code.into()),
            "{body}"
        );
        // The header is echoed as far as it could be read.
        let h = &response(&r)["header"];
        assert_eq!(h["msg_function"], "REP_GET_CVV2");
    }
    // The readable header of a failed request is echoed.
    let r = call(
        with(
            "/NISrvRequest/request_get_cvv2/body/expiry_date",
            json!("2701"),
        ),
        key.clone(),
        true,
    )
    .await;
    assert_eq!(response(&r)["header"]["msg_id"], "223001");
    assert_eq!(response(&r)["header"]["bank_id"], "NIC");
    assert_eq!(response(&r)["body"]["card_identifier_id"], "XX-2");
    // Credentials, session ids, scopes.
    let r = call(seed_request("EX-2", "EXID", &yymm), None, true).await;
    assert_eq!(
        outcome(&r),
        (StatusCode::UNAUTHORIZED, "F".into(), "401".into())
    );
    let r = call(
        seed_request("EX-2", "EXID", &yymm),
        Some("psk_wrong".into()),
        true,
    )
    .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::UNAUTHORIZED, "F".into(), "401".into())
    );
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[("session-id", "AAAA")],
            Some(seed_request("EX-2", "EXID", &yymm)),
        )
        .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::BAD_REQUEST, "F".into(), "103".into())
    );
    let pan_only = app.ephemeral(&token, &["pan"]).await;
    let r = call(seed_request("EX-2", "EXID", &yymm), Some(pan_only), true).await;
    assert_eq!(
        outcome(&r),
        (StatusCode::FORBIDDEN, "F".into(), "403".into())
    );
    let cvv_key = app.ephemeral(&token, &["cvv2"]).await;
    let r = call(
        seed_request(&token, "CONTRACT_NUMBER", &yymm),
        Some(cvv_key),
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The external id is unique in the tenant.
    let r = app
        .call(
            Method::POST,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            Some(json!({"exid": "EX-2"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "EXID_TAKEN"));
    let r = app
        .call(
            Method::POST,
            "/v2/cards",
            Some(&app.tenant_key),
            &[],
            Some(json!({"exid": "has space"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "INVALID_EXID")
    );
}

/// One raw request to the envelope's route (any method, content type and
/// body bytes); the answer parsed as JSON.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> crate::common::Reply {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", app.tenant_key));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let mut req = req.body(Body::from(body)).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo::<std::net::SocketAddr>(
            "192.0.2.10:40000".parse().unwrap(),
        ));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    crate::common::Reply {
        status,
        headers,
        body,
    }
}

/// The envelope of a failure that happened before the request could be
/// read: every node present, `status` F, the given code.
fn assert_bare_failure(r: &crate::common::Reply, status: StatusCode, code: &str) {
    assert_eq!(outcome(r), (status, "F".into(), code.into()), "{}", r.body);
    let res = response(r);
    assert_eq!(res["header"]["msg_function"], "REP_GET_CVV2");
    assert_eq!(res["exception_details"]["application_name"], "PAYSECURE");
    assert!(res["exception_details"]["error_description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert!(res["body"].is_object());
    assert!(r.body.get("error").is_none(), "not the generic envelope");
}

/// The seed's stated purpose: "retrieve the CVV2 associated with the
/// provided card number". `CONTRACT_NUMBER` carrying the card number finds
/// the card through the keyed PAN index; the answer masks it.
#[tokio::test]
async fn contract_number_may_be_the_card_number() {
    let app = TestApp::new().await;
    let (token, yymm) = card_with_exid(&app, "EX-PAN").await;
    let pan = app.pan_of(&token).await;
    let expected_cvv2 = {
        let (s, r) = app
            .card_call(
                Version::V2,
                Method::POST,
                &format!("/v2/cards/{token}/cvv2"),
                &app.tenant_key,
                |_| None,
            )
            .await;
        open(&s, &r.body["cvv2"])
    };
    let (s, sid) = app.session(Version::V2);
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[("session-id", &sid)],
            Some(seed_request(&pan, "CONTRACT_NUMBER", &yymm)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let b = &response(&r)["body"];
    let masked = format!(
        "{}{}{}",
        &pan[..6],
        "X".repeat(pan.len() - 10),
        &pan[pan.len() - 4..]
    );
    assert_eq!(b["card_identifier_id"], masked.as_str());
    assert_eq!(b["card_identifier_type"], "CONTRACT_NUMBER");
    assert_eq!(open(&s, &b["cvv2"]), expected_cvv2);
    assert!(
        !r.body.to_string().contains(&pan),
        "the PAN is never echoed"
    );
    // A card number this tenant did not issue: card not found (101).
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[],
            Some(seed_request("4111111111111111", "CONTRACT_NUMBER", &yymm)),
        )
        .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::BAD_REQUEST, "F".into(), "101".into())
    );
    // An ephemeral key (scope cvv2) for this card: its own card by number
    // works; another card's number and a number of no card answer alike
    // (403), so the key learns nothing about other cards.
    let eph = app.ephemeral(&token, &["cvv2"]).await;
    let (other_token, _) = card_with_exid(&app, "EX-PAN-2").await;
    let other_pan = app.pan_of(&other_token).await;
    let (_, sid) = app.session(Version::V2);
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&eph),
            &[("session-id", &sid)],
            Some(seed_request(&pan, "CONTRACT_NUMBER", &yymm)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (id, id_type) in [
        (other_pan.as_str(), "CONTRACT_NUMBER"),
        ("4111111111111111", "CONTRACT_NUMBER"),
        ("EX-PAN-2", "EXID"),
        ("EX-NONE", "EXID"),
    ] {
        let r = app
            .call(
                Method::POST,
                PATH,
                Some(&eph),
                &[],
                Some(seed_request(id, id_type, &yymm)),
            )
            .await;
        assert_eq!(
            outcome(&r),
            (StatusCode::FORBIDDEN, "F".into(), "403".into()),
            "{id_type}"
        );
    }
    // Another tenant's card number is not found either.
    let (_, other_key) = app.service.create_tenant("Other Bank").await.unwrap();
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&other_key),
            &[],
            Some(seed_request(&pan, "CONTRACT_NUMBER", &yymm)),
        )
        .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::BAD_REQUEST, "F".into(), "101".into())
    );
}

/// Wrong method, media type, body size, malformed JSON, unknown service,
/// and header values: every one answered in the NISrvResponse envelope.
#[tokio::test]
async fn transport_failures_are_envelopes_too() {
    let app = TestApp::new().await;
    let (_, yymm) = card_with_exid(&app, "EX-T").await;
    let good = serde_json::to_vec(&seed_request("EX-T", "EXID", &yymm)).unwrap();
    for m in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        let r = raw(&app, m.clone(), PATH, None, vec![]).await;
        assert_bare_failure(&r, StatusCode::METHOD_NOT_ALLOWED, "405");
        assert_eq!(r.headers["allow"], "POST", "{m}");
    }
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = raw(&app, Method::POST, PATH, ct, good.clone()).await;
        assert_eq!(
            outcome(&r),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "F".into(), "415".into()),
            "{ct:?}"
        );
        // The header could be read: echoed.
        assert_eq!(response(&r)["header"]["msg_id"], "223001");
    }
    let r = raw(
        &app,
        Method::POST,
        PATH,
        Some("application/json; charset=utf-8"),
        good.clone(),
    )
    .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::FORBIDDEN, "F".into(), "104".into()),
        "charset is fine; clear CVV2 is not allowed"
    );
    // Over the route's 16 KiB, and over the server's 64 KiB.
    for size in [20 * 1024, 100 * 1024] {
        let mut big = good.clone();
        big.extend(std::iter::repeat_n(b' ', size));
        let r = raw(&app, Method::POST, PATH, Some("application/json"), big).await;
        assert_bare_failure(&r, StatusCode::PAYLOAD_TOO_LARGE, "413");
    }
    for body in [&b"{"[..], b"", b"null", b"\xff\xfe"] {
        let r = raw(
            &app,
            Method::POST,
            PATH,
            Some("application/json"),
            body.to_vec(),
        )
        .await;
        assert_bare_failure(&r, StatusCode::BAD_REQUEST, "100");
    }
    // The seed's 596 "Service Not Found" for any other service.
    for path in [
        "/pin-management/v2/cvv3",
        "/pin-management/v1/cvv2",
        "/pin-management/",
    ] {
        let r = raw(
            &app,
            Method::POST,
            path,
            Some("application/json"),
            good.clone(),
        )
        .await;
        assert_bare_failure(&r, StatusCode::from_u16(596).unwrap(), "596");
    }
    // msg_type as strictly as msg_function: TRANSACTION, or absent.
    let with_type = |v: Value| {
        let mut r = seed_request("EX-T", "EXID", &yymm);
        let h = r
            .pointer_mut("/NISrvRequest/request_get_cvv2/header")
            .unwrap()
            .as_object_mut()
            .unwrap();
        if v.is_null() {
            h.remove("msg_type");
        } else {
            h.insert("msg_type".into(), v);
        }
        r
    };
    for bad in [json!("QUERY"), json!("transaction"), json!(""), json!(7)] {
        let r = app
            .call(
                Method::POST,
                PATH,
                Some(&app.tenant_key),
                &[],
                Some(with_type(bad.clone())),
            )
            .await;
        assert_eq!(
            outcome(&r),
            (StatusCode::BAD_REQUEST, "F".into(), "100".into()),
            "{bad}"
        );
    }
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[],
            Some(with_type(Value::Null)),
        )
        .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::FORBIDDEN, "F".into(), "104".into()),
        "msg_type may be left out (its default is TRANSACTION)"
    );
    assert_eq!(response(&r)["header"]["msg_type"], "TRANSACTION");
}

/// The card data store unavailable (the database closed under the running
/// router): the seed's 503, in the envelope, on either backend.
#[tokio::test]
async fn an_unavailable_database_answers_503() {
    let app = TestApp::new().await;
    let (_, yymm) = card_with_exid(&app, "EX-503").await;
    app.service.close().await;
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[],
            Some(seed_request("EX-503", "EXID", &yymm)),
        )
        .await;
    assert_eq!(
        outcome(&r),
        (StatusCode::SERVICE_UNAVAILABLE, "F".into(), "503".into()),
        "{}",
        r.body
    );
    assert_eq!(response(&r)["header"]["msg_id"], "223001");
    let e = &response(&r)["exception_details"];
    assert_eq!(e["error_description"], "Service unavailable");
}

/// A request the card data store does not answer in time (its `cards`
/// table locked by another session, PostgreSQL): the seed's 504 within the
/// deadline. SQLite in WAL mode never blocks a reader, so there the test
/// only checks the deadline is configured.
#[tokio::test]
async fn a_stalled_database_answers_504_within_the_deadline() {
    let app = TestApp::with_config(paysecure_server::ServiceConfig {
        envelope_deadline: std::time::Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.service.envelope_deadline(),
        std::time::Duration::from_millis(500)
    );
    if !app.db.is_postgres() {
        eprintln!("SQLite readers are never blocked: the 504 runs on PostgreSQL");
        return;
    }
    let (_, yymm) = card_with_exid(&app, "EX-504").await;
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut locker = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE cards IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = app
        .call(
            Method::POST,
            PATH,
            Some(&app.tenant_key),
            &[],
            Some(seed_request("EX-504", "EXID", &yymm)),
        )
        .await;
    let took = started.elapsed();
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    assert_eq!(
        outcome(&r),
        (StatusCode::GATEWAY_TIMEOUT, "F".into(), "504".into()),
        "{}",
        r.body
    );
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert_eq!(response(&r)["header"]["msg_id"], "223001");
}
