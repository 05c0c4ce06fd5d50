//! Completes the OpenAPI document that the handlers' annotations make
//! ([`crate::http::api_doc`]): every status and error body a route can
//! return, decided once per kind of route rather than in each annotation.
//!
//! A route's kind comes from its path ([`Kind::of`]): the card API and the
//! Verifone API (bearer credential, the `{ "error": … }` envelope), the
//! Paythru v3 API (form credentials, its `errorCode` answers in XML or
//! JSON), the Client POST capture, the Get CVV2 envelope (its own
//! `NISrvResponse` for every answer), the account API (`PLTOKEN`, its own
//! error envelope, encrypted bodies) and the public routes. Routes that
//! exchange `{ data, iv }` values need a `Session-Id`: they are found by
//! their request and response schemas, not listed by hand. What every
//! route can return whatever its kind (408 from the time limit, 413 from the
//! body limit) is added everywhere; what an annotation already says is
//! kept, and given a body where it has none.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{OpenApi, ToSchema};

use crate::domain::paythru::Method;
use crate::domain::service::{Scope, MAX_EPHEMERAL_TTL_SECS};

/// A JSON integer, also when written with a zero fraction (`900.0`): JSON
/// Schema's `integer`, which `/openapi.json` promises, includes those.
pub fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0)
                .map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom("not an integer"))
}

/// [`integer`], optional.
pub fn optional_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "integer")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(n)| n))
}

/// The kinds of routes, by how they authenticate and answer errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No credential, no state: `/healthz`, `/metrics`, `/openapi.json`.
    Static,
    /// No credential, but storage or keys behind it: `/readyz`,
    /// `/v1/public-key`, `/v2/public-key`, `/v2/capture-key`.
    Public,
    /// `Authorization: Bearer` (tenant API key or ephemeral key) and the
    /// `{ "error": … }` envelope: the card API and the Verifone API.
    Bearer,
    /// Paythru v3: credentials and signature in the form, answers in XML or
    /// JSON with `errorCode`.
    Paythru,
    /// The browser's Client POST capture: the session key in the body.
    Capture,
    /// The Get CVV2 envelope: bearer credential, every answer an
    /// `NISrvResponse`.
    Envelope,
    /// The account API: `Authorization: PLTOKEN`, encrypted ids
    /// and bodies, its own error envelope.
    Account,
}

impl Kind {
    /// The kind of the route at `path` (an OpenAPI path template).
    pub fn of(path: &str) -> Kind {
        match path {
            "/healthz" | "/metrics" | "/openapi.json" => Kind::Static,
            "/readyz" | "/v1/public-key" | "/v2/public-key" | "/v2/capture-key" => Kind::Public,
            "/v3/clientpost/card" => Kind::Capture,
            p if p.starts_with("/v3/token/") || p.starts_with("/v3/clientpost/session") => {
                Kind::Paythru
            }
            p if p.starts_with("/pin-management/") => Kind::Envelope,
            p if p.starts_with("/account/") => Kind::Account,
            _ => Kind::Bearer,
        }
    }
}

/// A Paythru error (the Paythru v3 document §5.1): as JSON with the `/json` encoding, as
/// the children of `<paythruResponse>` in XML otherwise.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaythruErrorBody {
    /// Three digits, e.g. `102` (credentials), `123` (signature), `147`.
    pub error_code: String,
    /// Eight digits, logged with the request for support.
    pub trace_code: String,
    /// Human-readable; never a submitted value.
    pub error_message: String,
}

