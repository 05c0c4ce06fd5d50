//! HTTP for the account payment-information API: `Authorization:
//! PLTOKEN {TOKEN}`, encrypted path ids, an encrypted `data=` form field,
//! encrypted answers (`text/plain`, hex), and the API's plain error
//! envelope. Handlers parse, call [`crate::domain::account`], and render.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use paysecure_core::{SessionKey, Version};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::domain::account::{
    self, AccountError, Failure, PaymentRequest, INTERNAL, INVALID, TOO_MANY_REQUESTS, UNAUTHORIZED,
};
use crate::domain::error::Error;
use crate::domain::service::Principal;
use crate::http::error::{ApiError, ErrorEnvelope, OwnErrorBody};
use crate::http::extract::{Auth, ClientIp, JsonBody};
use crate::http::router::AppState;
use crate::util::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn error_response(e: &AccountError) -> Response {
    let body = json!({"error": {"code": e.code, "message": e.message, "detail": e.detail}});
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = (status, Json(body)).into_response();
    res.extensions_mut().insert(OwnErrorBody);
    res
}

fn failure_response(f: Failure) -> Response {
    match f {
        Failure::Api(e) => error_response(&e),
        Failure::Internal(e) => {
            tracing::error!(error = %e, detail = ?e, "internal error");
            error_response(&INTERNAL)
        }
    }
}

/// The caller and the key of this request.
struct Ctx {
    tenant: String,
    key: SessionKey,
}

