//! HTTP for Verifone-style token management (JSON under `/api/v2/card`):
//! create or update, read, patch, suspend, activate and delete a reusable
//! card token. Handlers only parse, call [`crate::domain::verifone`] and
//! render.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{patch, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::verifone;
use crate::http::error::ApiError;
use crate::http::extract::{Auth, JsonBody};
use crate::http::router::AppState;

// ------------------------------------------------------------------ shapes

/// `PUT /api/v2/card`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCard {
    /// The token scope (a UUID) the token lives in.
    #[schema(example = "0e48425a-f1bc-431a-b7d8-f866de8ba276")]
    pub token_scope: String,
    /// The card, encrypted in the browser by paysecure-wasm `encryptCard`.
    pub encrypted_card: String,
    /// The brand to record (e.g. `CB` for a co-badged card); default: from
    /// the BIN. A standard name that is not the card's brand is refused
    /// (`CARD_BRAND_MISMATCH`; `CB` goes with VISA or MASTERCARD).
    pub card_brand: Option<String>,
    /// `REUSE` (the only type).
    pub token_type: Option<String>,
    /// `INTERNAL` (the only type).
    pub reuse_token_type: Option<String>,
    /// `YYYY-MM-DD`: the token expires after this day.
    pub token_expiry_date: Option<String>,
    /// The key id the card was encrypted for (`keyId` of `GET /v2/capture-key`).
    pub public_key_alias: String,
}

/// `PATCH /api/v2/card/{id}`: only the fields sent change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCard {
    /// A new capture of the card; links the token to its PAN.
    pub encrypted_card: Option<String>,
    /// 3 or 4 digits: checked, never stored (PCI DSS 3.2).
    pub cvv: Option<String>,
    /// Up to 30 characters.
    pub card_holder_name: Option<String>,
    /// 3 to 254 characters with an `@`.
    pub card_holder_email: Option<String>,
    /// 1 to 12.
    #[serde(default, deserialize_with = "crate::http::openapi::optional_integer")]
    pub expiry_month: Option<i64>,
    /// Four digits.
    #[serde(default, deserialize_with = "crate::http::openapi::optional_integer")]
    pub expiry_year: Option<i64>,
    /// `YYYY-MM-DD`.
    pub token_expiry_date: Option<String>,
    /// With `encrypted_card`: the key it was encrypted for.
    pub public_key_alias: Option<String>,
    /// `CREATE`, `DELETE`, `SUSPEND` or `ACTIVATE`: accepted and ignored, as
    /// no token scope here has network tokens configured.
    pub scheme_token_action: Option<String>,
}

/// A token as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// The reuse token.
    pub reuse_token: String,
    /// Irreversible, stable per card and scope.
    pub analytics_token: String,
    /// First six digits.
    pub bin: String,
    /// 1..=12.
    pub expiry_month: i64,
    /// Four digits.
    pub expiry_year: i64,
    /// Last four digits.
    pub last_four: String,
    /// Name on the card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_holder_name: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_holder_email: Option<String>,
    /// Brand: the standard names of the Verifone Token Management document (`VISA`, `MASTERCARD`, `AMEX`,
    /// `DISCOVER`, `JCB`, `DINERS`, `MAESTRO`, `UPI`), `card_brand` when it
    /// was given, `UNKNOWN` otherwise.
    pub brand: String,
    /// `YYYY-MM-DD`.
    pub created_at: String,
    /// `YYYY-MM-DD`.
    pub updated_at: String,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expiry_date: Option<String>,
    /// `INTERNAL`.
    pub reuse_token_type: String,
    /// The token scope.
    pub token_scope: String,
    /// `ACTIVE`, `SUSPENDED` or `EXPIRED`.
    pub token_status: String,
    /// ISO 4217 currency of the card's BIN range; absent when the BIN table
    /// does not know the BIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "GBP")]
    pub currency: Option<String>,
    /// ISO 3166-1 alpha-3 country of the issuer (BIN table); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "GBR")]
    pub issuer_country: Option<String>,
    /// The issuer (BIN table); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "HSBC")]
    pub issuer_name: Option<String>,
    /// `CREDIT`, `DEBIT`, `PREPAID` or `CHARGE` (BIN table); absent when unknown.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(example = "CREDIT")]
    pub card_type: Option<String>,
    /// The product variant (BIN table), e.g. `NEW_WORLD`; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "NEW_WORLD")]
    pub variant: Option<String>,
}

impl From<PutCard> for verifone::PutCard {
    fn from(b: PutCard) -> Self {
        verifone::PutCard {
            token_scope: b.token_scope,
            encrypted_card: b.encrypted_card,
            card_brand: b.card_brand,
            token_type: b.token_type,
            reuse_token_type: b.reuse_token_type,
            token_expiry_date: b.token_expiry_date,
            public_key_alias: b.public_key_alias,
        }
    }
}

