//! SHA-1 (FIPS 180-4 §6.1) with its 80 steps in a loop, behind the `digest`
//! traits, for RSAES-OAEP-SHA-1 (the label hash and MGF1). The `sha1` crate
//! unrolls every step and has no compact variant: this one is about 3 KB less
//! WebAssembly. Same constant-time shape (no table, no data-dependent branch
//! or index). Checked against the `sha1` crate on random inputs of every
//! length around the block boundaries and against the FIPS 180-2 examples
//! (tests below).

use core::fmt;
use digest::block_buffer::Eager;
use digest::core_api::{
    AlgorithmName, Block, BlockSizeUser, Buffer, BufferKindUser, CoreWrapper, FixedOutputCore,
    OutputSizeUser, Reset, UpdateCore,
};
use digest::typenum::{U20, U64};
use digest::{HashMarker, Output};
use zeroize::Zeroize;

const INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// The SHA-1 state: the chaining value and the number of blocks hashed.
#[derive(Clone)]
pub(crate) struct Sha1Core {
    h: [u32; 5],
    blocks: u64,
}

/// SHA-1 with the `digest` API (`Digest::new`, `update`, `finalize`).
pub(crate) type Sha1 = CoreWrapper<Sha1Core>;

/// The compression function over whole 64-byte blocks.
// Every index is `i % 16` into a 16-word array: none can be out of bounds.
#[allow(clippy::indexing_slicing)]
fn compress(h: &mut [u32; 5], blocks: &[Block<Sha1Core>]) {
    let mut w = [0u32; 16];
    for block in blocks {
        for (w, c) in w.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        let [mut a, mut b, mut c, mut d, mut e] = *h;
        for i in 0..80 {
            if i >= 16 {
                // W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), in a ring of 16.
                w[i % 16] = (w[(i + 13) % 16] ^ w[(i + 8) % 16] ^ w[(i + 2) % 16] ^ w[i % 16])
                    .rotate_left(1);
            }
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5A82_7999),
                1 => (b ^ c ^ d, 0x6ED9_EBA1),
                2 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(w[i % 16]);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (h, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *h = h.wrapping_add(v);
        }
    }
    w.zeroize();
}

impl HashMarker for Sha1Core {}

impl BlockSizeUser for Sha1Core {
    type BlockSize = U64;
}

impl BufferKindUser for Sha1Core {
    type BufferKind = Eager;
}

impl OutputSizeUser for Sha1Core {
    type OutputSize = U20;
}

impl UpdateCore for Sha1Core {
    fn update_blocks(&mut self, blocks: &[Block<Self>]) {
        self.blocks = self.blocks.wrapping_add(blocks.len() as u64);
        compress(&mut self.h, blocks);
    }
}

impl FixedOutputCore for Sha1Core {
    fn finalize_fixed_core(&mut self, buffer: &mut Buffer<Self>, out: &mut Output<Self>) {
        let bit_len = 8 * (buffer.get_pos() as u64 + 64 * self.blocks);
        let mut h = self.h;
        buffer.len64_padding_be(bit_len, |b| compress(&mut h, core::slice::from_ref(b)));
        for (chunk, v) in out.chunks_exact_mut(4).zip(h.iter()) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        h.zeroize();
    }
}

impl Default for Sha1Core {
    fn default() -> Self {
        Sha1Core { h: INIT, blocks: 0 }
    }
}

impl Reset for Sha1Core {
    fn reset(&mut self) {
        *self = Sha1Core::default();
    }
}

impl AlgorithmName for Sha1Core {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha1")
    }
}

impl fmt::Debug for Sha1Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha1Core { ... }")
    }
}

#[cfg(test)]
mod tests {
    use super::Sha1;
    use digest::Digest;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// FIPS 180-2 appendix A (and the one-million-`a` example).
    #[test]
    fn fips_180_examples() {
        let cases: [(&[u8], &str); 4] = [
            (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "a49b2446a02c645bf419f995b67091253a04a259",
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(hex(&Sha1::digest(msg)), want);
        }
        let mut h = Sha1::new();
        for _ in 0..1000 {
            h.update([b'a'; 1000]);
        }
        assert_eq!(
            hex(&h.finalize()),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    /// The same digests as the `sha1` crate for every length 0..=300 (every
    /// padding case around one to four block boundaries), fed in one piece
    /// and in pieces of varying sizes.
    #[test]
    fn matches_the_sha1_crate() {
        let mut x = 0x9e37_79b9u32;
        let data: Vec<u8> = (0..300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for len in 0..=data.len() {
            let msg = &data[..len];
            let want = sha1::Sha1::digest(msg);
            assert_eq!(Sha1::digest(msg)[..], want[..], "length {len}");
            let mut h = Sha1::new();
            for (i, piece) in msg.chunks(1 + len % 7 + len % 61).enumerate() {
                h.update(piece);
                if i % 3 == 0 {
                    h.update([]);
                }
            }
            assert_eq!(h.finalize()[..], want[..], "length {len} in pieces");
        }
    }
}
