//! RSA-OAEP decoding (RFC 8017 §7.1.2, step 3) with SHA-256 and MGF1-SHA-256
//! and an empty label, for a token that does the raw RSA operation but not
//! OAEP with SHA-256 (SoftHSM2 2.6). No crate exposes the decoding apart
//! from a private key (AWS-LC and RustCrypto `rsa` decode inside their own
//! decryption), so it is here, in constant time: every check is folded into
//! one [`Choice`] and the message's position is selected without branching
//! on secret data; only the final success or failure (one opaque result to
//! the caller) is a branch.

use aws_lc_rs::digest::{digest, Context, SHA256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

const H: usize = 32;

/// MGF1 with SHA-256: `len` bytes of mask from `seed`.
fn mgf1(seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + H));
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut ctx = Context::new(&SHA256);
        ctx.update(seed);
        ctx.update(&counter.to_be_bytes());
        out.extend_from_slice(ctx.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// Decodes the encoded message `em` (the raw RSA output, as long as the
/// modulus); `None` for any malformed encoding.
pub fn decode_sha256(em: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let k = em.len();
    if k < 2 * H + 2 {
        return None;
    }
    let (&y, rest) = em.split_first()?;
    let (masked_seed, masked_db) = rest.split_at_checked(H)?;
    let seed_mask = mgf1(masked_db, H);
    let seed: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_seed
            .iter()
            .zip(seed_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let db_mask = mgf1(&seed, masked_db.len());
    let db: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_db
            .iter()
            .zip(db_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let empty_label = digest(&SHA256, b"");
    let (label_hash, tail) = db.split_at_checked(H)?;
    let mut good = y.ct_eq(&0) & label_hash.ct_eq(empty_label.as_ref());
    // The first 0x01 after the zero padding: its index, found without
    // branching; any other byte before it is an error.
    let mut looking = Choice::from(1);
    let mut index: u32 = 0;
    let mut bad = Choice::from(0);
    for (i, b) in tail.iter().enumerate() {
        let is_one = b.ct_eq(&1);
        let is_zero = b.ct_eq(&0);
        index.conditional_assign(&(i as u32), looking & is_one);
        bad |= looking & !is_one & !is_zero;
        looking &= !is_one;
    }
    good &= !bad & !looking;
    if bool::from(good) {
        let start = usize::try_from(index).ok()?.checked_add(1)?;
        Some(Zeroizing::new(tail.get(start..)?.to_vec()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The decoder against ciphertexts of an independent OAEP-256
    // implementation (the client core's, through SoftHSM2's raw RSA) is
    // `pkcs11_captures_decrypt_with_oaep_sha256_through_the_token` in
    // server/tests/it/custody.rs; here, the structure (RFC 8017 §7.1.1
    // encoding written out) and that every changed byte is refused.
    fn encode(msg: &[u8], k: usize, seed: &[u8; H]) -> Vec<u8> {
        let mut db = digest(&SHA256, b"").as_ref().to_vec();
        db.resize(k - H - 1 - msg.len() - 1, 0);
        db.push(1);
        db.extend_from_slice(msg);
        let db_mask = mgf1(seed, db.len());
        let masked_db: Vec<u8> = db.iter().zip(db_mask.iter()).map(|(a, b)| a ^ b).collect();
        let seed_mask = mgf1(&masked_db, H);
        let masked_seed: Vec<u8> = seed
            .iter()
            .zip(seed_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        [vec![0], masked_seed, masked_db].concat()
    }

    #[test]
    fn decodes_well_formed_encodings_and_refuses_every_changed_byte() {
        for len in [0usize, 1, 16, 32, 190] {
            let msg: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let em = encode(&msg, 256, &[7u8; H]);
            assert_eq!(decode_sha256(&em).unwrap().as_slice(), msg.as_slice());
            for i in [0, 1, 20, 40, 100, 255] {
                let mut bad = em.clone();
                bad[i] ^= 0x80;
                assert!(decode_sha256(&bad).is_none(), "byte {i}");
            }
        }
        assert!(decode_sha256(&[0u8; 60]).is_none());
        assert!(decode_sha256(&[0u8; 256]).is_none());
    }
}
