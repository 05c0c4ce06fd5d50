//! wasm-bindgen tests in headless Chromium:
//! `make test-wasm` (the same runner with CHROMEDRIVER=/usr/bin/chromedriver, headless).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "../crates/core/tests/it/common.rs"]
mod common;
mod wasm_suite;
