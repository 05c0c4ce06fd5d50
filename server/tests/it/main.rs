//! The server's integration tests, one binary: each module is one former
//! test file. `common` is the in-process harness (router, databases);
//! `attacks` and `process` start real `paysecure-server` processes;
//! `layers` checks the import rules of `server/src`.
//!
//! The PostgreSQL pass (`PAYSECURE_TEST_POSTGRES` set) runs all but the
//! OpenAPI, layer and cluster tests: `cargo test -p paysecure-server --test
//! it -- --skip cluster_ --skip openapi:: --skip layers::`.

mod accounts;
mod api;
mod attacks;
mod card_list;
mod common;
mod custody;
mod layers;
mod ni_cvv2;
mod openapi;
mod process;
mod storage_paths;
mod tokens;
