//! PaySecure V1/V2/V3, the card API: public keys, Get PAN / CVV2 / PIN,
//! Set PIN, PIN and CVV2 verification, PAN to token, the card list,
//! sandbox issuing and ephemeral keys. Handlers only parse, call the domain
//! and map the result.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use paysecure_core::{EncryptedValue, Error as CoreError, Pin, Session, Version};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::domain::card_list::PageRequest;
use crate::domain::error::{Code, Error};
use crate::domain::service::CardFilter;
use crate::domain::service::{CardSummary, IssueCard, Scope};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{Auth, JsonBody, SessionId};
use crate::http::router::AppState;
use crate::util::codec::base64url;
use crate::util::time::rfc3339;

// ------------------------------------------------------------------ shapes

/// An encrypted value: base64 `data` and `iv` under the session key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Encrypted {
    /// V2/V3: base64(ciphertext || 16-byte GCM tag). V1: base64 AES-CBC ciphertext.
    pub data: String,
    /// base64 of the 16-byte IV.
    pub iv: String,
}

impl From<EncryptedValue> for Encrypted {
    fn from(v: EncryptedValue) -> Self {
        Encrypted {
            data: v.data,
            iv: v.iv,
        }
    }
}

impl From<&Encrypted> for EncryptedValue {
    fn from(v: &Encrypted) -> Self {
        EncryptedValue {
            data: v.data.clone(),
            iv: v.iv.clone(),
        }
    }
}

pub(crate) fn seal(session: &Session, text: &str) -> Result<Encrypted, ApiError> {
    session
        .encrypt(text.as_bytes())
        .map(Encrypted::from)
        .map_err(|_| Error::Crypto("response encryption failed").into())
}

fn open_text(session: &Session, v: &Encrypted) -> Result<secrecy::SecretString, ApiError> {
    session
        .decrypt_string(&v.into())
        .map_err(|_| Error::UndecryptableValue.into())
}

fn open_pin(session: &Session, v: &Encrypted) -> Result<Pin, ApiError> {
    session.decrypt_pin(&v.into()).map_err(|e| match e {
        CoreError::InvalidPinBlock(_) | CoreError::InvalidPin(_) => ApiError::bad_request(
            Code::InvalidPinBlock,
            "the PIN block is not an ISO 9564 format-2 block of a 4-12 digit PIN",
        ),
        _ => Error::UndecryptableValue.into(),
    })
}

/// The issuer's current RSA public key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyResponse {
    /// Send as `Key-Id` (optional) with session ids made for this key.
    pub key_id: String,
    /// `RSA-OAEP-SHA1` (`/v2/public-key`: V2/V3 session ids),
    /// `RSAES-PKCS1-v1_5` (`/v1/public-key`: V1 session ids) or
    /// `RSA-OAEP-256` (`/v2/capture-key`: JWE card captures).
    pub algorithm: String,
    /// SPKI PEM.
    pub public_key: String,
    /// The same key as a JWK.
    pub jwk: Jwk,
    /// RFC 3339.
    pub expires_at: String,
}

/// An RSA JWK.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `RSA`.
    pub kty: String,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
    /// `RSA-OAEP`, `RSA1_5` or `RSA-OAEP-256`.
    pub alg: String,
    /// Key id.
    pub kid: String,
    /// `enc`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// Get PAN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PanResponse {
    /// Card token.
    pub token: String,
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// 1-12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
}

/// Get CVV2 response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cvv2Response {
    /// Card token.
    pub token: String,
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
}

/// Get PIN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinResponse {
    /// Card token.
    pub token: String,
    /// ISO 9564 format-2 PIN block, encrypted.
    pub pin_block: Encrypted,
}

/// A body carrying a PIN block.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinBlockBody {
    /// ISO 9564 format-2 PIN block, encrypted.
    pub pin_block: Encrypted,
}

/// Set PIN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetPinResponse {
    /// Card token.
    pub token: String,
    /// Always true.
    pub pin_set: bool,
}

