//! wasm-bindgen tests in Node: `wasm-pack test --node -- --test wasm_node`.
#![cfg(target_arch = "wasm32")]

mod common;
mod wasm_suite;
