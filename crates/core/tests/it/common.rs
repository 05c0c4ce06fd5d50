//! Fixtures shared by the core's integration tests and, through `#[path]`,
//! by the wasm facade's `tests/wasm_suite`. The data stays in the repository's
//! `tests/data/` (the JavaScript and Java tests read it too) and is compiled in
//! (`include_str!`), so a missing file fails the build instead of skipping.
#![allow(dead_code)]

use serde::Deserialize;

pub const PAYSECURE_VECTORS: &str = include_str!("../../../../tests/data/paysecure-v1-v2.json");
pub const WYCHEPROOF_GCM: &str = include_str!("../../../../tests/data/aes_gcm_ext_iv.json");
pub const RSA2048_PKCS1_PEM: &str = include_str!("../../../../tests/data/rsa2048-public-pkcs1.pem");
pub const RSA2048_JWK: &str = include_str!("../../../../tests/data/rsa2048-public.jwk.json");
pub const RSA1024_PEM: &str = include_str!("../../../../tests/data/rsa1024-public.pem");
pub const EC_P256_PEM: &str = include_str!("../../../../tests/data/ec-p256-public.pem");

#[derive(Deserialize)]
pub struct PaySecureVectors {
    pub rsa: RsaFixture,
    pub aes_cases: Vec<AesCase>,
    pub session_ids: Vec<SessionIdCase>,
    pub pin_blocks: Vec<PinBlockCase>,
}

#[derive(Deserialize)]
pub struct RsaFixture {
    pub bits: usize,
    pub public_spki_pem: String,
    pub private_pkcs8_pem: String,
    pub public_spki_der_b64: String,
}

#[derive(Deserialize)]
pub struct AesCase {
    pub id: String,
    pub session_key_hex: String,
    pub session_key_b64: String,
    pub iv_hex: String,
    pub iv_b64: String,
    pub plaintext: String,
    pub aes_gcm_ct_tag_b64: String,
    pub aes_gcm_tag_hex: String,
    pub aes_cbc_ct_b64: String,
}

#[derive(Deserialize)]
pub struct SessionIdCase {
    pub id: String,
    pub scheme: String,
    pub produced_by: String,
    pub session_key_hex: String,
    pub session_key_b64: String,
    pub session_id_b64: String,
}

#[derive(Deserialize)]
pub struct PinBlockCase {
    pub pin: String,
    pub pin_block_ascii: String,
    pub session_key_hex: String,
    pub iv_hex: String,
    pub aes_gcm_ct_tag_b64: String,
    pub aes_cbc_ct_b64: String,
}

#[derive(Deserialize)]
pub struct GcmVectors {
    pub cases: Vec<GcmCase>,
}

#[derive(Deserialize)]
pub struct GcmCase {
    pub id: String,
    pub key_hex: String,
    pub iv_hex: String,
    pub aad_hex: String,
    pub pt_hex: String,
    pub ct_hex: String,
    pub tag_hex: String,
    pub result: String,
}

pub fn paysecure() -> PaySecureVectors {
    serde_json::from_str(PAYSECURE_VECTORS).expect("paysecure vectors parse")
}

pub fn wycheproof() -> GcmVectors {
    serde_json::from_str(WYCHEPROOF_GCM).expect("wycheproof vectors parse")
}

pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("valid hex in test data")
}