/// Verify PIN for a provided PAN.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PanPinBody {
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// ISO 9564 format-2 PIN block, encrypted.
    pub pin_block: Encrypted,
}

/// Verify PIN response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinVerifyResponse {
    /// Whether the PIN was right.
    pub verified: bool,
    /// Wrong attempts left before the PIN blocks.
    pub tries_remaining: i64,
}

/// Verify CVV2 of a card.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cvv2Body {
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
}

/// Verify CVV2 for a provided PAN.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PanCvv2Body {
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
}

/// Verify CVV2 response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cvv2VerifyResponse {
    /// Whether the CVV2 was right.
    pub verified: bool,
}

/// PAN to token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenBody {
    /// The PAN, encrypted.
    pub pan: Encrypted,
}

/// PAN to token response. V3 adds the masked details.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// Card token.
    pub token: String,
    /// V3 only.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<CardDto>,
}

/// Reveal response: everything a card-reveal widget shows, in one round trip.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevealResponse {
    /// Card token.
    pub token: String,
    /// The PAN, encrypted.
    pub pan: Encrypted,
    /// The CVV2, encrypted.
    pub cvv2: Encrypted,
    /// 1-12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
}

/// A card, masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardDto {
    /// Card token (absent when flattened into a V3 token response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// First 6 and last 4 digits.
    pub masked_pan: String,
    /// Brand.
    pub brand: String,
    /// 1-12.
    pub expiry_month: Option<i64>,
    /// Four digits.
    pub expiry_year: Option<i64>,
    /// `ACTIVE` or `TOKENIZED`.
    pub status: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// Name on card.
    pub cardholder_name: Option<String>,
    /// Whether a PIN is set.
    pub pin_set: bool,
    /// Whether the PIN is blocked.
    pub pin_blocked: bool,
    /// RFC 3339.
    pub created_at: String,
}

impl From<CardSummary> for CardDto {
    fn from(c: CardSummary) -> Self {
        CardDto {
            token: Some(c.token),
            masked_pan: c.masked_pan,
            brand: c.brand,
            expiry_month: c.expiry_month,
            expiry_year: c.expiry_year,
            status: c.status,
            account_id: c.account_id,
            customer_id: c.customer_id,
            customer_ref: c.customer_ref,
            cardholder_name: c.cardholder_name,
            pin_set: c.pin_set,
            pin_blocked: c.pin_blocked,
            created_at: rfc3339(c.created_at),
        }
    }
}

/// One page of the detailed card list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardsResponse {
    /// The matching cards of this page, oldest first (by creation time,
    /// then token).
    pub cards: Vec<CardDto>,
    /// Whether more cards match after this page.
    pub has_more: bool,
    /// The `cursor` parameter that fetches the next page (with the same
    /// filters); `null` on the last page. Opaque: pass it back unchanged.
    pub next: Option<String>,
}

/// Filters of the card list (any combination).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CardsQuery {
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// Token.
    pub token: Option<String>,
    /// Cards per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` value of the previous page; absent for the first page.
    /// Opaque: pass back what `next` carried (its form is versioned and may
    /// change).
    #[param(pattern = r"^c1\.[0-9]{1,18}\.tok_[0-9a-f]{24}$")]
    pub cursor: Option<String>,
}

/// Issue a sandbox card.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssueCardBody {
    /// Account id.
    pub account_id: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer reference.
    pub customer_ref: Option<String>,
    /// 6-11 digit BIN (default 400000).
    pub bin: Option<String>,
    /// Name on card.
    pub cardholder_name: Option<String>,
    /// External id for the Get CVV2 envelope's `EXID` (1-32 letters, digits, `-`, `_`; unique).
    pub exid: Option<String>,
}

