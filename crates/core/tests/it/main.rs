//! The core's one integration-test binary (native only: the wasm facade's
//! suites run the same API inside JavaScript engines).
#![cfg(not(target_arch = "wasm32"))]

mod base64_reference;
mod common;
mod der_reference;
mod gcm_reference;
mod protocol;
mod vectors;
