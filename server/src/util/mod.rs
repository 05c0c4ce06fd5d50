//! Pure helpers shared by several layers: clock and date text, random
//! identifiers, digests and encodings, masked card numbers. Nothing here
//! imports another layer of the crate.

pub mod card;
pub mod codec;
pub mod ids;
pub mod time;
