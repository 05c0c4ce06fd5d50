//! A small strict DER reader for the two structures an RSA public key
//! arrives in: SubjectPublicKeyInfo (RFC 5280 §4.1) and PKCS#1
//! RSAPublicKey (RFC 8017 §A.1.1). It replaces the `der`, `spki` and `pkcs1`
//! crates in the browser module (about 13 KB of its code) and accepts
//! exactly what they accepted here (tests/it/der_reference.rs checks it
//! against them, differentially):
//!
//! * definite lengths only, in the fewest octets (short form below 128,
//!   long form of 1 to 4 octets with no leading zero), never past the
//!   enclosing value; no trailing bytes at any level;
//! * tags as `der` 0.7 knows them (one octet: the universal types it names,
//!   application, context-specific and private tags below 31), and the
//!   expected tag where one is expected;
//! * INTEGERs positive and minimal (no needless leading zero, no sign bit
//!   set), as `der`'s unsigned integers;
//! * the algorithm parameters absent or any one value (`spki`'s
//!   `AlgorithmIdentifierRef`), the BIT STRING's unused-bit count 0 to 7
//!   (and 0 when it is empty).
//!
//! One difference in wording, none in outcome: an algorithm OID whose
//! encoding `const-oid` would refuse is reported as "not an RSA key", where
//! `spki` said "not a SubjectPublicKeyInfo"; both are
//! [`crate::Error::InvalidPublicKey`].

/// The DER of the rsaEncryption OID's value, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;

/// A cursor over DER values.
struct Reader<'a> {
    rest: &'a [u8],
}

/// Whether `der` 0.7's `Tag::try_from` accepts the tag octet.
fn known_tag(tag: u8) -> bool {
    tag & 0x1f != 0x1f
        && matches!(
            tag,
            0x01..=0x06
                | 0x09
                | 0x0a
                | 0x0c
                | 0x12..=0x18
                | 0x1a
                | 0x1e
                | 0x30
                | 0x31
                | 0x40..=0xfe
        )
}

impl<'a> Reader<'a> {
    fn new(der: &'a [u8]) -> Self {
        Reader { rest: der }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next value: its tag octet and its contents.
    fn any(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        if !known_tag(tag) {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                if rest.len() < n {
                    return None;
                }
                let (octets, rest) = rest.split_at(n);
                // Minimal: no leading zero octet, and the short form would
                // not have done.
                if octets.first() == Some(&0) {
                    return None;
                }
                let len = octets.iter().try_fold(0usize, |acc, &b| {
                    acc.checked_mul(256).map(|a| a | usize::from(b))
                })?;
                if len < 0x80 {
                    return None;
                }
                (len, rest)
            }
            _ => return None,
        };
        if rest.len() < len {
            return None;
        }
        let (contents, rest) = rest.split_at(len);
        self.rest = rest;
        Some((tag, contents))
    }

    /// The next value's contents, if it has tag `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.any()
            .and_then(|(t, contents)| (t == tag).then_some(contents))
    }

    /// The contents of a value that must be the whole of `der`.
    fn only(der: &'a [u8], tag: u8) -> Option<&'a [u8]> {
        let mut r = Reader::new(der);
        let contents = r.expect(tag)?;
        r.is_empty().then_some(contents)
    }

    /// A non-negative INTEGER's magnitude, big-endian: without the one
    /// leading zero octet that a set top bit needs (`0` stays `[0]`).
    fn unsigned(&mut self) -> Option<&'a [u8]> {
        match self.expect(INTEGER)? {
            [] => None,
            bytes @ [0] => Some(bytes),
            [0, next, ..] if *next < 0x80 => None,
            [0, rest @ ..] => Some(rest),
            [first, ..] if *first >= 0x80 => None,
            bytes => Some(bytes),
        }
    }
}

/// A SubjectPublicKeyInfo, read.
pub(crate) struct Spki<'a> {
    /// Whether the algorithm is rsaEncryption.
    pub(crate) rsa: bool,
    /// The subjectPublicKey's octets, or `None` when its unused-bit count is
    /// not zero.
    pub(crate) key: Option<&'a [u8]>,
}

/// Reads a SubjectPublicKeyInfo that is the whole of `der`.
pub(crate) fn spki(der: &[u8]) -> Option<Spki<'_>> {
    let mut fields = Reader::new(Reader::only(der, SEQUENCE)?);
    let mut algorithm = Reader::new(fields.expect(SEQUENCE)?);
    let bits = fields.expect(BIT_STRING)?;
    if !fields.is_empty() {
        return None;
    }
    let oid = algorithm.expect(OBJECT_IDENTIFIER)?;
    if !algorithm.is_empty() {
        algorithm.any()?;
        if !algorithm.is_empty() {
            return None;
        }
    }
    let (&unused, key) = bits.split_first()?;
    if unused > 7 || (unused != 0 && key.is_empty()) {
        return None;
    }
    Some(Spki {
        rsa: oid == RSA_ENCRYPTION,
        key: (unused == 0).then_some(key),
    })
}

/// Reads a PKCS#1 RSAPublicKey that is the whole of `der`: (modulus,
/// public exponent), big-endian.
pub(crate) fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut fields = Reader::new(Reader::only(der, SEQUENCE)?);
    let n = fields.unsigned()?;
    let e = fields.unsigned()?;
    fields.is_empty().then_some((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_definite_minimal_and_bounded() {
        let read = |der: &[u8]| Reader::new(der).any().map(|(t, c)| (t, c.to_vec()));
        assert_eq!(read(&[0x04, 0x01, 0xaa]), Some((0x04, vec![0xaa])));
        assert_eq!(read(&[0x04, 0x80, 0xaa, 0, 0]), None, "indefinite");
        assert_eq!(read(&[0x04, 0x81, 0x01, 0xaa]), None, "long form for 1");
        assert_eq!(read(&[0x04, 0x82, 0x00, 0x80]), None, "leading zero octet");
        assert_eq!(read(&[0x04, 0x85, 1, 0, 0, 0, 0]), None, "5 length octets");
        assert_eq!(read(&[0x04, 0x02, 0xaa]), None, "past the end");
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7; 0x80]);
        assert_eq!(read(&long).map(|(_, c)| c.len()), Some(0x80));
        assert_eq!(read(&[0x1f, 0x00]), None, "high tag number form");
        assert_eq!(read(&[0x07, 0x00]), None, "a tag der does not know");
    }

    #[test]
    fn integers_are_positive_and_minimal() {
        let int = |contents: &[u8]| {
            let mut der = vec![INTEGER, contents.len() as u8];
            der.extend_from_slice(contents);
            Reader::new(&der).unsigned().map(<[u8]>::to_vec)
        };
        assert_eq!(int(&[1, 0]), Some(vec![1, 0]));
        assert_eq!(int(&[0, 0x80]), Some(vec![0x80]));
        assert_eq!(int(&[0]), Some(vec![0]));
        assert_eq!(int(&[]), None);
        assert_eq!(int(&[0, 0x7f]), None);
        assert_eq!(int(&[0x80]), None);
    }
}
