//! Every JSON request body the server deserializes, with serde_json as the
//! `JsonBody` extractor does: the card API's (http/paysecure.rs), the Client POST
//! capture and Verifone bodies (http/paythru.rs, http/verifone.rs), the account
//! API's decrypted `data=` JSON (http/account.rs), and the card list's query
//! string (serde_urlencoded, as axum's `Query`). The first byte picks the
//! type. None may panic; what serializes must deserialize back to the same
//! JSON; accepted scopes must be known scope names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_server::domain::account::PaymentRequest;
use paysecure_server::domain::service::Scope;
use paysecure_server::http::paysecure::{
    CardsQuery, Cvv2Body, EphemeralKeyBody, IssueCardBody, PanCvv2Body, PanPinBody, PinBlockBody,
    TokenBody,
};
use paysecure_server::http::paythru::CaptureBody;
use paysecure_server::http::verifone::{PatchCard, PutCard};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parses; if accepted, serializing and parsing again is stable.
fn round_trip<T: Serialize + DeserializeOwned>(body: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(body).ok()?;
    let json = serde_json::to_vec(&value).expect("a parsed body serializes");
    let again: T = serde_json::from_slice(&json).expect("a serialized body parses");
    assert_eq!(serde_json::to_vec(&again).expect("serializes"), json);
    Some(value)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 13 {
        0 => {
            let _ = round_trip::<PinBlockBody>(body);
        }
        1 => {
            let _ = round_trip::<PanPinBody>(body);
        }
        2 => {
            let _ = round_trip::<Cvv2Body>(body);
        }
        3 => {
            let _ = round_trip::<PanCvv2Body>(body);
        }
        4 => {
            let _ = round_trip::<TokenBody>(body);
        }
        5 => {
            let _ = round_trip::<IssueCardBody>(body);
        }
        6 => {
            if let Some(b) = round_trip::<EphemeralKeyBody>(body) {
                for s in &b.scopes {
                    if let Ok(scope) = Scope::parse(s) {
                        assert_eq!(scope.as_str(), s);
                    }
                }
            }
        }
        7 => {
            let _ = parse::<CaptureBody>(body);
        }
        8 => {
            let _ = parse::<PutCard>(body);
        }
        9 => {
            let _ = parse::<PatchCard>(body);
        }
        10 => {
            let _ = parse::<PaymentRequest>(body);
        }
        11 => {
            let _ = serde_urlencoded::from_bytes::<CardsQuery>(body).ok();
        }
        _ => {
            let _ = parse::<CardsQuery>(body);
        }
    }
});
