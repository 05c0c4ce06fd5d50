//! The upstream `wasm-bindgen-test-runner` (wasm-bindgen-cli 0.2.130), built
//! in this workspace. Cargo runs it for wasm32 tests through
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER` (the wasm layers of `scripts/test.sh`).
fn main() -> anyhow::Result<()> {
    wasm_bindgen_cli::wasm_bindgen_test_runner::run_cli_with_args(std::env::args_os())
}
