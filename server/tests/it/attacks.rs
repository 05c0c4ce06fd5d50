//! The attack suite: each attack on the server that a review, a probe or
//! thinking like an attacker found, as a named test against a real
//! `paysecure-server` process, asserting the refusal and that nothing
//! leaked (no decryption, no state change, no secret in the log).
//! `docs/security.md` maps every control to its test here.

mod harness;
mod limits;
mod ops;
mod paythru_pin;
mod sessions;
mod wallet;