/// `Authorization: PLTOKEN <tenant API key>` (throttled like every
/// credential: a valid one passes its address's block, then its rate
/// limit), and the key: the session key of `Session-Id` if sent, else the
/// tenant's data key. The session id is opened (and so used up) only after
/// the credential is accepted.
async fn context(state: &AppState, headers: &HeaderMap, client: &str) -> Result<Ctx, Failure> {
    let token = crate::http::extract::credential(headers, "PLTOKEN ");
    let principal = match token {
        Some(t) => state.service.authenticate(t).await,
        None => Err(Error::Unauthenticated),
    };
    let tenant = match (principal, token) {
        (Ok(Principal::Tenant { tenant_id }), Some(t)) => {
            tracing::Span::current().record("principal", tenant_id.as_str());
            if let Err(Error::RateLimited { retry_after }) = state.service.limit_credential(t) {
                tracing::warn!(retry_after, "credential rate limit");
                return Err(TOO_MANY_REQUESTS.into());
            }
            tenant_id
        }
        (Ok(Principal::Ephemeral { .. }), _) => return Err(UNAUTHORIZED.into()),
        (Ok(_) | Err(Error::Unauthenticated), _) => {
            // Always 910: a blocked address is no longer counted, and a
            // valid credential is never refused for its address.
            if let Some(secs) = state.service.failed_authentication(client).await? {
                tracing::warn!(retry_after = secs, "blocked client");
            }
            return Err(UNAUTHORIZED.into());
        }
        (Err(e), _) => return Err(e.into()),
    };
    let principal = Principal::Tenant { tenant_id: tenant };
    let key = match crate::http::extract::session_id_header(headers) {
        Ok(Some(sid)) => {
            let grant = state.service.grant_tenant(&principal, Version::V2).await?;
            // A bad or replayed session id is one opaque 911, as everywhere.
            match state.service.open_session(&grant, &sid).await {
                Ok(s) => SessionKey::from_bytes(s.key().expose_bytes())
                    .map_err(|_| Failure::Internal(Error::Crypto("session key")))?,
                Err(Error::InvalidSession) => return Err(account::UNDECRYPTABLE.into()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None) => state
            .service
            .tenant_data_key(principal.tenant_id())
            .await?
            .ok_or(Failure::Api(UNAUTHORIZED))?,
        Err(_) => return Err(account::UNDECRYPTABLE.into()),
    };
    let tenant = principal.tenant_id().to_owned();
    Ok(Ctx { tenant, key })
}

/// Decrypts a path id; it must be a UUID, else `unknown` (an id that is
/// not a UUID names nothing: the call's 903).
async fn path_id(
    state: &AppState,
    ctx: &Ctx,
    hex: &str,
    unknown: AccountError,
) -> Result<String, Failure> {
    let raw = state.service.open_body(&ctx.key, hex).await?;
    std::str::from_utf8(&raw)
        .ok()
        .and_then(account::uuid)
        .ok_or(Failure::Api(unknown))
}

/// Decrypts the `data=` form field to the request.
async fn data(state: &AppState, ctx: &Ctx, body: &[u8]) -> Result<PaymentRequest, Failure> {
    let hex = form_urlencoded::parse(body)
        .find(|(k, _)| k == "data")
        .map(|(_, v)| Zeroizing::new(v.into_owned()))
        .ok_or_else(|| {
            Failure::Api(AccountError {
                detail: Some("the data field is missing".into()),
                ..INVALID
            })
        })?;
    let raw = state.service.open_body(&ctx.key, &hex).await?;
    serde_json::from_slice(&raw).map_err(|_| {
        Failure::Api(AccountError {
            detail: Some("data is not JSON of the expected shape".into()),
            ..INVALID
        })
    })
}

fn encrypted(state: &AppState, ctx: &Ctx, value: &Value) -> Response {
    match state.service.seal_body(&ctx.key, value) {
        Ok(hex) => {
            let mut res = (StatusCode::OK, hex).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        }
        Err(f) => failure_response(f),
    }
}

/// Which call, with its (still encrypted) path ids.
enum Call {
    Cancel(String, String),
    Create(String),
    Update(String, String),
    Delete(String, String),
    Get(String, String),
    List(String),
    Expiries(String),
    Reverify(String, String),
    Reset(String, String),
}

impl Call {
    /// The call's 903, worded as the document words it for that call.
    fn not_found(&self) -> AccountError {
        match self {
            Call::Cancel(..) => account::NOT_FOUND_CANCEL,
            Call::Delete(..) => account::NOT_FOUND,
            Call::List(..) => account::NOT_FOUND_LIST,
            Call::Expiries(..) => account::NOT_FOUND_EXPIRIES,
            // CreatePaymentInfo names a user who may have no card yet.
            Call::Create(..) => AccountError {
                detail: Some("uuid must be a UUID".into()),
                ..INVALID
            },
            Call::Update(..) | Call::Get(..) | Call::Reverify(..) | Call::Reset(..) => {
                account::NOT_FOUND_ONE
            }
        }
    }
}

async fn run(
    state: AppState,
    headers: HeaderMap,
    client: String,
    call: Call,
    body: Bytes,
) -> Response {
    let ctx = match context(&state, &headers, &client).await {
        Ok(c) => c,
        Err(f) => return failure_response(f),
    };
    let result = async {
        let s = &state.service;
        let unknown = call.not_found();
        match &call {
            Call::Cancel(u, o) => {
                let u = path_id(&state, &ctx, u, unknown.clone()).await?;
                let raw = s.open_body(&ctx.key, o).await?;
                let order = String::from_utf8(raw.to_vec()).map_err(|_| Failure::Api(unknown))?;
                s.cancel_payment_info(&ctx.tenant, &u, &order).await
            }
            Call::Create(u) => {
                let u = path_id(&state, &ctx, u, unknown).await?;
                let r = data(&state, &ctx, &body).await?;
                s.create_payment_info(&ctx.tenant, &u, &r).await
            }
            Call::Update(u, p)
            | Call::Delete(u, p)
            | Call::Get(u, p)
            | Call::Reverify(u, p)
            | Call::Reset(u, p) => {
                let u = path_id(&state, &ctx, u, unknown.clone()).await?;
                let p = path_id(&state, &ctx, p, unknown).await?;
                match &call {
                    // The card must exist before its body is even opened:
                    // an unknown id is 903, never a validation error.
                    Call::Update(..) => {
                        s.require_payment_info(&ctx.tenant, &u, &p).await?;
                        let r = data(&state, &ctx, &body).await?;
                        s.update_payment_info(&ctx.tenant, &u, &p, &r).await
                    }
                    Call::Reverify(..) => {
                        s.require_payment_info(&ctx.tenant, &u, &p).await?;
                        let r = data(&state, &ctx, &body).await?;
                        s.reverify_payment_info(&ctx.tenant, &u, &p, &r).await
                    }
                    Call::Reset(..) => s.reset_payment_info(&ctx.tenant, &u, &p).await,
                    Call::Delete(..) => s.delete_payment_info(&ctx.tenant, &u, &p).await,
                    _ => s.get_payment_info(&ctx.tenant, &u, &p).await,
                }
            }
            Call::List(u) => {
                let u = path_id(&state, &ctx, u, unknown).await?;
                s.list_payment_infos(&ctx.tenant, &u).await
            }
            Call::Expiries(u) => {
                let u = path_id(&state, &ctx, u, unknown).await?;
                s.card_expiries(&ctx.tenant, &u).await
            }
        }
    }
    .await;
    match result {
        Ok(value) => encrypted(&state, &ctx, &value),
        Err(f) => failure_response(f),
    }
}

/// CancelPaymentInfoByOrderId: deletes the card the order created.
#[utoipa::path(delete, path = "/account/{uuid}/orders/{orderId}", tag = "account",
    params(("uuid" = String, Path, description = "encrypted (hex of nonce || ciphertext || tag)"),
           ("orderId" = String, Path, description = "encrypted")),
    responses((status = 200, description = "encrypted {\"data\":{\"orderId\"}}"),
              (status = 400, description = "903 (as the document: \"400 Not Found\"), 911, 912, 913"),
              (status = 401, description = "910")))]
