//! `/openapi.json` against the real router: every route documented with the
//! statuses and error bodies its kind can return, the `Session-Id` header on
//! exactly the routes that need one, every documented path routed, and the
//! framework's own errors (413) in the documented envelope. schemathesis
//! (`scripts/schemathesis.sh`) checks the live server against the same
//! document.

use crate::common::TestApp;
use axum::http::{Method, StatusCode};
use paysecure_server::http::openapi::Kind;
use serde_json::{json, Value};

const HTTP_METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

async fn doc(app: &TestApp) -> Value {
    let r = app
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

/// Every (path, method, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in HTTP_METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.clone(), m.to_owned(), op.clone()));
            }
        }
    }
    out
}

/// The schema `$ref` name of a response's JSON body.
fn json_schema(op: &Value, status: &str) -> String {
    let s = &op["responses"][status]["content"]["application/json"]["schema"]["$ref"];
    s.as_str()
        .unwrap_or_else(|| panic!("{status}: no JSON body in {}", op["operationId"]))
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

fn has_header(op: &Value, name: &str) -> Option<bool> {
    op["parameters"].as_array().and_then(|ps| {
        ps.iter()
            .find(|p| p["in"] == "header" && p["name"] == name)
            .map(|p| p["required"] == true)
    })
}

#[tokio::test]
async fn openapi_documents_every_status_and_error_body_by_route_kind() {
    let app = TestApp::new().await;
    let doc = doc(&app).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorEnvelope",
        "PaythruErrorBody",
        "AccountErrorEnvelope",
        "NiRequest",
        "NiResponse",
        "PaythruForm",
        "AccountForm",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["pltoken"]["name"], "Authorization");
    let ops = operations(&doc);
    assert!(ops.len() >= 38, "{}", ops.len());
    let mut ids = std::collections::HashSet::new();
    for (path, method, op) in &ops {
        let id = op["operationId"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        let what = format!("{method} {path}");
        let responses = op["responses"].as_object().unwrap();
        if matches!(Kind::of(path), Kind::Envelope) {
            // Every failure of the Get CVV2 envelope is the envelope.
            for s in ["405", "413", "415", "502", "503", "504"] {
                assert_eq!(json_schema(op, s), "NiResponse", "{what} {s}");
            }
            assert!(op["responses"].get("408").is_none(), "{what}: 504, not 408");
        } else {
            for s in ["408", "413"] {
                let want = match Kind::of(path) {
                    Kind::Paythru => "PaythruErrorBody",
                    _ => "ErrorEnvelope",
                };
                assert_eq!(json_schema(op, s), want, "{what} {s}");
            }
        }
        for (status, r) in responses {
            assert!(
                r.get("description").is_some(),
                "{what} {status} has no description"
            );
            let client_or_server_error = status.starts_with('4') || status.starts_with('5');
            assert!(
                !client_or_server_error || r.get("content").is_some(),
                "{what} {status}: an error without a documented body"
            );
        }
        let expect = |statuses: &[&str], schema: &str| {
            for s in statuses {
                assert_eq!(json_schema(op, s), schema, "{what} {s}");
            }
        };
        match Kind::of(path) {
            Kind::Bearer => {
                expect(&["400", "401", "403", "429", "500"], "ErrorEnvelope");
                assert_eq!(op["security"], json!([{ "bearer": [] }]), "{what}");
            }
            Kind::Envelope => {
                expect(&["400", "401", "403", "429", "500"], "NiResponse");
                expect(&["200"], "NiResponse");
                assert_eq!(op["security"], json!([{ "bearer": [] }]), "{what}");
                assert_eq!(has_header(op, "Session-Id"), Some(false), "{what}");
            }
            Kind::Account => {
                expect(&["400", "401", "404", "429", "500"], "AccountErrorEnvelope");
                assert_eq!(op["security"], json!([{ "pltoken": [] }]), "{what}");
                assert!(op["responses"]["200"]["content"]["text/plain"].is_object());
            }
            Kind::Paythru => {
                expect(&["400", "401", "403", "405"], "PaythruErrorBody");
                expect(&["500"], "ErrorEnvelope");
                for s in ["200", "400", "401", "403"] {
                    assert!(
                        op["responses"][s]["content"]["application/xml"].is_object(),
                        "{what} {s}: XML"
                    );
                }
                assert!(
                    op.get("security").is_none(),
                    "{what}: credentials in the form"
                );
                assert_eq!(
                    op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
                        ["$ref"],
                    "#/components/schemas/PaythruForm"
                );
            }
            Kind::Capture => expect(&["400", "429", "500"], "ErrorEnvelope"),
            Kind::Public => expect(&["500"], "ErrorEnvelope"),
            Kind::Static => {}
        }
    }
    // A V1/V2 token answer is { token }: the schema must accept it.
    let token = &doc["components"]["schemas"]["TokenResponse"];
    assert_eq!(token["required"], json!(["token"]));
    assert!(token.get("oneOf").is_none() && token.get("allOf").is_none());
    assert!(token["properties"]["maskedPan"].is_object());
    // Links from created tokens to the routes that take them.
    let link = &doc["paths"]["/api/v2/card"]["put"]["responses"]["200"]["links"]["vf_get"];
    assert_eq!(link["operationId"], "vf_get");
    assert_eq!(link["parameters"]["id"], "$response.body#/reuse_token");
    // Domain answers of the card API.
    let op = |path: &str, m: &str| doc["paths"][path][m].clone();
    let statuses = |o: Value| -> Vec<String> {
        o["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for (path, m, want) in [
        (
            "/v{version}/cards/{token}/pin",
            "post",
            &["404", "409", "423"][..],
        ),
        ("/v{version}/cards/{token}/pin", "put", &["404", "423"]),
        (
            "/v2/cards/{token}/cvv2/verify",
            "post",
            &["404", "409", "423"],
        ),
        ("/v{version}/cards/{token}/cvv2", "post", &["404", "409"]),
        ("/v2/cards", "post", &["409"]),
        ("/api/v2/card/{id}", "get", &["404"]),
    ] {
        let got = statuses(op(path, m));
        for w in want {
            assert!(got.iter().any(|g| g == w), "{m} {path}: {w} in {got:?}");
        }
    }
}

/// Fills a documented path's parameters: the first value of an enum,
/// `token` the given card.
fn concrete(path: &str, op: &Value, token: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] != "path" {
            continue;
        }
        let name = p["name"].as_str().unwrap();
        let values: Vec<String> = match p["schema"]["enum"].as_array() {
            Some(e) => e
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            None if name == "token" => vec![token.to_owned()],
            None => vec!["00000000-0000-4000-8000-000000000000".to_owned()],
        };
        out = out
            .iter()
            .flat_map(|path| {
                values
                    .iter()
                    .map(move |v| path.replace(&format!("{{{name}}}"), v))
            })
            .collect();
    }
    out
}

