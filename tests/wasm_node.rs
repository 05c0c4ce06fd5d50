//! wasm-bindgen tests in Node: `wasm-pack test --node -- --test wasm_node`.
#![cfg(target_arch = "wasm32")]

#[path = "../crates/core/tests/it/common.rs"]
mod common;
mod wasm_suite;
