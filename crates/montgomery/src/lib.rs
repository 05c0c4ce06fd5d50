//! Constant-time Montgomery arithmetic for RSA public-key operations, with
//! 32-bit limbs (what wasm32 multiplies natively: 32×32→64 bits).
//!
//! Its own crate so that it can be compiled for speed (`opt-level = 3`)
//! while the rest of the WebAssembly build is compiled for size
//! (`opt-level = "z"`): Cargo sets optimisation levels per crate. See
//! `crates/core/src/rsa_encrypt.rs` for the padding and the reasons.
//!
//! Constant time: the base (a padded secret) only flows through
//! [`Modulus::mul`] and `sqr`, whose loops and final subtraction depend on
//! lengths alone (the subtraction is a masked select, behind an optimisation
//! barrier: `subtle`'s `Choice`). The modulus and the exponent are public;
//! square-and-multiply branches on the exponent's bits. `scripts/ct-check.mjs`
//! checks the compiled WebAssembly of `pow_public`, `mul` and `sqr` (kept out
//! of line for it) for branches, selects and memory addresses that depend on
//! secret data.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use subtle::{Choice, ConditionallySelectable};
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

/// `x·2³² mod n` in place, for `x < n` and a normalised `n` (top bit set):
/// one step of schoolbook long division (Knuth, TAOCP 4.3.1, algorithm D).
/// Variable time: used on the public modulus only.
fn shift_limb_mod(x: &mut [u32], n: &[u32]) {
    let l = n.len();
    // y = x·2³²: the top limb leaves x, a zero limb enters at the bottom.
    let y_top = x[l - 1];
    x.copy_within(..l - 1, 1);
    x[0] = 0;
    // Estimate the quotient digit from the top two limbs; with a normalised
    // divisor it is at most 2 too large.
    let num = (u64::from(y_top) << 32) | u64::from(x[l - 1]);
    let q = (num / u64::from(n[l - 1])).min(u64::from(u32::MAX));
    // y −= q·n
    let (mut carry, mut borrow) = (0u64, 0u64);
    for (xi, &ni) in x.iter_mut().zip(n) {
        let p = q * u64::from(ni) + carry;
        carry = p >> 32;
        let d = u64::from(*xi)
            .wrapping_sub(p & 0xffff_ffff)
            .wrapping_sub(borrow);
        *xi = d as u32;
        borrow = d >> 63;
    }
    let mut top = i64::from(y_top) - carry as i64 - borrow as i64;
    // Add n back while negative (at most twice).
    while top < 0 {
        let mut c = 0u64;
        for (xi, &ni) in x.iter_mut().zip(n) {
            let s = u64::from(*xi) + u64::from(ni) + c;
            *xi = s as u32;
            c = s >> 32;
        }
        top += c as i64;
    }
}