/// Create an ephemeral key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralKeyBody {
    /// The one card it may touch.
    pub token: String,
    /// `pan`, `cvv2`, `pin:read`, `pin:write`, `pin:verify`, `cvv2:verify`, `reveal`, `digitize`.
    pub scopes: Vec<String>,
    /// 1-900.
    #[serde(deserialize_with = "crate::http::openapi::integer")]
    pub ttl_seconds: i64,
}

/// An ephemeral key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralKeyResponse {
    /// Bearer credential for the cardholder's browser.
    pub key: String,
    /// RFC 3339.
    pub expires_at: String,
}

// ------------------------------------------------------------------ handlers

type ApiResult<T> = Result<Json<T>, ApiError>;

#[utoipa::path(get, path = "/v2/public-key", tag = "keys",
    responses((status = 200, body = PublicKeyResponse)))]
async fn public_key(State(state): State<AppState>) -> ApiResult<PublicKeyResponse> {
    public_key_of(&state, crate::crypto::keys::Purpose::Session)
}

/// The V1 key (PKCS#1 v1.5) is a key pair of its own, created when the
/// first tenant enables V1: a PKCS#1 v1.5 oracle must never sit on the key
/// that opens V2/V3 session ids.
#[utoipa::path(get, path = "/v1/public-key", tag = "keys",
    responses((status = 200, body = PublicKeyResponse), (status = 404, body = ErrorEnvelope)))]
async fn public_key_v1(State(state): State<AppState>) -> ApiResult<PublicKeyResponse> {
    // Enabled by the CLI in another process: reload when the database has
    // a key the ring lacks.
    let present = state.service.has_v1_key()
        || (state.service.reload_keys_if_stale().await? && state.service.has_v1_key());
    if !present {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Code::V1NotEnabled,
            "no tenant has enabled V1 on this server",
        ));
    }
    public_key_of(&state, crate::crypto::keys::Purpose::V1)
}

/// The card-capture key (JWE `RSA-OAEP-256`: the Verifone `encrypted_card`
/// and the Paythru Client POST capture) is a key pair of its own, never the
/// session key: one RSA key is used under one padding and hash only.
#[utoipa::path(get, path = "/v2/capture-key", tag = "keys",
    responses((status = 200, body = PublicKeyResponse)))]
async fn capture_key(State(state): State<AppState>) -> ApiResult<PublicKeyResponse> {
    public_key_of(&state, crate::crypto::keys::Purpose::Capture)
}

