//! GHASH (NIST SP 800-38D §6.4) with 64-bit constant-time carry-less
//! multiplication: BearSSL's `ghash_ctmul64` (Thomas Pornin), Karatsuba over
//! 64-bit halves, each 64×64 product made of integer multiplications of
//! operands with "holes" (one bit in four) so that no carry reaches a bit
//! that is kept.
//!
//! Why not the `ghash` crate: on wasm32 its `polyval` picks the 32-bit
//! software backend (18 32×32 products per block, unrolled: 2.8 KB of
//! WebAssembly), while WebAssembly multiplies 64-bit integers natively; this
//! is 6 64×64 products per block in under 1 KB, and faster. Same
//! constant-time shape as both: no table, no data-dependent branch or index
//! (integer multiplication is constant-time on the engines' targets).
//! Checked against the `ghash` crate on random keys and messages of every
//! length around the block boundaries, and through AES-GCM against the NIST
//! and Wycheproof vectors (the core's tests).

use zeroize::Zeroize;

/// A GHASH block.
pub(crate) type GhashBlock = [u8; 16];

/// The GHASH key `H` and the running value `Y`, as big-endian 64-bit halves
/// (`[high, low]`, the field element's bits in the specification's order).
/// Wiped on drop.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Ghash {
    h: [u64; 2],
    y: [u64; 2],
}

impl Drop for Ghash {
    fn drop(&mut self) {
        self.h.zeroize();
        self.y.zeroize();
    }
}

/// The carry-less product's low 64 bits: in each of the four masked
/// products a set bit meets another only at distances that are multiples of
/// four, so the carries of the integer multiplication land in the bits the
/// final masks drop.
#[inline(never)]
fn bmul64(x: u64, y: u64) -> u64 {
    const M0: u64 = 0x1111_1111_1111_1111;
    const M1: u64 = 0x2222_2222_2222_2222;
    const M2: u64 = 0x4444_4444_4444_4444;
    const M3: u64 = 0x8888_8888_8888_8888;
    let (x0, x1, x2, x3) = (x & M0, x & M1, x & M2, x & M3);
    let (y0, y1, y2, y3) = (y & M0, y & M1, y & M2, y & M3);
    let m = u64::wrapping_mul;
    // Bit class i of the product: x's class j times y's class (i - j) mod 4
    // (written out: at opt-level "z" the loop stayed a loop).
    let z0 = m(x0, y0) ^ m(x1, y3) ^ m(x2, y2) ^ m(x3, y1);
    let z1 = m(x0, y1) ^ m(x1, y0) ^ m(x2, y3) ^ m(x3, y2);
    let z2 = m(x0, y2) ^ m(x1, y1) ^ m(x2, y0) ^ m(x3, y3);
    let z3 = m(x0, y3) ^ m(x1, y2) ^ m(x2, y1) ^ m(x3, y0);
    (z0 & M0) | (z1 & M1) | (z2 & M2) | (z3 & M3)
}

/// The bits of `x` in reverse order (WebAssembly has no instruction for it:
/// one out-of-line copy of the shifts and masks, not eight).
#[inline(never)]
fn rev64(x: u64) -> u64 {
    x.reverse_bits()
}

/// A block as its big-endian 64-bit halves `[high, low]`. The functions of
/// this module stay out of line so that `scripts/ct-check.mjs` finds each
/// in the shipped WebAssembly and proves it constant-time.
#[inline(never)]
fn halves(block: &GhashBlock) -> [u64; 2] {
    let v = u128::from_be_bytes(*block);
    [(v >> 64) as u64, v as u64]
}

impl Ghash {
    /// GHASH keyed with `h` (`E(K, 0^128)`), `Y = 0`.
    pub(crate) fn new(h: &GhashBlock) -> Self {
        Ghash {
            h: halves(h),
            y: [0, 0],
        }
    }

