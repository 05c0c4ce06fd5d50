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

pub mod account;
pub mod account_api;
pub mod api;
pub mod cvv;
pub mod error;
pub mod keys;
pub mod ni_api;
pub mod openapi;
pub mod paythru;
pub mod ratelimit;
pub mod service;
pub mod sessions;
pub mod storage;
pub mod telemetry;
pub mod token_api;
pub mod tokens;
pub mod transport;
pub mod vault;
pub mod verifone;
pub mod web;

pub use api::{router, router_with, AppState};
pub use error::{Error, Result};
pub use service::{Service, ServiceConfig};
