//! The attack suite: each attack on the server that a review, a probe or
//! thinking like an attacker found, as a named test against a real
//! `paysecure-server` process, asserting the refusal and that nothing
//! leaked (no decryption, no state change, no secret in the log).
//! `docs/security.md` maps every control to its test here.

mod common;

#[path = "attacks/harness.rs"]
mod harness;

#[path = "attacks/sessions.rs"]
mod sessions;

#[path = "attacks/limits.rs"]
mod limits;

#[path = "attacks/ops.rs"]
mod ops;

#[path = "attacks/paythru_pin.rs"]
mod paythru_pin;