    /// `Y = (Y ^ X) · H` for one block `X`.
    #[inline(never)]
    fn block(&mut self, x: &GhashBlock) {
        let [xh, xl] = halves(x);
        let y1 = self.y[0] ^ xh;
        let y0 = self.y[1] ^ xl;
        let [h1, h0] = self.h;
        let (h0r, h1r) = (rev64(h0), rev64(h1));
        let (h2, h2r) = (h0 ^ h1, h0r ^ h1r);
        let (y0r, y1r) = (rev64(y0), rev64(y1));
        let (y2, y2r) = (y0 ^ y1, y0r ^ y1r);

        // Karatsuba: the low halves of the three products, and (through the
        // bit-reversed operands) their high halves.
        let z0 = bmul64(y0, h0);
        let z1 = bmul64(y1, h1);
        let mut z2 = bmul64(y2, h2);
        let mut z0h = bmul64(y0r, h0r);
        let mut z1h = bmul64(y1r, h1r);
        let mut z2h = bmul64(y2r, h2r);
        z2 ^= z0 ^ z1;
        z2h ^= z0h ^ z1h;
        z0h = rev64(z0h) >> 1;
        z1h = rev64(z1h) >> 1;
        z2h = rev64(z2h) >> 1;

        // The 256-bit product (bit-reflected, as GHASH's bit order is), shifted
        // left by one, then reduced modulo x^128 + x^7 + x^2 + x + 1.
        let (v0, v1, v2, v3) = (z0, z0h ^ z2, z1 ^ z2h, z1h);
        let v3 = (v3 << 1) | (v2 >> 63);
        let mut v2 = (v2 << 1) | (v1 >> 63);
        let mut v1 = (v1 << 1) | (v0 >> 63);
        let v0 = v0 << 1;
        v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
        v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
        let v3 = v3 ^ v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
        v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);
        self.y = [v3, v2];
    }

    /// Absorbs `data`, its last partial block padded with zeros.
    #[inline(never)]
    pub(crate) fn update_padded(&mut self, data: &[u8]) {
        for chunk in data.chunks(16) {
            let mut x = [0u8; 16];
            for (b, d) in x.iter_mut().zip(chunk) {
                *b = *d;
            }
            self.block(&x);
            x.zeroize();
        }
    }

    /// Absorbs one whole block.
    pub(crate) fn update_block(&mut self, x: &GhashBlock) {
        self.block(x);
    }

    /// `Y`, as 16 bytes.
    #[inline(never)]
    pub(crate) fn finalize(&self) -> GhashBlock {
        ((u128::from(self.y[0]) << 64) | u128::from(self.y[1])).to_be_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::{bmul64, Ghash};
    use ghash::universal_hash::{KeyInit, UniversalHash};
    use proptest::prelude::*;

    /// The carry-less product's low half, bit by bit.
    fn clmul_low(x: u64, y: u64) -> u64 {
        (0..64)
            .filter(|i| y >> i & 1 == 1)
            .fold(0, |z, i| z ^ (x << i))
    }

    fn reference(h: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut g = ghash::GHash::new(h.into());
        g.update_padded(data);
        g.finalize().into()
    }

    fn ours(h: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut g = Ghash::new(h);
        g.update_padded(data);
        g.finalize()
    }

    /// SP 800-38D's test case 2 (AES-128, zero key, one zero block): H and
    /// the GHASH of the ciphertext and the lengths block, from the GCM
    /// specification's worked example.
    #[test]
    fn gcm_spec_test_case_2() {
        let h: [u8; 16] = hex::decode("66e94bd4ef8a2c3b884cfa59ca342b2e")
            .unwrap()
            .try_into()
            .unwrap();
        let mut data = hex::decode("0388dace60b6a392f328c2b971b2fe78").unwrap();
        data.extend_from_slice(&hex::decode("00000000000000000000000000000080").unwrap());
        assert_eq!(
            hex::encode(ours(&h, &data)),
            "f38cbb1ad69223dcc3457ae5b6b0f885"
        );
    }

    #[test]
    fn bmul64_edges() {
        for (x, y) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (1, u64::MAX),
            (u64::MAX, 1),
            (0x8000_0000_0000_0000, 0x8000_0000_0000_0001),
            (0xffff_ffff_0000_0000, 0x0000_0000_ffff_ffff),
        ] {
            assert_eq!(bmul64(x, y), clmul_low(x, y), "{x:#x} * {y:#x}");
        }
    }

    #[test]
    fn every_length_around_block_boundaries_matches_the_ghash_crate() {
        let h = [0x5au8; 16];
        let data: Vec<u8> = (0..=80u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for len in 0..=data.len() {
            assert_eq!(
                ours(&h, &data[..len]),
                reference(&h, &data[..len]),
                "len {len}"
            );
        }
    }

    proptest! {
        #[test]
        fn bmul64_is_the_carry_less_product(x: u64, y: u64) {
            prop_assert_eq!(bmul64(x, y), clmul_low(x, y));
        }

        #[test]
        fn matches_the_ghash_crate(h: [u8; 16], data in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(ours(&h, &data), reference(&h, &data));
        }

        #[test]
        fn block_by_block_equals_padded(h: [u8; 16], blocks in proptest::collection::vec(any::<[u8; 16]>(), 0..6)) {
            let mut g = Ghash::new(&h);
            for b in &blocks {
                g.update_block(b);
            }
            prop_assert_eq!(g.finalize(), ours(&h, blocks.concat().as_slice()));
        }
    }
}