/// The form of every Paythru v3 request (the Paythru v3 document). Which optional
/// parameters a method accepts is in §3; others are refused with `107`.
/// `shaSignature` is the SHA-512 (hex) of every other non-empty
/// `name=value` followed by the shaKey, sorted by name (§2.5).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaythruForm {
    /// API key.
    #[schema(min_length = 1, max_length = 64)]
    pub api_key: String,
    /// API password.
    #[schema(min_length = 1, max_length = 64)]
    pub api_password: String,
    /// SHA-512 signature, hexadecimal.
    #[schema(pattern = "^[0-9a-fA-F]{128}$")]
    pub sha_signature: String,
    /// Card key (lookup, enable, disable, delete, updateCardKeyDetails).
    #[schema(
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub card_key: Option<String>,
    /// Merchant customer reference.
    #[schema(max_length = 45)]
    pub merchant_customer_reference: Option<String>,
    /// Card number (create).
    #[schema(pattern = "^[0-9]{12,19}$")]
    pub card_number: Option<String>,
    /// `MMYY` (create).
    #[schema(pattern = "^(0[1-9]|1[0-2])[0-9]{2}$")]
    pub card_expiry: Option<String>,
    /// 1-12 (create, updateCardKeyDetails).
    #[schema(pattern = "^(0?[1-9]|1[0-2])$")]
    pub card_expiry_month: Option<String>,
    /// `YY` or `YYYY` (create, updateCardKeyDetails).
    #[schema(pattern = "^([0-9]{2}|[0-9]{4})$")]
    pub card_expiry_year: Option<String>,
    /// Client POST session key (tokeniseSessionKey).
    #[schema(max_length = 64)]
    pub session_key: Option<String>,
    /// Name on the card.
    #[schema(max_length = 50)]
    pub cardholder_name: Option<String>,
}

/// The account API's error envelope (the Account APIs document).
#[derive(Serialize, ToSchema)]
pub struct AccountErrorEnvelope {
    /// The error.
    pub error: AccountErrorDetail,
}

/// An account API error.
#[derive(Serialize, ToSchema)]
pub struct AccountErrorDetail {
    /// The document's codes (903 not found, 906 CVV information, 933 create
    /// failed, 975 update failed) and ours: 910 unauthorized, 911
    /// undecryptable, 912 stale, 913 replayed, 914 invalid parameter, 429,
    /// 999 internal.
    pub code: u16,
    /// The document's message for the code.
    pub message: String,
    /// Names the field at fault (never its value).
    pub detail: Option<String>,
}

/// The account API's form body: one encrypted field.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountForm {
    /// Hex of `nonce || ciphertext || tag` (AES-GCM under the session key
    /// or the tenant's data key) of the request JSON.
    #[schema(pattern = "^([0-9a-fA-F]{2}){42,}$")]
    pub data: String,
}

/// The Get CVV2 request (the PIN Management Get CVV2 document).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiRequest {
    /// The request.
    #[serde(rename = "NISrvRequest")]
    pub request: NiRequestNode,
}

/// `NISrvRequest`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiRequestNode {
    /// The only operation.
    pub request_get_cvv2: NiGetCvv2,
}

/// `request_get_cvv2`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiGetCvv2 {
    /// Echoed in the answer.
    pub header: NiRequestHeader,
    /// Which card.
    pub body: NiRequestBody,
}

/// The request header (lengths as the PIN Management Get CVV2 document's table).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiRequestHeader {
    /// Message id.
    #[schema(min_length = 1, max_length = 12)]
    pub msg_id: String,
    /// `TRANSACTION` (checked as strictly as `msg_function`).
    #[schema(pattern = "^TRANSACTION$")]
    pub msg_type: Option<String>,
    /// `REQ_GET_CVV2`.
    #[schema(pattern = "^REQ_GET_CVV2$")]
    pub msg_function: Option<String>,
    /// e.g. `IVR`.
    #[schema(min_length = 1, max_length = 10)]
    pub src_application: String,
    /// e.g. `WAY4`.
    #[schema(min_length = 1, max_length = 10)]
    pub target_application: String,
    /// Free text.
    #[schema(max_length = 30)]
    pub timestamp: Option<String>,
    /// Free text.
    #[schema(max_length = 30)]
    pub tracking_id: Option<String>,
    /// The bank.
    #[schema(min_length = 1, max_length = 4)]
    pub bank_id: String,
}

/// The request body.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NiRequestBody {
    /// The card number or the card token (`CONTRACT_NUMBER`), or the
    /// tenant's external id (`EXID`).
    #[schema(min_length = 1, max_length = 32)]
    pub card_identifier_id: String,
    /// `CONTRACT_NUMBER` or `EXID`.
    #[schema(pattern = "^(CONTRACT_NUMBER|EXID)$")]
    pub card_identifier_type: String,
    /// `YYMM`.
    #[schema(pattern = "^[0-9]{2}(0[1-9]|1[0-2])$")]
    pub expiry_date: String,
}