#[tokio::test]
async fn openapi_session_id_is_required_on_exactly_the_routes_that_open_a_session() {
    let app = TestApp::new().await;
    let doc = doc(&app).await;
    let card = app.issue_card().await["token"].as_str().unwrap().to_owned();
    let mut sessions = 0;
    for (path, method, op) in operations(&doc) {
        if Kind::of(&path) != Kind::Bearer {
            continue;
        }
        let documented = has_header(&op, "Session-Id") == Some(true);
        sessions += usize::from(documented);
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        for uri in concrete(&path, &op, &card) {
            // No Session-Id: a route that opens one must say so (the body
            // is read after the session, so an empty object is enough).
            let r = app
                .call(m.clone(), &uri, Some(&app.tenant_key), &[], Some(json!({})))
                .await;
            let needs = r.code() == "INVALID_SESSION_ID";
            assert_eq!(
                needs, documented,
                "{method} {uri}: {} {:?}; documented Session-Id: {documented}",
                r.status, r.body
            );
        }
    }
    assert!(sessions >= 10, "{sessions}");
}

/// A parameter is `in: path` exactly when the path template names it, and
/// optional query parameters are not required (the card list's filters were
/// once documented as required path parameters: clients and schemathesis
/// then built requests the server never reads).
#[tokio::test]
async fn openapi_parameters_are_where_the_route_reads_them() {
    let app = TestApp::new().await;
    let d = doc(&app).await;
    let mut query_params = 0;
    for (path, method, op) in operations(&d) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            let in_template = path.contains(&format!("{{{name}}}"));
            match p["in"].as_str().unwrap() {
                "path" => {
                    assert!(
                        in_template,
                        "{method} {path}: path parameter {name} not in the path"
                    );
                    assert_eq!(p["required"], true, "{method} {path} {name}");
                }
                "query" => {
                    query_params += 1;
                    assert!(!in_template, "{method} {path}: {name}");
                }
                _ => {}
            }
        }
    }
    let list = &d["paths"]["/v2/cards"]["get"]["parameters"];
    for p in list.as_array().unwrap() {
        assert_eq!(p["in"], "query", "{p}");
        assert_ne!(p["required"], true, "{p}");
    }
    assert!(query_params >= 6, "{query_params}");
}

