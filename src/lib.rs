//! # paysecure-wasm
//!
//! The `paysecure-wasm` npm package: a thin wasm-bindgen facade over
//! [`paysecure_core`], which holds the protocol. Each module here exports one
//! area of the JavaScript API and only converts between JavaScript values and
//! the core's types and errors:
//!
//! | module | exports |
//! | --- | --- |
//! | [`session`] | `Session` |
//! | [`body`] | `Session.encryptBody`, `Session.decryptBody` |
//! | [`public_key`] | `PublicKey` |
//! | [`pin`] | `pinBlock`, `parsePinBlock`, `pinWeakness` |
//! | [`card`] | `luhnCheck`, `cardBrand`, `maskPan` |
//! | [`capture`] | `encryptCard` |
//! | [`error`] | every failure as a `PaySecureError`, the list of their codes (`isPaySecureError` is JavaScript, `src/js/runtime.js`) |
//!
//! The crate's features (`v1`, `capture`, `body`, all on by default) decide
//! what a build has: scripts/build.sh builds it twice, with all of them (the
//! `paysecure-wasm` entry point) and with none (`paysecure-wasm/reveal`: V2/V3
//! sessions, public keys, PIN blocks, card helpers; `{ version: 'v1' }`
//! throws `V1_NOT_IN_ENTRY`, and [`capture`] and [`body`] are not there).
//!
//! The hand-written TypeScript (option objects, `EncryptedValue`,
//! `PaySecureErrorCode`, ...) is `src/paysecure.d.ts`, emitted into the
//! generated declarations as is. The modules are public so that the
//! `wasm-bindgen-test` suites can drive them from Rust; they only work on
//! `wasm32` (natively, any call into `js_sys` panics).
//!
//! Arguments arrive as `JsValue` and are checked here (`wasm_input`), so that
//! a wrong type is a `PaySecureError` with code `INVALID_INPUT` rather than a
//! `TypeError` from the glue. Every failure leaves as a JavaScript `Error`
//! whose `name` is `"PaySecureError"` and whose `code` is the core's
//! [`ErrorCode`](paysecure_core::ErrorCode) text.
//!
//! Secrets cross the boundary without a copy left in linear memory:
//! * strings come in through `wasm_input::string`, which has `TextEncoder.encodeInto`
//!   write them straight into a buffer wiped on drop (wasm-bindgen's
//!   `as_string` and `&str` arguments leave the glue's copy, or part of it
//!   after a reallocation, in freed memory);
//! * secrets go out as `JsValue::from_str` of a wiped buffer, which the glue
//!   decodes from a view of that buffer (a returned `String` is freed by the
//!   glue without being wiped);
//! * every exported function that handles one starts with `let _wipe =
//!   StackWipe;`, which zeroes the shadow stack its callees used when it
//!   returns: the AES, GHASH, SHA and Montgomery code keeps blocks, keys and
//!   padded messages in stack temporaries that nothing else wipes.
//!
//! tests/js/residue.test.mjs and tests/browser/residue.test.mjs check all of
//! it by scanning the memory after every call.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod args;
#[cfg(feature = "body")]
pub mod body;
#[cfg(feature = "capture")]
pub mod capture;
pub mod card;
pub mod error;
pub mod pin;
pub mod public_key;
pub mod session;
mod stack_wipe;
mod wasm_input;

use wasm_bindgen::prelude::wasm_bindgen;

// The heap of the WebAssembly module: talc instead of std's dlmalloc, about
// 1.7 KB (gzip) less code. Freed memory holds only what the callers left in
// it, as with dlmalloc: every secret buffer is wiped before it is freed (the
// residue tests check that after every call).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = concat!("\n", include_str!("paysecure.d.ts"));
