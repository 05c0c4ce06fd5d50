//! The core's AES-GCM (one composition of AES, CTR and GHASH for every key
//! size and IV length, `paysecure_core::cipher`) against the `aes-gcm`
//! crate it replaced, instantiated per key size and IV length: same
//! ciphertext and tag for every input, same verdict on every tampered input.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::{U12, U16, U26};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use paysecure_core::cipher::{gcm_decrypt, gcm_encrypt, Gcm16};
use paysecure_core::{Error, SessionKey};
use proptest::prelude::*;

fn reference_seal<C>(key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8>
where
    AesGcm<C, U12>: KeyInit + AeadInPlace,
    AesGcm<C, U16>: KeyInit + AeadInPlace,
    AesGcm<C, U26>: KeyInit + AeadInPlace,
{
    fn run<A: KeyInit + AeadInPlace>(key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8> {
        let mut buf = pt.to_vec();
        A::new_from_slice(key)
            .unwrap()
            .encrypt_in_place(iv.into(), aad, &mut buf)
            .unwrap();
        buf
    }
    match iv.len() {
        12 => run::<AesGcm<C, U12>>(key, iv, aad, pt),
        16 => run::<AesGcm<C, U16>>(key, iv, aad, pt),
        26 => run::<AesGcm<C, U26>>(key, iv, aad, pt),
        n => panic!("IV length {n}"),
    }
}

fn reference(key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    match key.len() {
        16 => reference_seal::<Aes128>(key, iv, aad, pt),
        24 => reference_seal::<Aes192>(key, iv, aad, pt),
        32 => reference_seal::<Aes256>(key, iv, aad, pt),
        n => panic!("key length {n}"),
    }
}

fn key_len() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![16usize, 24, 32])
}

fn iv_len() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![12usize, 16, 26])
}

fn case() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>)> {
    (key_len(), iv_len()).prop_flat_map(|(k, n)| {
        (
            prop::collection::vec(any::<u8>(), k),
            prop::collection::vec(any::<u8>(), n),
            prop::collection::vec(any::<u8>(), 0..40),
            // Up to 9 blocks and a partial one: crosses the 8-block runs.
            prop::collection::vec(any::<u8>(), 0..160),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn seal_and_open_agree_with_aes_gcm((key, iv, aad, pt) in case()) {
        let sk = SessionKey::from_bytes(&key).unwrap();
        let expected = reference(&key, &iv, &aad, &pt);
        prop_assert_eq!(&gcm_encrypt(&sk, &iv, &aad, &pt).unwrap(), &expected);
        prop_assert_eq!(&gcm_decrypt(&sk, &iv, &aad, &expected).unwrap()[..], &pt[..]);
        if let Ok(iv16) = <[u8; 16]>::try_from(&iv[..]) {
            let gcm = Gcm16::new(&sk).unwrap();
            prop_assert_eq!(&gcm.seal(&iv16, &aad, &pt).unwrap(), &expected);
            prop_assert_eq!(&gcm.open(&iv16, &aad, &expected).unwrap()[..], &pt[..]);
        }
    }

    #[test]
    fn any_changed_bit_is_refused((key, iv, aad, pt) in case(), at in any::<prop::sample::Index>(), bit in 0u8..8, part in 0u8..3) {
        let sk = SessionKey::from_bytes(&key).unwrap();
        let sealed = reference(&key, &iv, &aad, &pt);
        let (mut iv2, mut aad2, mut sealed2) = (iv.clone(), aad.clone(), sealed.clone());
        let target = match part {
            0 => &mut sealed2,
            1 => &mut iv2,
            _ if !aad2.is_empty() => &mut aad2,
            _ => &mut sealed2,
        };
        let i = at.index(target.len());
        target[i] ^= 1 << bit;
        prop_assert_eq!(gcm_decrypt(&sk, &iv2, &aad2, &sealed2).unwrap_err(), Error::DecryptionFailed);
    }

    #[test]
    fn short_inputs_are_refused((key, iv, aad, pt) in case(), cut in 1usize..=16) {
        let sk = SessionKey::from_bytes(&key).unwrap();
        let sealed = reference(&key, &iv, &aad, &pt);
        let short = &sealed[..sealed.len().saturating_sub(cut)];
        prop_assert_eq!(gcm_decrypt(&sk, &iv, &aad, short).unwrap_err(), Error::DecryptionFailed);
    }
}

#[test]
fn other_iv_lengths_are_refused_before_anything_else() {
    let sk = SessionKey::from_bytes(&[1; 32]).unwrap();
    for n in [0, 1, 8, 11, 13, 15, 17, 25, 27, 32] {
        let iv = vec![0; n];
        assert!(
            matches!(gcm_encrypt(&sk, &iv, &[], b"x"), Err(Error::InvalidIv(_))),
            "{n}"
        );
        assert!(
            matches!(gcm_decrypt(&sk, &iv, &[], &[]), Err(Error::InvalidIv(_))),
            "{n}"
        );
    }
}

/// Every message length from 0 to 9 blocks and a bit, for every key size and
/// IV length: the keystream is made `PAR` (4) blocks a call, its first call
/// also making the tag mask, so the lengths around 3, 4, 7 and 8 blocks are
/// where a counter or a refilled mask would go wrong (a mask overwritten by
/// the second call broke only the tags of messages over 48 bytes).
#[test]
fn every_length_across_the_keystream_calls() {
    for k in [16usize, 24, 32] {
        for n in [12usize, 16, 26] {
            let key: Vec<u8> = (0..k).map(|i| (i * 7 + k) as u8).collect();
            let iv: Vec<u8> = (0..n).map(|i| (i * 13 + n) as u8).collect();
            let sk = SessionKey::from_bytes(&key).unwrap();
            for len in 0..=150 {
                let pt: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
                let expected = reference(&key, &iv, b"", &pt);
                assert_eq!(
                    gcm_encrypt(&sk, &iv, b"", &pt).unwrap(),
                    expected,
                    "{k} {n} {len}"
                );
                assert_eq!(&gcm_decrypt(&sk, &iv, b"", &expected).unwrap()[..], &pt[..]);
            }
        }
    }
}