/// Every answer of the Get CVV2 API, failures included (the PIN Management Get CVV2 document).
#[derive(Serialize, ToSchema)]
pub struct NiResponse {
    /// The answer.
    #[serde(rename = "NISrvResponse")]
    pub response: NiResponseNode,
}

/// `NISrvResponse`.
#[derive(Serialize, ToSchema)]
pub struct NiResponseNode {
    /// The only operation.
    pub response_get_cvv2: NiResponseGetCvv2,
}

/// `response_get_cvv2`.
#[derive(Serialize, ToSchema)]
pub struct NiResponseGetCvv2 {
    /// The request's header fields echoed, `msg_function` `REP_GET_CVV2`,
    /// `timestamp`, `instance_id`.
    #[schema(value_type = Object)]
    pub header: Map<String, Value>,
    /// Status `S` or `F` and the `error_code` (`000` on success).
    pub exception_details: NiExceptionDetails,
    /// The identifier (masked), its type, the expiry and, on success,
    /// `cvv2`: `{ data, iv }` under the session key, or text when the bank
    /// allows it in clear.
    #[schema(value_type = Object)]
    pub body: Map<String, Value>,
}

/// `exception_details`.
#[derive(Serialize, ToSchema)]
pub struct NiExceptionDetails {
    /// `PAYSECURE`.
    pub application_name: String,
    /// When the answer was made.
    pub date_time: String,
    /// `S` (success) or `F` (failure).
    pub status: String,
    /// `000` success, `100` invalid request, `101` card not found, `102`
    /// expiry mismatch, `103` invalid Session-Id, `104` clear CVV2 not
    /// allowed, `105` no expiry, `401`, `403`, `429`, `999` internal.
    pub error_code: String,
    /// The code's description.
    pub error_description: String,
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    PaythruErrorBody,
    PaythruForm,
    AccountErrorEnvelope,
    AccountErrorDetail,
    AccountForm,
    NiRequest,
    NiRequestNode,
    NiGetCvv2,
    NiRequestHeader,
    NiRequestBody,
    NiResponse,
    NiResponseNode,
    NiResponseGetCvv2,
    NiExceptionDetails
)))]
struct Formats;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn envelope(description: &str) -> Value {
    json!({ "description": description, "content": json_content(schema_ref("ErrorEnvelope")) })
}

fn text(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "text/plain": { "schema": schema } } })
}

