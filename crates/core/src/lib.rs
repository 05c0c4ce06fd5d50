#![doc = include_str!("../README.md")]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(feature = "body")]
pub mod body;
#[cfg(feature = "capture")]
pub mod capture;
pub mod card;
pub mod cipher;
mod der;
pub mod encoding;
mod error;
#[cfg(feature = "capture")]
pub mod jwe;
pub mod limits;
pub mod pin_block;
pub mod pin_block4;
pub mod pin_policy;
pub mod public_key;
mod rsa_encrypt;
mod secret;
mod session;
mod text;
mod wipe;

pub use error::{Error, ErrorCode, Result};
pub use pin_block::PinBlockFormat;
pub use pin_policy::{pin_weakness, PinWeakness};
pub use public_key::{JwkMember, Padding, PublicKey};
pub use secret::{KeySize, Pin, SessionKey};
pub use session::{wrap_session_key, EncryptedValue, Session, Version};