#[tokio::test]
async fn openapi_every_documented_path_and_method_is_routed() {
    let app = TestApp::new().await;
    let doc = doc(&app).await;
    let mut calls = 0;
    for (path, method, op) in operations(&doc) {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        for uri in concrete(&path, &op, "tok_0123456789abcdef01234567") {
            calls += 1;
            let r = app.call(m.clone(), &uri, None, &[], None).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert!(
                !(r.status == StatusCode::NOT_FOUND && r.code() == "NOT_FOUND"),
                "{method} {uri} is documented but not routed"
            );
            let documented = op["responses"]
                .as_object()
                .unwrap()
                .contains_key(r.status.as_str());
            assert!(documented, "{method} {uri}: {} not documented", r.status);
        }
    }
    assert!(calls > 40, "{calls}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_in_the_documented_envelope_with_security_headers() {
    let app = TestApp::new().await;
    let big = "x".repeat(paysecure_server::http::BODY_LIMIT + 1);
    let length = (big.len() + 2).to_string();
    // A declared Content-Length over the limit is refused before the body
    // is read; so is a body that grows over it.
    for headers in [vec![("content-length", length.as_str())], vec![]] {
        let r = app
            .call(
                Method::POST,
                "/v2/cards",
                Some(&app.tenant_key),
                &headers,
                Some(json!(big)),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.code(), "PAYLOAD_TOO_LARGE", "{:?}", r.body);
        assert!(r.body["error"]["traceId"].is_string());
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["cache-control"], "no-store");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
}

/// JSON Schema's `integer` (what the document says of `ttlSeconds` and the
/// Verifone expiry) includes `900.0`: such schema-valid bodies are served,
/// numbers with a fraction are still refused.
#[tokio::test]
async fn integral_numbers_written_with_a_fraction_are_integers_as_the_schema_says() {
    let app = TestApp::new().await;
    let card = app.issue_card().await["token"].as_str().unwrap().to_owned();
    for (ttl, status) in [
        (json!(60.0), StatusCode::CREATED),
        (json!(60), StatusCode::CREATED),
        (json!(60.5), StatusCode::BAD_REQUEST),
        (json!(1e300), StatusCode::BAD_REQUEST),
    ] {
        let r = app
            .call(
                Method::POST,
                "/v2/ephemeral-keys",
                Some(&app.tenant_key),
                &[],
                Some(json!({ "token": card, "scopes": ["pan"], "ttlSeconds": ttl })),
            )
            .await;
        assert_eq!(r.status, status, "{ttl}: {:?}", r.body);
    }
    // The body is read (no token by that id: 404), not refused as a shape.
    let uri = "/api/v2/card/no-such-token-000000";
    for (month, status) in [
        (json!(10.0), StatusCode::NOT_FOUND),
        (json!(10.5), StatusCode::BAD_REQUEST),
    ] {
        let r = app
            .call(
                Method::PATCH,
                uri,
                Some(&app.tenant_key),
                &[],
                Some(json!({ "expiry_month": month, "expiry_year": 2099.0 })),
            )
            .await;
        assert_eq!(r.status, status, "{month}: {:?}", r.body);
    }
}
