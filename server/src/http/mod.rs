//! HTTP: the only layer that knows axum, tower, hyper and utoipa. One
//! module per API ([`paysecure`], [`paythru`], [`verifone`], [`get_cvv2`],
//! [`account`], [`wallet`], [`web`]) over shared [`error`], [`extract`] and [`mod@router`]
//! modules; [`transport`] is the listener and [`telemetry`] the logs and
//! metrics. Request and response shapes (DTOs) live beside their handlers.

pub mod account;
pub mod error;
pub mod extract;
pub mod get_cvv2;
pub mod openapi;
pub mod paysecure;
pub mod paythru;
pub mod router;
pub mod server;
pub mod telemetry;
pub mod transport;
pub mod verifone;
pub mod wallet;
pub mod web;

pub use router::{api_doc, router, router_with, AppState, BODY_LIMIT, REQUEST_TIMEOUT};
