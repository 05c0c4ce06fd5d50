//! Constant-time Montgomery arithmetic for RSA public-key operations, with
//! 29-bit limbs in 64-bit words (wasm32 multiplies 64-bit words natively):
//! a product of two limbs leaves five bits of room, so the columns of a
//! product are summed with one multiply and one add per term, without carry
//! propagation, and normalised only when the next terms could overflow a
//! column (a count of rows decides when, so the schedule is public). In
//! V8 that beats 32-bit limbs with a carry per term despite ~23% more terms.
//!
//! Its own crate so that it can be compiled for speed (`opt-level = 3`)
//! while the rest of the WebAssembly build is compiled for size
//! (`opt-level = "z"`): Cargo sets optimisation levels per crate. See
//! `crates/core/src/rsa_encrypt.rs` for the padding and the reasons.
//!
//! Constant time: the base (a padded secret) only flows through
//! `Modulus::mul` and `sqr`, whose loops and final subtraction depend on
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

/// Bits per limb: limbs of `W` bits held in `u64`s, so that a product of
/// two limbs (below 2^(2W)) leaves room in a `u64` for many more: columns of
/// products are summed without carry propagation in the inner loops (one
/// `i64.mul` and two adds per product in WebAssembly, no shift or mask) and
/// normalised (carries propagated) only when they could overflow.
const W: u32 = 29;
/// The low `W` bits.
const MASK: u64 = (1 << W) - 1;
/// How many limb products ((2^W − 1)² each) a column may hold between two
/// normalisations: the sum stays below 2^64 with one carry from the column
/// below (< 2^(64−W)) and a normalised limb (< 2^(W+2): the top one may
/// exceed 2^W) added: 64 for W = 29, 256 for W = 28.
const BUDGET: u64 = (u64::MAX - (1 << (64 - W)) - (1 << (W + 2))) / (MASK * MASK);

/// An odd RSA modulus with its Montgomery constants (all public).
#[derive(Clone)]
pub struct Modulus {
    /// Little-endian limbs of `W` bits.
    n: Vec<u64>,
    /// −n⁻¹ mod 2^W.
    n0: u64,
    /// R² mod n, R = 2^(W·limbs), in limbs of `W` bits.
    r2: Vec<u64>,
}

/// Little-endian limbs of `W` bits of a big-endian byte string, `limbs`
/// long (bits beyond `W·limbs` are dropped). Loops depend on lengths alone.
fn limbs_of(be: &[u8], limbs: usize) -> Zeroizing<Vec<u64>> {
    let mut out = Zeroizing::new(vec![0u64; limbs]);
    let (mut acc, mut have, mut k) = (0u64, 0u32, 0usize);
    for &b in be.iter().rev() {
        acc |= u64::from(b) << have;
        have += 8;
        if have >= W {
            if let Some(slot) = out.get_mut(k) {
                *slot = acc & MASK;
            }
            k += 1;
            acc >>= W;
            have -= W;
        }
    }
    if let Some(slot) = out.get_mut(k) {
        *slot = acc;
    }
    out
}

/// Propagates the carries of `t` (columns of products) so that every limb
/// but the last is below 2^W; the last keeps the rest. Same value.
#[inline(always)]
fn normalise(t: &mut [u64]) {
    let mut c = 0u64;
    let Some((last, rest)) = t.split_last_mut() else {
        return;
    };
    for w in rest {
        let x = *w + c;
        *w = x & MASK;
        c = x >> W;
    }
    *last += c;
}

