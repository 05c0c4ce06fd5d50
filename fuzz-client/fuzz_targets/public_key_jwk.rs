//! JWK JSON text, read the way the wasm adapter reads a JWK (member by
//! member) into `PublicKey::from_jwk_members`: private members refused,
//! `use` / `key_ops` honoured, `n` / `e` base64url.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_core::public_key::JWK_PRIVATE_MEMBERS;
use paysecure_core::{Error, JwkMember, PublicKey};
use serde_json::Value;

fn member(jwk: &Value, name: &str) -> JwkMember {
    match jwk.get(name) {
        None => JwkMember::Absent,
        Some(Value::String(s)) => JwkMember::Text(s.clone()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map_or(JwkMember::Other, JwkMember::TextList),
        Some(_) => JwkMember::Other,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(jwk) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let result = PublicKey::from_jwk_members(|name| Ok(member(&jwk, name)));
    let private = JWK_PRIVATE_MEMBERS.iter().any(|m| jwk.get(m).is_some());
    match result {
        Ok(key) => {
            assert!(!private, "a JWK with private members was accepted");
            assert_eq!(jwk.get("kty").and_then(Value::as_str), Some("RSA"));
            assert!(key.bits() >= 2048);
        }
        Err(Error::PrivateJwk) => assert!(private),
        Err(Error::InvalidPublicKey(_) | Error::WeakPublicKey { .. }) => assert!(!private),
        Err(e) => panic!("unexpected error {e:?}"),
    }
});