async fn cancel(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path((u, o)): Path<(String, String)>,
) -> Response {
    run(s, h, c, Call::Cancel(u, o), Bytes::new()).await
}

/// CreatePaymentInfo: `data=` is the encrypted JSON (orderId, udid,
/// billingInfo, paymentInfo.card with cardNum, cardExpYear, cardExpMonth,
/// cardCVVToken, cardHolder, ...). The first card of a user is its default.
#[utoipa::path(post, path = "/account/{uuid}/paymentinfo", tag = "account",
    params(("uuid" = String, Path, description = "encrypted")),
    request_body(content_type = "application/x-www-form-urlencoded", content = String, description = "data=<encrypted JSON>"),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\",\"paymentInfoId\",\"registeredDate\"}}"),
              (status = 400, description = "911-914"), (status = 404, description = "906: the CVV token does not resolve"),
              (status = 500, description = "933: card refused (invalid number, expired, CVV not the card's, already registered), as the document answers it")))]
async fn create(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path(u): Path<String>,
    body: Bytes,
) -> Response {
    run(s, h, c, Call::Create(u), body).await
}

/// GetPaymentInfo: the user's cards (status, default flag).
#[utoipa::path(get, path = "/account/{uuid}/paymentinfo", tag = "account",
    params(("uuid" = String, Path, description = "encrypted")),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\",\"totalCount\",\"paymentInfos\"}}"),
              (status = 404, description = "903")))]
async fn list(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path(u): Path<String>,
) -> Response {
    run(s, h, c, Call::List(u), Bytes::new()).await
}

/// GetCardExpiries: cards expired or expiring this month or next; each
/// entry's `expired` tells which (`true`: past its expiry month).
#[utoipa::path(get, path = "/account/{uuid}/paymentinfo/expiries", tag = "account",
    params(("uuid" = String, Path, description = "encrypted")),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\",\"totalCount\",\"paymentInfos\"}}"),
              (status = 404, description = "903")))]
async fn expiries(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path(u): Path<String>,
) -> Response {
    run(s, h, c, Call::Expiries(u), Bytes::new()).await
}

/// GetPaymentinfoByPaymentInfoID (card number masked).
#[utoipa::path(get, path = "/account/{uuid}/paymentinfo/{paymentInfoId}", tag = "account",
    params(("uuid" = String, Path, description = "encrypted"), ("paymentInfoId" = String, Path, description = "encrypted")),
    responses((status = 200, description = "encrypted {\"data\":{...}}"), (status = 404, description = "903")))]
async fn get_one(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path((u, p)): Path<(String, String)>,
) -> Response {
    run(s, h, c, Call::Get(u, p), Bytes::new()).await
}

/// UpdatePaymentInfo.
#[utoipa::path(put, path = "/account/{uuid}/paymentinfo/{paymentInfoId}", tag = "account",
    params(("uuid" = String, Path, description = "encrypted"), ("paymentInfoId" = String, Path, description = "encrypted")),
    request_body(content_type = "application/x-www-form-urlencoded", content = String, description = "data=<encrypted JSON>"),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\",\"paymentInfoId\",\"status\",\"updatedDate\"}}"),
              (status = 400, description = "911-914"), (status = 404, description = "903 (checked before the body), 906 (CVV token does not resolve)"),
              (status = 500, description = "975: card refused (FRAUD, CVV not the card's, expired), as the document answers it")))]
async fn update(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path((u, p)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    run(s, h, c, Call::Update(u, p), body).await
}

/// DeletePaymentInfo.
#[utoipa::path(delete, path = "/account/{uuid}/paymentinfo/{paymentInfoId}", tag = "account",
    params(("uuid" = String, Path, description = "encrypted"), ("paymentInfoId" = String, Path, description = "encrypted")),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\"}}"), (status = 404, description = "903")))]
