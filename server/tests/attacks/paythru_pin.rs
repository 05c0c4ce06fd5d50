//! Attacks: paythru_pin.
#![allow(unused_imports)]

use crate::harness::*;
