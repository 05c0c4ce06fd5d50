//! ISO 9564-1 PIN block format 4: the AES PIN block (ISO 9564-1:2017,
//! introduced by its 2015 amendment).
//!
//! Formats 0 to 3 ([`crate::pin_block`]) are 8-byte blocks for TDES. AES has
//! 16-byte blocks, and a PIN under an AES key must travel as a format-4
//! block: two 16-byte fields, each a string of 32 nibbles.
//!
//! - The **plain-text PIN field**: the control nibble `4`, the PIN length
//!   `N` (4 to 12), the `N` PIN digits, fill nibbles `A` up to the 16th
//!   nibble, then 16 random nibbles (8 random bytes).
//! - The **plain-text PAN field**: a nibble `M` = PAN length − 12 (0 to 7),
//!   the PAN's digits left-justified, then `0` nibbles up to 32.
//! - **Encipherment** under the AES key `K`: `A = AES(K, PIN field)`,
//!   `B = A XOR PAN field`, block `= AES(K, B)`. Decipherment reverses it;
//!   the deciphered PIN field must then have the structure above.
//!
//! The AES operation is behind [`PinCipher`]: [`Format4Key`] does it in
//! software (the wasm module, tests); the issuer server does it inside an
//! HSM where the PIN key lives, through the same functions.
//!
//! A block that does not decipher to a well-formed PIN field under the given
//! key and PAN (wrong key, wrong PAN, a changed bit) fails with one opaque
//! [`Error::InvalidPinBlock`]: nothing says which check failed.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use zeroize::Zeroizing;

use crate::card;
use crate::error::{Error, Result};
use crate::secret::Pin;

/// Bytes in a format-4 PIN block (one AES block).
pub const BLOCK_LEN: usize = 16;
/// Hexadecimal characters in a format-4 PIN block as text.
pub const BLOCK_HEX_LEN: usize = 2 * BLOCK_LEN;
/// Random bytes in the second half of the plain-text PIN field.
pub const RANDOM_FILL_LEN: usize = 8;

/// The one error of a block that does not decipher to a PIN.
const OPAQUE: Error = Error::InvalidPinBlock(
    "the format 4 PIN block does not decipher to a PIN under this key and PAN",
);

/// One AES block forwards and backwards under one key: what format 4 needs
/// of its cipher. Implemented by [`Format4Key`] (software AES) and by the
/// issuer server for a key held in an HSM.
pub trait PinCipher {
    /// Enciphers one 16-byte block in place (AES, ECB on a single block).
    fn encrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> Result<()>;
    /// Deciphers one 16-byte block in place.
    fn decrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> Result<()>;
}

/// An AES-128, AES-192 or AES-256 key for format-4 PIN blocks (a PIN
/// encryption key). Zeroized on drop; `Debug` shows only its size.
pub enum Format4Key {
    /// A 16-byte key.
    Aes128(aes::Aes128),
    /// A 24-byte key.
    Aes192(aes::Aes192),
    /// A 32-byte key.
    Aes256(aes::Aes256),
}

impl core::fmt::Debug for Format4Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let bits = match self {
            Format4Key::Aes128(_) => 128,
            Format4Key::Aes192(_) => 192,
            Format4Key::Aes256(_) => 256,
        };
        write!(f, "Format4Key(AES-{bits}, <redacted>)")
    }
}

impl Format4Key {
    /// The key of these 16, 24 or 32 bytes ([`Error::InvalidKeySize`]
    /// otherwise).
    pub fn new(key: &[u8]) -> Result<Self> {
        let bad = |_| Error::InvalidKeySize;
        match key.len() {
            16 => aes::Aes128::new_from_slice(key)
                .map(Format4Key::Aes128)
                .map_err(bad),
            24 => aes::Aes192::new_from_slice(key)
                .map(Format4Key::Aes192)
                .map_err(bad),
            32 => aes::Aes256::new_from_slice(key)
                .map(Format4Key::Aes256)
                .map_err(bad),
            _ => Err(Error::InvalidKeySize),
        }
    }
}

impl PinCipher for Format4Key {
    fn encrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> Result<()> {
        let b = block.into();
        match self {
            Format4Key::Aes128(k) => k.encrypt_block(b),
            Format4Key::Aes192(k) => k.encrypt_block(b),
            Format4Key::Aes256(k) => k.encrypt_block(b),
        }
        Ok(())
    }

    fn decrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> Result<()> {
        let b = block.into();
        match self {
            Format4Key::Aes128(k) => k.decrypt_block(b),
            Format4Key::Aes192(k) => k.decrypt_block(b),
            Format4Key::Aes256(k) => k.decrypt_block(b),
        }
        Ok(())
    }
}

