//! Attacks: limits.
#![allow(unused_imports)]

use crate::harness::*;