/// The responses a route of `kind` can return besides its own, as
/// (status, response). `session`: it needs a `Session-Id`.
fn shared_responses(kind: Kind, session: bool) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        (
            "408",
            envelope("TIMEOUT: the request took longer than the time limit"),
        ),
        (
            "413",
            envelope("PAYLOAD_TOO_LARGE: the body is larger than 64 KiB"),
        ),
    ];
    let internal = || {
        (
            "500",
            envelope("INTERNAL: internal error (details only in the server log)"),
        )
    };
    match kind {
        Kind::Static => {}
        Kind::Public => out.push(internal()),
        Kind::Bearer => {
            let bad = if session {
                "INVALID_REQUEST (body, path or query), INVALID_SESSION_ID (Session-Id missing, malformed, used before, or not for this server's keys), UNDECRYPTABLE_VALUE, INVALID_PIN_BLOCK, or the operation's own codes"
            } else {
                "INVALID_REQUEST (body, path or query) or the operation's own codes"
            };
            out.extend([
                ("400", envelope(bad)),
                ("401", envelope("UNAUTHORIZED: missing or invalid credential")),
                ("403", envelope("FORBIDDEN: the credential may not do this (an ephemeral key's card or scopes, or a call that needs the tenant's API key)")),
                ("429", json!({
                    "description": "RATE_LIMITED: too many requests for this credential or card; see Retry-After (an address blocked after failed authentications gets 401 with Retry-After)",
                    "headers": { "Retry-After": { "description": "seconds", "schema": { "type": "integer" } } },
                    "content": json_content(schema_ref("ErrorEnvelope")),
                })),
                internal(),
            ]);
        }
        Kind::Paythru => {
            let own = |description: &str| {
                json!({
                    "description": description,
                    "content": {
                        "application/xml": { "schema": { "type": "string", "description": "<paythruResponse> with errorCode, traceCode, errorMessage" } },
                        "application/json": { "schema": schema_ref("PaythruErrorBody") },
                    }
                })
            };
            // Under this prefix even the framework's refusals are in the
            // API's format (issue #19).
            out.retain(|(s, _)| !matches!(*s, "408" | "413"));
            out.extend([
                ("405", own("errorCode 103: another HTTP method than POST (Allow: POST)")),
                ("408", own("errorCode 107: the request took longer than the time limit")),
                ("413", own("errorCode 107: the body is larger than 64 KiB")),
                ("400", own("errorCode 101, 103, 104, 107, 108, 109, 125, 144, 146, 147, 148, 150, 151, 152")),
                ("401", own("errorCode 102 (credentials) or 123 (signature)")),
                ("403", own("errorCode 105, 106, 121, 122 (client blocked after failed attempts)")),
                internal(),
            ]);
        }
        Kind::Capture => out.extend([
            ("400", envelope("INVALID_REQUEST, INVALID_SESSION_KEY (unknown, expired or used), INVALID_ENCRYPTED_CARD and the card checks' codes")),
            ("429", envelope("RATE_LIMITED: too many unknown session keys from this client")),
            internal(),
        ]),
        Kind::Envelope => {
            let own = |description: &str| {
                json!({ "description": description, "content": json_content(schema_ref("NiResponse")) })
            };
            out.extend([
                ("400", own("status F; error_code 100 invalid request, 101 card not found, 102 expiry mismatch, 103 invalid Session-Id, 105 no expiry")),
                ("401", own("status F; error_code 401")),
                ("403", own("status F; error_code 104 (clear CVV2 not allowed) or 403")),
                ("429", own("status F; error_code 429")),
                ("500", own("status F; error_code 999")),
                ("405", own("status F; error_code 405: a method other than POST")),
                ("415", own("status F; error_code 415: Content-Type is not application/json")),
                ("502", own("status F; error_code 502: an unusable answer from the card data store")),
                ("503", own("status F; error_code 503: the card data store is unavailable")),
                ("504", own("status F; error_code 504: no answer within the deadline")),
            ]);
            // In the envelope too: the body limit (16 KiB on this route);
            // a request past the time limit answers 504, never 408.
            out.retain(|(code, _)| *code != "408");
            for (code, r) in out.iter_mut() {
                if *code == "413" {
                    *r = own("status F; error_code 413: the body is larger than 16 KiB");
                }
            }
        }
        Kind::Account => {
            let own = |description: &str| {
                json!({ "description": description, "content": json_content(schema_ref("AccountErrorEnvelope")) })
            };
            out.extend([
                ("400", own("911 undecryptable, 912 stale, 913 replayed, 914 invalid parameter, 933/975 card refused")),
                ("401", own("910: missing or invalid PLTOKEN")),
                ("404", own("903 no such payment information, 906 no CVV information")),
                ("429", own("429: too many failed authentications from this client")),
                ("500", own("999: internal error")),
            ]);
        }
    }
    out
}