/// Debug builds only (the tests; not the shipped module): the bound the
/// budget accounting promises, every column of `t` below `used` products
/// plus a carry and a normalised limb, and `used` within the budget.
#[inline(always)]
fn check_budget(t: &[u64], used: u64) {
    if cfg!(debug_assertions) {
        assert!(used <= BUDGET, "{used} products per column");
        let bound = u128::from(used) * u128::from(MASK * MASK) + (1 << (64 - W)) + (1 << (W + 2));
        assert!(
            t.iter().all(|&c| u128::from(c) <= bound),
            "a column above {used} products"
        );
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
        let bits = 8 * be.len() - first.leading_zeros() as usize;
        // R = 2^(W·limbs) > n.
        let limbs = bits.div_ceil(W as usize);
        let n = limbs_of(be, limbs).to_vec();
        // Newton's iteration for n⁻¹ mod 2^W: each step doubles the correct bits.
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        let n0 = inv.wrapping_neg() & MASK;
        let mut modulus = Modulus {
            n,
            n0,
            r2: Vec::new(),
        };
        modulus.r2 = modulus.r_squared(bits);
        Some(modulus)
    }

    /// R² mod n (R = 2^(W·limbs), `bits` the modulus' bit length), with the
    /// kernel's own squaring: writing k for the exponent of x = R·2^k mod n,
    /// a doubling takes k to k + 1 and a Montgomery square to 2k
    /// ((R·2^k)²·R⁻¹ = R·2^(2k)). Doublings from 2^(bits−1) lead to
    /// k = (W·limbs) >> 5, then five squarings, each followed by a doubling
    /// where W·limbs has a one bit, to k = W·limbs: x = R·R. A doubling costs
    /// about one pass over the limbs and a squaring about `limbs` passes, so
    /// five squarings cost least (2048 bits, W·limbs = 2059: 76 doublings,
    /// then 5 squarings and 2 doublings). Variable time: the modulus is
    /// public.
    fn r_squared(&self, bits: usize) -> Vec<u64> {
        const SQUARINGS: u32 = 5;
        let l = self.limbs();
        let target = W as usize * l;
        // 2^(bits−1) < n (n is odd, of `bits` bits) = R·2^(bits−1−target).
        let mut x = vec![0u64; l];
        if let Some(limb) = x.get_mut((bits - 1) / W as usize) {
            *limb = 1 << ((bits - 1) % W as usize);
        }
        for _ in bits - 1..target + (target >> SQUARINGS) {
            self.double(&mut x);
        }
        let mut t = vec![0u64; 2 * l];
        let mut tmp = vec![0u64; l];
        for i in (0..SQUARINGS).rev() {
            self.sqr(&mut tmp, &x, &mut t);
            core::mem::swap(&mut x, &mut tmp);
            if (target >> i) & 1 == 1 {
                self.double(&mut x);
            }
        }
        x
    }

    /// `x = 2x mod n` for `x < n` in normalised limbs. Variable time: only
    /// for [`Self::r_squared`] (public data). Out of line: its callers'
    /// loops are unrolled (opt-level 3), and it is not worth its bytes there.
    #[inline(never)]
    fn double(&self, x: &mut [u64]) {
        let mut carry = 0u64;
        for w in x.iter_mut() {
            let v = (*w << 1) | carry;
            *w = v & MASK;
            carry = v >> W;
        }
        // 2x < 2n: subtract n once if 2x ≥ n (a carry out of the top limb
        // is cancelled by the subtraction's borrow).
        if carry == 1 || x.iter().rev().cmp(self.n.iter().rev()) != core::cmp::Ordering::Less {
            let mut borrow = 0u64;
            for (xi, &ni) in x.iter_mut().zip(&self.n) {
                let d = xi.wrapping_sub(ni).wrapping_sub(borrow);
                *xi = d & MASK;
                borrow = d >> 63;
            }
        }
    }

    fn limbs(&self) -> usize {
        self.n.len()
    }

    /// Montgomery product `out = a·b·R⁻¹ mod n` for `a, b < n` (limbs below
    /// 2^W), by operand scanning with the reduction interleaved (CIOS) and
    /// the columns left unnormalised: row i adds a_i·b and m_i·n to `t`,
    /// with m_i chosen to clear column i, whose carry moves to column i + 1.
    /// Rows i and i + 1 share one pass over `t` (each limb of `t` loaded and
    /// stored once for four products). Constant time in `a` and `b`. `t` is
    /// scratch of `2·limbs`. Out of line, so that the constant-time
    /// check finds it in the WebAssembly.
    #[inline(never)]
    fn mul(&self, out: &mut [u64], a: &[u64], b: &[u64], t: &mut [u64]) {
        let l = self.limbs();
        let (n, a, b) = (&self.n[..l], &a[..l], &b[..l]);
        let t = &mut t[..2 * l];
        t.fill(0);
        // Products per column since the last normalisation (public: a count
        // of rows).
        let mut used = 0;
        let mut i = 0;
        while i + 1 < l {
            if used + 4 > BUDGET {
                normalise(&mut t[i..2 * l]);
                used = 1;
            }
            let (a1, a2) = (a[i], a[i + 1]);
            // Row i clears column i, then row i + 1 column i + 1 (as row i
            // leaves it).
            let u = t[i] + a1 * b[0];
            let m1 = u.wrapping_mul(self.n0) & MASK;
            let u = t[i + 1] + ((u + m1 * n[0]) >> W) + a1 * b[1] + m1 * n[1] + a2 * b[0];
            let m2 = u.wrapping_mul(self.n0) & MASK;
            t[i + 2] += (u + m2 * n[0]) >> W;
            let (mut pb, mut pn) = (b[1], n[1]);
            let row = &mut t[i + 2..i + l];
            for ((tw, &bj), &nj) in row.iter_mut().zip(&b[2..]).zip(&n[2..]) {
                *tw += a1 * bj + m1 * nj + a2 * pb + m2 * pn;
                pb = bj;
                pn = nj;
            }
            t[i + l] += a2 * pb + m2 * pn;
            used += 4;
            check_budget(&t[i..], used);
            i += 2;
        }
        if i < l {
            // An odd number of limbs: the last row alone.
            if used + 2 > BUDGET {
                normalise(&mut t[i..2 * l]);
                used = 1;
            }
            let ai = a[i];
            let u = t[i] + ai * b[0];
            let m = u.wrapping_mul(self.n0) & MASK;
            t[i + 1] += (u + m * n[0]) >> W;
            let row = &mut t[i + 1..i + l];
            for ((tw, &bj), &nj) in row.iter_mut().zip(&b[1..]).zip(&n[1..]) {
                *tw += ai * bj + m * nj;
            }
            used += 2;
            check_budget(&t[i..], used);
        }
        self.finish(out, &mut t[l..2 * l]);
    }

    /// Montgomery square `out = a²·R⁻¹ mod n` for `a < n`: the product with
    /// each cross term computed once (rows of 2a_i·a_j, j > i), then the
    /// reduction (SOS), both on unnormalised columns and two rows per pass
    /// (as in [`Self::mul`]). About 25% fewer multiplications than `mul`;
    /// constant time in `a` likewise. `t` is scratch of `2·limbs`. Out
    /// of line, like [`Self::mul`].
    #[inline(never)]
    fn sqr(&self, out: &mut [u64], a: &[u64], t: &mut [u64]) {
        let l = self.limbs();
        let (n, a) = (&self.n[..l], &a[..l]);
        let t = &mut t[..2 * l];
        t.fill(0);
        // The squares a_i² at 2i (one product per column).
        for (pair, &ai) in t.chunks_exact_mut(2).zip(a) {
            pair[0] = ai * ai;
        }
        // Products per column since the last normalisation, a doubled
        // product (below 2^(2W+1)) counting 2.
        let mut used = 1;
        let mut i = 0;
        // Rows i to i + 3 in one pass while the last of them has at least
        // four terms (row k's terms start at column 2k + 1).
        while i + 8 <= l {
            if used + 8 > BUDGET {
                normalise(t);
                used = 1;
            }
            let (d1, d2, d3, d4) = (2 * a[i], 2 * a[i + 1], 2 * a[i + 2], 2 * a[i + 3]);
            let c = 2 * i;
            t[c + 1] += d1 * a[i + 1];
            t[c + 2] += d1 * a[i + 2];
            t[c + 3] += d1 * a[i + 3] + d2 * a[i + 2];
            t[c + 4] += d1 * a[i + 4] + d2 * a[i + 3];
            t[c + 5] += d1 * a[i + 5] + d2 * a[i + 4] + d3 * a[i + 3];
            t[c + 6] += d1 * a[i + 6] + d2 * a[i + 5] + d3 * a[i + 4];
            let (mut p1, mut p2, mut p3) = (a[i + 6], a[i + 5], a[i + 4]);
            for (tw, &aj) in t[c + 7..i + l].iter_mut().zip(&a[i + 7..]) {
                *tw += d1 * aj + d2 * p1 + d3 * p2 + d4 * p3;
                p3 = p2;
                p2 = p1;
                p1 = aj;
            }
            // p1..p3 = a_(l−1), a_(l−2), a_(l−3).
            t[i + l] += d2 * p1 + d3 * p2 + d4 * p3;
            t[i + l + 1] += d3 * p1 + d4 * p2;
            t[i + l + 2] += d4 * p1;
            used += 8;
            check_budget(&t[i..], used);
            i += 4;
        }
        // Then two rows per pass while the second has a term.
        while i + 3 <= l {
            if used + 4 > BUDGET {
                normalise(t);
                used = 1;
            }
            let (d1, d2) = (2 * a[i], 2 * a[i + 1]);
            // Columns 2i + 1 and 2i + 2 hold row i's terms alone (row
            // i + 1 starts at 2i + 3).
            t[2 * i + 1] += d1 * a[i + 1];
            t[2 * i + 2] += d1 * a[i + 2];
            let mut prev = a[i + 2];
            for (tw, &aj) in t[2 * i + 3..i + l].iter_mut().zip(&a[i + 3..]) {
                *tw += d1 * aj + d2 * prev;
                prev = aj;
            }
            t[i + l] += d2 * prev;
            used += 4;
            check_budget(&t[i..], used);
            i += 2;
        }
        while i < l {
            if used + 2 > BUDGET {
                normalise(t);
                used = 1;
            }
            let d = 2 * a[i];
            for (tw, &aj) in t[2 * i + 1..i + l].iter_mut().zip(&a[i + 1..]) {
                *tw += d * aj;
            }
            used += 2;
            check_budget(&t[i..], used);
            i += 1;
        }
        // The reduction, rows i to i + 3 in one pass (each limb of `t`
        // loaded and stored once for four products; the rows' multipliers
        // in turn, each from its column as the rows before leave it).
        let mut i = 0;
        if l >= 4 {
            let (n0, n1, n2, n3) = (n[0], n[1], n[2], n[3]);
            while i + 3 < l {
                if used + 4 > BUDGET {
                    normalise(&mut t[i..2 * l]);
                    used = 1;
                }
                let u = t[i];
                let m1 = u.wrapping_mul(self.n0) & MASK;
                let u = t[i + 1] + ((u + m1 * n0) >> W) + m1 * n1;
                let m2 = u.wrapping_mul(self.n0) & MASK;
                let u = t[i + 2] + ((u + m2 * n0) >> W) + m1 * n2 + m2 * n1;
                let m3 = u.wrapping_mul(self.n0) & MASK;
                let u = t[i + 3] + ((u + m3 * n0) >> W) + m1 * n3 + m2 * n2 + m3 * n1;
                let m4 = u.wrapping_mul(self.n0) & MASK;
                t[i + 4] += (u + m4 * n0) >> W;
                let (mut p1, mut p2, mut p3) = (n3, n2, n1);
                for (tw, &nj) in t[i + 4..i + l].iter_mut().zip(&n[4..]) {
                    *tw += m1 * nj + m2 * p1 + m3 * p2 + m4 * p3;
                    p3 = p2;
                    p2 = p1;
                    p1 = nj;
                }
                // p1..p3 = n_(l−1), n_(l−2), n_(l−3).
                t[i + l] += m2 * p1 + m3 * p2 + m4 * p3;
                t[i + l + 1] += m3 * p1 + m4 * p2;
                t[i + l + 2] += m4 * p1;
                used += 4;
                check_budget(&t[i..], used);
                i += 4;
            }
        }
        // The rows left (fewer than four), one at a time.
        while i < l {
            if used + 1 > BUDGET {
                normalise(&mut t[i..2 * l]);
                used = 1;
            }
            let u = t[i];
            let m = u.wrapping_mul(self.n0) & MASK;
            t[i + 1] += (u + m * n[0]) >> W;
            for (tw, &nj) in t[i + 1..i + l].iter_mut().zip(&n[1..]) {
                *tw += m * nj;
            }
            used += 1;
            check_budget(&t[i..], used);
            i += 1;
        }
        self.finish(out, &mut t[l..2 * l]);
    }

    /// `out = t mod n` for the unnormalised limbs `t` of a value below 2n:
    /// normalise, subtract n, keep `t` if that borrows. Constant time in
    /// `t`; `t` is overwritten.
    #[inline(always)]
    fn finish(&self, out: &mut [u64], t: &mut [u64]) {
        let l = self.limbs();
        let (n, out, t) = (&self.n[..l], &mut out[..l], &mut t[..l]);
        normalise(t);
        // The last limb may reach 2^(W+1); the difference's fits in W bits
        // when it does not borrow (it is below n then).
        let mut borrow = 0u64;
        for ((o, &tj), &nj) in out.iter_mut().zip(t.iter()).zip(n) {
            let d = tj.wrapping_sub(nj).wrapping_sub(borrow);
            *o = d & MASK;
            borrow = d >> 63;
        }
        // The select, behind a barrier: without one LLVM compiles the masked
        // select into `if keep_t { copy t }`, a branch on secret data (it
        // did, in the wasm build). `Choice::from` reads the bit through a
        // volatile load, so the optimiser cannot know it is 0 or 1.
        let keep_t = Choice::from(borrow as u8);
        for (o, tj) in out.iter_mut().zip(t.iter()) {
            o.conditional_assign(tj, keep_t);
        }
    }

    /// `m^e mod n` for `m < n` given as big-endian bytes (at most the
    /// modulus' length); returns `len` big-endian bytes. Out of line, like
    /// `Self::mul`.
    #[inline(never)]
    pub fn pow_public(&self, m_be: &[u8], e: u64, len: usize) -> Zeroizing<Vec<u8>> {
        let l = self.limbs();
        let m = limbs_of(m_be, l);
        let mut t = Zeroizing::new(vec![0u64; 2 * l]);
        let mut base = Zeroizing::new(vec![0u64; l]);
        self.mul(&mut base, &m, &self.r2, &mut t);
        let mut acc = Zeroizing::new(base.to_vec());
        let mut tmp = Zeroizing::new(vec![0u64; l]);
        let top = 63 - e.leading_zeros();
        let mut plain = false;
        for i in (0..top).rev() {
            self.sqr(&mut tmp, &acc, &mut t);
            core::mem::swap(&mut *acc, &mut *tmp);
            if (e >> i) & 1 == 1 {
                // The last multiplication of an odd exponent takes the plain
                // m: (x^(e−1)·R)·m·R⁻¹ = m^e, already out of Montgomery form.
                let factor: &[u64] = if i == 0 { &m } else { &base };
                self.mul(&mut tmp, &acc, factor, &mut t);
                core::mem::swap(&mut *acc, &mut *tmp);
                plain = i == 0;
            }
        }
        if !plain {
            let mut one = vec![0u64; l];
            one[0] = 1;
            self.mul(&mut tmp, &acc, &one, &mut t);
            core::mem::swap(&mut *acc, &mut *tmp);
        }
        // Limbs of W bits to big-endian bytes, least significant first.
        let mut out = Zeroizing::new(vec![0u8; len]);
        let (mut bits, mut have) = (0u64, 0u32);
        let mut limbs = acc.iter();
        for byte in out.iter_mut().rev() {
            if have < 8 {
                bits |= limbs.next().copied().unwrap_or(0) << have;
                have += W;
            }
            *byte = bits as u8;
            bits >>= 8;
            have -= 8;
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

    /// The value of little-endian limbs of `W` bits (each below 2^W).
    fn big(limbs: &[u64]) -> BigUint {
        limbs.iter().rev().fold(BigUint::from(0u32), |acc, &w| {
            assert!(w <= MASK, "a limb of {} bits", 64 - w.leading_zeros());
            (acc << W as usize) + BigUint::from(w)
        })
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
            bits in prop::sample::select(vec![2048usize, 2049, 2056, 2059, 3000, 3072, 4096, 4089, 64, 58, 33, 31]),
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
            bits in prop::sample::select(vec![2048usize, 2047, 2049, 2059, 2081, 3072, 4096, 96, 58, 33, 32, 31]),
            seed in any::<u64>(),
            msg in prop::collection::vec(any::<u8>(), 1..=512),
        ) {
            let n = modulus_bytes(bits, seed);
            let m = Modulus::new(&n).unwrap();
            let l = m.limbs();
            let big_n = BigUint::from_bytes_be(&n);
            let want = (BigUint::from(1u32) << (2 * W as usize * l)) % &big_n;
            prop_assert!(m.r2.iter().all(|&w| w <= MASK));
            prop_assert_eq!(big(&m.r2), want);
            prop_assert_eq!(big(&m.n), big_n);
            let bytes: Vec<u8> = msg.into_iter().take(n.len() - 1).collect();
            let a = limbs_of(&bytes, l);
            let (mut x, mut y) = (vec![0u64; l], vec![0u64; l]);
            let mut t = vec![0u64; 2 * l];
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
        for bits in [
            31usize, 32, 33, 58, 64, 65, 96, 2047, 2048, 2049, 2059, 2081, 4096,
        ] {
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
                let r = BigUint::from(1u32) << (W as usize * l);
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
                let mut t = vec![0u64; 2 * l];
                for a in &vals {
                    for b in &vals {
                        let mut out = vec![0u64; l];
                        m.mul(&mut out, &limbs_of(a, l), &limbs_of(b, l), &mut t);
                        // out = a·b·R⁻¹ mod n  ⇔  out < n and out·R ≡ a·b (mod n).
                        let want = BigUint::from_bytes_be(a) * BigUint::from_bytes_be(b) % &big_n;
                        let got = big(&out);
                        assert!(got < big_n, "bits {bits} seed {seed}");
                        assert_eq!(&got * &r % &big_n, want, "bits {bits} seed {seed}");
                    }
                    // The squaring (its own two-rows-per-pass loop) agrees.
                    let (mut x, mut y) = (vec![0u64; l], vec![0u64; l]);
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

    /// The sizes the package accepts (2048 to 16384 bits), with moduli of
    /// all-ones limbs and bases of all-ones limbs (n − 1, n − 2: every
    /// product (2^W − 1)², the most a column's budget allows, so that a
    /// missing normalisation overflows), random ones, and moduli that fill
    /// their top limb exactly (`bits = W·limbs`: R < 2n, the top column
    /// takes the last carry).
    #[test]
    fn all_accepted_sizes_at_extremes() {
        let w = W as usize;
        let sizes = [
            2048,
            w * 2048usize.div_ceil(w),
            3072,
            4096,
            w * 4096usize.div_ceil(w),
            8192,
            16384,
        ];
        for bits in sizes {
            for all_ones in [false, true] {
                let mut n = modulus_bytes(bits, 5);
                if all_ones {
                    let extra = n.len() * 8 - bits;
                    n.iter_mut().for_each(|b| *b = 0xff);
                    n[0] >>= extra;
                }
                let modulus = Modulus::new(&n).unwrap();
                assert_eq!(modulus.limbs(), bits.div_ceil(w));
                let last = n.len() - 1;
                let (mut n1, mut n2) = (n.clone(), n.clone());
                n1[last] -= 1;
                n2[last] -= 2;
                let random: Vec<u8> = modulus_bytes(bits - 1, 77);
                for m in [n1, n2, random, vec![1], vec![0]] {
                    assert_eq!(
                        modulus.pow_public(&m, 65537, n.len()).to_vec(),
                        reference(&m, 65537, &n),
                        "bits {bits} all ones {all_ones}"
                    );
                }
            }
        }
    }

    /// Every limb count from 2 to 160 (every mix of passes of four, two and
    /// one rows, and every place a normalisation falls), with an all-ones
    /// modulus and operands n − 1 and n − 2 (all-ones limbs: the largest
    /// columns), `mul` and `sqr` against num-bigint.
    #[test]
    fn every_limb_count_at_extremes() {
        for l in 2..=160usize {
            for bits in [W as usize * l, W as usize * (l - 1) + 2] {
                let len = bits.div_ceil(8);
                let mut n = vec![0xffu8; len];
                n[0] >>= len * 8 - bits;
                n[len - 1] = 0xfd;
                let m = Modulus::new(&n).unwrap();
                assert_eq!(m.limbs(), l);
                let big_n = BigUint::from_bytes_be(&n);
                let r = BigUint::from(1u32) << (W as usize * l);
                let mut t = vec![0u64; 2 * l];
                for k in [1u8, 2] {
                    let mut a = n.clone();
                    a[len - 1] -= k;
                    let a_big = BigUint::from_bytes_be(&a);
                    let a = limbs_of(&a, l);
                    // x = a²·R⁻¹ mod n  ⇔  x < n and x·R ≡ a² (mod n).
                    let want = &a_big * &a_big % &big_n;
                    let (mut x, mut y) = (vec![0u64; l], vec![0u64; l]);
                    m.mul(&mut x, &a, &a, &mut t);
                    m.sqr(&mut y, &a, &mut t);
                    for (got, what) in [(big(&x), "mul"), (big(&y), "sqr")] {
                        assert!(got < big_n, "{what}, {l} limbs, {bits} bits");
                        assert_eq!(got * &r % &big_n, want, "{what}, {l} limbs, {bits} bits");
                    }
                }
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
