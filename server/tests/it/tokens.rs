//! Conformance of the merchant tokenisation APIs over the real router, a real
//! database (SQLite, or PostgreSQL with PAYSECURE_TEST_POSTGRES) and real RSA
//! keys: the Paythru Card Tokenisation API v3 with its Client POST
//! capture, and Verifone-style token management. Cards are
//! captured with the paysecure-wasm core's `CardCapture` (what `encryptCard`
//! runs in the browser). XML answers are read with a real XML parser.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::TestApp;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use paysecure_core::capture::CardCapture;
use paysecure_server::domain::bins::SANDBOX_CSV;
use paysecure_server::domain::paythru::{signature, Method as PtMethod, NewCredentials};
use paysecure_server::domain::service::Principal;
use serde_json::{json, Value};
use tower::ServiceExt;
use zeroize::Zeroizing;

/// The seed's credentials (§2.5 and every example request).
const SEED_KEY: &str = "qyc2o6hvYyGFcGEL3K";
const SEED_PASSWORD: &str = "83M3hWArBIsduSMGVa";
const SEED_SHA_KEY: &str = "ds45k324l3k423k233";
const SEED_CARD_KEY: &str = "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Two years from now, as (MM, YYYY).
fn future_expiry() -> (u32, u32) {
    let year = 1970 + (now() / 31_556_952) as u32 + 2;
    (12, year)
}

async fn tenant_id(app: &TestApp, key: &str) -> String {
    match app.service.authenticate(key).await.unwrap() {
        Principal::Tenant { tenant_id } => tenant_id,
        other => panic!("{other:?}"),
    }
}

async fn seed_credentials(app: &TestApp) {
    let tenant = tenant_id(app, &app.tenant_key).await;
    app.service
        .paythru()
        .create_credentials(
            &tenant,
            Some(NewCredentials {
                api_key: SEED_KEY.into(),
                api_password: Zeroizing::new(SEED_PASSWORD.into()),
                sha_key: Zeroizing::new(SEED_SHA_KEY.into()),
            }),
            None,
        )
        .await
        .unwrap();
}

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

async fn send(
    app: &TestApp,
    ip: &str,
    method: Method,
    uri: &str,
    ctype: &str,
    body: String,
) -> Raw {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", ctype)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo::<std::net::SocketAddr>(
            format!("{ip}:40000").parse().unwrap(),
        ));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// The form body of `params`, signed with `sha_key` (unless `sign` is false).
fn form(params: &[(&str, &str)], sha_key: &str, sign: bool) -> String {
    let sig = signature(params.iter().copied(), sha_key);
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    if sign {
        ser.append_pair("shaSignature", &sig);
    }
    ser.finish()
}

async fn paythru_from(app: &TestApp, ip: &str, path: &str, params: &[(&str, &str)]) -> Raw {
    let body = form(params, SEED_SHA_KEY, true);
    send(
        app,
        ip,
        Method::POST,
        path,
        "application/x-www-form-urlencoded",
        body,
    )
    .await
}

async fn paythru(app: &TestApp, path: &str, params: &[(&str, &str)]) -> Raw {
    paythru_from(app, "192.0.2.10", path, params).await
}

fn auth<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![("apiKey", SEED_KEY), ("apiPassword", SEED_PASSWORD)];
    p.extend_from_slice(extra);
    p
}

fn json_of(r: &Raw) -> Value {
    assert_eq!(r.headers["content-type"], "application/json", "{}", r.text);
    serde_json::from_str(&r.text).unwrap()
}

/// Every element path of an XML document, in document order, and the text
/// of each leaf (parsed by roxmltree, a real XML parser).
fn xml_paths(text: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut out = vec![];
    fn walk(n: roxmltree::Node, prefix: &str, out: &mut Vec<(String, String)>) {
        for c in n.children().filter(|c| c.is_element()) {
            let path = format!("{prefix}/{}", c.tag_name().name());
            let leaf = !c.children().any(|x| x.is_element());
            out.push((
                path.clone(),
                if leaf {
                    c.text().unwrap_or("").to_owned()
                } else {
                    String::new()
                },
            ));
            walk(c, &path, out);
        }
    }
    walk(doc.root(), "", &mut out);
    out
}

fn xml_value(paths: &[(String, String)], path: &str) -> String {
    paths
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} missing"))
        .1
        .clone()
}

