//! Attacks: ops.
#![allow(unused_imports)]

use crate::harness::*;