/// R² mod n, R = 2^(32·limbs), by long division one limb at a time on the
/// modulus normalised to a set top bit (the result is shifted back).
fn r_squared(n: &[u32]) -> Vec<u32> {
    let l = n.len();
    let shift = n[l - 1].leading_zeros();
    let mut nn = n.to_vec();
    if shift > 0 {
        for i in (0..l).rev() {
            let low = if i > 0 { n[i - 1] >> (32 - shift) } else { 0 };
            nn[i] = (n[i] << shift) | low;
        }
    }
    // 1·2^shift in the normalised space, then 2·l limb shifts: 2^(64·l) = R².
    let mut x = vec![0u32; l];
    x[0] = 1 << shift;
    for _ in 0..2 * l {
        shift_limb_mod(&mut x, &nn);
    }
    if shift > 0 {
        for i in 0..l {
            let high = if i + 1 < l {
                x[i + 1] << (32 - shift)
            } else {
                0
            };
            x[i] = (x[i] >> shift) | high;
        }
    }
    x
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
        let r2 = r_squared(&n);
        Some(Modulus { n, n0, r2 })
    }

    fn limbs(&self) -> usize {
        self.n.len()
    }

    /// Montgomery product `out = a·b·R⁻¹ mod n` for `a, b < n`: the full
    /// product, then [`Self::redc`]. Constant time in `a` and `b`. `t` is
    /// scratch of `2·limbs`. Out of line, so that the constant-time check
    /// finds it in the WebAssembly.
    #[inline(never)]
    fn mul(&self, out: &mut [u32], a: &[u32], b: &[u32], t: &mut [u32]) {
        let l = self.limbs();
        let (a, b) = (&a[..l], &b[..l]);
        let t = &mut t[..2 * l];
        t.fill(0);
        // Rows a_i·b and a_(i+1)·b together, one pass over `t` for both
        // (as in `redc`); an odd last row alone.
        let mut i = 0;
        while i + 1 < l {
            let (a1, a2) = (u64::from(a[i]), u64::from(a[i + 1]));
            let x = u64::from(t[i]) + a1 * u64::from(b[0]);
            t[i] = x as u32;
            let (mut c1, mut c2) = (x >> 32, 0u64);
            let mut prev = u64::from(b[0]);
            for (tw, &bj) in t[i + 1..i + l].iter_mut().zip(&b[1..]) {
                let bj = u64::from(bj);
                let x = u64::from(*tw) + a1 * bj + c1;
                c1 = x >> 32;
                let y = (x & 0xffff_ffff) + a2 * prev + c2;
                c2 = y >> 32;
                *tw = y as u32;
                prev = bj;
            }
            // Position i + l is still zero: row i's carry, row i + 1's last product.
            let y = c1 + a2 * prev + c2;
            t[i + l] = y as u32;
            t[i + l + 1] = (y >> 32) as u32;
            i += 2;
        }
        if i < l {
            let ai = u64::from(a[i]);
            let mut c = 0u64;
            for (tw, &bj) in t[i..i + l].iter_mut().zip(b) {
                let s = u64::from(*tw) + ai * u64::from(bj) + c;
                *tw = s as u32;
                c = s >> 32;
            }
            t[i + l] = c as u32;
        }
        self.redc(out, t);
    }

    /// Montgomery square `out = a²·R⁻¹ mod n` for `a < n`: the product
    /// with each cross term computed once, then a separated Montgomery
    /// reduction (SOS). About 25% fewer multiplications than [`Self::mul`];
    /// constant time in `a` likewise. `t` is scratch of `2·limbs + 2`.
    /// Out of line, like [`Self::mul`].
    #[inline(never)]
    fn sqr(&self, out: &mut [u32], a: &[u32], t: &mut [u32]) {
        let l = self.limbs();
        let (a, out) = (&a[..l], &mut out[..l]);
        let t = &mut t[..2 * l];
        t.fill(0);
        // Cross products a_i·a_j, i < j: rows i and i + 1 in one pass over
        // `t` (as in `mul`) while row i has at least two terms, then the
        // rows left one at a time.
        let mut i = 0;
        while i + 3 <= l {
            let (a1, a2) = (u64::from(a[i]), u64::from(a[i + 1]));
            // Positions 2i + 1 and 2i + 2 hold row i's terms alone (row
            // i + 1 starts at 2i + 3: it has no a_(i+1)² term).
            let x = u64::from(t[2 * i + 1]) + a1 * u64::from(a[i + 1]);
            t[2 * i + 1] = x as u32;
            let x = u64::from(t[2 * i + 2]) + a1 * u64::from(a[i + 2]) + (x >> 32);
            t[2 * i + 2] = x as u32;
            let (mut c1, mut c2) = (x >> 32, 0u64);
            let mut prev = u64::from(a[i + 2]);
            for (tw, &aj) in t[2 * i + 3..i + l].iter_mut().zip(&a[i + 3..]) {
                let aj = u64::from(aj);
                let x = u64::from(*tw) + a1 * aj + c1;
                c1 = x >> 32;
                let y = (x & 0xffff_ffff) + a2 * prev + c2;
                c2 = y >> 32;
                *tw = y as u32;
                prev = aj;
            }
            // Position i + l is still zero: row i's carry, row i + 1's last term.
            let y = c1 + a2 * prev + c2;
            t[i + l] = y as u32;
            t[i + l + 1] = (y >> 32) as u32;
            i += 2;
        }
        while i < l {
            let ai = u64::from(a[i]);
            let mut c = 0u64;
            for (tw, &aj) in t[2 * i + 1..i + l].iter_mut().zip(&a[i + 1..]) {
                let s = u64::from(*tw) + ai * u64::from(aj) + c;
                *tw = s as u32;
                c = s >> 32;
            }
            t[i + l] = c as u32;
            i += 1;
        }
        // Double them, then add the squares a_i² at 2i.
        let mut top_bit = 0u32;
        for w in t.iter_mut() {
            let next = *w >> 31;
            *w = (*w << 1) | top_bit;
            top_bit = next;
        }
        let mut c = 0u64;
        for i in 0..l {
            let sq = u64::from(a[i]) * u64::from(a[i]);
            let s = u64::from(t[2 * i]) + (sq & 0xffff_ffff) + c;
            t[2 * i] = s as u32;
            let s = u64::from(t[2 * i + 1]) + (sq >> 32) + (s >> 32);
            t[2 * i + 1] = s as u32;
            c = s >> 32;
        }
        self.redc(out, t);
    }

    /// Montgomery reduction `out = t·R⁻¹ mod n` of a `2·limbs` product
    /// `t < n·R` (SOS): clears one low limb per round. Constant time in `t`;
    /// `t` is overwritten.
    #[inline(always)]
    fn redc(&self, out: &mut [u32], t: &mut [u32]) {
        let l = self.limbs();
        let n = &self.n[..l];
        let out = &mut out[..l];
        let t = &mut t[..2 * l];
        // Reduction: clear one low limb per round, two rounds per pass over
        // `t` (each limb of `t` is loaded and stored once for both rounds:
        // half the memory traffic of one round per pass). `extra` carries
        // the bit that overflows position i + l into the next pass's top.
        let mut extra = 0u64;
        let mut i = 0;
        while i + 1 < l {
            // Round i's multiplier, then round i + 1's, which needs limb
            // i + 1 as round i leaves it.
            let m1 = u64::from(t[i].wrapping_mul(self.n0));
            let x = u64::from(t[i]) + m1 * u64::from(n[0]);
            let x = u64::from(t[i + 1]) + m1 * u64::from(n[1]) + (x >> 32);
            let mut c1 = x >> 32;
            let t1 = x & 0xffff_ffff;
            let m2 = u64::from((t1 as u32).wrapping_mul(self.n0));
            let mut c2 = (t1 + m2 * u64::from(n[0])) >> 32;
            let mut prev = u64::from(n[1]);
            for (tw, &nj) in t[i + 2..i + l].iter_mut().zip(&n[2..]) {
                let nj = u64::from(nj);
                let x = u64::from(*tw) + m1 * nj + c1;
                c1 = x >> 32;
                let y = (x & 0xffff_ffff) + m2 * prev + c2;
                c2 = y >> 32;
                *tw = y as u32;
                prev = nj;
            }
            // Position i + l: round i's carry, then round i + 1's last product.
            let x = u64::from(t[i + l]) + c1 + extra;
            let y = (x & 0xffff_ffff) + m2 * prev + c2;
            t[i + l] = y as u32;
            // Position i + l + 1: both rounds' carries.
            let z = u64::from(t[i + l + 1]) + (x >> 32) + (y >> 32);
            t[i + l + 1] = z as u32;
            extra = z >> 32;
            i += 2;
        }
        if i < l {
            // An odd number of limbs: the last round alone.
            let m = u64::from(t[i].wrapping_mul(self.n0));
            let mut c = 0u64;
            for (tw, &nj) in t[i..i + l].iter_mut().zip(n) {
                let s = u64::from(*tw) + m * u64::from(nj) + c;
                *tw = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[i + l]) + c + extra;
            t[i + l] = s as u32;
            extra = s >> 32;
        }
        // Result t[l..2l] + extra·R < 2n: subtract n unless that borrows.
        let hi = &t[l..2 * l];
        let mut borrow = 0u64;
        for ((o, &tj), &nj) in out.iter_mut().zip(hi).zip(n) {
            let d = u64::from(tj)
                .wrapping_sub(u64::from(nj))
                .wrapping_sub(borrow);
            *o = d as u32;
            borrow = d >> 63;
        }
        // The select, behind a barrier: without one LLVM compiles the masked
        // select into `if keep_t { copy t }`, a branch on secret data (it
        // did, in the wasm build). `Choice::from` reads the bit through a
        // volatile load, so the optimiser cannot know it is 0 or 1.
        let keep_t = Choice::from((extra.wrapping_sub(borrow) >> 63) as u8);
        for (o, tj) in out.iter_mut().zip(hi) {
            o.conditional_assign(tj, keep_t);
        }
    }

    /// `m^e mod n` for `m < n` given as `limbs·4`-or-fewer big-endian bytes;
    /// returns `len` big-endian bytes. Out of line, like [`Self::mul`].
    #[inline(never)]
    pub fn pow_public(&self, m_be: &[u8], e: u64, len: usize) -> Zeroizing<Vec<u8>> {
        let l = self.limbs();
        let m = limbs_of(m_be, l);
        let mut t = Zeroizing::new(vec![0u32; 2 * l + 2]);
        let mut base = Zeroizing::new(vec![0u32; l]);
        self.mul(&mut base, &m, &self.r2, &mut t);
        let mut acc = Zeroizing::new(base.to_vec());
        let mut tmp = Zeroizing::new(vec![0u32; l]);
        let top = 63 - e.leading_zeros();
        let mut plain = false;
        for i in (0..top).rev() {
            self.sqr(&mut tmp, &acc, &mut t);
            core::mem::swap(&mut *acc, &mut *tmp);
            if (e >> i) & 1 == 1 {
                // The last multiplication of an odd exponent takes the plain
                // m: (x^(e−1)·R)·m·R⁻¹ = m^e, already out of Montgomery form.
                let factor: &[u32] = if i == 0 { &m } else { &base };
                self.mul(&mut tmp, &acc, factor, &mut t);
                core::mem::swap(&mut *acc, &mut *tmp);
                plain = i == 0;
            }
        }
        if !plain {
            let mut one = vec![0u32; l];
            one[0] = 1;
            self.mul(&mut tmp, &acc, &one, &mut t);
            core::mem::swap(&mut *acc, &mut *tmp);
        }
        let tmp = acc;
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
            e in prop::sample::select(vec![3u64, 17, 65537, (1 << 33) - 1, 2, 4, 65536]),
            seed in any::<u64>(),
            msg in prop::collection::vec(any::<u8>(), 1..=512),
        ) {
            let n = modulus_bytes(bits, seed);
            let m: Vec<u8> = msg.into_iter().take(n.len() - 1).collect();
            let modulus = Modulus::new(&n).unwrap();
            prop_assert_eq!(modulus.pow_public(&m, e, n.len()).to_vec(), reference(&m, e, &n));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The squaring and the general product agree, and R² is right,
        /// including for moduli whose top limb is not full.
        #[test]
        fn squaring_and_r_squared(
            bits in prop::sample::select(vec![2048usize, 2047, 2049, 2081, 3072, 4096, 96, 33, 32, 31]),
            seed in any::<u64>(),
            msg in prop::collection::vec(any::<u8>(), 1..=512),
        ) {
            let n = modulus_bytes(bits, seed);
            let m = Modulus::new(&n).unwrap();
            let l = m.limbs();
            let r2 = BigUint::from_bytes_be(&n);
            let r2 = (BigUint::from(1u32) << (64 * l)) % &r2;
            let mut want = r2.to_bytes_le();
            want.resize(4 * l, 0);
            let got: Vec<u8> = m.r2.iter().flat_map(|w| w.to_le_bytes()).collect();
            prop_assert_eq!(got, want);
            let bytes: Vec<u8> = msg.into_iter().take(n.len() - 1).collect();
            let a = limbs_of(&bytes, l);
            let (mut x, mut y) = (vec![0u32; l], vec![0u32; l]);
            let mut t = vec![0u32; 2 * l + 2];
            m.mul(&mut x, &a, &a, &mut t);
            m.sqr(&mut y, &a, &mut t);
            prop_assert_eq!(x, y);
        }
    }

    /// `mul` against a·b·R⁻¹ mod n from num-bigint, and `sqr` against `mul`,
    /// for odd and even limb
    /// counts (the two-rows-per-pass loops and their odd last row) and for
    /// operands of all-ones limbs (n − 1 and neighbours), where every carry
    /// is at its largest.
    #[test]
    fn mul_matches_num_bigint_at_extremes() {
        for bits in [31usize, 32, 33, 64, 65, 96, 2047, 2048, 2049, 2081, 4096] {
            for seed in [1u64, 7, 99] {
                let mut n = modulus_bytes(bits, seed);
                // A modulus of almost all ones: the largest limbs.
                if seed == 7 {
                    let extra = n.len() * 8 - bits;
                    n.iter_mut().for_each(|b| *b = 0xff);
                    n[0] >>= extra;
                    let last = n.len() - 1;
                    n[last] = 0xfd;
                }
                // n − 2 below must not borrow: a last byte of at least 3.
                let last = n.len() - 1;
                n[last] |= 3;
                let m = Modulus::new(&n).unwrap();
                let l = m.limbs();
                let big_n = BigUint::from_bytes_be(&n);
                let r = BigUint::from(1u32) << (32 * l);
                let mut n_minus = [n.clone(), n.clone()];
                let last = n.len() - 1;
                n_minus[0][last] -= 1;
                n_minus[1][last] -= 2;
                let half: Vec<u8> = n.iter().map(|b| b >> 1).collect();
                let vals = [
                    n_minus[0].clone(),
                    n_minus[1].clone(),
                    half,
                    vec![1],
                    vec![0],
                ];
                let mut t = vec![0u32; 2 * l + 2];
                for a in &vals {
                    for b in &vals {
                        let mut out = vec![0u32; l];
                        m.mul(&mut out, &limbs_of(a, l), &limbs_of(b, l), &mut t);
                        // out = a·b·R⁻¹ mod n  ⇔  out < n and out·R ≡ a·b (mod n).
                        let want = BigUint::from_bytes_be(a) * BigUint::from_bytes_be(b) % &big_n;
                        let got = BigUint::from_bytes_le(
                            &out.iter()
                                .flat_map(|w| w.to_le_bytes())
                                .collect::<Vec<u8>>(),
                        );
                        assert!(got < big_n, "bits {bits} seed {seed}");
                        assert_eq!(&got * &r % &big_n, want, "bits {bits} seed {seed}");
                    }
                    // The squaring (its own two-rows-per-pass loop) agrees.
                    let (mut x, mut y) = (vec![0u32; l], vec![0u32; l]);
                    m.mul(&mut x, &limbs_of(a, l), &limbs_of(a, l), &mut t);
                    m.sqr(&mut y, &limbs_of(a, l), &mut t);
                    assert_eq!(x, y, "bits {bits} seed {seed}");
                }
            }
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
