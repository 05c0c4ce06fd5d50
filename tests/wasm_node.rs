//! wasm-bindgen tests in Node: `make test-wasm` (cargo test --target wasm32-unknown-unknown --test wasm_node, with the workspace's wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]

#[path = "../crates/core/tests/it/common.rs"]
mod common;
mod wasm_suite;
