//! # paysecure-server
//!
//! The issuer side of PaySecure V1/V2/V3: the card API over an encrypted card
//! vault. Protocol code comes from the `paysecure-wasm` crate's Rust core; RSA
//! private-key operations use AWS-LC (constant time).
//!
//! Besides PaySecure V1/V2/V3 the server answers, over the same vault, the
//! Paythru Card Tokenisation API v3, Verifone-style token management, the
//! Get CVV2 envelope (`NISrvRequest` / `NISrvResponse`) and the account
//! payment-information API (`Authorization: PLTOKEN`).
//!
//! Layers, each importing only those below it (`tests/it/layers.rs`
//! enforces it):
//!
//! - [`cli`]: the command line (`serve`, `migrate`, `tenant …`, `keys …`);
//! - [`http`]: axum, tower, utoipa and hyper, one module per API, parsing,
//!   calling the domain and rendering;
//! - [`domain`]: the rules of every API over a small core state
//!   ([`Service`]);
//! - [`crypto`] (vault, RSA key ring, CVV2) and [`storage`] (sqlx, one
//!   file per table group), which do not know each other;
//! - [`util`]: clock, ids, encodings.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cli;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod storage;
pub mod util;

pub use domain::error::{Error, Result};
pub use domain::service::{Service, ServiceConfig};
pub use http::{router, router_with, AppState};