/// What the domain answers besides the kind's shared responses, by
/// operationId (the handler's name): the card a route names may not exist
/// (404), a card may lack what the call needs (409: `NO_EXPIRY` on a PAN-only
/// token, `PIN_NOT_SET`; `EXID_TAKEN`, `BIN_EXHAUSTED` when issuing), a
/// secret may be blocked after wrong guesses (423).
fn domain_responses(operation_id: &str) -> Vec<(&'static str, &'static str)> {
    const NOT_FOUND: (&str, &str) = ("404", "CARD_NOT_FOUND: no such card in the tenant");
    const NO_EXPIRY: (&str, &str) = (
        "409",
        "NO_EXPIRY: a PAN-only token has no expiry, so no CVV2",
    );
    const NO_PIN: (&str, &str) = ("409", "PIN_NOT_SET: no PIN is set for this card");
    const PIN_BLOCKED: (&str, &str) = (
        "423",
        "PIN_BLOCKED: the PIN is blocked after too many wrong attempts",
    );
    const CVV2_BLOCKED: (&str, &str) = (
        "423",
        "CVV2_BLOCKED: CVV2 verification is blocked after too many wrong attempts",
    );
    match operation_id {
        "get_pan" | "unblock_pin" | "create_ephemeral_key" | "pan_to_token" => vec![NOT_FOUND],
        "get_cvv2" | "reveal" => vec![NOT_FOUND, NO_EXPIRY],
        "get_pin" | "verify_pin" | "verify_pin_by_pan" => vec![NOT_FOUND, NO_PIN, PIN_BLOCKED],
        "set_pin" => vec![NOT_FOUND, PIN_BLOCKED],
        "verify_cvv2" | "verify_cvv2_by_pan" => vec![NOT_FOUND, NO_EXPIRY, CVV2_BLOCKED],
        "issue_card" => vec![(
            "409",
            "EXID_TAKEN: another card of the tenant has this exid; BIN_EXHAUSTED",
        )],
        "vf_get" | "vf_delete" | "vf_patch" | "vf_suspend" | "vf_activate" => {
            vec![("404", "TOKEN_NOT_FOUND: no such token in the tenant")]
        }
        _ => vec![],
    }
}

/// The success body of routes whose annotation gives only a description.
fn success_content(kind: Kind, path: &str) -> Option<Value> {
    match (kind, path) {
        (Kind::Static, "/openapi.json") => Some(json_content(json!({ "type": "object" }))),
        (Kind::Static | Kind::Public, _) => {
            Some(json!({ "text/plain": { "schema": { "type": "string" } } }))
        }
        (Kind::Paythru, _) => Some(json!({
            "application/xml": { "schema": { "type": "string", "description": "<paythruResponse>" } },
            "application/json": { "schema": { "type": "object" } },
        })),
        (Kind::Envelope, _) => Some(json_content(schema_ref("NiResponse"))),
        (Kind::Account, _) => Some(text("", json!({ "type": "string", "pattern": "^[0-9a-f]+$", "description": "hex of nonce || ciphertext || tag of the answer JSON" }))["content"].clone()),
        _ => None,
    }
}

fn header_param(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "header", "required": required, "description": description, "schema": schema })
}

/// `Session-Id` and `Key-Id`.
fn session_params(required: bool) -> [Value; 2] {
    [
        header_param(
            "Session-Id",
            required,
            "The session key wrapped under the server's RSA key (GET /v2/public-key): canonical padded base64, single use",
            json!({
                "type": "string",
                "maxLength": 4096,
                "pattern": "^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
            }),
        ),
        header_param(
            "Key-Id",
            false,
            "The keyId of the RSA key the session id was made for (default: the active key, then the previous one)",
            json!({ "type": "string", "pattern": "^rsa-[0-9a-f]{16}$" }),
        ),
    ]
}

/// Does this operation exchange `{ data, iv }` values (in its request or
/// its success responses)? `encrypted` names the schemas that hold one.
fn uses_encrypted(op: &Value, encrypted: &[String]) -> bool {
    let text = |v: Option<&Value>| v.map(Value::to_string).unwrap_or_default();
    let body = text(op.get("requestBody"));
    let ok = text(
        op.pointer("/responses/200")
            .or(op.pointer("/responses/201")),
    );
    encrypted.iter().any(|name| {
        let r = format!("\"#/components/schemas/{name}\"");
        body.contains(&r) || ok.contains(&r)
    })
}

