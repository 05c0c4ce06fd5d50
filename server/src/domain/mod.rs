//! The rules of every API, independent of HTTP and SQL: [`service`] holds
//! the core state (storage, vault, key ring, limiters, tenants and
//! credentials); each feature is its own module over it.

pub mod account;
pub mod bins;
pub mod card_list;
pub mod custody;
pub mod error;
pub mod get_cvv2;
pub mod keys;
pub mod paysecure;
pub mod paythru;
pub mod ratelimit;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod verifone;
pub mod wallet;
