//! The three base64 readers: tolerant standard (values, keys), canonical
//! (session ids) and base64url (JWK members, JWE parts). Whatever decodes
//! re-encodes to something that decodes to the same bytes; canonical text
//! is exactly the encoding of what it decodes to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::encoding::{
    decode, decode_base64url, decode_canonical, encode, encode_base64url,
};
use paysecure_core::Error;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match decode(text, "x") {
        Ok(bytes) => assert_eq!(&decode(&encode(&bytes), "x").unwrap()[..], &bytes[..]),
        Err(e) => assert_eq!(e, Error::InvalidBase64("x")),
    }
    match decode_canonical(text, "x") {
        Ok(bytes) => assert_eq!(encode(&bytes), text),
        Err(e) => assert_eq!(e, Error::InvalidBase64("x")),
    }
    match decode_base64url(text, "x") {
        Ok(bytes) => assert_eq!(
            decode_base64url(&encode_base64url(&bytes), "x").unwrap(),
            bytes
        ),
        Err(e) => assert_eq!(e, Error::InvalidBase64("x")),
    }
});
