//! Wallet provisioning (PaySecure V2 "Generate Apple Digitization Data",
//! "Generate MDES Digitization Data"): parse, call `domain::wallet`, map.
//! Both routes are card-data routes (`/v2/cards/{token}/…`): the per-card
//! rate limit applies before the handler runs (see `http::extract::Auth`).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use paysecure_core::Version;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::domain::service::Scope;
use crate::domain::wallet::AppleRequest;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::{Auth, JsonBody};
use crate::http::router::AppState;

/// What `PKAddPaymentPassViewControllerDelegate`'s
/// `generateRequestWithCertificateChain:nonce:nonceSignature:` hands the
/// issuer app, each `Data` as standard padded base64.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppleDigitizationBody {
    /// DER X.509 certificates, base64: the leaf first, then the sub-CA
    /// (a third, the root, is accepted if it is a configured root).
    pub certificates: Vec<String>,
    /// The nonce, base64 (1 to 64 bytes).
    pub nonce: String,
    /// The device's nonce signature, base64 (1 to 1024 bytes).
    pub nonce_signature: String,
}

/// The values of a `PKAddPaymentPassRequest` (encryption scheme `ECC_V2`),
/// base64: set them as `Data` in the app.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppleDigitizationResponse {
    /// Card token.
    pub token: String,
    /// AES-256-GCM ciphertext (tag appended) of the pass JSON
    /// (`primaryAccountNumber`, `expiration`, `name`, `nonce`,
    /// `nonceSignature`) under the key agreed with the leaf certificate.
    pub encrypted_pass_data: String,
    /// The Tokenization Authentication Value (base64 of its JSON; see
    /// `docs/protocol.md`), verifiable with the tenant's TAV public key.
    pub activation_data: String,
    /// The ephemeral P-256 public key, uncompressed point (65 bytes).
    pub ephemeral_public_key: String,
}

/// Mastercard field-level encryption of the card data (MDES names, hex).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedCardInfo {
    /// AES-128-CBC/PKCS#7 ciphertext of the card JSON, hex.
    pub encrypted_data: String,
    /// The AES key under RSA-OAEP (SHA-512, MGF1 SHA-512) with Mastercard's key, hex.
    pub encrypted_key: String,
    /// The 16-byte IV, hex.
    pub iv: String,
    /// Names Mastercard's key: SHA-256 (hex) of its certificate or SPKI, or as configured.
    pub public_key_fingerprint: String,
    /// `SHA512`.
    pub oaep_hashing_algorithm: String,
}

/// MDES digitization data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MdesDigitizationResponse {
    /// Card token.
    pub token: String,
    /// The Tokenization Authentication Value (base64 of its JSON).
    pub tokenization_authentication_value: String,
    /// The card data (`accountNumber`, `expiryMonth`, `expiryYear`,
    /// `source`, `cardholderName`, `dataValidUntilTimestamp`), encrypted to
    /// Mastercard's key.
    pub card_info: EncryptedCardInfo,
    /// RFC 3339: TAV and card data are not valid after this.
    pub data_valid_until_timestamp: String,
}

#[utoipa::path(post, path = "/v2/cards/{token}/digitization/apple", tag = "wallet provisioning",
    params(("token" = String, Path)), request_body = AppleDigitizationBody,
    responses(
        (status = 200, body = AppleDigitizationResponse),
        (status = 400, description = "`INVALID_REQUEST` (a field missing or of the wrong type); `INVALID_CERTIFICATE_CHAIN` (not 2-3 base64 DER certificates, or the chain breaks the Apple Pay issuer encryption policy: CA flags, key usage, the leaf's marker extension, a P-256 leaf key); `UNTRUSTED_CERTIFICATE_CHAIN` (a signature does not verify up to a configured Apple root); `CERTIFICATE_EXPIRED`; `INVALID_NONCE`; `INVALID_NONCE_SIGNATURE`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: an ephemeral key without the `digitize` scope, or for another card", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`CARD_NOT_ACTIVE` (a PAN-only token or an expired card); `WALLET_NOT_CONFIGURED` (no Apple root or TAV key for the tenant)", body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope)))]
async fn digitize_apple(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<AppleDigitizationBody>,
) -> Result<Json<AppleDigitizationResponse>, ApiError> {
    let grant = state
        .service
        .grant_card(&p, Version::V2, &token, Scope::Digitize)
        .await?;
    let req = AppleRequest {
        certificates: body.certificates,
        nonce: body.nonce,
        nonce_signature: body.nonce_signature,
    };
    let out = state.service.apple_digitization(&grant, &req).await?;
    Ok(Json(AppleDigitizationResponse {
        token,
        encrypted_pass_data: out.encrypted_pass_data,
        activation_data: out.activation_data,
        ephemeral_public_key: out.ephemeral_public_key,
    }))
}

#[utoipa::path(post, path = "/v2/cards/{token}/digitization/mdes", tag = "wallet provisioning",
    params(("token" = String, Path)),
    responses(
        (status = 200, body = MdesDigitizationResponse),
        (status = 403, description = "`FORBIDDEN`: an ephemeral key without the `digitize` scope, or for another card", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`CARD_NOT_ACTIVE`; `WALLET_NOT_CONFIGURED` (no Mastercard key or TAV key for the tenant)", body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope)))]
async fn digitize_mdes(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(token): Path<String>,
) -> Result<Json<MdesDigitizationResponse>, ApiError> {
    let grant = state
        .service
        .grant_card(&p, Version::V2, &token, Scope::Digitize)
        .await?;
    let out = state.service.mdes_digitization(&grant).await?;
    Ok(Json(MdesDigitizationResponse {
        token,
        tokenization_authentication_value: out.tav,
        card_info: EncryptedCardInfo {
            encrypted_data: out.card_info.encrypted_data,
            encrypted_key: out.card_info.encrypted_key,
            iv: out.card_info.iv,
            public_key_fingerprint: out.card_info.public_key_fingerprint,
            oaep_hashing_algorithm: out.card_info.oaep_hashing_algorithm.to_owned(),
        },
        data_valid_until_timestamp: out.valid_until,
    }))
}

/// The wallet provisioning routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/cards/{token}/digitization/apple", post(digitize_apple))
        .route("/v2/cards/{token}/digitization/mdes", post(digitize_mdes))
}

/// The OpenAPI paths of wallet provisioning (merged into
/// [`crate::http::router::ApiDoc`]).
#[derive(OpenApi)]
#[openapi(paths(digitize_apple, digitize_mdes))]
pub struct WalletApiDoc;