async fn remove(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path((u, p)): Path<(String, String)>,
) -> Response {
    run(s, h, c, Call::Delete(u, p), Bytes::new()).await
}

/// ReVerifyPaymentInfo: the CVV token (any fresh one from the CVV token
/// service) must resolve, and its CVV be the card's; three mismatches mark
/// the card FRAUD (reset: `POST .../reset`).
#[utoipa::path(post, path = "/account/{uuid}/paymentinfo/{paymentInfoId}/verification", tag = "account",
    params(("uuid" = String, Path, description = "encrypted"), ("paymentInfoId" = String, Path, description = "encrypted")),
    request_body(content_type = "application/x-www-form-urlencoded", content = String, description = "data=<encrypted JSON>"),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\",\"paymentInfoId\",\"status\"}}"),
              (status = 404, description = "903 (checked before the body); 906: the CVV token does not resolve (detail null) or its CVV is not the card's (with a detail)")))]
async fn reverify(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path((u, p)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    run(s, h, c, Call::Reverify(u, p), body).await
}

/// Resets a `FRAUD` card to `ACTIVE` (the tenant's way back after CVV
/// mismatches; audited). Not in the document.
#[utoipa::path(post, path = "/account/{uuid}/paymentinfo/{paymentInfoId}/reset", tag = "account",
    params(("uuid" = String, Path, description = "encrypted"), ("paymentInfoId" = String, Path, description = "encrypted")),
    responses((status = 200, description = "encrypted {\"data\":{\"uuid\",\"paymentInfoId\",\"status\"}}"),
              (status = 404, description = "903")))]
async fn reset(
    State(s): State<AppState>,
    h: HeaderMap,
    ClientIp(c): ClientIp,
    Path((u, p)): Path<(String, String)>,
) -> Response {
    run(s, h, c, Call::Reset(u, p), Bytes::new()).await
}

/// Mint a CVV token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CvvTokenBody {
    /// The card verification value: 3 or 4 digits.
    #[schema(value_type = String, pattern = "^[0-9]{3,4}$")]
    pub cvv: Zeroizing<String>,
}

impl std::fmt::Debug for CvvTokenBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CvvTokenBody { cvv: <redacted> }")
    }
}

/// A minted CVV token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CvvTokenResponse {
    /// The token for `cardCVVToken`: 20 digits, one use.
    pub cvv_token: String,
    /// When it stops resolving (RFC 3339, UTC).
    pub expires_at: String,
}

/// The CVV token service (the document's "SAKA token for decryption of the Card
/// Verification Value"): a one-time token, valid 10 minutes, that only this
/// tenant can resolve, for a CVV. The CVV is held sealed until the token is
/// used or expires; nothing about it is kept with a card.
#[utoipa::path(post, path = "/v2/cvv-tokens", tag = "account", request_body = CvvTokenBody,
    responses((status = 201, body = CvvTokenResponse), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 429, body = ErrorEnvelope)))]
async fn mint_cvv_token(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(body): JsonBody<CvvTokenBody>,
) -> Result<(StatusCode, Json<CvvTokenResponse>), ApiError> {
    let tenant = p.require_tenant()?;
    let (token, expires) = state.service.mint_cvv_token(tenant, &body.cvv).await?;
    Ok((
        StatusCode::CREATED,
        Json(CvvTokenResponse {
            cvv_token: token,
            expires_at: rfc3339(expires),
        }),
    ))
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/{uuid}/orders/{order_id}", delete(cancel))
        .route("/account/{uuid}/paymentinfo", post(create).get(list))
        .route("/account/{uuid}/paymentinfo/expiries", get(expiries))
        .route(
            "/account/{uuid}/paymentinfo/{payment_info_id}",
            get(get_one).put(update).delete(remove),
        )
        .route(
            "/account/{uuid}/paymentinfo/{payment_info_id}/verification",
            post(reverify),
        )
        .route(
            "/account/{uuid}/paymentinfo/{payment_info_id}/reset",
            post(reset),
        )
        .route("/v2/cvv-tokens", post(mint_cvv_token))
}

/// The OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(cancel, create, list, expiries, get_one, update, remove, reverify, reset, mint_cvv_token),
    tags((name = "account", description = "Account payment information (the Account APIs document): every id and body encrypted"))
)]
pub struct AccountApiDoc;
