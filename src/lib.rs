//! # paysecure-wasm
//!
//! The cardholder side of the PaySecure protocol (V1, V2, V3), as a plain
//! Rust library and, compiled to WebAssembly, as the `paysecure-wasm` npm
//! package.
//!
//! The browser makes a fresh AES session key, wraps it under the issuer's RSA
//! public key (the *session id*), and exchanges card data with the issuer as
//! `{ data, iv }` values under that key, so nothing in between sees a PAN,
//! CVV2 or PIN.
//!
//! ```
//! use paysecure_wasm::{KeySize, Pin, Session, Version};
//!
//! let session = Session::generate(Version::V2, KeySize::Aes256)?;
//! let sent = session.encrypt_pin(&Pin::new("1432")?)?;
//! assert_eq!(session.decrypt_pin(&sent)?.expose(), "1432");
//! # Ok::<(), paysecure_wasm::Error>(())
//! ```
//!
//! The core is target-independent and tested natively; the `#[wasm_bindgen]`
//! adapter lives in the `wasm` module and only converts types and errors.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod body;
pub mod capture;
pub mod card;
pub mod cipher;
pub mod encoding;
mod error;
pub mod jwe;
pub mod limits;
pub mod pin_block;
pub mod pin_policy;
pub mod public_key;
mod rsa_encrypt;
mod secret;
mod session;
pub mod wasm;
mod wasm_input;

pub use error::{Error, Result};

// The README's Rust example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use pin_block::PinBlockFormat;
pub use pin_policy::{pin_weakness, PinWeakness};
pub use public_key::{JwkMember, Padding, PublicKey};
pub use secret::{KeySize, Pin, SessionKey};
pub use session::{wrap_session_key, EncryptedValue, Session, Version};
