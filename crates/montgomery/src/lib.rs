//! Constant-time Montgomery arithmetic for RSA public-key operations, with
//! 32-bit limbs (what wasm32 multiplies natively: 32×32→64 bits).
//!
//! Its own crate so that it can be compiled for speed (`opt-level = 3`)
//! while the rest of the WebAssembly build is compiled for size
//! (`opt-level = "z"`): Cargo sets optimisation levels per crate. See
//! `paysecure-wasm`'s `src/rsa_encrypt.rs` for the padding and the reasons.
//!
//! Constant time: the base (a padded secret) only flows through
//! [`Modulus::mul`], whose loops and final subtraction depend on lengths
//! alone (the subtraction is a masked select). The modulus and the exponent
//! are public; square-and-multiply branches on the exponent's bits.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use zeroize::Zeroizing;

/// An odd RSA modulus with its Montgomery constants (all public).
#[derive(Clone)]
pub struct Modulus {
    /// Little-endian 32-bit limbs.
    n: Vec<u32>,
    /// −n⁻¹ mod 2³².
    n0: u32,
    /// R² mod n, R = 2^(32·limbs).
    r2: Vec<u32>,
}

/// Little-endian limbs of a big-endian byte string, `limbs` long.
fn limbs_of(be: &[u8], limbs: usize) -> Zeroizing<Vec<u32>> {
    let mut out = Zeroizing::new(vec![0u32; limbs]);
    for (i, chunk) in be.rchunks(4).enumerate() {
        if let Some(slot) = out.get_mut(i) {
            *slot = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        }
    }
    out
}

/// `x -= n` where the caller knows `carry·2^(32·len) + x ≥ n`.
fn sub_in_place(x: &mut [u32], n: &[u32]) {
    let mut borrow = 0u64;
    for (xi, &ni) in x.iter_mut().zip(n) {
        let d = u64::from(*xi)
            .wrapping_sub(u64::from(ni))
            .wrapping_sub(borrow);
        *xi = d as u32;
        borrow = d >> 63;
    }
}

/// `x ≥ n` (variable time: used on public values only).
fn geq(x: &[u32], n: &[u32]) -> bool {
    for (a, b) in x.iter().rev().zip(n.iter().rev()) {
        if a != b {
            return a > b;
        }
    }
    true
}

/// `x = 2x mod n` for `x < n` (public values only).
fn double_mod(x: &mut [u32], n: &[u32]) {
    let mut carry = 0u32;
    for xi in x.iter_mut() {
        let next = *xi >> 31;
        *xi = (*xi << 1) | carry;
        carry = next;
    }
    if carry == 1 || geq(x, n) {
        sub_in_place(x, n);
    }
}

impl Modulus {
    /// From big-endian bytes without leading zeros; `None` unless odd and
    /// at least 2 bytes.
    pub fn new(be: &[u8]) -> Option<Self> {
        let (&first, _) = be.split_first()?;
        let &last = be.last()?;
        if first == 0 || last & 1 == 0 || be.len() < 2 {
            return None;
        }
        let limbs = be.len().div_ceil(4);
        let n = limbs_of(be, limbs).to_vec();
        // Newton's iteration for n⁻¹ mod 2³²: each step doubles the correct bits.
        let mut inv = 1u32;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        let n0 = inv.wrapping_neg();
        // R mod n: start from 2^(bits-1) < n and double up to 2^(32·limbs).
        let bits = be.len() * 8 - first.leading_zeros() as usize;
        let mut r = vec![0u32; limbs];
        let top = bits - 1;
        r[top / 32] = 1 << (top % 32);
        for _ in 0..(32 * limbs - top) {
            double_mod(&mut r, &n);
        }
        // 2^limbs · R, then five Montgomery squarings: 2^(32·limbs) · R = R².
        for _ in 0..limbs {
            double_mod(&mut r, &n);
        }
        let mut m = Modulus { n, n0, r2: vec![] };
        let mut t = vec![0u32; limbs + 2];
        let mut sq = vec![0u32; limbs];
        for _ in 0..5 {
            m.mul(&mut sq, &r, &r, &mut t);
            core::mem::swap(&mut r, &mut sq);
        }
        m.r2 = r;
        Some(m)
    }

    fn limbs(&self) -> usize {
        self.n.len()
    }