/// A 16-byte field that is wiped on drop.
pub type Field = Zeroizing<[u8; BLOCK_LEN]>;

/// Packs 32 nibbles into 16 bytes.
fn pack(nibbles: impl Iterator<Item = u8>) -> Field {
    let mut out = Zeroizing::new([0u8; BLOCK_LEN]);
    for (i, n) in nibbles.take(BLOCK_HEX_LEN).enumerate() {
        if let Some(byte) = out.get_mut(i / 2) {
            *byte |= if i % 2 == 0 { n << 4 } else { n & 0x0F };
        }
    }
    out
}

/// The nibble at position `i` (0..32) of a field.
fn nibble(field: &[u8; BLOCK_LEN], i: usize) -> u8 {
    field
        .get(i / 2)
        .map_or(0, |b| if i % 2 == 0 { b >> 4 } else { b & 0x0F })
}

/// The plain-text PIN field: `4`, the length, the digits, `A` fill to the
/// 16th nibble, then the 8 `random` bytes.
pub fn pin_field(pin: &Pin, random: &[u8; RANDOM_FILL_LEN]) -> Field {
    // Pin guarantees 4..=12 ASCII digits, so 2 + N <= 14 nibbles.
    let head = [4u8, pin.len() as u8]
        .into_iter()
        .chain(pin.expose().bytes().map(|d| d - b'0'))
        .chain(core::iter::repeat(0x0A))
        .take(BLOCK_HEX_LEN / 2);
    let tail = random.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    pack(head.chain(tail))
}

/// Reads the PIN out of a plain-text PIN field, checking its structure:
/// control nibble 4, length 4 to 12, decimal digits, `A` fill up to the
/// 16th nibble (the random half is not checked).
pub fn decode_pin_field(field: &[u8; BLOCK_LEN]) -> Result<Pin> {
    if nibble(field, 0) != 4 {
        return Err(OPAQUE);
    }
    let len = usize::from(nibble(field, 1));
    if !(Pin::MIN_LEN..=Pin::MAX_LEN).contains(&len) {
        return Err(OPAQUE);
    }
    let mut digits = Zeroizing::new(String::with_capacity(len));
    let mut well_formed = true;
    for i in 2..BLOCK_HEX_LEN / 2 {
        let n = nibble(field, i);
        if i < 2 + len {
            well_formed &= n <= 9;
            digits.push(char::from(b'0' + (n % 10)));
        } else {
            well_formed &= n == 0x0A;
        }
    }
    if !well_formed {
        return Err(OPAQUE);
    }
    Pin::new(&digits).map_err(|_| OPAQUE)
}

/// The plain-text PAN field: `M` = PAN length − 12, then the PAN's digits
/// left-justified, `0` after them. The PAN must be 12 to 19 digits (spaces
/// and hyphens are ignored), as [`card::normalize_pan`] takes it.
pub fn pan_field(pan: &str) -> Result<Field> {
    let digits = card::normalize_pan(pan)?;
    let m = digits.len().saturating_sub(12) as u8;
    Ok(pack(
        core::iter::once(m)
            .chain(digits.bytes().map(|d| d - b'0'))
            .chain(core::iter::repeat(0)),
    ))
}

fn xor_into(block: &mut [u8; BLOCK_LEN], field: &[u8; BLOCK_LEN]) {
    for (b, f) in block.iter_mut().zip(field.iter()) {
        *b ^= f;
    }
}

/// Enciphers `pin` for `pan` into a format-4 block, with fresh random fill.
pub fn encipher(
    cipher: &(impl PinCipher + ?Sized),
    pin: &Pin,
    pan: &str,
) -> Result<[u8; BLOCK_LEN]> {
    let mut random = Zeroizing::new([0u8; RANDOM_FILL_LEN]);
    getrandom::fill(&mut random[..])?;
    encipher_with_fill(cipher, pin, pan, &random)
}

/// [`encipher`] with the random half of the PIN field given: for
/// known-answer tests only (a block made with a fixed fill is the same for
/// every use of the same PIN, which format 4's random fill exists to
/// prevent).
pub fn encipher_with_fill(
    cipher: &(impl PinCipher + ?Sized),
    pin: &Pin,
    pan: &str,
    random: &[u8; RANDOM_FILL_LEN],
) -> Result<[u8; BLOCK_LEN]> {
    let pan = pan_field(pan)?;
    let mut block = pin_field(pin, random);
    cipher.encrypt_block(&mut block)?;
    xor_into(&mut block, &pan);
    cipher.encrypt_block(&mut block)?;
    Ok(*block)
}