fn complete_operation(kind: Kind, path: &str, op: &mut Value, encrypted: &[String]) {
    let session = kind == Kind::Bearer && uses_encrypted(op, encrypted);
    let operation_id = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(obj) = op.as_object_mut() else {
        return;
    };
    // Security.
    let security = match kind {
        Kind::Bearer | Kind::Envelope => Some(json!([{ "bearer": [] }])),
        Kind::Account => Some(json!([{ "pltoken": [] }])),
        _ => None,
    };
    if let Some(s) = security {
        obj.insert("security".into(), s);
    }
    // Headers of the session routes (optional where a route works without).
    let params = match kind {
        Kind::Bearer if session => Some(session_params(true)),
        Kind::Envelope | Kind::Account => Some(session_params(false)),
        _ => None,
    };
    if let Some(params) = params {
        let list = obj.entry("parameters").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.extend(params);
        }
    }
    // Request bodies the annotations leave free-form.
    let form = match kind {
        Kind::Paythru => Some(("application/x-www-form-urlencoded", "PaythruForm")),
        Kind::Account => Some(("application/x-www-form-urlencoded", "AccountForm")),
        Kind::Envelope => Some(("application/json", "NiRequest")),
        _ => None,
    };
    if let (Some((media, schema)), Some(body)) = (form, obj.get_mut("requestBody")) {
        body["content"] = json!({ media: { "schema": schema_ref(schema) } });
        body["required"] = json!(true);
    }
    // Responses.
    let responses = obj.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    if let Some(content) = success_content(kind, path) {
        for code in ["200", "201"] {
            if let Some(r) = responses.get_mut(code) {
                if r.get("content").is_none() {
                    r["content"] = content.clone();
                }
            }
        }
    }
    let domain = operation_id
        .filter(|_| kind == Kind::Bearer)
        .map(|id| domain_responses(&id))
        .unwrap_or_default()
        .into_iter()
        .map(|(code, d)| (code, envelope(d)));
    for (code, response) in shared_responses(kind, session).into_iter().chain(domain) {
        match responses.get_mut(code) {
            None => {
                responses.insert(code.into(), response);
            }
            // The annotation's description stays; the body is added.
            Some(existing) if existing.get("content").is_none() => {
                existing["content"] = response["content"].clone();
                if let Some(h) = response.get("headers") {
                    existing["headers"] = h.clone();
                }
            }
            Some(_) => {}
        }
    }
}

/// Path parameters whose values are a closed set.
fn constrain_path_params(path: &str, op: &mut Value) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in params.iter_mut() {
        if p["in"] != "path" {
            continue;
        }
        let values: Option<Value> = match p["name"].as_str() {
            // The versions the description names ("1 or 2", "1, 2 or 3").
            Some("version") => {
                let d = p["description"].as_str().unwrap_or_default();
                let v: Vec<u8> = d
                    .bytes()
                    .filter(|b| (b'1'..=b'3').contains(b))
                    .map(|b| b - b'0')
                    .collect();
                Some(json!({ "type": "integer", "enum": v }))
            }
            Some("method") if path.starts_with("/v3/token/") => Some(json!({
                "type": "string",
                "enum": Method::ALL
                    .into_iter()
                    .filter(|m| *m != Method::CreateSession)
                    .map(Method::as_str)
                    .collect::<Vec<_>>(),
            })),
            Some("encoding") => Some(json!({ "type": "string", "enum": ["xml", "json"] })),
            // A reuse token (verifone::check_id).
            Some("id") if path.starts_with("/api/v2/card/") => {
                Some(json!({ "type": "string", "pattern": "^[A-Za-z0-9_.~-]{14,255}$" }))
            }
            _ => None,
        };
        if let Some(schema) = values {
            p["schema"] = schema;
        }
    }
}

/// The Paythru routes without the optional encoding segment (XML answers).
fn add_unencoded_variants(paths: &mut Map<String, Value>) {
    for (with, without) in [
        ("/v3/token/{method}/{encoding}", "/v3/token/{method}"),
        (
            "/v3/clientpost/session/{encoding}",
            "/v3/clientpost/session",
        ),
    ] {
        let Some(mut item) = paths.get(with).cloned() else {
            continue;
        };
        if let Some(op) = item.get_mut("post") {
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.retain(|p| p["name"] != "encoding");
            }
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                op["operationId"] = json!(format!("{id}_xml"));
            }
        }
        paths.entry(without).or_insert(item);
    }
}