fn error_of(r: &Raw) -> (u16, String) {
    let (code, trace) = if r.text.starts_with("<?xml") {
        let p = xml_paths(&r.text);
        assert_eq!(p[0].0, "/paythruResponse");
        (
            xml_value(&p, "/paythruResponse/errorCode"),
            xml_value(&p, "/paythruResponse/traceCode"),
        )
    } else {
        let v = json_of(r);
        (
            v["errorCode"].as_str().unwrap().to_owned(),
            v["traceCode"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(trace.len(), 8, "trace code {trace}");
    assert!(trace.bytes().all(|b| b.is_ascii_digit()));
    (r.status.as_u16(), code)
}

/// The seed's lookup example response (§3.1), well-formed as it is.
const SEED_LOOKUP_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?> <paythruResponse> <cardKeyDetails> <cardKeyDetail> <cardKey>6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff</cardKey> <cardUniqueIdentifier>6683778953</cardUniqueIdentifier> <merchantCustomerReference/> <enabled>0</enabled> <card> <cardDescription>My Savings card</cardDescription> <cardholderName>John Smith</cardholderName> <cardNumber>444433******1111</cardNumber> <cardExpiryMonth>12</cardExpiryMonth> <cardExpiryYear>2015</cardExpiryYear> <cardType>CREDIT</cardType> <cardScheme/> <cardBank>paythru</cardBank> </card> <customer> <customerTitle>Mr</customerTitle> <customerFirstName>Bob</customerFirstName> <customerSurname>Marty</customerSurname> <customerEmail>bmatry@example.com</customerEmail> <customerMobile>0784561230</customerMobile> <customerTelephone>141998445220</customerTelephone> </customer> <cardholderAddress> <cardholderAddressPropertyName/> <cardholderAddressLine1>10 Downing Street</cardholderAddressLine1> <cardholderAddressLine2/> <cardholderAddressLine3/> <cardholderAddressTown>London</cardholderAddressTown> <cardholderAddressCounty/> <cardholderAddressPostcode>SW1A 2AA</cardholderAddressPostcode> <cardholderAddressCountry>UK</cardholderAddressCountry> </cardholderAddress> </cardKeyDetail> </cardKeyDetails> </paythruResponse>"#;

/// The seed's lookup example response in JSON (§3.1).
const SEED_LOOKUP_JSON: &str = r#"{ "cardKeyDetails": { "0": { "cardKey": "6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff", "cardUniqueIdentifier": 6683778953, "merchantCustomerReference": null, "enabled": "0", "card": { "cardDescription":"My Savings card", "cardholderName": "John Smith", "cardNumber": "444433******1111", "cardExpiryMonth": "12", "cardExpiryYear": "2015", "cardType": "CREDIT", "cardScheme": null, "cardBank": "paythru" }, "customer": { "customerTitle": "Mr", "customerFirstName": "Bob", "customerSurname": "Marty", "customerEmail": "bmatry@example.com", "customerMobile": "0784561230", "customerTelephone": "141998445220" }, "cardholderAddress": { "cardholderAddressPropertyName": "", "cardholderAddressLine1": "10 Downing Street", "cardholderAddressLine2": "", "cardholderAddressLine3": "", "cardholderAddressTown": "London", "cardholderAddressCounty": "", "cardholderAddressPostcode": "SW1A 2AA", "cardholderAddressCountry": "UK" } } } }"#;

/// Key paths of a JSON value, in order.
fn json_keys(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, c) in m {
            let p = format!("{prefix}/{k}");
            out.push(p.clone());
            json_keys(c, &p, out);
        }
    }
}

/// The seed's create example (§3.6) with a card that has not expired.
fn create_params(expiry: &str) -> Vec<(&'static str, String)> {
    vec![
        ("cardDescription", "My shopping card".into()),
        ("cardholderName", "MR JOHN SMITH".into()),
        ("cardNumber", "4444333322221111".into()),
        ("cardExpiry", expiry.into()),
        ("customerTitle", "Mr".into()),
        ("customerFirstName", "John".into()),
        ("customerSurname", "Smith".into()),
        ("customerEmail", "johnsmith@example.com".into()),
        ("customerMobile", "07770123456".into()),
        ("customerTelephone", "01234123456".into()),
        ("cardholderAddressPropertyName", "".into()),
        ("cardholderAddressLine1", "Flat 12B".into()),
        ("cardholderAddressLine2", "34 The Avenue".into()),
        ("cardholderAddressLine3", "".into()),
        ("cardholderAddressTown", "Amersham".into()),
        ("cardholderAddressCounty", "Buckinghamshire".into()),
        ("cardholderAddressPostcode", "HP6 6GL".into()),
        ("cardholderAddressCountry", "UK".into()),
    ]
}

async fn create_card(app: &TestApp, reference: Option<&str>) -> String {
    let (m, y) = future_expiry();
    let expiry = format!("{m:02}{:02}", y % 100);
    let owned = create_params(&expiry);
    let mut params = auth(&[]);
    params.extend(owned.iter().map(|(k, v)| (*k, v.as_str())));
    if let Some(r) = reference {
        params.push(("merchantCustomerReference", r));
    }
    let r = paythru(app, "/v3/token/create/json", &params).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    json_of(&r)["cardKeyDetails"]["0"]["cardKey"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The seed's literal example bodies, with the "& " line wrapping removed.
fn seed_body(text: &str) -> String {
    text.replace("& ", "&")
}

#[tokio::test]
async fn paythru_seed_create_example_replayed() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    // The sandbox BIN table knows Paythru's test card (CREDIT, "paythru").
    app.service.load_bins(SANDBOX_CSV).await.unwrap();
    // Literal: its shaSignature is 127 hex digits (one lost), so it fails.
    let literal = seed_body("apiKey=qyc2o6hvYyGFcGEL3K& apiPassword=83M3hWArBIsduSMGVa& cardDescription=My+shopping+card& cardholderName=MR+JOHN+SMITH& cardNumber=4444333322221111& cardExpiry=1215& customerTitle=Mr& customerFirstName=John& customerSurname=Smith& customerEmail=johnsmith%40example.com& customerMobile=07770123456& customerTelephone=01234123456& cardholderAddressPropertyName=& cardholderAddressLine1=Flat+12B& cardholderAddressLine2=34+The+Avenue& cardholderAddressLine3=& cardholderAddressTown=Amersham& cardholderAddressCounty=Buckinghamshire& cardholderAddressPostcode=HP6+6GL& cardholderAddressCountry=UK& shaSignature=617345f579d890109daab584fb149b428c8bd83995ec86c3625e0ddecf58e79fc5b0c78c098d35807217d563d776d881341d96302f86da88d91fe1f51baebd9");
    let r = send(
        &app,
        "192.0.2.50",
        Method::POST,
        "/v3/token/create/xml",
        "application/x-www-form-urlencoded",
        literal,
    )
    .await;
    assert_eq!(error_of(&r), (401, "123".into()));
    // Signed correctly, the seed's card (12/2015) has expired.
    let mut params = auth(&[]);
    let owned = create_params("1215");
    params.extend(owned.iter().map(|(k, v)| (*k, v.as_str())));
    let r = paythru(&app, "/v3/token/create/xml", &params).await;
    assert_eq!(error_of(&r), (400, "109".into()));
    // With a valid expiry: the seed's XML response, field by field.
    let (m, y) = future_expiry();
    let expiry = format!("{m:02}{:02}", y % 100);
    let mut params = auth(&[]);
    let owned = create_params(&expiry);
    params.extend(owned.iter().map(|(k, v)| (*k, v.as_str())));
    let r = paythru(&app, "/v3/token/create", &params).await; // no segment: XML
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/xml; charset=utf-8");
    let p = xml_paths(&r.text);
    let seed = xml_paths(SEED_LOOKUP_XML);
    let names = |v: &[(String, String)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&p),
        names(&seed),
        "same elements in the same order as the seed"
    );
    let d = "/paythruResponse/cardKeyDetails/cardKeyDetail";
    let key = xml_value(&p, &format!("{d}/cardKey"));
    assert!(key.len() == 36 && key.matches('-').count() == 4, "{key}");
    assert_eq!(
        xml_value(&p, &format!("{d}/cardUniqueIdentifier")).len(),
        10
    );
    assert_eq!(xml_value(&p, &format!("{d}/merchantCustomerReference")), "");
    // Created disabled, as every create example of the seed shows.
    assert_eq!(xml_value(&p, &format!("{d}/enabled")), "0");
    for (field, want) in [
        ("card/cardDescription", "My shopping card"),
        ("card/cardholderName", "MR JOHN SMITH"),
        ("card/cardNumber", "444433******1111"),
        ("card/cardExpiryMonth", "12"),
        ("card/cardExpiryYear", &y.to_string()),
        ("card/cardType", "CREDIT"),
        ("card/cardScheme", "VISA"),
        ("card/cardBank", "paythru"),
        ("customer/customerTitle", "Mr"),
        ("customer/customerFirstName", "John"),
        ("customer/customerSurname", "Smith"),
        ("customer/customerEmail", "johnsmith@example.com"),
        ("customer/customerMobile", "07770123456"),
        ("customer/customerTelephone", "01234123456"),
        ("cardholderAddress/cardholderAddressPropertyName", ""),
        ("cardholderAddress/cardholderAddressLine1", "Flat 12B"),
        ("cardholderAddress/cardholderAddressLine2", "34 The Avenue"),
        ("cardholderAddress/cardholderAddressLine3", ""),
        ("cardholderAddress/cardholderAddressTown", "Amersham"),
        (
            "cardholderAddress/cardholderAddressCounty",
            "Buckinghamshire",
        ),
        ("cardholderAddress/cardholderAddressPostcode", "HP6 6GL"),
        ("cardholderAddress/cardholderAddressCountry", "UK"),
    ] {
        assert_eq!(xml_value(&p, &format!("{d}/{field}")), want, "{field}");
    }
    // The same card again is another token with the same unique identifier.
    let r2 = paythru(&app, "/v3/token/create/xml", &params).await;
    let p2 = xml_paths(&r2.text);
    assert_ne!(xml_value(&p2, &format!("{d}/cardKey")), key);
    assert_eq!(
        xml_value(&p2, &format!("{d}/cardUniqueIdentifier")),
        xml_value(&p, &format!("{d}/cardUniqueIdentifier"))
    );
}

#[tokio::test]
async fn paythru_lookup_json_shape_and_criteria() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let a = create_card(&app, Some("cust-1")).await;
    let b = create_card(&app, Some("cust-1")).await;
    let c = create_card(&app, None).await;
    // The seed's lookup request (§3.1), re-signed for our card key.
    let r = paythru(
        &app,
        "/v3/token/lookup/json",
        &auth(&[("cardKey", &c), ("merchantCustomerReference", "")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = json_of(&r);
    let (mut ours, mut seed) = (vec![], vec![]);
    json_keys(&v, "", &mut ours);
    json_keys(
        &serde_json::from_str(SEED_LOOKUP_JSON).unwrap(),
        "",
        &mut seed,
    );
    assert_eq!(ours, seed, "same members in the same order as the seed");
    let d = &v["cardKeyDetails"]["0"];
    assert!(
        d["cardUniqueIdentifier"].is_u64(),
        "a number, as in the seed"
    );
    assert_eq!(d["merchantCustomerReference"], Value::Null);
    assert_eq!(d["enabled"], "0", "created disabled, as the seed shows");
    assert_eq!(d["card"]["cardType"], Value::Null);
    assert_eq!(d["cardholderAddress"]["cardholderAddressLine3"], "");
    // By customer reference: both of that customer's cards, oldest first.
    let r = paythru(
        &app,
        "/v3/token/lookup/json",
        &auth(&[("merchantCustomerReference", "cust-1")]),
    )
    .await;
    let v = json_of(&r);
    let keys: Vec<&str> = v["cardKeyDetails"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| d["cardKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&a.as_str()) && keys.contains(&b.as_str()));
    assert_eq!(
        v["cardKeyDetails"]["1"]["merchantCustomerReference"],
        "cust-1"
    );
    // Both criteria must match.
    let r = paythru(
        &app,
        "/v3/token/lookup/json",
        &auth(&[("cardKey", &a), ("merchantCustomerReference", "cust-1")]),
    )
    .await;
    assert_eq!(json_of(&r)["cardKeyDetails"].as_object().unwrap().len(), 1);
    let r = paythru(
        &app,
        "/v3/token/lookup/json",
        &auth(&[("cardKey", &c), ("merchantCustomerReference", "cust-1")]),
    )
    .await;
    assert_eq!(error_of(&r), (400, "148".into()));
    let r = paythru(
        &app,
        "/v3/token/lookup/json",
        &auth(&[("merchantCustomerReference", "nobody")]),
    )
    .await;
    assert_eq!(error_of(&r), (400, "148".into()));
}

#[tokio::test]
async fn paythru_signature_known_answer_over_http() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    // §2.5's worked example, sent as in §3.1 with the full signature: it
    // authenticates (the card key is not ours, hence 147, not 123).
    let body = "apiKey=qyc2o6hvYyGFcGEL3K&apiPassword=83M3hWArBIsduSMGVa&cardKey=6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff&merchantCustomerReference=&shaSignature=3c1eabc2f773a6ac7a32274e6aa61917d35804516df7258bcb981fa9e6c0ff84999e841734e1894ae527de5662a7a063c2d51ac493caf07f13b4b600ef96fdfe";
    let r = send(
        &app,
        "192.0.2.60",
        Method::POST,
        "/v3/token/lookup/xml",
        "application/x-www-form-urlencoded",
        body.into(),
    )
    .await;
    assert_eq!(error_of(&r), (400, "147".into()));
    // Uppercase hex is the same signature.
    let r = send(&app, "192.0.2.60", Method::POST, "/v3/token/lookup/xml", "application/x-www-form-urlencoded", body.to_uppercase().replace("APIKEY=QYC2O6HVYYGFCGEL3K&APIPASSWORD=83M3HWARBISDUSMGVA&CARDKEY=6BEDE8CF-7F8B-A5DC-E1B7-5D4CC3618FFF&MERCHANTCUSTOMERREFERENCE=&SHASIGNATURE=", "apiKey=qyc2o6hvYyGFcGEL3K&apiPassword=83M3hWArBIsduSMGVa&cardKey=6bede8cf-7f8b-a5dc-e1b7-5d4cc3618fff&merchantCustomerReference=&shaSignature=")).await;
    assert_eq!(error_of(&r), (400, "147".into()));
    // The seed's literal request lost the last digit: 123.
    let r = send(
        &app,
        "192.0.2.60",
        Method::POST,
        "/v3/token/lookup/xml",
        "application/x-www-form-urlencoded",
        body.trim_end_matches('e').into(),
    )
    .await;
    assert_eq!(error_of(&r), (401, "123".into()));
}

#[tokio::test]
async fn paythru_enable_disable_update_delete() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let key = create_card(&app, Some("cust-9")).await;
    for (method, enabled) in [
        ("disable", "0"),
        ("disable", "0"),
        ("enable", "1"),
        ("enable", "1"),
        ("disable", "0"),
    ] {
        let r = paythru(
            &app,
            &format!("/v3/token/{method}/xml"),
            &auth(&[("cardKey", &key)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            xml_paths(&r.text),
            vec![
                ("/paythruResponse".into(), String::new()),
                ("/paythruResponse/result".into(), "OK".into())
            ]
        );
        assert_eq!(lookup_one(&app, &key).await["enabled"], enabled, "{method}");
    }
    // A disabled token can be updated: the seed's update example (§3.5)
    // acts on the token its lookup example shows disabled.
    let update = auth(&[
        ("cardKey", &key),
        ("cardholderAddressPropertyName", ""),
        ("cardholderAddressLine1", "10 Downing Street"),
        ("cardholderAddressLine2", ""),
        ("cardholderAddressLine3", ""),
        ("cardholderAddressTown", "London"),
        ("cardholderAddressCounty", ""),
        ("cardholderAddressPostcode", "SW1A 2AA"),
        ("cardholderAddressCountry", "UK"),
    ]);
    assert_eq!(lookup_one(&app, &key).await["enabled"], "0");
    let r = paythru(&app, "/v3/token/updateCardKeyDetails/xml", &update).await;
    assert_eq!(
        xml_value(&xml_paths(&r.text), "/paythruResponse/result"),
        "OK",
        "{}",
        r.text
    );
    paythru(&app, "/v3/token/enable/json", &auth(&[("cardKey", &key)])).await;
    // The seed's update example (§3.5), re-signed for our card key.
    let r = paythru(&app, "/v3/token/updateCardKeyDetails/json", &update).await;
    assert_eq!(json_of(&r), json!({"result": "OK"}));
    let d = lookup_one(&app, &key).await;
    let addr = &d["cardholderAddress"];
    assert_eq!(addr["cardholderAddressLine1"], "10 Downing Street");
    assert_eq!(addr["cardholderAddressLine2"], "", "sent empty: cleared");
    assert_eq!(addr["cardholderAddressCounty"], "", "sent empty: cleared");
    assert_eq!(addr["cardholderAddressTown"], "London");
    assert_eq!(d["customer"]["customerFirstName"], "John", "absent: kept");
    assert_eq!(d["card"]["cardDescription"], "My shopping card");
    // The table's misspelt names are accepted; expiry moves; a name clears.
    let r = paythru(
        &app,
        "/v3/token/updateCardKeyDetails/json",
        &auth(&[
            ("cardKey", &key),
            ("cardholderAdressTown", "Leeds"),
            ("cardHolderAddressCounty", "West Yorkshire"),
            ("cardExpiryMonth", "01"),
            ("cardExpiryYear", "2098"),
            ("cardholderName", ""),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = lookup_one(&app, &key).await;
    assert_eq!(d["cardholderAddress"]["cardholderAddressTown"], "Leeds");
    assert_eq!(
        d["cardholderAddress"]["cardholderAddressCounty"],
        "West Yorkshire"
    );
    assert_eq!(
        (
            d["card"]["cardExpiryMonth"].as_str(),
            d["card"]["cardExpiryYear"].as_str()
        ),
        (Some("01"), Some("2098"))
    );
    // Cleared with an empty value: "" like every other cleared text field
    // (the seed's cleared address lines), in JSON and in XML.
    assert_eq!(d["card"]["cardholderName"], "");
    assert_eq!(d["cardholderAddress"]["cardholderAddressLine3"], "");
    let r = paythru(&app, "/v3/token/lookup/xml", &auth(&[("cardKey", &key)])).await;
    let p = xml_paths(&r.text);
    let c = "/paythruResponse/cardKeyDetails/cardKeyDetail";
    assert_eq!(xml_value(&p, &format!("{c}/card/cardholderName")), "");
    assert!(r.text.contains("<cardholderName/>"), "{}", r.text);
    // The reference, when sent, must match.
    let r = paythru(
        &app,
        "/v3/token/delete/xml",
        &auth(&[("cardKey", &key), ("merchantCustomerReference", "other")]),
    )
    .await;
    assert_eq!(error_of(&r), (400, "148".into()));
    let r = paythru(
        &app,
        "/v3/token/delete/xml",
        &auth(&[("cardKey", &key), ("merchantCustomerReference", "cust-9")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for method in ["lookup", "delete", "enable"] {
        let r = paythru(
            &app,
            &format!("/v3/token/{method}/xml"),
            &auth(&[("cardKey", &key)]),
        )
        .await;
        assert_eq!(error_of(&r), (400, "147".into()), "{method} after delete");
    }
}

#[tokio::test]
async fn paythru_every_error_code() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let key = create_card(&app, None).await;
    let tenant = tenant_id(&app, &app.tenant_key).await;
    let url = |m: &str| format!("/v3/token/{m}/json");
    // (code, status, URL segment(s), parameters besides apiKey/apiPassword)
    let k = key.as_str();
    let long_ref = "r".repeat(46);
    let signed: [ErrorCase; 19] = [
        (103, 400, "purchase/json", vec![("cardKey", k)]),
        (104, 400, "lookup/yaml", vec![("cardKey", k)]),
        (107, 400, "lookup/json", vec![("colour", "blue")]),
        (
            107,
            400,
            "updateCardKeyDetails/json",
            vec![("cardKey", k), ("customerTitle", "Professor Emeritus")],
        ),
        (
            108,
            400,
            "create/json",
            vec![("cardNumber", "4444333322221112"), ("cardExpiry", "1299")],
        ),
        (
            108,
            400,
            "create/json",
            vec![("cardNumber", "44443333"), ("cardExpiry", "1299")],
        ),
        (
            109,
            400,
            "create/json",
            vec![("cardNumber", "4444333322221111"), ("cardExpiry", "1399")],
        ),
        (
            109,
            400,
            "create/json",
            vec![
                ("cardNumber", "4444333322221111"),
                ("cardExpiryMonth", "12"),
            ],
        ),
        (
            109,
            400,
            "updateCardKeyDetails/json",
            vec![
                ("cardKey", k),
                ("cardExpiryMonth", "01"),
                ("cardExpiryYear", "2001"),
            ],
        ),
        (
            125,
            400,
            "lookup/json",
            vec![("merchantCustomerReference", &long_ref)],
        ),
        (144, 400, "updateCardKeyDetails/json", vec![("cardKey", k)]),
        (146, 400, "lookup/json", vec![("cardKey", "not-a-card-key")]),
        (146, 400, "enable/json", vec![]),
        (147, 400, "lookup/json", vec![("cardKey", SEED_CARD_KEY)]),
        (
            148,
            400,
            "lookup/json",
            vec![("merchantCustomerReference", "nobody")],
        ),
        (
            150,
            400,
            "enable/json",
            vec![("cardKey", k), ("cardNumber", "4444333322221111")],
        ),
        (
            150,
            400,
            "updateCardKeyDetails/json",
            vec![("cardKey", k), ("cardNumber", "4444333322221111")],
        ),
        (
            151,
            400,
            "tokeniseSessionKey/json",
            vec![("sessionKey", "xxx")],
        ),
        (
            152,
            400,
            "create/json",
            vec![
                ("cardKey", k),
                ("cardNumber", "4444333322221111"),
                ("cardExpiry", "1299"),
            ],
        ),
    ];
    for (code, status, path, params) in signed {
        let r = paythru(&app, &format!("/v3/token/{path}"), &auth(&params)).await;
        assert_eq!(
            error_of(&r),
            (status, code.to_string()),
            "{code} {path}: {}",
            r.text
        );
        // 104: the encoding asked for is unknown, so the answer is XML.
        assert_eq!(r.text.starts_with("<?xml"), code == 104, "{code}");
    }
    let tokenise_with_key = auth(&[("cardKey", k), ("sessionKey", "xxx")]);
    let r = paythru(&app, &url("tokeniseSessionKey"), &tokenise_with_key).await;
    assert_eq!(error_of(&r), (400, "152".into()));
    // Bodies that cannot be signed this way.
    let lookup = form(&auth(&[("cardKey", k)]), SEED_SHA_KEY, true);
    let raw: [(u16, u16, String); 5] = [
        (101, 400, String::new()),
        (107, 400, format!("{lookup}&cardKey={k}")), // a parameter twice
        (
            102,
            401,
            form(
                &[
                    ("apiKey", SEED_KEY),
                    ("apiPassword", "wrong"),
                    ("cardKey", k),
                ],
                SEED_SHA_KEY,
                true,
            ),
        ),
        (
            123,
            401,
            form(&auth(&[("cardKey", k)]), "not-the-sha-key", true),
        ),
        (
            123,
            401,
            form(&auth(&[("cardKey", k)]), SEED_SHA_KEY, false),
        ),
    ];
    for (code, status, body) in raw {
        let r = post_raw(&app, &url("lookup"), body).await;
        assert_eq!(
            error_of(&r),
            (status, code.to_string()),
            "{code}: {}",
            r.text
        );
    }
    // 105: revoked credentials; 106: credentials limited to lookup.
    app.service
        .paythru()
        .revoke_credentials(SEED_KEY)
        .await
        .unwrap();
    let r = paythru(&app, &url("lookup"), &auth(&[("cardKey", &key)])).await;
    assert_eq!(error_of(&r), (403, "105".into()));
    let limited = app
        .service
        .paythru()
        .create_credentials(&tenant, None, Some(&[PtMethod::Lookup]))
        .await
        .unwrap();
    let p = [
        ("apiKey", limited.api_key.as_str()),
        ("apiPassword", limited.api_password.as_str()),
        ("cardKey", key.as_str()),
    ];
    let r = send(
        &app,
        "192.0.2.71",
        Method::POST,
        &url("lookup"),
        "application/x-www-form-urlencoded",
        form(&p, &limited.sha_key, true),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send(
        &app,
        "192.0.2.71",
        Method::POST,
        &url("delete"),
        "application/x-www-form-urlencoded",
        form(&p, &limited.sha_key, true),
    )
    .await;
    assert_eq!(error_of(&r), (403, "106".into()));
    // Tenant isolation: another tenant's credentials do not see the card.
    let (other, _) = app.service.create_tenant("Other").await.unwrap();
    let theirs = app
        .service
        .paythru()
        .create_credentials(&other, None, None)
        .await
        .unwrap();
    let p = [
        ("apiKey", theirs.api_key.as_str()),
        ("apiPassword", theirs.api_password.as_str()),
        ("cardKey", key.as_str()),
    ];
    let r = send(
        &app,
        "192.0.2.72",
        Method::POST,
        &url("lookup"),
        "application/x-www-form-urlencoded",
        form(&p, &theirs.sha_key, true),
    )
    .await;
    assert_eq!(error_of(&r), (400, "147".into()));
}

async fn lookup_one(app: &TestApp, key: &str) -> Value {
    let r = paythru(app, "/v3/token/lookup/json", &auth(&[("cardKey", key)])).await;
    json_of(&r)["cardKeyDetails"]["0"].clone()
}

/// (error code, HTTP status, URL segments after /v3/token/, parameters
/// besides apiKey and apiPassword).
type ErrorCase<'a> = (u16, u16, &'a str, Vec<(&'a str, &'a str)>);

async fn post_raw(app: &TestApp, path: &str, body: String) -> Raw {
    send(
        app,
        "192.0.2.70",
        Method::POST,
        path,
        "application/x-www-form-urlencoded",
        body,
    )
    .await
}

#[tokio::test]
async fn paythru_ip_block_121_then_122() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let bad = [("apiKey", SEED_KEY), ("apiPassword", "wrong")];
    let ip = "192.0.2.80";
    // §2.4: "more than 5" failures block: the 6th is still answered 102.
    for i in 0..6 {
        let r = paythru_from(&app, ip, "/v3/token/lookup/xml", &bad).await;
        assert_eq!(error_of(&r), (401, "102".into()), "failure {}", i + 1);
    }
    // Blocked for a minute, even with the right credentials.
    let good = auth(&[("merchantCustomerReference", "x")]);
    let r = paythru_from(&app, ip, "/v3/token/lookup/xml", &good).await;
    assert_eq!(error_of(&r), (403, "121".into()));
    // Other addresses are not affected.
    let r = paythru_from(&app, "192.0.2.81", "/v3/token/lookup/xml", &good).await;
    assert_eq!(error_of(&r), (400, "148".into()));
    // After the minute (moved on in the database), four more failures
    // (signatures count too) make ten: blocked for five minutes.
    let pool = raw_pool(&app).await;
    sqlx::query("UPDATE auth_failures SET blocked_until = 0")
        .execute(&pool)
        .await
        .unwrap();
    for _ in 0..3 {
        let r = paythru_from(&app, ip, "/v3/token/lookup/xml", &bad).await;
        assert_eq!(error_of(&r), (401, "102".into()));
    }
    let body = form(
        &auth(&[("merchantCustomerReference", "x")]),
        "wrong-sha-key",
        true,
    );
    let r = send(
        &app,
        ip,
        Method::POST,
        "/v3/token/lookup/xml",
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(error_of(&r), (401, "123".into()));
    let r = paythru_from(&app, ip, "/v3/token/lookup/json", &good).await;
    assert_eq!(error_of(&r), (403, "122".into()));
    let until: i64 = sqlx::query_scalar("SELECT blocked_until FROM auth_failures")
        .fetch_one(&pool)
        .await
        .unwrap();
    let left = until - now() as i64;
    assert!((290..=300).contains(&left), "{left}");
}

async fn raw_pool(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&app.db.url).await.unwrap()
}

fn key_id(app: &TestApp) -> String {
    app.service
        .keyring()
        .active(paysecure_server::crypto::keys::Purpose::Capture)
        .unwrap()
        .key_id
        .clone()
}

fn encrypted_card(app: &TestApp, pan: &str, name: Option<&str>, at: u64) -> String {
    let (m, y) = future_expiry();
    let mut c = CardCapture::new(pan, m, y)
        .unwrap()
        .with_cvv("123")
        .unwrap();
    if let Some(n) = name {
        c = c.with_cardholder_name(n).unwrap();
    }
    c.encrypt(&app.capture_key, &key_id(app), at).unwrap()
}

#[tokio::test]
async fn paythru_client_post_capture_then_tokenise() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let r = paythru(
        &app,
        "/v3/clientpost/session/json",
        &auth(&[("merchantCustomerReference", "cust-7")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = json_of(&r);
    let session = v["sessionKey"].as_str().unwrap().to_owned();
    assert_eq!(session.len(), 40);
    assert!(v["expiresAt"].as_str().unwrap().ends_with('Z'));
    // Nothing captured yet: 151.
    let r = paythru(
        &app,
        "/v3/token/tokeniseSessionKey/json",
        &auth(&[("sessionKey", &session)]),
    )
    .await;
    assert_eq!(error_of(&r), (400, "151".into()));
    // The browser's request: cross-origin, JSON, no credentials; the session
    // key in the body, never in the URL.
    let capture_with = |session: String, card: String, ip: String| {
        let app = &app;
        let body = json!({"sessionKey": session, "encryptedCard": card});
        async move {
            app.call_from(
                &ip,
                Method::POST,
                "/v3/clientpost/card",
                None,
                &[("origin", "https://shop.example")],
                Some(body),
            )
            .await
        }
    };
    let open_session = || async {
        let r = paythru(
            &app,
            "/v3/clientpost/session/json",
            &auth(&[("merchantCustomerReference", "cust-8")]),
        )
        .await;
        json_of(&r)["sessionKey"].as_str().unwrap().to_owned()
    };
    // Stale, tampered, or for an unknown key: refused, and the session is
    // used up (a capture session is claimed before its card is decrypted,
    // so it cannot be replayed as a decryption oracle).
    let (m, y) = future_expiry();
    let other_kid = CardCapture::new("5555555555554444", m, y)
        .unwrap()
        .encrypt(&app.capture_key, "rsa-unknown", now())
        .unwrap();
    let mut tampered = encrypted_card(&app, "5555555555554444", None, now());
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let bad_cards = [
        (
            encrypted_card(&app, "5555555555554444", None, now() - 16 * 60),
            "CAPTURE_EXPIRED",
        ),
        (
            encrypted_card(&app, "5555555555554444", None, now() + 10 * 60),
            "INVALID_CAPTURE_TIME",
        ),
        (tampered, "INVALID_ENCRYPTED_CARD"),
        (other_kid, "UNKNOWN_KEY_ALIAS"),
        ("U3dhZ2dlciByb2Nrcw==".to_owned(), "INVALID_ENCRYPTED_CARD"),
    ];
    // (Each from its own address: failed captures count against it.)
    for (i, (card, code)) in bad_cards.into_iter().enumerate() {
        let one = open_session().await;
        let ip = format!("198.51.100.{}", 10 + i);
        let r = capture_with(one.clone(), card, ip.clone()).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code));
        let good = encrypted_card(&app, "5555555555554444", None, now());
        let again = capture_with(one, good, ip).await;
        assert_eq!(
            again.code(),
            "INVALID_SESSION_KEY",
            "{code}: the session is used up"
        );
    }
    let capture = |card: String| capture_with(session.clone(), card, "198.51.100.4".to_owned());
    let r = capture(encrypted_card(
        &app,
        "4444 3333 2222 1111",
        Some("MR J HOLDER"),
        now(),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert_eq!(r.body["card"]["maskedPan"], "444433******1111");
    assert_eq!(r.body["card"]["brand"], "VISA");
    // One card per session: a leaked session key cannot replace it.
    let replace = capture(encrypted_card(&app, "5555555555554444", None, now())).await;
    assert_eq!(
        (replace.status, replace.code()),
        (StatusCode::BAD_REQUEST, "INVALID_SESSION_KEY")
    );
    // The merchant tokenises the session: the card is the first capture.
    let r = paythru(
        &app,
        "/v3/token/tokeniseSessionKey/xml",
        &auth(&[("sessionKey", &session)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = xml_paths(&r.text);
    let d = "/paythruResponse/cardKeyDetails/cardKeyDetail";
    assert_eq!(
        xml_value(&p, &format!("{d}/card/cardNumber")),
        "444433******1111"
    );
    assert_eq!(
        xml_value(&p, &format!("{d}/card/cardholderName")),
        "MR J HOLDER"
    );
    assert_eq!(
        xml_value(&p, &format!("{d}/merchantCustomerReference")),
        "cust-7"
    );
    let key = xml_value(&p, &format!("{d}/cardKey"));
    let r = paythru(
        &app,
        "/v3/token/lookup/json",
        &auth(&[("merchantCustomerReference", "cust-7")]),
    )
    .await;
    assert_eq!(json_of(&r)["cardKeyDetails"]["0"]["cardKey"], key.as_str());
    // Single use; and no capture after that.
    let r = paythru(
        &app,
        "/v3/token/tokeniseSessionKey/xml",
        &auth(&[("sessionKey", &session)]),
    )
    .await;
    assert_eq!(error_of(&r), (400, "151".into()));
    let again = capture(encrypted_card(&app, "4444333322221111", None, now())).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::BAD_REQUEST, "INVALID_SESSION_KEY")
    );
    // CORS preflight.
    let mut req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v3/clientpost/card")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo::<std::net::SocketAddr>(
            "198.51.100.4:1".parse().unwrap(),
        ));
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn paythru_vault_holds_no_clear_pan() {
    let app = TestApp::new().await;
    if app.db.is_postgres() {
        return; // the file check is SQLite's; the binding checks run on both
    }
    seed_credentials(&app).await;
    create_card(&app, Some("cust-1")).await;
    let pool = raw_pool(&app).await;
    let rows: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT pan_sealed, details_sealed FROM stored_cards")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    for file in std::fs::read_dir(app.dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        for secret in [
            "4444333322221111",
            "johnsmith@example.com",
            "Amersham",
            SEED_SHA_KEY,
            SEED_PASSWORD,
        ] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in clear"
            );
        }
    }
}

// ------------------------------------------------------------------ Verifone

const SCOPE: &str = "0e48425a-f1bc-431a-b7d8-f866de8ba276";

async fn vf(app: &TestApp, method: Method, uri: &str, body: Option<Value>) -> crate::common::Reply {
    app.call(method, uri, Some(&app.tenant_key), &[], body)
        .await
}

fn put_body(app: &TestApp, card: String) -> Value {
    json!({"token_scope": SCOPE, "encrypted_card": card, "public_key_alias": key_id(app)})
}

#[tokio::test]
async fn verifone_token_lifecycle() {
    let app = TestApp::new().await;
    let (m, y) = future_expiry();
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(
            &app,
            encrypted_card(&app, "4929123456781236", Some("MR J HOLDER"), now()),
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = r.body.clone();
    let id = t["reuse_token"].as_str().unwrap().to_owned();
    assert!((14..=255).contains(&id.len()));
    assert_eq!(t["bin"], "492912");
    assert_eq!(t["last_four"], "1236");
    assert_eq!(
        (t["expiry_month"].as_i64(), t["expiry_year"].as_i64()),
        (Some(i64::from(m)), Some(i64::from(y)))
    );
    assert_eq!(t["card_holder_name"], "MR J HOLDER");
    assert_eq!(t["brand"], "VISA");
    assert_eq!(t["token_status"], "ACTIVE");
    assert_eq!(t["token_scope"], SCOPE);
    assert_eq!(t["reuse_token_type"], "INTERNAL");
    assert_eq!(t["created_at"].as_str().unwrap().len(), 10);
    let analytics = t["analytics_token"].as_str().unwrap().to_owned();
    assert_eq!(analytics.len(), 64);
    assert_ne!(analytics, id);
    assert!(!analytics.contains("4929123456781236"));
    // The same card in the same scope: the same token, updated.
    let mut body = put_body(
        &app,
        encrypted_card(&app, "4929-1234-5678-1236", Some("J HOLDER"), now()),
    );
    body["card_brand"] = json!("CB");
    body["token_expiry_date"] = json!("2099-12-31");
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(body)).await;
    assert_eq!(r.body["reuse_token"], id.as_str());
    assert_eq!(r.body["card_holder_name"], "J HOLDER");
    assert_eq!(r.body["brand"], "CB");
    assert_eq!(r.body["token_expiry_date"], "2099-12-31");
    assert_eq!(r.body["analytics_token"], analytics.as_str());
    // Another scope: another token, another analytics token.
    let mut body = put_body(&app, encrypted_card(&app, "4929123456781236", None, now()));
    body["token_scope"] = json!("11111111-2222-3333-4444-555555555555");
    let other = vf(&app, Method::PUT, "/api/v2/card", Some(body)).await;
    assert_ne!(other.body["reuse_token"], id.as_str());
    assert_ne!(other.body["analytics_token"], analytics.as_str());
    // GET.
    let r = vf(&app, Method::GET, &format!("/api/v2/card/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["bin"], "492912");
    // PATCH: partial fields, then a new PAN.
    let r = vf(&app, Method::PATCH, &format!("/api/v2/card/{id}"), Some(json!({"card_holder_email": "j.holder@example.com", "cvv": "123", "expiry_month": 1, "expiry_year": 2098}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["card_holder_email"], "j.holder@example.com");
    assert_eq!(
        (
            r.body["expiry_month"].as_i64(),
            r.body["expiry_year"].as_i64()
        ),
        (Some(1), Some(2098))
    );
    let r = vf(&app, Method::PATCH, &format!("/api/v2/card/{id}"), Some(json!({"encrypted_card": encrypted_card(&app, "5555555555554444", None, now()), "public_key_alias": key_id(&app)}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["bin"].as_str(),
            r.body["last_four"].as_str(),
            r.body["brand"].as_str()
        ),
        (Some("555555"), Some("4444"), Some("MASTERCARD"))
    );
    assert_ne!(r.body["analytics_token"], analytics.as_str());
    assert_eq!(r.body["reuse_token"], id.as_str());
    // A PAN that already has a token in the scope cannot be relinked.
    let third = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(
            &app,
            encrypted_card(&app, "4111111111111111", None, now()),
        )),
    )
    .await;
    let r = vf(
        &app,
        Method::PATCH,
        &format!("/api/v2/card/{id}"),
        Some(json!({"encrypted_card": encrypted_card(&app, "4111111111111111", None, now())})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "CARD_ALREADY_TOKENISED")
    );
    assert_ne!(third.body["reuse_token"], id.as_str());
    // Suspend: visible, not usable; activate again.
    for _ in 0..2 {
        let r = vf(
            &app,
            Method::PATCH,
            &format!("/api/v2/card/{id}/suspend"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        vf(&app, Method::GET, &format!("/api/v2/card/{id}"), None)
            .await
            .body["token_status"],
        "SUSPENDED"
    );
    let r = vf(
        &app,
        Method::PATCH,
        &format!("/api/v2/card/{id}"),
        Some(json!({"card_holder_name": "X"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "TOKEN_SUSPENDED")
    );
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(
            &app,
            encrypted_card(&app, "5555555555554444", None, now()),
        )),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "TOKEN_SUSPENDED")
    );
    let r = vf(
        &app,
        Method::PATCH,
        &format!("/api/v2/card/{id}/activate"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        vf(&app, Method::GET, &format!("/api/v2/card/{id}"), None)
            .await
            .body["token_status"],
        "ACTIVE"
    );
    // Delete: irreversible.
    assert_eq!(
        vf(&app, Method::DELETE, &format!("/api/v2/card/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    for method in [Method::GET, Method::DELETE, Method::PATCH] {
        let uri = if method == Method::PATCH {
            format!("/api/v2/card/{id}/activate")
        } else {
            format!("/api/v2/card/{id}")
        };
        let r = vf(&app, method.clone(), &uri, None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "TOKEN_NOT_FOUND"),
            "{method}"
        );
    }
    // Tenant isolation and credentials.
    let (_, other_key) = app.service.create_tenant("Other").await.unwrap();
    let tid = third.body["reuse_token"].as_str().unwrap();
    let r = app
        .call(
            Method::GET,
            &format!("/api/v2/card/{tid}"),
            Some(&other_key),
            &[],
            None,
        )
        .await;
    assert_eq!(r.code(), "TOKEN_NOT_FOUND");
    let r = app
        .call(Method::GET, &format!("/api/v2/card/{tid}"), None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn verifone_token_expiry() {
    let app = TestApp::new().await;
    let mut body = put_body(&app, encrypted_card(&app, "4111111111111111", None, now()));
    body["token_expiry_date"] = json!("2000-01-01");
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(body.clone())).await;
    assert_eq!(r.code(), "INVALID_TOKEN_EXPIRY_DATE");
    body["token_expiry_date"] = json!("2099-01-01");
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(body)).await;
    let id = r.body["reuse_token"].as_str().unwrap().to_owned();
    // The day passes (moved in the database): EXPIRED, and unusable.
    let pool = raw_pool(&app).await;
    sqlx::query("UPDATE stored_cards SET token_expiry = '2001-01-01'")
        .execute(&pool)
        .await
        .unwrap();
    let uri = format!("/api/v2/card/{id}");
    assert_eq!(
        vf(&app, Method::GET, &uri, None).await.body["token_status"],
        "EXPIRED"
    );
    let r = vf(
        &app,
        Method::PATCH,
        &uri,
        Some(json!({"card_holder_name": "X"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "TOKEN_EXPIRED")
    );
    let r = vf(&app, Method::PATCH, &format!("{uri}/activate"), None).await;
    assert_eq!(r.code(), "TOKEN_EXPIRED");
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(
            &app,
            encrypted_card(&app, "4111111111111111", None, now()),
        )),
    )
    .await;
    assert_eq!(r.code(), "TOKEN_EXPIRED");
    // Renewed by a new expiry date.
    let r = vf(
        &app,
        Method::PATCH,
        &uri,
        Some(json!({"token_expiry_date": "2099-06-30"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["token_status"], "ACTIVE");
}

#[tokio::test]
async fn verifone_validation_and_capture_errors() {
    let app = TestApp::new().await;
    let good = || put_body(&app, encrypted_card(&app, "4111111111111111", None, now()));
    let with = |k: &str, v: Value| {
        let mut b = good();
        b[k] = v;
        b
    };
    let (m, y) = future_expiry();
    let long_name = CardCapture::new("4111111111111111", m, y)
        .unwrap()
        .with_cardholder_name(&"N".repeat(31))
        .unwrap()
        .encrypt(&app.capture_key, &key_id(&app), now())
        .unwrap();
    let cases: Vec<(&str, StatusCode, Value)> = vec![
        // The seed's own examples: its encrypted_card is base64 of "Swagger rocks".
        (
            "INVALID_ENCRYPTED_CARD",
            StatusCode::BAD_REQUEST,
            with("encrypted_card", json!("U3dhZ2dlciByb2Nrcw==")),
        ),
        (
            "INVALID_TOKEN_SCOPE",
            StatusCode::BAD_REQUEST,
            with("token_scope", json!("scope-1")),
        ),
        (
            "INVALID_REQUEST",
            StatusCode::BAD_REQUEST,
            with("surprise", json!(1)),
        ),
        (
            "INVALID_REQUEST",
            StatusCode::BAD_REQUEST,
            json!({"token_scope": SCOPE, "public_key_alias": key_id(&app)}),
        ),
        (
            "UNKNOWN_KEY_ALIAS",
            StatusCode::BAD_REQUEST,
            with("public_key_alias", json!("rsa-other")),
        ),
        (
            "CARD_BRAND_MISMATCH",
            StatusCode::BAD_REQUEST,
            with("card_brand", json!("MASTERCARD")),
        ),
        (
            "UNSUPPORTED_TOKEN_TYPE",
            StatusCode::BAD_REQUEST,
            with("token_type", json!("ANALYTICS")),
        ),
        (
            "UNSUPPORTED_REUSE_TOKEN_TYPE",
            StatusCode::BAD_REQUEST,
            with("reuse_token_type", json!("EXTERNAL")),
        ),
        (
            "INVALID_CARD_BRAND",
            StatusCode::BAD_REQUEST,
            with("card_brand", json!("visa card")),
        ),
        (
            "CAPTURE_EXPIRED",
            StatusCode::BAD_REQUEST,
            with(
                "encrypted_card",
                json!(encrypted_card(
                    &app,
                    "4111111111111111",
                    None,
                    now() - 15 * 60 - 5
                )),
            ),
        ),
        (
            "INVALID_CARD_HOLDER_NAME",
            StatusCode::BAD_REQUEST,
            with("encrypted_card", json!(long_name)),
        ),
    ];
    for (code, status, body) in cases {
        let r = vf(&app, Method::PUT, "/api/v2/card", Some(body)).await;
        assert_eq!((r.status, r.code()), (status, code), "{:?}", r.body);
    }
    // A capture within 15 minutes is fine.
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(with(
            "encrypted_card",
            json!(encrypted_card(
                &app,
                "4111111111111111",
                None,
                now() - 14 * 60
            )),
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["reuse_token"].as_str().unwrap().to_owned();
    let uri = format!("/api/v2/card/{id}");
    for (body, code) in [
        (json!({}), "EMPTY_UPDATE"),
        (json!({"cvv": "12"}), "INVALID_CVV"),
        (
            json!({"card_holder_name": "N".repeat(31)}),
            "INVALID_CARD_HOLDER_NAME",
        ),
        (
            json!({"card_holder_email": "no-at-sign"}),
            "INVALID_CARD_HOLDER_EMAIL",
        ),
        (json!({"expiry_month": 13}), "INVALID_CARD_EXPIRY"),
        (json!({"expiry_year": 2001}), "INVALID_CARD_EXPIRY"),
        (
            json!({"scheme_token_action": "EXPLODE"}),
            "INVALID_SCHEME_TOKEN_ACTION",
        ),
        (json!({"public_key_alias": "rsa-x"}), "INVALID_REQUEST"),
    ] {
        let r = vf(&app, Method::PATCH, &uri, Some(body.clone())).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, code),
            "{body}"
        );
    }
    // The seed's example id is well-formed but unknown; short ids are refused.
    assert_eq!(
        vf(&app, Method::GET, "/api/v2/card/VFrandom54965984", None)
            .await
            .code(),
        "TOKEN_NOT_FOUND"
    );
    assert_eq!(
        vf(&app, Method::GET, "/api/v2/card/VFshort", None)
            .await
            .code(),
        "INVALID_TOKEN_ID"
    );
    // A retired key is refused; the previous one still works.
    let card_for_old_key = encrypted_card(&app, "5555555555554444", None, now());
    let old = key_id(&app);
    app.service
        .rotate_keys(paysecure_server::crypto::keys::Purpose::Capture)
        .await
        .unwrap();
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(json!({"token_scope": SCOPE, "encrypted_card": card_for_old_key, "public_key_alias": old}))).await;
    assert_eq!(r.status, StatusCode::OK, "previous key: {:?}", r.body);
    app.service
        .rotate_keys(paysecure_server::crypto::keys::Purpose::Capture)
        .await
        .unwrap();
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(json!({"token_scope": SCOPE, "encrypted_card": card_for_old_key, "public_key_alias": old}))).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "UNKNOWN_KEY_ALIAS")
    );
    // An ephemeral (cardholder) key may not manage tokens.
    let card = app.issue_card().await;
    let eph = app
        .ephemeral(card["token"].as_str().unwrap(), &["pan"])
        .await;
    let r = app.call(Method::GET, &uri, Some(&eph), &[], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn openapi_lists_both_apis() {
    let app = TestApp::new().await;
    let r = app
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await;
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/v3/token/{method}/{encoding}",
        "/v3/clientpost/session/{encoding}",
        "/v3/clientpost/card",
        "/api/v2/card",
        "/api/v2/card/{id}",
        "/api/v2/card/{id}/suspend",
        "/api/v2/card/{id}/activate",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
}

/// An encrypted card opens once: a copy (from a log, a HAR file, a relay)
/// cannot vault the card again, in this tenant or another one. And a PATCH
/// of a token that does not exist is refused before the card is decrypted
/// (the card stays unused).
#[tokio::test]
async fn an_encrypted_card_opens_once_and_only_after_authorization() {
    let app = TestApp::new().await;
    let card = encrypted_card(&app, "5555555555554444", None, now());
    let r = vf(
        &app,
        Method::PATCH,
        "/api/v2/card/VF000000000000000",
        Some(json!({"encrypted_card": card, "public_key_alias": key_id(&app)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(&app, card.clone())),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (_, other_key) = app.service.create_tenant("Other Bank").await.unwrap();
    for key in [app.tenant_key.as_str(), other_key.as_str()] {
        let r = app
            .call(
                Method::PUT,
                "/api/v2/card",
                Some(key),
                &[],
                Some(put_body(&app, card.clone())),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "CARD_ALREADY_USED")
        );
    }
}

// ------------------------------------------------------------ issue #19

/// Every failure under the Paythru prefix answers in the Paythru v3 document's error
/// format (§4.0), never in our JSON envelope: other HTTP methods, other
/// versions, trailing slashes and extra segments (103, in the encoding the
/// path asks for), and a body that is not form-encoded (101). The seed's
/// own spelling of the media type (§2.1 `application/form-url-encoded`)
/// and a charset parameter are accepted.
#[tokio::test]
async fn paythru_failures_answer_in_paythru_format() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let body = form(&auth(&[("cardKey", SEED_CARD_KEY)]), SEED_SHA_KEY, true);
    let form_type = "application/x-www-form-urlencoded";
    /// HTTP method, path, Content-Type, (status, errorCode), JSON answer.
    type Case<'a> = (Method, &'a str, &'a str, (u16, &'a str), bool);
    let cases: Vec<Case<'_>> = vec![
        (
            Method::GET,
            "/v3/token/lookup/json",
            form_type,
            (405, "103"),
            true,
        ),
        (
            Method::PUT,
            "/v3/token/lookup",
            form_type,
            (405, "103"),
            false,
        ),
        (
            Method::DELETE,
            "/v3/token/enable/xml",
            form_type,
            (405, "103"),
            false,
        ),
        (
            Method::POST,
            "/v3/token/lookup/json/",
            form_type,
            (400, "103"),
            true,
        ),
        (
            Method::POST,
            "/v3/token/lookup/",
            form_type,
            (400, "103"),
            false,
        ),
        (
            Method::POST,
            "/v2/token/lookup/json",
            form_type,
            (400, "103"),
            true,
        ),
        (
            Method::POST,
            "/v4/token/lookup",
            form_type,
            (400, "103"),
            false,
        ),
        (Method::POST, "/v3/token", form_type, (400, "103"), false),
        (Method::POST, "/v3/token/", form_type, (400, "103"), false),
        (
            Method::POST,
            "/v3/token/lookup/json/extra",
            form_type,
            (400, "103"),
            false,
        ),
        (
            Method::POST,
            "/v3/token/nosuch/json",
            form_type,
            (400, "103"),
            true,
        ),
        (
            Method::POST,
            "/v3/token/lookup/html",
            form_type,
            (400, "104"),
            false,
        ),
        (
            Method::POST,
            "/v3/token/lookup/json",
            "application/json",
            (400, "101"),
            true,
        ),
        (
            Method::POST,
            "/v3/token/lookup/json",
            "text/plain",
            (400, "101"),
            true,
        ),
        (
            Method::POST,
            "/v3/token/lookup/xml",
            "",
            (400, "101"),
            false,
        ),
        // Through: the card key is simply unknown.
        (
            Method::POST,
            "/v3/token/lookup/json",
            "application/form-url-encoded",
            (400, "147"),
            true,
        ),
        (
            Method::POST,
            "/v3/token/lookup/json",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            (400, "147"),
            true,
        ),
    ];
    for (method, uri, ctype, (status, code), json) in cases {
        let r = send(&app, "192.0.2.30", method.clone(), uri, ctype, body.clone()).await;
        assert_eq!(
            error_of(&r),
            (status, code.to_owned()),
            "{method} {uri} {ctype}: {}",
            r.text
        );
        assert_eq!(
            r.text.starts_with("<?xml"),
            !json,
            "{method} {uri}: {}",
            r.text
        );
        assert!(
            !r.text.contains("\"error\""),
            "not our envelope: {}",
            r.text
        );
        if method != Method::POST {
            assert_eq!(r.headers["allow"], "POST");
        }
    }
    // The Client POST session call is signed like the API and answers like it.
    let r = send(
        &app,
        "192.0.2.30",
        Method::GET,
        "/v3/clientpost/session/json",
        form_type,
        String::new(),
    )
    .await;
    assert_eq!(error_of(&r), (405, "103".to_owned()), "{}", r.text);
    let r = send(
        &app,
        "192.0.2.30",
        Method::POST,
        "/v3/clientpost/session/json",
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!(error_of(&r), (400, "101".to_owned()), "{}", r.text);
    // A body over the limit: 107 in the API's format, status 413.
    let big = format!(
        "{body}&cardDescription={}",
        "x".repeat(paysecure_server::http::BODY_LIMIT)
    );
    let r = send(
        &app,
        "192.0.2.30",
        Method::POST,
        "/v3/token/lookup/json",
        form_type,
        big,
    )
    .await;
    assert_eq!(error_of(&r), (413, "107".to_owned()), "{}", r.text);
    // None of these counted as failed authentications.
    let pool = raw_pool(&app).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_failures")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// `cardType` and `cardBank` come from the BIN table where it resolves the
/// card; an unknown BIN leaves them null (the seed's "where resolved").
#[tokio::test]
async fn paythru_card_type_and_bank_from_the_bin_table() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    app.service.load_bins(SANDBOX_CSV).await.unwrap();
    let (m, y) = future_expiry();
    let expiry = format!("{m:02}{:02}", y % 100);
    for (pan, card_type, bank, scheme) in [
        (
            "4444333322221111",
            json!("CREDIT"),
            json!("paythru"),
            json!("VISA"),
        ),
        (
            "5555555555554444",
            json!("CREDIT"),
            json!("Sandbox Bank Mastercard"),
            json!("MASTERCARD"),
        ),
        ("4000000000000002", Value::Null, Value::Null, json!("VISA")),
    ] {
        let mut params = auth(&[]);
        params.extend([("cardNumber", pan), ("cardExpiry", expiry.as_str())]);
        let r = paythru(&app, "/v3/token/create/json", &params).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = json_of(&r);
        let card = &v["cardKeyDetails"]["0"]["card"];
        assert_eq!(card["cardType"], card_type, "{pan}");
        assert_eq!(card["cardBank"], bank, "{pan}");
        assert_eq!(card["cardScheme"], scheme, "{pan}");
        // Never set: "" like a cleared field.
        assert_eq!(card["cardDescription"], "", "{pan}");
        assert_eq!(card["cardholderName"], "", "{pan}");
        // Lookup says the same.
        let key = v["cardKeyDetails"]["0"]["cardKey"]
            .as_str()
            .unwrap()
            .to_owned();
        let d = lookup_one(&app, &key).await;
        assert_eq!(d["card"]["cardType"], card_type);
        assert_eq!(d["card"]["cardBank"], bank);
    }
}

fn raw_card(app: &TestApp, json: &str) -> String {
    paysecure_core::jwe::encrypt_compact(json.as_bytes(), &app.capture_key, &key_id(app)).unwrap()
}

fn capture_time(t: u64) -> String {
    paysecure_server::util::time::rfc3339(paysecure_server::util::time::UnixTime(t as i64))
}

/// Seed 004's card JSON as an integrator writes it: expiry as JSON numbers
/// (or strings), `expiry_year` up to 9999; distinct codes for a missing
/// `captureTime`, a missing `cardNumber` and an unknown tag; `card_brand`
/// checked against the card; an unknown `public_key_alias` is
/// `UNKNOWN_KEY_ALIAS`, a known one the card was not encrypted for
/// `KEY_ALIAS_MISMATCH`; `currency`, `issuer_country`, `issuer_name`,
/// `type`, `variant` from the BIN table, absent for an unknown BIN.
#[tokio::test]
async fn verifone_card_json_bin_fields_brand_and_alias() {
    let app = TestApp::new().await;
    app.service.load_bins(SANDBOX_CSV).await.unwrap();
    let (_, y) = future_expiry();
    let t = capture_time(now());
    let put = |card: String| put_body(&app, card);
    // Numbers for the expiry.
    let card = raw_card(
        &app,
        &format!(
            r#"{{"cardNumber":"5555555555554444","expiryMonth":12,"expiryYear":{y},"captureTime":"{t}"}}"#
        ),
    );
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(put(card))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (field, want) in [
        ("bin", json!("555555")),
        ("last_four", json!("4444")),
        ("expiry_month", json!(12)),
        ("expiry_year", json!(y)),
        ("brand", json!("MASTERCARD")),
        ("currency", json!("USD")),
        ("issuer_country", json!("USA")),
        ("issuer_name", json!("Sandbox Bank Mastercard")),
        ("type", json!("CREDIT")),
        ("variant", json!("NEW_WORLD")),
        ("token_status", json!("ACTIVE")),
        ("reuse_token_type", json!("INTERNAL")),
        ("token_scope", json!(SCOPE)),
    ] {
        assert_eq!(r.body[field], want, "{field}: {:?}", r.body);
    }
    let id = r.body["reuse_token"].as_str().unwrap().to_owned();
    let got = vf(&app, Method::GET, &format!("/api/v2/card/{id}"), None).await;
    assert_eq!(got.body["issuer_name"], "Sandbox Bank Mastercard");
    assert_eq!(got.body["type"], "CREDIT");
    // Year 9999 (a number), and an unknown BIN: the BIN fields are absent.
    let card = raw_card(
        &app,
        &format!(
            r#"{{"cardNumber":"4000000000000002","expiryMonth":"01","expiryYear":9999,"captureTime":"{t}"}}"#
        ),
    );
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(put(card))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["expiry_year"], 9999);
    for field in [
        "currency",
        "issuer_country",
        "issuer_name",
        "type",
        "variant",
    ] {
        assert!(r.body.get(field).is_none(), "{field}: {:?}", r.body);
    }
    let visa = r.body["reuse_token"].as_str().unwrap().to_owned();
    let r = vf(
        &app,
        Method::PATCH,
        &format!("/api/v2/card/{visa}"),
        Some(json!({"expiry_year": 9999, "expiry_month": 2})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["expiry_year"].clone()),
        (StatusCode::OK, json!(9999))
    );
    let r = vf(
        &app,
        Method::PATCH,
        &format!("/api/v2/card/{visa}"),
        Some(json!({"expiry_year": 10000})),
    )
    .await;
    assert_eq!(r.code(), "INVALID_CARD_EXPIRY");
    // Distinct codes for what is wrong inside a card that decrypted.
    for (json, code) in [
        (
            format!(r#"{{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":{y}}}"#),
            "MISSING_CAPTURE_TIME",
        ),
        (
            format!(r#"{{"expiryMonth":12,"expiryYear":{y},"captureTime":"{t}"}}"#),
            "MISSING_CARD_NUMBER",
        ),
        (
            format!(
                r#"{{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":{y},"captureTime":"{t}","pin":"1234"}}"#
            ),
            "UNKNOWN_CARD_TAG",
        ),
        (
            format!(
                r#"{{"cardNumber":"4111111111111111","expiryMonth":12,"expiryYear":{y},"captureTime":"soon"}}"#
            ),
            "INVALID_CAPTURE_TIME",
        ),
    ] {
        let r = vf(
            &app,
            Method::PUT,
            "/api/v2/card",
            Some(put(raw_card(&app, &json))),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, code),
            "{json}"
        );
    }
    // A card that does not decrypt stays one opaque code.
    let mut broken = raw_card(
        &app,
        &format!(r#"{{"cardNumber":"4111111111111111","captureTime":"{t}"}}"#),
    );
    broken.push('A');
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(put(broken))).await;
    assert_eq!(r.code(), "INVALID_ENCRYPTED_CARD");
    // card_brand against the card: the same brand, CB on a VISA, a local
    // scheme name; a standard name of another brand is refused.
    let with_brand = |pan: &str, brand: &str| {
        let mut b = put(encrypted_card(&app, pan, None, now()));
        b["card_brand"] = json!(brand);
        b["token_scope"] = json!(uuid_for(brand, pan));
        b
    };
    for (pan, brand, want) in [
        ("4111111111111111", "VISA", Ok("VISA")),
        ("4111111111111111", "CB", Ok("CB")),
        ("4111111111111111", "DANKORT", Ok("DANKORT")),
        ("6200000000000005", "UPI", Ok("UPI")),
        ("4111111111111111", "AMEX", Err("CARD_BRAND_MISMATCH")),
        ("5555555555554444", "CB", Ok("CB")),
        ("378282246310005", "CB", Err("CARD_BRAND_MISMATCH")),
    ] {
        let body = with_brand(pan, brand);
        let r = vf(&app, Method::PUT, "/api/v2/card", Some(body)).await;
        match want {
            Ok(b) => assert_eq!(
                (r.status, r.body["brand"].clone()),
                (StatusCode::OK, json!(b)),
                "{pan} {brand}"
            ),
            Err(c) => assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, c),
                "{pan} {brand}"
            ),
        }
    }
    // Without card_brand, UnionPay reads UPI (the Verifone document's list).
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put(encrypted_card(&app, "6200000000000005", None, now()))),
    )
    .await;
    assert_eq!(r.body["brand"], "UPI");
    // An alias that names no key, and one that names another key.
    let card = encrypted_card(&app, "4111111111111111", None, now());
    let mut b = put(card.clone());
    b["public_key_alias"] = json!("rsa-0000000000000000");
    let r = vf(&app, Method::PUT, "/api/v2/card", Some(b)).await;
    assert_eq!(r.code(), "UNKNOWN_KEY_ALIAS");
    let old = key_id(&app);
    app.service
        .rotate_keys(paysecure_server::crypto::keys::Purpose::Capture)
        .await
        .unwrap();
    let fresh = encrypted_card(&app, "4111111111111111", None, now());
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(json!({"token_scope": SCOPE, "encrypted_card": fresh, "public_key_alias": old})),
    )
    .await;
    assert_eq!(r.code(), "KEY_ALIAS_MISMATCH");
}

/// A token scope per (brand, pan) case, so each case makes its own token.
fn uuid_for(a: &str, b: &str) -> String {
    let h = paysecure_server::util::codec::sha256(format!("{a}/{b}").as_bytes());
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The same encrypted card is refused when sent again within its 15
/// minutes, in the same tenant, even with session-id reuse allowed (the
/// setting that also switches off the key-level single use): a keyed
/// digest of tenant and ciphertext, decided by the database, so two nodes
/// racing the same card accept it exactly once. The records are purged
/// after the 15 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_encrypted_card_replayed_within_its_15_minutes_is_refused_on_every_node() {
    use paysecure_server::domain::service::Principal;
    use paysecure_server::domain::verifone::PutCard;
    use paysecure_server::storage::{Storage, StorageOptions};
    use paysecure_server::ServiceConfig;
    use std::sync::Arc;
    let config = ServiceConfig {
        single_use_session_ids: false,
        ..Default::default()
    };
    let app = TestApp::with_config(config.clone()).await;
    let card = encrypted_card(&app, "5555555555554444", None, now());
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(&app, card.clone())),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(&app, card.clone())),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "CARD_ALREADY_USED")
    );
    // Bound to the tenant: another tenant's record is its own (with
    // single-use session ids on, the default, the key-level record refuses
    // it there too: an_encrypted_card_opens_once_and_only_after_authorization).
    let (_, other_key) = app.service.create_tenant("Other Bank").await.unwrap();
    let r = app
        .call(
            Method::PUT,
            "/api/v2/card",
            Some(&other_key),
            &[],
            Some(put_body(&app, card)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Two nodes race one card: exactly one acceptance.
    let storage = Storage::connect(&app.db.url, &StorageOptions::default())
        .await
        .unwrap();
    let b = Arc::new(crate::common::test_service(storage, config).await);
    let nodes = [Arc::clone(&app.service), b];
    let card = encrypted_card(&app, "4111111111111111", None, now());
    let mut tasks = vec![];
    for i in 0..8 {
        let node = Arc::clone(&nodes[i % 2]);
        let req = PutCard {
            token_scope: SCOPE.into(),
            encrypted_card: card.clone(),
            card_brand: None,
            token_type: None,
            reuse_token_type: None,
            token_expiry_date: None,
            public_key_alias: key_id(&app),
        };
        let principal = Principal::Tenant {
            tenant_id: app.tenant_id.clone(),
        };
        tasks.push(tokio::spawn(async move {
            node.verifone().put_card(&principal, &req).await.map(|_| ())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(paysecure_server::domain::error::Error::BadRequest { code, .. }) => {
                assert_eq!(code.as_str(), "CARD_ALREADY_USED")
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 1, "accepted exactly once across two nodes");
    // Purged once the 15 minutes are over (moved on in the database).
    let pool = raw_pool(&app).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM encrypted_card_uses")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 3);
    sqlx::query("UPDATE encrypted_card_uses SET expires_at = 0")
        .execute(&pool)
        .await
        .unwrap();
    app.service.housekeeping().await.unwrap();
    assert_eq!(count().await, 0);
}

/// The BIN table: loaded as a whole (a bad file changes nothing and names
/// its line), versioned, read by a node that starts later, and replaced
/// atomically.
#[tokio::test]
async fn bin_table_load_replace_and_other_nodes() {
    use paysecure_server::domain::bins::{BinLoadError, CSV_HEADER};
    use paysecure_server::storage::{Storage, StorageOptions};
    use paysecure_server::ServiceConfig;
    let app = TestApp::new().await;
    assert!(app
        .service
        .bin_info("4111111111111111")
        .await
        .unwrap()
        .is_none());
    // What `serve --demo` does: the sandbox ranges into an empty table only.
    assert!(app.service.load_sandbox_bins_if_empty().await.unwrap());
    assert!(!app.service.load_sandbox_bins_if_empty().await.unwrap());
    let done = app.service.load_bins(SANDBOX_CSV).await.unwrap();
    assert_eq!((done.ranges, done.version), (19, 2));
    let info = app
        .service
        .bin_info("4111111111111111")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (info.scheme.as_str(), info.country.as_deref()),
        ("VISA", Some("USA"))
    );
    // A bad file: the error names the line, the table stays.
    let bad = format!("{CSV_HEADER}\n41111111,,VISA,CREDIT,,A,,\n4111,4112,VISA,DEBIT,,B,,\n4112,4113,VISA,,,C,,\n");
    match app.service.load_bins(&bad).await {
        Err(BinLoadError::File(e)) => {
            assert_eq!(e.line, 4, "{e}");
            assert!(
                e.to_string().contains("overlaps the range of line 3"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.service
            .bin_info("4111111111111111")
            .await
            .unwrap()
            .unwrap()
            .issuer_name
            .as_deref(),
        Some("Sandbox Bank Visa")
    );
    // Another node started now reads the table from the database.
    let storage = Storage::connect(&app.db.url, &StorageOptions::default())
        .await
        .unwrap();
    let b = crate::common::test_service(storage, ServiceConfig::default()).await;
    assert_eq!(
        b.bin_info("5555555555554444")
            .await
            .unwrap()
            .unwrap()
            .variant
            .as_deref(),
        Some("NEW_WORLD")
    );
    // Replaced as a whole: version 2, old ranges gone, longest prefix wins.
    let next = format!(
        "{CSV_HEADER}\n4111,4111,VISA,DEBIT,,Short,GBR,GBP\n41111111,,VISA,CREDIT,,Long,,\n"
    );
    assert_eq!(app.service.load_bins(&next).await.unwrap().version, 3);
    let name = |i: Option<paysecure_server::domain::bins::BinInfo>| i.and_then(|i| i.issuer_name);
    assert_eq!(
        name(app.service.bin_info("4111111111111111").await.unwrap()).as_deref(),
        Some("Long")
    );
    assert_eq!(
        name(app.service.bin_info("4111222211112222").await.unwrap()).as_deref(),
        Some("Short")
    );
    assert!(app
        .service
        .bin_info("5555555555554444")
        .await
        .unwrap()
        .is_none());
    // The other node keeps its copy until its next check (30 s, stated in
    // docs/deployment.md), then sees version 2.
    assert!(b.bin_info("5555555555554444").await.unwrap().is_some());
}

/// `paysecure-server bins load FILE` (a real process): a bad file exits
/// non-zero naming its line and changes nothing; `sandbox` and a file
/// replace the table, each load a new version.
#[tokio::test]
async fn cli_bins_load() {
    use paysecure_server::storage::{Storage, StorageOptions};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = crate::common::TestDb::new(&data).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_paysecure-server"))
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "--database-url",
                &db.url,
            ])
            .args(args)
            .env("PAYSECURE_MASTER_KEY_FILE", data.join("master.key"))
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let out = run(&["bins", "load", "sandbox"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("BIN table replaced: 19 ranges, version 1"),
        "{}",
        text(&out.stdout)
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{}\n4111,,VISA,CREDIT,,A,GBR,GBP\n4111,4112,VISA,,,B,UK,\n",
            paysecure_server::domain::bins::CSV_HEADER
        ),
    )
    .unwrap();
    let out = run(&["bins", "load", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 3: ") && err.contains("nothing changed"),
        "{err}"
    );
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "# ours\n{}\n45392600,45392699,VISA,DEBIT,CLASSIC,Example Bank,GBR,GBP\n",
            paysecure_server::domain::bins::CSV_HEADER
        ),
    )
    .unwrap();
    let out = run(&["bins", "load", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("BIN table replaced: 1 ranges, version 2"),
        "{}",
        text(&out.stdout)
    );
    let storage = Storage::connect(&db.url, &StorageOptions::default())
        .await
        .unwrap();
    let rows = storage.bin_ranges().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].low.as_str(), rows[0].issuer_name.as_deref()),
        ("45392600", Some("Example Bank"))
    );
    assert_eq!(storage.bin_table_version().await.unwrap(), Some(2));
}

/// `serve --demo` (a real process) loads the sandbox BIN table into an
/// empty table, and leaves an operator's table alone.
#[tokio::test]
async fn serve_demo_loads_the_sandbox_bins_into_an_empty_table_only() {
    use paysecure_server::storage::{Storage, StorageOptions};
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = crate::common::TestDb::new(&data).await;
    let command = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_paysecure-server"));
        c.args([
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db.url,
        ])
        .env("PAYSECURE_MASTER_KEY_FILE", data.join("master.key"));
        c
    };
    let serve_once = || {
        let mut child = command()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .args(["--www", concat!(env!("CARGO_MANIFEST_DIR"), "/../www")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains("http"), "{line}");
    };
    serve_once();
    let storage = Storage::connect(&db.url, &StorageOptions::default())
        .await
        .unwrap();
    assert_eq!(storage.bin_table_version().await.unwrap(), Some(1));
    assert_eq!(storage.bin_ranges().await.unwrap().len(), 19);
    // An operator's table (even one range) is kept by the next demo start.
    let file = dir.path().join("ours.csv");
    std::fs::write(
        &file,
        format!(
            "{}\n45392600,45392699,VISA,DEBIT,,Ours,GBR,GBP\n",
            paysecure_server::domain::bins::CSV_HEADER
        ),
    )
    .unwrap();
    let out = command()
        .args(["bins", "load", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    serve_once();
    assert_eq!(storage.bin_table_version().await.unwrap(), Some(2));
    assert_eq!(storage.bin_ranges().await.unwrap().len(), 1);
}

// ------------------------------------------------------------ issue #18: capture key

/// Card captures have an RSA key pair of their own, published at
/// `/v2/capture-key` (cross-origin, GET only) as PEM and JWK: never the
/// session key of `/v2/public-key`.
#[tokio::test]
async fn the_capture_key_is_published_and_is_not_the_session_key() {
    use paysecure_core::PublicKey;
    let app = TestApp::new().await;
    let r = app
        .call(
            Method::GET,
            "/v2/capture-key",
            None,
            &[("origin", "https://shop.example")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert_eq!(r.body["algorithm"], "RSA-OAEP-256");
    let jwk = &r.body["jwk"];
    assert_eq!(
        (&jwk["kty"], &jwk["alg"], &jwk["use"]),
        (&json!("RSA"), &json!("RSA-OAEP-256"), &json!("enc"))
    );
    assert_eq!(jwk["kid"], r.body["keyId"]);
    assert_eq!(r.body["keyId"].as_str(), Some(key_id(&app).as_str()));
    let pem = PublicKey::parse(r.body["publicKey"].as_str().unwrap()).unwrap();
    let from_jwk =
        PublicKey::from_jwk(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
    assert_eq!(pem, from_jwk);
    assert_eq!(pem, app.capture_key);
    assert!(r.body["expiresAt"].as_str().unwrap().ends_with('Z'));
    let session = app
        .call(Method::GET, "/v2/public-key", None, &[], None)
        .await;
    assert_ne!(session.body["keyId"], r.body["keyId"]);
    assert_ne!(session.body["jwk"]["n"], jwk["n"]);
    assert_eq!(session.body["algorithm"], "RSA-OAEP-SHA1");
    // GET only.
    let post = app
        .call(Method::POST, "/v2/capture-key", None, &[], None)
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A JWE made for the session key (its `kid` naming the session key) is
/// refused exactly like one for an unknown key: same status, same code,
/// same message (no oracle on the session key), on both capture paths;
/// the session key does no RSA-OAEP-256 at all.
#[tokio::test]
async fn a_capture_for_the_session_key_is_refused_like_an_unknown_key() {
    let app = TestApp::new().await;
    seed_credentials(&app).await;
    let (m, y) = future_expiry();
    let session_kid = app
        .service
        .keyring()
        .active(paysecure_server::crypto::keys::Purpose::Session)
        .unwrap()
        .key_id
        .clone();
    let for_session_key = || {
        CardCapture::new("5555555555554444", m, y)
            .unwrap()
            .encrypt(&app.public_key, &session_kid, now())
            .unwrap()
    };
    let unknown_kid = "rsa-0000000000000000";
    let for_unknown_key = || {
        CardCapture::new("5555555555554444", m, y)
            .unwrap()
            .encrypt(&app.capture_key, unknown_kid, now())
            .unwrap()
    };
    // The ring: no capture key has the session key's id.
    let parsed = paysecure_core::jwe::parse_compact(&for_session_key()).unwrap();
    assert!(app
        .service
        .keyring()
        .unwrap_content_key(&session_kid, parsed.encrypted_key())
        .is_none());
    // Verifone PUT, the alias naming the card's key.
    let answer = |r: crate::common::Reply| {
        let mut b = r.body;
        b["error"]["traceId"] = Value::Null;
        (r.status, b)
    };
    let a = vf(&app, Method::PUT, "/api/v2/card", Some(json!({"token_scope": SCOPE, "encrypted_card": for_session_key(), "public_key_alias": session_kid}))).await;
    assert_eq!(a.code(), "UNKNOWN_KEY_ALIAS", "{:?}", a.body);
    let b = vf(&app, Method::PUT, "/api/v2/card", Some(json!({"token_scope": SCOPE, "encrypted_card": for_unknown_key(), "public_key_alias": unknown_kid}))).await;
    assert_eq!(answer(a), answer(b));
    // Paythru Client POST capture (no alias: the kid decides).
    let mut answers = vec![];
    for (i, card) in [for_session_key(), for_unknown_key()]
        .into_iter()
        .enumerate()
    {
        let r = paythru(
            &app,
            "/v3/clientpost/session/json",
            &auth(&[("merchantCustomerReference", "cust-18")]),
        )
        .await;
        let session = json_of(&r)["sessionKey"].as_str().unwrap().to_owned();
        let r = app
            .call_from(
                &format!("198.51.100.{}", 80 + i),
                Method::POST,
                "/v3/clientpost/card",
                None,
                &[("origin", "https://shop.example")],
                Some(json!({"sessionKey": session, "encryptedCard": card})),
            )
            .await;
        assert_eq!(r.code(), "UNKNOWN_KEY_ALIAS", "{:?}", r.body);
        answers.push(answer(r));
    }
    assert_eq!(answers[0], answers[1]);
    // The capture key's own card goes through.
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(
            &app,
            encrypted_card(&app, "5555555555554444", None, now()),
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// A session id made with the capture key (with or without `Key-Id`
/// naming it) is refused like any bad session id.
#[tokio::test]
async fn a_session_id_for_the_capture_key_is_refused_like_any_bad_one() {
    use paysecure_core::{KeySize, Session, Version};
    let app = TestApp::new().await;
    let card = app.issue_card().await;
    let uri = format!("/v2/cards/{}/pan", card["token"].as_str().unwrap());
    let capture_kid = key_id(&app);
    let made = |key: &paysecure_core::PublicKey| {
        Session::generate(Version::V2, KeySize::Aes256)
            .unwrap()
            .session_id(key)
            .unwrap()
    };
    let mut bodies = vec![];
    for (name, sid, kid) in [
        ("capture key", made(&app.capture_key), None),
        (
            "capture key, Key-Id",
            made(&app.capture_key),
            Some(capture_kid.as_str()),
        ),
        (
            "unknown key id",
            made(&app.public_key),
            Some("rsa-0000000000000000"),
        ),
    ] {
        let mut h = vec![("session-id", sid.as_str())];
        if let Some(k) = kid {
            h.push(("key-id", k));
        }
        let r = app
            .call(Method::POST, &uri, Some(&app.tenant_key), &h, None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "INVALID_SESSION_ID"),
            "{name}"
        );
        let mut b = r.body.clone();
        b["error"]["traceId"] = Value::Null;
        bodies.push(b);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    // The session key still opens one.
    let r = app
        .call(
            Method::POST,
            &uri,
            Some(&app.tenant_key),
            &[("session-id", &made(&app.public_key))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// The capture key follows the session key's lifecycle: rotated by the
/// housekeeping a day before it expires (the old one keeps opening cards
/// until then), revoked at once (replaced with no overlap); the session
/// key is untouched by either.
#[tokio::test]
async fn the_capture_key_rotates_before_expiry_and_revokes_on_its_own() {
    use paysecure_server::crypto::keys::Purpose;
    let mut app = TestApp::new().await;
    let session_kid = app
        .service
        .keyring()
        .active(Purpose::Session)
        .unwrap()
        .key_id
        .clone();
    let old = key_id(&app);
    let now_s = paysecure_server::util::time::now();
    // The active capture key expires in 100 s: inside the rotation overlap.
    sqlx::query("UPDATE rsa_keys SET expires_at = $1 WHERE key_id = $2")
        .bind(now_s + 100)
        .bind(&old)
        .execute(&raw_pool(&app).await)
        .await
        .unwrap();
    app.service.reload_keys().await.unwrap();
    let for_old = encrypted_card(&app, "5555555555554444", None, now());
    app.service.housekeeping().await.unwrap();
    let new = key_id(&app);
    assert_ne!(new, old, "rotated before expiry");
    let published = app
        .call(Method::GET, "/v2/capture-key", None, &[], None)
        .await;
    assert_eq!(published.body["keyId"].as_str(), Some(new.as_str()));
    let ring = app.service.keyring();
    let previous = ring.keys().iter().find(|k| k.key_id == old).unwrap();
    assert_eq!(
        (previous.purpose, previous.status.as_str()),
        (Purpose::Capture, "previous")
    );
    assert!(
        previous.expires_at <= now_s + 100,
        "never past its own expiry"
    );
    assert_eq!(ring.active(Purpose::Session).unwrap().key_id, session_kid);
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(json!({"token_scope": SCOPE, "encrypted_card": for_old, "public_key_alias": old})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "previous capture key: {:?}",
        r.body
    );
    // Revocation: at once, with no overlap.
    app.refresh_public_key().await;
    let for_revoked = encrypted_card(&app, "4111111111111111", None, now());
    assert_eq!(
        app.service.revoke_key(&new).await.unwrap(),
        Some(Purpose::Capture)
    );
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(json!({"token_scope": SCOPE, "encrypted_card": for_revoked, "public_key_alias": new})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "UNKNOWN_KEY_ALIAS")
    );
    let replacement = key_id(&app);
    assert!(replacement != new && replacement != old);
    assert_eq!(
        app.service
            .keyring()
            .active(Purpose::Session)
            .unwrap()
            .key_id,
        session_kid
    );
    app.refresh_public_key().await;
    let r = vf(
        &app,
        Method::PUT,
        "/api/v2/card",
        Some(put_body(
            &app,
            encrypted_card(&app, "4111111111111111", None, now()),
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
