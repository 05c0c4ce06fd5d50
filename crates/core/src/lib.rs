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
mod ghash_ct64;
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
mod sha1_compact;
mod text;
mod wipe;

pub use error::{Error, ErrorCode, Result};
pub use pin_block::PinBlockFormat;
pub use pin_policy::{pin_weakness, PinWeakness};
pub use public_key::{JwkMember, Padding, PublicKey};
pub use secret::{KeySize, Pin, SessionKey};
pub use session::{wrap_session_key, EncryptedValue, Session, Version};

/// Without the `v1` feature (the npm package's `paysecure-wasm/reveal` build)
/// V1 is refused with [`Error::V1NotInEntry`] wherever it could start: the
/// version's text, a V1 session's operations, PKCS#1 v1.5 wrapping.
/// (`cargo test -p paysecure-core --no-default-features --lib`.)
#[cfg(all(test, not(feature = "v1")))]
mod without_v1 {
    use super::*;

    const PEM: &str = include_str!("../../../tests/data/rsa2048-public-pkcs1.pem");

    #[test]
    fn v1_is_refused_with_its_own_code() {
        for text in ["v1", "V1"] {
            assert_eq!(Version::parse(text), Err(Error::V1NotInEntry));
        }
        assert_eq!(Error::V1NotInEntry.code().as_str(), "V1_NOT_IN_ENTRY");
        let key = PublicKey::parse(PEM).unwrap();
        assert_eq!(
            key.encrypt(b"key", Padding::Pkcs1v15),
            Err(Error::V1NotInEntry)
        );
        let v1 = Session::generate(Version::V1, KeySize::Aes256).unwrap();
        assert_eq!(v1.session_id(&key), Err(Error::V1NotInEntry));
        assert_eq!(v1.encrypt(b"1432").map(|_| ()), Err(Error::V1NotInEntry));
        // V2/V3 are all there.
        for version in [Version::V2, Version::V3] {
            assert_eq!(Version::parse(version.as_str()), Ok(version));
            let s = Session::generate(version, KeySize::Aes128).unwrap();
            assert_eq!(s.session_id(&key).unwrap().len(), 344);
            let pin = Pin::new("1432").unwrap();
            assert_eq!(s.decrypt_pin(&s.encrypt_pin(&pin).unwrap()).unwrap(), pin);
        }
    }
}