impl From<PatchCard> for verifone::PatchCard {
    fn from(b: PatchCard) -> Self {
        verifone::PatchCard {
            encrypted_card: b.encrypted_card,
            cvv: b.cvv,
            card_holder_name: b.card_holder_name,
            card_holder_email: b.card_holder_email,
            expiry_month: b.expiry_month,
            expiry_year: b.expiry_year,
            token_expiry_date: b.token_expiry_date,
            public_key_alias: b.public_key_alias,
            scheme_token_action: b.scheme_token_action,
        }
    }
}

impl From<verifone::TokenView> for TokenView {
    fn from(v: verifone::TokenView) -> Self {
        TokenView {
            reuse_token: v.reuse_token,
            analytics_token: v.analytics_token,
            bin: v.bin,
            expiry_month: v.expiry_month,
            expiry_year: v.expiry_year,
            last_four: v.last_four,
            card_holder_name: v.card_holder_name,
            card_holder_email: v.card_holder_email,
            brand: v.brand,
            created_at: v.created_at,
            updated_at: v.updated_at,
            token_expiry_date: v.token_expiry_date,
            reuse_token_type: v.reuse_token_type,
            token_scope: v.token_scope,
            token_status: v.token_status,
            currency: v.currency,
            issuer_country: v.issuer_country,
            issuer_name: v.issuer_name,
            card_type: v.card_type,
            variant: v.variant,
        }
    }
}

// ------------------------------------------------------------------ handlers

/// Create or update a token (the Verifone Token Management document): the token of this card in
/// `token_scope` is updated if there is one, else a new one is made.
#[utoipa::path(put, path = "/api/v2/card", tag = "verifone",
    request_body = PutCard,
    responses((status = 200, body = TokenView), (status = 400, body = crate::http::error::ErrorEnvelope),
              (status = 409, body = crate::http::error::ErrorEnvelope)))]
async fn vf_put(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(body): JsonBody<PutCard>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        state
            .service
            .verifone()
            .put_card(&p, &body.into())
            .await?
            .0
            .into(),
    ))
}

/// A token's details.
#[utoipa::path(get, path = "/api/v2/card/{id}", tag = "verifone",
    params(("id" = String, Path, description = "reuse token, 14 to 255 characters")),
    responses((status = 200, body = TokenView), (status = 404, body = crate::http::error::ErrorEnvelope)))]
async fn vf_get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        state.service.verifone().get_card(&p, &id).await?.into(),
    ))
}

/// Deletes a token (irreversible).
#[utoipa::path(delete, path = "/api/v2/card/{id}", tag = "verifone",
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::http::error::ErrorEnvelope)))]
async fn vf_delete(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.verifone().delete_card(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Partial update; a new `encrypted_card` relinks the token to its PAN.
#[utoipa::path(patch, path = "/api/v2/card/{id}", tag = "verifone",
    params(("id" = String, Path)), request_body = PatchCard,
    responses((status = 200, body = TokenView), (status = 404, body = crate::http::error::ErrorEnvelope),
              (status = 409, body = crate::http::error::ErrorEnvelope)))]
async fn vf_patch(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchCard>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        state
            .service
            .verifone()
            .patch_card(&p, &id, &body.into())
            .await?
            .into(),
    ))
}

/// Suspends a token (reversible with `activate`).
#[utoipa::path(patch, path = "/api/v2/card/{id}/suspend", tag = "verifone",
    params(("id" = String, Path)),
    responses((status = 204, description = "suspended"), (status = 404, body = crate::http::error::ErrorEnvelope)))]
async fn vf_suspend(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .verifone()
        .set_suspended(&p, &id, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Activates a suspended token (not an expired one).
#[utoipa::path(patch, path = "/api/v2/card/{id}/activate", tag = "verifone",
    params(("id" = String, Path)),
    responses((status = 204, description = "active"), (status = 404, body = crate::http::error::ErrorEnvelope),
              (status = 409, body = crate::http::error::ErrorEnvelope)))]
async fn vf_activate(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .verifone()
        .set_suspended(&p, &id, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes of Verifone-style token management.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/card", put(vf_put))
        .route(
            "/api/v2/card/{id}",
            patch(vf_patch).get(vf_get).delete(vf_delete),
        )
        .route("/api/v2/card/{id}/suspend", patch(vf_suspend))
        .route("/api/v2/card/{id}/activate", patch(vf_activate))
}

/// The OpenAPI paths of this module (merged into [`crate::http::router::ApiDoc`]).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(vf_put, vf_get, vf_delete, vf_patch, vf_suspend, vf_activate),
    components(schemas(PutCard, PatchCard, TokenView)),
    tags((name = "verifone", description = "Verifone-style token management (the Verifone Token Management document)"))
)]
pub struct VerifoneApiDoc;