fn public_key_of(
    state: &AppState,
    purpose: crate::crypto::keys::Purpose,
) -> ApiResult<PublicKeyResponse> {
    use crate::crypto::keys::Purpose;
    let ring = state.service.keyring();
    let key = ring.active(purpose)?;
    let (algorithm, alg) = match purpose {
        Purpose::Session => ("RSA-OAEP-SHA1", "RSA-OAEP"),
        Purpose::V1 => ("RSAES-PKCS1-v1_5", "RSA1_5"),
        Purpose::Capture => ("RSA-OAEP-256", "RSA-OAEP-256"),
    };
    Ok(Json(PublicKeyResponse {
        key_id: key.key_id.clone(),
        algorithm: algorithm.into(),
        public_key: key.public_pem(),
        jwk: Jwk {
            kty: "RSA".into(),
            n: base64url(&key.public.modulus_be()),
            e: base64url(&key.public.exponent_be()),
            alg: alg.into(),
            kid: key.key_id.clone(),
            use_: "enc".into(),
        },
        expires_at: rfc3339(key.expires_at),
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/pan", tag = "card data",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    responses((status = 200, body = PanResponse), (status = 404, body = ErrorEnvelope)))]
async fn get_pan(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<PanResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Pan)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let card = state.service.card_secrets(&grant)?;
    Ok(Json(PanResponse {
        pan: seal(&s, &card.pan)?,
        token,
        expiry_month: card.expiry_month,
        expiry_year: card.expiry_year,
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/cvv2", tag = "card data",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    responses((status = 200, body = Cvv2Response)))]
async fn get_cvv2(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<Cvv2Response> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Cvv2)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let cvv2 = state.service.cvv2(&grant).await?;
    Ok(Json(Cvv2Response {
        cvv2: seal(&s, &cvv2)?,
        token,
    }))
}

#[utoipa::path(post, path = "/v2/cards/{token}/reveal", tag = "card data",
    params(("token" = String, Path)), responses((status = 200, body = RevealResponse)))]
async fn reveal(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<RevealResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Reveal)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let card = state.service.card_secrets(&grant)?;
    let cvv2 = state.service.cvv2(&grant).await?;
    Ok(Json(RevealResponse {
        pan: seal(&s, &card.pan)?,
        cvv2: seal(&s, &cvv2)?,
        token,
        expiry_month: card.expiry_month,
        expiry_year: card.expiry_year,
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/pin", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    responses((status = 200, body = PinResponse), (status = 409, body = ErrorEnvelope), (status = 423, body = ErrorEnvelope)))]
async fn get_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
) -> ApiResult<PinResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::PinRead)
        .await?;
    if grant.card().pin_blocked {
        return Err(Error::PinBlocked.into());
    }
    let s = state.service.open_session(&grant, &sid).await?;
    let pin = state.service.get_pin(&grant)?;
    let encrypted = s
        .encrypt_pin(&pin)
        .map_err(|_| Error::Crypto("response encryption failed"))?;
    Ok(Json(PinResponse {
        token,
        pin_block: encrypted.into(),
    }))
}

#[utoipa::path(put, path = "/v{version}/cards/{token}/pin", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    request_body = PinBlockBody, responses((status = 200, body = SetPinResponse), (status = 400, description = "`WEAK_PIN`: too easy to guess (the rules of `pinWeakness`); `INVALID_PIN_BLOCK`", body = ErrorEnvelope), (status = 423, body = ErrorEnvelope)))]
async fn set_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PinBlockBody>,
) -> ApiResult<SetPinResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::PinWrite)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let pin = open_pin(&s, &body.pin_block)?;
    state.service.set_pin(&grant, &pin).await?;
    Ok(Json(SetPinResponse {
        token,
        pin_set: true,
    }))
}

#[utoipa::path(post, path = "/v{version}/cards/{token}/pin/verify", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2"), ("token" = String, Path)),
    request_body = PinBlockBody, responses((status = 200, body = PinVerifyResponse), (status = 423, body = ErrorEnvelope)))]
async fn verify_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PinBlockBody>,
) -> ApiResult<PinVerifyResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::PinVerify)
        .await?;
    if grant.card().pin_blocked {
        return Err(Error::PinBlocked.into());
    }
    let s = state.service.open_session(&grant, &sid).await?;
    let pin = open_pin(&s, &body.pin_block)?;
    let v = state.service.verify_pin(&grant, &pin).await?;
    Ok(Json(PinVerifyResponse {
        verified: v.verified,
        tries_remaining: v.tries_remaining,
    }))
}

#[utoipa::path(post, path = "/v{version}/pin/verify", tag = "PIN",
    params(("version" = u8, Path, description = "1 or 2")),
    request_body = PanPinBody, responses((status = 200, body = PinVerifyResponse)))]
async fn verify_pin_by_pan(
    State(state): State<AppState>,
    Auth(p): Auth,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PanPinBody>,
) -> ApiResult<PinVerifyResponse> {
    let grant = state.service.grant_tenant(&p, version).await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let pan = open_text(&s, &body.pan)?;
    let pin = open_pin(&s, &body.pin_block)?;
    let v = state
        .service
        .verify_pin_by_pan(&grant, pan.expose_secret(), &pin)
        .await?;
    Ok(Json(PinVerifyResponse {
        verified: v.verified,
        tries_remaining: v.tries_remaining,
    }))
}

#[utoipa::path(post, path = "/v2/cards/{token}/pin/unblock", tag = "PIN",
    params(("token" = String, Path)), responses((status = 200, body = CardDto), (status = 403, body = ErrorEnvelope)))]
