//! Digests and text encodings of bytes.

use aws_lc_rs::digest;

/// SHA-256 of `data`: the lookup key of credentials, nonces and session-id
/// fingerprints.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Lowercase hex, two digits per byte.
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpadded base64url (RFC 4648 §5), as JWKs and credentials use.
pub fn base64url(bytes: &[u8]) -> String {
    paysecure_core::encoding::encode(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}
