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