async fn unblock_pin(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
) -> ApiResult<CardDto> {
    Ok(Json(state.service.unblock_pin(&p, &token).await?.into()))
}

#[utoipa::path(post, path = "/v2/cards/{token}/cvv2/unblock", tag = "card data",
    params(("token" = String, Path)),
    responses((status = 200, body = CardDto), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn unblock_cvv2(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
) -> ApiResult<CardDto> {
    Ok(Json(state.service.unblock_cvv2(&p, &token).await?.into()))
}

#[utoipa::path(post, path = "/v2/cards/{token}/cvv2/verify", tag = "card data",
    params(("token" = String, Path)), request_body = Cvv2Body,
    responses((status = 200, body = Cvv2VerifyResponse), (status = 423, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
async fn verify_cvv2(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<Cvv2Body>,
) -> ApiResult<Cvv2VerifyResponse> {
    let grant = state
        .service
        .grant_card(&p, version, &token, Scope::Cvv2Verify)
        .await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let cvv2 = open_text(&s, &body.cvv2)?;
    let verified = state
        .service
        .verify_cvv2(&grant, cvv2.expose_secret())
        .await?;
    Ok(Json(Cvv2VerifyResponse { verified }))
}

#[utoipa::path(post, path = "/v2/cvv2/verify", tag = "card data",
    request_body = PanCvv2Body,
    responses((status = 200, body = Cvv2VerifyResponse), (status = 423, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
async fn verify_cvv2_by_pan(
    State(state): State<AppState>,
    Auth(p): Auth,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<PanCvv2Body>,
) -> ApiResult<Cvv2VerifyResponse> {
    let grant = state.service.grant_tenant(&p, version).await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let pan = open_text(&s, &body.pan)?;
    let cvv2 = open_text(&s, &body.cvv2)?;
    let verified = state
        .service
        .verify_cvv2_by_pan(&grant, pan.expose_secret(), cvv2.expose_secret())
        .await?;
    Ok(Json(Cvv2VerifyResponse { verified }))
}

#[utoipa::path(post, path = "/v{version}/tokens", tag = "tokens",
    params(("version" = u8, Path, description = "1, 2 or 3 (3 adds the masked card details)")),
    request_body = TokenBody, responses((status = 200, body = TokenResponse)))]
async fn pan_to_token(
    State(state): State<AppState>,
    Auth(p): Auth,
    SessionId(sid, version): SessionId,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<TokenResponse> {
    let grant = state.service.grant_tenant(&p, version).await?;
    let s = state.service.open_session(&grant, &sid).await?;
    let v3 = version == Version::V3;
    let pan = open_text(&s, &body.pan)?;
    let card = state.service.tokenize(&grant, pan.expose_secret()).await?;
    let token = card.token.clone();
    let details = v3.then(|| CardDto {
        token: None,
        ..CardDto::from(card)
    });
    Ok(Json(TokenResponse { token, details }))
}

#[utoipa::path(get, path = "/v2/cards", tag = "cards", params(CardsQuery),
    responses((status = 200, body = CardsResponse)))]
async fn list_cards(
    State(state): State<AppState>,
    Auth(p): Auth,
    query: Result<Query<CardsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<CardsResponse> {
    let Query(q) = query
        .map_err(|_| ApiError::bad_request(Code::InvalidRequest, "invalid query parameters"))?;
    let page = PageRequest::new(q.limit, q.cursor.as_deref())?;
    let filter = CardFilter {
        account_id: q.account_id,
        customer_id: q.customer_id,
        customer_ref: q.customer_ref,
        token: q.token,
    };
    let page = state.service.list_cards(&p, &filter, &page).await?;
    Ok(Json(CardsResponse {
        has_more: page.next.is_some(),
        next: page.next.map(|c| c.encode()),
        cards: page.cards.into_iter().map(CardDto::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v2/cards", tag = "cards", request_body = IssueCardBody,
    responses((status = 201, body = CardDto)))]
async fn issue_card(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(body): JsonBody<IssueCardBody>,
) -> Result<(StatusCode, Json<CardDto>), ApiError> {
    let req = IssueCard {
        account_id: body.account_id,
        customer_id: body.customer_id,
        customer_ref: body.customer_ref,
        bin: body.bin,
        cardholder_name: body.cardholder_name,
        exid: body.exid,
    };
    let card = state.service.issue_card(&p, &req).await?;
    Ok((StatusCode::CREATED, Json(card.into())))
}

#[utoipa::path(post, path = "/v2/ephemeral-keys", tag = "keys", request_body = EphemeralKeyBody,
    responses((status = 201, body = EphemeralKeyResponse)))]
async fn create_ephemeral_key(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(body): JsonBody<EphemeralKeyBody>,
) -> Result<(StatusCode, Json<EphemeralKeyResponse>), ApiError> {
    let (key, expires_at) = state
        .service
        .create_ephemeral_key(&p, &body.token, &body.scopes, body.ttl_seconds)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EphemeralKeyResponse {
            key: key.to_string(),
            expires_at: rfc3339(expires_at),
        }),
    ))
}

/// The routes of the card API (V1 and V2 paths; V3 is `/v3/tokens`).
pub fn routes() -> Router<AppState> {
    let api = Router::new()
        // Public, and read by merchants' pages on other origins.
        .route(
            "/v2/public-key",
            get(public_key).layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(tower_http::cors::Any)
                    .allow_methods([axum::http::Method::GET]),
            ),
        )
        .route(
            "/v1/public-key",
            get(public_key_v1).layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(tower_http::cors::Any)
                    .allow_methods([axum::http::Method::GET]),
            ),
        )
        .route(
            "/v2/capture-key",
            get(capture_key).layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(tower_http::cors::Any)
                    .allow_methods([axum::http::Method::GET]),
            ),
        )
        .route("/v2/cards", get(list_cards).post(issue_card))
        .route("/v2/ephemeral-keys", post(create_ephemeral_key))
        .route("/v2/cards/{token}/reveal", post(reveal))
        .route("/v2/cards/{token}/pin/unblock", post(unblock_pin))
        .route("/v2/cards/{token}/cvv2/verify", post(verify_cvv2))
        .route("/v2/cards/{token}/cvv2/unblock", post(unblock_cvv2))
        .route("/v2/cvv2/verify", post(verify_cvv2_by_pan))
        .route("/v3/tokens", post(pan_to_token));
    ["v1", "v2"].into_iter().fold(api, |r, v| {
        r.route(&format!("/{v}/cards/{{token}}/pan"), post(get_pan))
            .route(&format!("/{v}/cards/{{token}}/cvv2"), post(get_cvv2))
            .route(
                &format!("/{v}/cards/{{token}}/pin"),
                post(get_pin).put(set_pin),
            )
            .route(
                &format!("/{v}/cards/{{token}}/pin/verify"),
                post(verify_pin),
            )
            .route(&format!("/{v}/pin/verify"), post(verify_pin_by_pan))
            .route(&format!("/{v}/tokens"), post(pan_to_token))
    })
}

/// The OpenAPI paths of the card API (merged into [`crate::http::router::ApiDoc`]).
#[derive(OpenApi)]
#[openapi(
    paths(
        public_key,
        public_key_v1,
        capture_key,
        get_pan,
        get_cvv2,
        reveal,
        get_pin,
        set_pin,
        verify_pin,
        verify_pin_by_pan,
        unblock_pin,
        unblock_cvv2,
        verify_cvv2,
        verify_cvv2_by_pan,
        pan_to_token,
        list_cards,
        issue_card,
        create_ephemeral_key
    ),
    components(schemas(Encrypted))
)]
pub struct PaySecureApiDoc;