    /// Montgomery product `out = a·b·R⁻¹ mod n` for `a, b < n` (CIOS).
    /// Constant time in `a` and `b`. `t` is scratch of `limbs + 2`.
    fn mul(&self, out: &mut [u32], a: &[u32], b: &[u32], t: &mut [u32]) {
        let l = self.limbs();
        let n = &self.n[..l];
        let (a, b, out) = (&a[..l], &b[..l], &mut out[..l]);
        let t = &mut t[..l + 2];
        t.fill(0);
        let n_first = u64::from(n[0]);
        for &ai in a {
            let ai = u64::from(ai);
            let mut c = 0u64;
            for (tj, &bj) in t[..l].iter_mut().zip(b) {
                let s = u64::from(*tj) + ai * u64::from(bj) + c;
                *tj = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[l]) + c;
            t[l] = s as u32;
            t[l + 1] = (s >> 32) as u32;
            let m = u64::from(t[0].wrapping_mul(self.n0));
            let mut c = (u64::from(t[0]) + m * n_first) >> 32;
            for j in 1..l {
                let s = u64::from(t[j]) + m * u64::from(n[j]) + c;
                t[j - 1] = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[l]) + c;
            t[l - 1] = s as u32;
            t[l] = t[l + 1] + (s >> 32) as u32;
        }
        // t < 2n: out = t − n if that does not borrow, else t (masked select).
        let mut borrow = 0u64;
        for ((o, &tj), &nj) in out.iter_mut().zip(t.iter()).zip(n) {
            let d = u64::from(tj)
                .wrapping_sub(u64::from(nj))
                .wrapping_sub(borrow);
            *o = d as u32;
            borrow = d >> 63;
        }
        let keep_t = (u64::from(t[l]).wrapping_sub(borrow) >> 63) as u32;
        let mask = keep_t.wrapping_neg();
        for (o, &tj) in out.iter_mut().zip(t.iter()) {
            *o = (*o & !mask) | (tj & mask);
        }
    }

    /// `m^e mod n` for `m < n` given as `limbs·4`-or-fewer big-endian bytes;
    /// returns `len` big-endian bytes.
    pub fn pow_public(&self, m_be: &[u8], e: u64, len: usize) -> Zeroizing<Vec<u8>> {
        let l = self.limbs();
        let m = limbs_of(m_be, l);
        let mut t = Zeroizing::new(vec![0u32; l + 2]);
        let mut base = Zeroizing::new(vec![0u32; l]);
        self.mul(&mut base, &m, &self.r2, &mut t);
        let mut acc = Zeroizing::new(base.to_vec());
        let mut tmp = Zeroizing::new(vec![0u32; l]);
        let top = 63 - e.leading_zeros();
        for i in (0..top).rev() {
            self.mul(&mut tmp, &acc, &acc, &mut t);
            core::mem::swap(&mut *acc, &mut *tmp);
            if (e >> i) & 1 == 1 {
                self.mul(&mut tmp, &acc, &base, &mut t);
                core::mem::swap(&mut *acc, &mut *tmp);
            }
        }
        let mut one = vec![0u32; l];
        one[0] = 1;
        self.mul(&mut tmp, &acc, &one, &mut t);
        let mut out = Zeroizing::new(vec![0u8; len]);
        for (i, byte) in out.iter_mut().rev().enumerate() {
            *byte = tmp.get(i / 4).map_or(0, |w| (w >> (8 * (i % 4))) as u8);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn modulus_bytes(bits: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut n: Vec<u8> = (0..bits.div_ceil(8))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let extra = n.len() * 8 - bits;
        n[0] = (n[0] | 0x80) >> extra;
        let last = n.len() - 1;
        n[last] |= 1;
        n
    }

    fn reference(m: &[u8], e: u64, n: &[u8]) -> Vec<u8> {
        let r = BigUint::from_bytes_be(m).modpow(&BigUint::from(e), &BigUint::from_bytes_be(n));
        let mut out = r.to_bytes_be();
        while out.len() < n.len() {
            out.insert(0, 0);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Against num-bigint-dig's modpow, for bit lengths that fill the top
        /// limb and ones that do not, and the exponents met in practice.
        #[test]
        fn pow_matches_num_bigint(
            bits in prop::sample::select(vec![2048usize, 2049, 2056, 3000, 3072, 4096, 64, 33, 31]),
            e in prop::sample::select(vec![3u64, 17, 65537, (1 << 33) - 1]),
            seed in any::<u64>(),
            msg in prop::collection::vec(any::<u8>(), 1..=512),
        ) {
            let n = modulus_bytes(bits, seed);
            let m: Vec<u8> = msg.into_iter().take(n.len() - 1).collect();
            let modulus = Modulus::new(&n).unwrap();
            prop_assert_eq!(modulus.pow_public(&m, e, n.len()).to_vec(), reference(&m, e, &n));
        }
    }

    #[test]
    fn edge_values() {
        for bits in [2048, 2047 + 8, 4096] {
            let n = modulus_bytes(bits, 99);
            let modulus = Modulus::new(&n).unwrap();
            // 0, 1, n − 1 (the largest base), and 2^(bits−1).
            let mut n_minus_1 = n.clone();
            let last = n_minus_1.len() - 1;
            n_minus_1[last] -= 1;
            let mut half = vec![0u8; n.len()];
            let top_bit = bits - 1;
            half[n.len() - 1 - top_bit / 8] = 1 << (top_bit % 8);
            for m in [vec![0u8], vec![1u8], n_minus_1, half] {
                assert_eq!(
                    modulus.pow_public(&m, 65537, n.len()).to_vec(),
                    reference(&m, 65537, &n)
                );
            }
        }
    }

    #[test]
    fn rejects_even_zero_and_short() {
        assert!(Modulus::new(&[]).is_none());
        assert!(Modulus::new(&[7]).is_none());
        assert!(Modulus::new(&[0, 7]).is_none());
        assert!(Modulus::new(&[1, 2]).is_none());
        assert!(Modulus::new(&[1, 3]).is_some());
    }
}
