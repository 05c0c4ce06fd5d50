//! # paysecure-server
//!
//! The issuer side of PaySecure V1/V2/V3: the card API over an encrypted card
//! vault. Protocol code comes from the `paysecure-wasm` crate's Rust core; RSA
//! private-key operations use AWS-LC (constant time).
//!
//! Layers: [`api`] (axum: parse, call, map) → [`service`] (the domain) →
//! [`storage`] (sqlx) with [`vault`] and [`keys`] for the cryptography.
//!
//! The other APIs over the same vault, each an HTTP adapter over a domain
//! module: the Paythru v3 and Verifone-style token APIs ([`token_api`] over
//! [`paythru`], [`verifone`] and [`tokens`]), the Get CVV2 envelope
//! ([`ni_api`]) and the account payment-information API ([`account_api`]
//! over [`account`]).
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