/// Deciphers a format-4 block made for `pan` and returns its PIN. A block
/// of the wrong length is [`Error::InvalidPinBlock`]; so, with one message,
/// is every block that does not decipher to a well-formed PIN field.
pub fn decipher(cipher: &(impl PinCipher + ?Sized), block: &[u8], pan: &str) -> Result<Pin> {
    let pan = pan_field(pan)?;
    let mut work: Field = Zeroizing::new(
        block
            .try_into()
            .map_err(|_| Error::InvalidPinBlock("a format 4 PIN block is 16 bytes"))?,
    );
    cipher.decrypt_block(&mut work).map_err(|_| OPAQUE)?;
    xor_into(&mut work, &pan);
    cipher.decrypt_block(&mut work).map_err(|_| OPAQUE)?;
    decode_pin_field(&work)
}

/// [`encipher`] as 32 uppercase hexadecimal characters.
pub fn encipher_hex(cipher: &(impl PinCipher + ?Sized), pin: &Pin, pan: &str) -> Result<String> {
    Ok(to_hex(&encipher(cipher, pin, pan)?))
}

/// [`decipher`] of a block given as 32 hexadecimal characters (either case).
pub fn decipher_hex(cipher: &(impl PinCipher + ?Sized), block: &str, pan: &str) -> Result<Pin> {
    const NOT_HEX: Error =
        Error::InvalidPinBlock("a format 4 PIN block must be 32 hexadecimal characters");
    if block.len() != BLOCK_HEX_LEN {
        return Err(NOT_HEX);
    }
    let mut bytes = [0u8; BLOCK_LEN];
    for (i, c) in block.bytes().enumerate() {
        let n = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(NOT_HEX),
        };
        if let Some(byte) = bytes.get_mut(i / 2) {
            *byte |= if i % 2 == 0 { n << 4 } else { n };
        }
    }
    decipher(cipher, &bytes, pan)
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        for n in [b >> 4, b & 0x0F] {
            s.push(HEX.get(usize::from(n)).map_or('0', |&c| char::from(c)));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use proptest::prelude::*;

    fn key(hex_key: &str) -> Format4Key {
        Format4Key::new(&hex::decode(hex_key).unwrap()).unwrap()
    }

    fn pin(p: &str) -> Pin {
        Pin::new(p).unwrap()
    }

    // Vectors from independent sources:
    // - ep2 (eft/pos 2000) Security Specification 8.0.0, §8.4 "PIN
    //   Encryption", as quoted in the tests of the open-source Python
    //   library psec (github.com/knovichikhin/psec, tests/test_pinblock.py,
    //   `test_decipher_pinblock_iso_4`);
    // - psec's deterministic encipherment (random fill forced to FF bytes,
    //   `test_encipher_pinblock_iso_4_det`) and its PAN field example
    //   (`encode_pan_field_iso_4`).
    #[test]
    fn ep2_vector_deciphers() {
        let k = key("C1D0F8FB4958670DBA40AB1F3752EF0D");
        let block = hex::decode("CC17F65586BFD0953010226C4FC5B3CA").unwrap();
        let p = decipher(&k, &block, "432198765432109870").unwrap();
        assert_eq!(p.expose(), "1234");
    }

    #[test]
    fn psec_vector_enciphers_with_a_fixed_fill() {
        let k = key("00112233445566778899AABBCCDDEEFF");
        let block =
            encipher_with_fill(&k, &pin("1234"), "1234567890123456789", &[0xFF; 8]).unwrap();
        assert_eq!(to_hex(&block), "28B41FDDD29B743E93124BD8E32D921E");
        assert_eq!(
            decipher(&k, &block, "1234567890123456789")
                .unwrap()
                .expose(),
            "1234"
        );
    }

    #[test]
    fn fields_match_the_published_layouts() {
        assert_eq!(
            to_hex(&pan_field("112233445566778899").unwrap()[..]),
            "61122334455667788990000000000000"
        );
        // 12-digit PAN: M = 0.
        assert_eq!(
            to_hex(&pan_field("123456789012").unwrap()[..]),
            "01234567890120000000000000000000"
        );
        assert_eq!(
            to_hex(
                &pin_field(
                    &pin("1234"),
                    &[0x54, 0x8E, 0xD7, 0xFD, 0x65, 0x49, 0x59, 0x50]
                )[..]
            ),
            "441234AAAAAAAAAA548ED7FD65495950"
        );
        assert_eq!(
            to_hex(&pin_field(&pin("123456789012"), &[0; 8])[..]),
            "4C123456789012AA0000000000000000"
        );
    }

    #[test]
    fn malformed_pin_fields_are_refused() {
        for bad in [
            "541234AAAAAAAAAA548ED7FD65495950", // control 5
            "43123AAAAAAAAAAA548ED7FD65495950", // length 3
            "4D1234567890123A548ED7FD65495950", // length 13
            "441234ABCDEFABCD548ED7FD65495950", // fill not A
            "4412D4AAAAAAAAAA548ED7FD65495950", // digit D
        ] {
            let f: [u8; 16] = hex::decode(bad).unwrap().try_into().unwrap();
            assert_eq!(
                decode_pin_field(&f).unwrap_err().code(),
                ErrorCode::InvalidPinBlock,
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_lengths_keys_and_pans() {
        let k = key("00112233445566778899AABBCCDDEEFF");
        assert_eq!(
            decipher(&k, &[0u8; 15], "4111111111111111")
                .unwrap_err()
                .code(),
            ErrorCode::InvalidPinBlock
        );
        assert_eq!(
            decipher_hex(&k, "28B41FDDD29B743E93124BD8E32D921", "1234567890123456789")
                .unwrap_err()
                .code(),
            ErrorCode::InvalidPinBlock
        );
        assert_eq!(
            decipher_hex(
                &k,
                "28B41FDDD29B743E93124BD8E32D921G",
                "1234567890123456789"
            )
            .unwrap_err()
            .code(),
            ErrorCode::InvalidPinBlock
        );
        assert_eq!(
            encipher(&k, &pin("1234"), "12345").unwrap_err().code(),
            ErrorCode::InvalidPan
        );
        for len in [0, 8, 15, 17, 31, 33, 64] {
            assert_eq!(
                Format4Key::new(&vec![1u8; len]).unwrap_err().code(),
                ErrorCode::InvalidKeySize
            );
        }
        assert!(format!("{k:?}").contains("redacted"));
        // Lower-case hex is accepted.
        assert_eq!(
            decipher_hex(
                &k,
                "28b41fddd29b743e93124bd8e32d921e",
                "1234567890123456789"
            )
            .unwrap()
            .expose(),
            "1234"
        );
    }

    #[test]
    fn random_fill_makes_every_block_different() {
        let k = key("00112233445566778899AABBCCDDEEFF");
        let a = encipher(&k, &pin("1234"), "4111111111111111").unwrap();
        let b = encipher(&k, &pin("1234"), "4111111111111111").unwrap();
        assert_ne!(a, b);
    }

    fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 16),
            proptest::collection::vec(any::<u8>(), 24),
            proptest::collection::vec(any::<u8>(), 32),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(k in key_bytes(), p in "[0-9]{4,12}", pan in "[0-9]{12,19}") {
            let k = Format4Key::new(&k).unwrap();
            let block = encipher(&k, &pin(&p), &pan).unwrap();
            let opened = decipher(&k, &block, &pan).unwrap();
            prop_assert_eq!(opened.expose(), p.as_str());
            let text = encipher_hex(&k, &pin(&p), &pan).unwrap();
            prop_assert_eq!(text.len(), BLOCK_HEX_LEN);
            let opened = decipher_hex(&k, &text, &pan).unwrap();
            prop_assert_eq!(opened.expose(), p.as_str());
        }

        // A changed bit, another PAN or another key: one opaque error. (A
        // random 16-byte field is well-formed with probability about
        // 6e-8, dominated by 12-digit PINs: (1/16)^2 (10/16)^12 (1/16)^2;
        // so a run of these 768 checks fails by chance about once in
        // 20,000 runs.)
        #[test]
        fn tampering_gives_the_opaque_error(
            k in key_bytes(), p in "[0-9]{4,12}", pan in "[0-9]{12,19}",
            bit in 0usize..128, other_pan in "[0-9]{12,19}", other_key in key_bytes(),
        ) {
            let key = Format4Key::new(&k).unwrap();
            let block = encipher(&key, &pin(&p), &pan).unwrap();
            let mut flipped = block;
            flipped[bit / 8] ^= 1 << (bit % 8);
            let e = decipher(&key, &flipped, &pan).unwrap_err();
            prop_assert_eq!(e.code(), ErrorCode::InvalidPinBlock);
            prop_assert_eq!(e.to_string(), OPAQUE.to_string());
            if other_pan != pan {
                let e = decipher(&key, &block, &other_pan).unwrap_err();
                prop_assert_eq!(e.to_string(), OPAQUE.to_string());
            }
            if other_key != k {
                let e = decipher(&Format4Key::new(&other_key).unwrap(), &block, &pan).unwrap_err();
                prop_assert_eq!(e.to_string(), OPAQUE.to_string());
            }
        }
    }
}
