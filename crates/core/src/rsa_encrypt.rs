//! RSA public-key encryption: RSAES-OAEP and RSAES-PKCS1-v1_5 (RFC 8017
//! §7.1.1, §7.2.1) over a Montgomery exponentiation with 32-bit limbs.
//!
//! Why not the `rsa` crate: in WebAssembly its public-key operation took
//! 700-1,000 µs per RSA-2048 wrap (0.9 on `num-bigint-dig`, 0.10 release
//! candidates on `crypto-bigint` alike, measured in V8 for issue #8), slower
//! than node-forge in plain JavaScript, and 0.9's `modpow` is not constant
//! time in the base, which here is the padded session key. wasm32 has a
//! native 32×32→64-bit multiply and no 64×64→128 one, so 32-bit limbs with a
//! plain CIOS Montgomery product are what the machine does fast.
//!
//! Constant time: the message (the padded secret) only ever flows through
//! [`Modulus::mul`], whose loops and final subtraction depend on lengths
//! alone (the subtraction is a masked select, not a branch). The exponent and
//! the modulus are public; square-and-multiply branches on the exponent's bits.
//! Checked in tests against `num-bigint-dig`'s `modpow` and by decrypting
//! with the `rsa` crate, WebCrypto, OpenSSL, node-forge and Java JCE.

use digest::Digest;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
pub(crate) use paysecure_montgomery::Modulus;

/// Padding randomness. A platform RNG failure is reported as such
/// ([`Error::RandomUnavailable`]), not as an encryption failure.
fn random(buf: &mut [u8]) -> Result<()> {
    #[cfg(all(test, not(target_arch = "wasm32")))]
    if tests::RNG_FAILS.with(std::cell::Cell::get) {
        return Err(Error::RandomUnavailable);
    }
    getrandom::fill(buf).map_err(|_| Error::RandomUnavailable)
}

/// `out ^= MGF1(seed)` (RFC 8017 B.2.1).
fn mgf1_xor<D: Digest>(out: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in out.chunks_mut(<D as Digest>::output_size()).enumerate() {
        let mut h = D::new();
        h.update(seed);
        h.update((counter as u32).to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(h.finalize().iter()) {
            *o ^= m;
        }
    }
}

const TOO_LONG: Error = Error::InvalidInput("message too long for this RSA key");

/// EME-OAEP encoding with an empty label (RFC 8017 §7.1.1 step 2), `k`
/// bytes: `0x00 || maskedSeed || maskedDB`.
pub(crate) fn oaep_encode<D: Digest>(message: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    let h = <D as Digest>::output_size();
    let ps_len = k.checked_sub(message.len() + 2 * h + 2).ok_or(TOO_LONG)?;
    let mut seed = Zeroizing::new(vec![0u8; h]);
    random(&mut seed)?;
    // DB = lHash || PS || 0x01 || M
    let mut db = Zeroizing::new(Vec::with_capacity(k - h - 1));
    db.extend_from_slice(&D::digest([]));
    db.resize(h + ps_len, 0);
    db.push(1);
    db.extend_from_slice(message);
    mgf1_xor::<D>(&mut db, &seed);
    mgf1_xor::<D>(&mut seed, &db);
    let mut em = Zeroizing::new(Vec::with_capacity(k));
    em.push(0);
    em.extend_from_slice(&seed);
    em.extend_from_slice(&db);
    Ok(em)
}

#[cfg(feature = "v1")]
/// EME-PKCS1-v1_5 encoding (RFC 8017 §7.2.1 step 2), `k` bytes:
/// `0x00 || 0x02 || PS || 0x00 || M` with at least 8 non-zero random bytes of PS.
pub(crate) fn pkcs1v15_encode(message: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    let ps_len = k
        .checked_sub(message.len() + 3)
        .filter(|&n| n >= 8)
        .ok_or(TOO_LONG)?;
    let mut ps = Zeroizing::new(vec![0u8; ps_len]);
    random(&mut ps)?;
    // Padding bytes must be non-zero: redraw the zero ones.
    for b in ps.iter_mut() {
        while *b == 0 {
            let mut one = [0u8; 1];
            random(&mut one)?;
            let [x] = one;
            *b = x;
        }
    }
    let mut em = Zeroizing::new(Vec::with_capacity(k));
    em.extend_from_slice(&[0, 2]);
    em.extend_from_slice(&ps);
    em.push(0);
    em.extend_from_slice(message);
    Ok(em)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests {
    // The tests below need the `v1` and `capture` features (the default).
    #![cfg_attr(not(all(feature = "v1", feature = "capture")), allow(unused_imports))]
    use super::*;
    use crate::ErrorCode;

    thread_local! {
        /// Makes [`random`] fail on this test's thread.
        pub(crate) static RNG_FAILS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    #[cfg(all(feature = "v1", feature = "capture"))]
    fn rng_failure_during_rsa_is_random_unavailable_not_encryption_failed() {
        RNG_FAILS.with(|f| f.set(true));
        let oaep = oaep_encode::<crate::sha1_compact::Sha1>(b"key", 256).map(|_| ());
        let v15 = pkcs1v15_encode(b"key", 256).map(|_| ());
        RNG_FAILS.with(|f| f.set(false));
        assert_eq!(oaep, Err(Error::RandomUnavailable));
        assert_eq!(v15, Err(Error::RandomUnavailable));
        assert_eq!(
            Error::RandomUnavailable.code(),
            ErrorCode::RandomUnavailable
        );
    }

    #[test]
    #[cfg(all(feature = "v1", feature = "capture"))]
    fn encodings_have_their_structure() {
        let em = pkcs1v15_encode(b"key", 256).unwrap();
        assert_eq!(&em[..2], &[0, 2]);
        assert!(em[2..256 - 4].iter().all(|&b| b != 0));
        assert_eq!(&em[256 - 4..], b"\0key");
        assert!(pkcs1v15_encode(&[1; 245], 256).is_ok());
        assert!(pkcs1v15_encode(&[1; 246], 256).is_err());
        let em = oaep_encode::<crate::sha1_compact::Sha1>(b"key", 256).unwrap();
        assert_eq!(em[0], 0);
        assert!(oaep_encode::<crate::sha1_compact::Sha1>(&[1; 214], 256).is_ok());
        assert!(oaep_encode::<crate::sha1_compact::Sha1>(&[1; 215], 256).is_err());
        assert!(oaep_encode::<sha2::Sha256>(&[1; 190], 256).is_ok());
        assert!(oaep_encode::<sha2::Sha256>(&[1; 191], 256).is_err());
        // Fresh randomness every time.
        assert_ne!(
            oaep_encode::<crate::sha1_compact::Sha1>(b"key", 256)
                .unwrap()
                .to_vec(),
            oaep_encode::<crate::sha1_compact::Sha1>(b"key", 256)
                .unwrap()
                .to_vec()
        );
    }
}
