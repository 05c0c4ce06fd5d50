//! Paythru Card Tokenisation API v3 requests: the form body as the handler decodes it
//! (`form_urlencoded::parse`), the parameter check of every method
//! (`paythru::check_params`) and the §2.5 signature (`paythru::signature`).
//! Properties: an accepted request has each canonical name once and loses
//! none; the signature is 128 lowercase hex digits and independent of the
//! parameters' order; a request signed with one shaKey never verifies under
//! another (the seeds are signed with the seed document's key).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysecure_server::domain::paythru::{check_params, signature, Method};
use zeroize::Zeroizing;

/// Seed 002's example shaKey: the committed seeds are signed with it.
const SHA_KEY: &str = "ds45k324l3k423k233";
/// A key the fuzzer never saw.
const OTHER_KEY: &str = "fuzz-other-sha-key-7c1e";

fuzz_target!(|data: &[u8]| {
    let raw: Vec<(String, Zeroizing<String>)> = form_urlencoded::parse(data)
        .map(|(k, v)| (k.into_owned(), Zeroizing::new(v.into_owned())))
        .collect();
    for method in Method::ALL {
        if let Ok(names) = check_params(method, &raw) {
            assert_eq!(names.len(), raw.len(), "no parameter is lost or merged");
            assert!(names.windows(2).all(|w| w[0] < w[1]), "each name once");
        }
    }
    let pairs = || raw.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let expected = signature(pairs(), SHA_KEY);
    assert_eq!(expected.len(), 128);
    assert!(expected
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(expected, signature(pairs().rev(), SHA_KEY));
    let given = raw
        .iter()
        .find(|(k, _)| k == "shaSignature")
        .map(|(_, v)| v.to_ascii_lowercase());
    if let Some(given) = given {
        assert_ne!(
            signature(pairs(), OTHER_KEY),
            given,
            "a signature verified under a key its maker did not have"
        );
    }
});
