//! Secret-holding types: zeroized on drop, redacted in `Debug`, and exposed
//! only through explicitly named methods.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::encoding;
use crate::error::{Error, Result};

/// AES key sizes the protocol allows (the session key's length selects it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySize {
    /// AES-128: a 16-byte session key.
    Aes128,
    /// AES-192: a 24-byte session key.
    Aes192,
    /// AES-256: a 32-byte session key (the default).
    Aes256,
}

impl KeySize {
    /// All sizes, smallest first.
    pub const ALL: [KeySize; 3] = [KeySize::Aes128, KeySize::Aes192, KeySize::Aes256];

    /// From a size in bits (128, 192 or 256).
    pub fn from_bits(bits: u32) -> Result<Self> {
        match bits {
            128 => Ok(KeySize::Aes128),
            192 => Ok(KeySize::Aes192),
            256 => Ok(KeySize::Aes256),
            _ => Err(Error::InvalidKeySize),
        }
    }

    /// From a length in bytes (16, 24 or 32).
    pub fn from_len(len: usize) -> Result<Self> {
        match len {
            16 => Ok(KeySize::Aes128),
            24 => Ok(KeySize::Aes192),
            32 => Ok(KeySize::Aes256),
            _ => Err(Error::InvalidKeySize),
        }
    }

    /// Size in bits.
    pub fn bits(self) -> u32 {
        self.len() as u32 * 8
    }

    /// Size in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            KeySize::Aes128 => 16,
            KeySize::Aes192 => 24,
            KeySize::Aes256 => 32,
        }
    }
}

/// An AES session key (16, 24 or 32 bytes).
///
/// Zeroized on drop; `Debug` shows only its size.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey {
    bytes: Vec<u8>,
    #[zeroize(skip)]
    size: KeySize,
}

impl SessionKey {
    /// A fresh key from the platform CSPRNG (`crypto.getRandomValues` in a
    /// browser, the OS generator natively).
    pub fn generate(size: KeySize) -> Result<Self> {
        let mut bytes = vec![0u8; size.len()];
        getrandom::fill(&mut bytes)?;
        Ok(SessionKey { bytes, size })
    }

    /// A key from raw bytes; the length must be 16, 24 or 32.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let size = KeySize::from_len(bytes.len())?;
        Ok(SessionKey {
            bytes: bytes.to_vec(),
            size,
        })
    }

    /// A key from its base64 text: the form carried inside a session id and
    /// returned by [`SessionKey::to_base64`].
    pub fn from_base64(text: &str) -> Result<Self> {
        let raw = encoding::decode(text, "session key")?;
        Self::from_bytes(&raw)
    }

    /// The plaintext that a session id wraps: the UTF-8 bytes of the key's
    /// base64 text.
    pub fn from_session_id_plaintext(plaintext: &[u8]) -> Result<Self> {
        let text =
            core::str::from_utf8(plaintext).map_err(|_| Error::InvalidBase64("session key"))?;
        Self::from_base64(text)
    }

    /// The key size.
    pub fn size(&self) -> KeySize {
        self.size
    }

    /// The raw key bytes. Named to make every use visible in review.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key as padded standard base64, in a buffer wiped on drop.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(encoding::encode(&self.bytes))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey(<redacted {} bits>)", self.size.bits())
    }
}

/// A validated PIN: 4 to 12 ASCII decimal digits.
///
/// Zeroized on drop; `Debug` shows only its length.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Pin {
    digits: String,
}

impl Pin {
    /// Shortest PIN ISO 9564 allows.
    pub const MIN_LEN: usize = 4;
    /// Longest PIN ISO 9564 allows.
    pub const MAX_LEN: usize = 12;

    /// Validates and wraps a PIN.
    pub fn new(pin: &str) -> Result<Self> {
        if !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidPin("a PIN must contain only the digits 0-9"));
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&pin.len()) {
            return Err(Error::InvalidPin("a PIN must be 4 to 12 digits long"));
        }
        Ok(Pin {
            digits: pin.to_owned(),
        })
    }

    /// The PIN digits. Named to make every use visible in review.
    pub fn expose(&self) -> &str {
        &self.digits
    }

    /// Number of digits (4..=12).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.digits.len()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin(<redacted {} digits>)", self.digits.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn key_debug_is_redacted() {
        let key = SessionKey::from_bytes(&[0xAB; 32]).unwrap();
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("redacted 256 bits"), "{shown}");
    }

    #[test]
    fn pin_debug_is_redacted() {
        let pin = Pin::new("975310").unwrap();
        let shown = format!("{pin:?} {pin:#?}");
        assert!(!shown.contains("975310") && !shown.contains('9'), "{shown}");
        assert!(shown.contains("redacted 6 digits"), "{shown}");
    }

    #[test]
    fn zeroize_wipes_key_and_pin() {
        let mut key = SessionKey::from_bytes(&[7; 16]).unwrap();
        key.zeroize();
        // `Vec`'s zeroize wipes the contents, then clears the length.
        assert!(key.expose_bytes().is_empty());
        let mut pin = Pin::new("1234").unwrap();
        pin.zeroize();
        assert!(pin.expose().is_empty());
    }

    #[test]
    fn key_sizes() {
        for size in KeySize::ALL {
            let key = SessionKey::generate(size).unwrap();
            assert_eq!(key.expose_bytes().len() as u32 * 8, size.bits());
            assert_eq!(KeySize::from_bits(size.bits()), Ok(size));
        }
        assert_eq!(KeySize::from_bits(512), Err(Error::InvalidKeySize));
        assert_eq!(
            SessionKey::from_bytes(&[0; 20]).unwrap_err(),
            Error::InvalidKeySize
        );
        assert_ne!(
            SessionKey::generate(KeySize::Aes256)
                .unwrap()
                .expose_bytes(),
            SessionKey::generate(KeySize::Aes256)
                .unwrap()
                .expose_bytes()
        );
    }

    #[test]
    fn pin_validation() {
        for ok in ["0000", "1432", "123456789012"] {
            assert_eq!(Pin::new(ok).unwrap().expose(), ok);
        }
        for bad in [
            "",
            "123",
            "1234567890123",
            "12a4",
            "１２３４",
            " 1234",
            "12.4",
        ] {
            assert_eq!(
                Pin::new(bad).unwrap_err().code(),
                ErrorCode::InvalidPin,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn session_id_plaintext_is_base64_text() {
        let key = SessionKey::from_session_id_plaintext(b"K34VFiiu0qar9xWICc9PPA==").unwrap();
        assert_eq!(
            hex::encode(key.expose_bytes()),
            "2b7e151628aed2a6abf7158809cf4f3c"
        );
        assert_eq!(
            SessionKey::from_session_id_plaintext(b"AAAA").unwrap_err(),
            Error::InvalidKeySize
        );
        assert_eq!(
            SessionKey::from_session_id_plaintext(&[0xff, 0xfe])
                .unwrap_err()
                .code(),
            ErrorCode::InvalidBase64
        );
    }
}