/// Links from the answers that create a card or a token to the routes that
/// take it (for clients, and for schemathesis's stateful phase).
fn add_links(paths: &mut Map<String, Value>) {
    let links = [
        (
            "/api/v2/card",
            "put",
            "200",
            "/reuse_token",
            "id",
            &[
                "vf_get",
                "vf_patch",
                "vf_delete",
                "vf_suspend",
                "vf_activate",
            ][..],
        ),
        (
            "/v2/cards",
            "post",
            "201",
            "/token",
            "token",
            &[
                "get_pan",
                "get_cvv2",
                "reveal",
                "get_pin",
                "set_pin",
                "verify_pin",
                "unblock_pin",
                "verify_cvv2",
            ],
        ),
    ];
    for (path, method, status, field, param, targets) in links {
        let Some(response) = paths
            .get_mut(path)
            .and_then(|item| item.get_mut(method))
            .and_then(|op| op.pointer_mut(&format!("/responses/{status}")))
        else {
            continue;
        };
        let mut map = Map::new();
        for target in targets {
            map.insert(
                target.to_string(),
                json!({
                    "operationId": target,
                    "parameters": { *param: format!("$response.body#{field}") },
                }),
            );
        }
        response["links"] = Value::Object(map);
    }
}

/// The schemas that hold an `Encrypted` value (directly or one level down).
fn encrypted_schemas(doc: &Value) -> Vec<String> {
    let mut names = vec!["Encrypted".to_owned()];
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for _ in 0..2 {
            for (name, schema) in schemas {
                let text = schema.to_string();
                if !names.contains(name)
                    && names
                        .iter()
                        .any(|n| text.contains(&format!("\"#/components/schemas/{n}\"")))
                {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

const UUID: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const DATE: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
/// A compact JWE: five base64url parts.
const JWE: &str = "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]*){4}$";

/// What the service checks in a body that a schema can say too (so that
/// schema-valid requests are not refused): the ephemeral key's scopes and
/// life, the card fields' lengths and patterns, base64 in `{ data, iv }`.
fn constrain_schemas(doc: &mut Value) {
    let base64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";
    let scopes: Vec<&str> = Scope::ALL.into_iter().map(Scope::as_str).collect();
    let rules = [
        (
            "EphemeralKeyBody",
            "scopes",
            json!({ "minItems": 1, "items": { "type": "string", "enum": scopes } }),
        ),
        (
            "EphemeralKeyBody",
            "ttlSeconds",
            json!({ "minimum": 1, "maximum": MAX_EPHEMERAL_TTL_SECS }),
        ),
        (
            "IssueCardBody",
            "bin",
            json!({ "pattern": "^[0-9]{6,11}$" }),
        ),
        (
            "IssueCardBody",
            "exid",
            json!({ "pattern": "^[A-Za-z0-9_-]{1,32}$" }),
        ),
        ("IssueCardBody", "accountId", json!({ "maxLength": 200 })),
        ("IssueCardBody", "customerId", json!({ "maxLength": 200 })),
        ("IssueCardBody", "customerRef", json!({ "maxLength": 200 })),
        (
            "IssueCardBody",
            "cardholderName",
            json!({ "maxLength": 200 }),
        ),
        ("Encrypted", "data", json!({ "pattern": base64 })),
        // POST /v2/cards/{token}/digitization/apple (`domain::wallet`).
        (
            "AppleDigitizationBody",
            "certificates",
            json!({ "minItems": 2, "maxItems": 3, "items": { "type": "string", "pattern": base64, "minLength": 4, "maxLength": 5464 } }),
        ),
        (
            "AppleDigitizationBody",
            "nonce",
            json!({ "pattern": base64, "minLength": 4, "maxLength": 88 }),
        ),
        (
            "AppleDigitizationBody",
            "nonceSignature",
            json!({ "pattern": base64, "minLength": 4, "maxLength": 1368 }),
        ),
        ("Encrypted", "iv", json!({ "pattern": base64 })),
        // PUT and PATCH /api/v2/card (`Verifone::put_card`, `Verifone::patch_card`).
        ("PutCard", "token_scope", json!({ "pattern": UUID })),
        ("PutCard", "token_type", json!({ "enum": ["REUSE", null] })),
        (
            "PutCard",
            "reuse_token_type",
            json!({ "enum": ["INTERNAL", null] }),
        ),
        (
            "PutCard",
            "card_brand",
            json!({ "pattern": "^[A-Z0-9_]{2,20}$" }),
        ),
        (
            "PutCard",
            "token_expiry_date",
            json!({ "format": "date", "pattern": DATE }),
        ),
        ("PutCard", "encrypted_card", json!({ "pattern": JWE })),
        ("PatchCard", "encrypted_card", json!({ "pattern": JWE })),
        ("PatchCard", "cvv", json!({ "pattern": "^[0-9]{3,4}$" })),
        (
            "PatchCard",
            "card_holder_name",
            json!({ "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]{1,30}$" }),
        ),
        // 3 to 254 bytes with an @ neither first nor last, no space or control.
        (
            "PatchCard",
            "card_holder_email",
            json!({ "pattern": "^[!-?A-~][!-~]*@[!-~]*[!-?A-~]$", "minLength": 3, "maxLength": 254 }),
        ),
        (
            "PatchCard",
            "expiry_month",
            json!({ "minimum": 1, "maximum": 12 }),
        ),
        (
            "PatchCard",
            "expiry_year",
            json!({ "minimum": 2000, "maximum": 2099 }),
        ),
        (
            "PatchCard",
            "token_expiry_date",
            json!({ "format": "date", "pattern": DATE }),
        ),
        (
            "PatchCard",
            "scheme_token_action",
            json!({ "enum": ["CREATE", "DELETE", "SUSPEND", "ACTIVATE"] }),
        ),
    ];
    for (schema, property, extra) in rules {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let (Some(target), Some(extra)) = (doc.pointer_mut(&pointer), extra.as_object()) {
            if let Some(target) = target.as_object_mut() {
                target.extend(extra.clone());
            }
        }
    }
    // A PATCH must change something: at least one field, none null (null
    // is "not sent"), and public_key_alias only with encrypted_card.
    if let Some(patch) = doc.pointer_mut("/components/schemas/PatchCard") {
        if let Some(props) = patch["properties"].as_object_mut() {
            for p in props.values_mut() {
                let non_null = p["type"]
                    .as_array()
                    .and_then(|types| types.iter().find(|t| *t != "null").cloned());
                if let Some(t) = non_null {
                    p["type"] = t;
                }
            }
        }
        patch["minProperties"] = json!(1);
        patch["dependentRequired"] = json!({ "public_key_alias": ["encrypted_card"] });
    }
    // A V1/V2 answer is `{ token }`; V3 adds the card's masked details
    // (a flattened optional CardDto, which the derive renders as a oneOf
    // with null that no answer matches).
    let card = doc
        .pointer("/components/schemas/CardDto/properties")
        .cloned();
    if let (Some(Value::Object(mut props)), Some(tr)) =
        (card, doc.pointer_mut("/components/schemas/TokenResponse"))
    {
        props.insert(
            "token".into(),
            json!({ "type": "string", "description": "Card token." }),
        );
        *tr = json!({
            "type": "object",
            "description": "PAN to token response: the token; V3 adds the masked card details (the fields of CardDto).",
            "required": ["token"],
            "properties": props,
        });
    }
}

/// Completes `doc` (see the module documentation) as JSON (utoipa's own
/// types would drop some of it, e.g. a link's `operationId`).
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> Value {
    doc.merge(Formats::openapi());
    let Ok(mut v) = serde_json::to_value(&doc) else {
        return Value::Null;
    };
    let encrypted = encrypted_schemas(&v);
    constrain_schemas(&mut v);
    v["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The tenant's API key (psk_…) or an ephemeral key (pse_…) for one card and some scopes",
        },
        "pltoken": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "PLTOKEN <the tenant's API key> (account API)",
        },
    });
    if let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) {
        add_unencoded_variants(paths);
        add_links(paths);
        // operationIds must be unique: the Get CVV2 envelope's handler and
        // the card API's share a name (the envelope's gets a prefix).
        let mut seen = std::collections::HashSet::new();
        for (path, item) in paths.iter_mut() {
            let kind = Kind::of(path);
            for method in METHODS {
                let Some(op) = item.get_mut(method) else {
                    continue;
                };
                complete_operation(kind, path, op, &encrypted);
                constrain_path_params(path, op);
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    let mut id = id.to_owned();
                    if kind == Kind::Envelope {
                        id = format!("envelope_{id}");
                        op["operationId"] = json!(id);
                    }
                    if !seen.insert(id.clone()) {
                        op["operationId"] = json!(format!("{id}_{kind:?}").to_lowercase());
                    }
                }
            }
        }
    }
    v
}
