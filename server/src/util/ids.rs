//! Random bytes and the identifiers made from them, and the UUID check.

/// The system's random generator failed (never expected; callers turn it
/// into their layer's internal error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no randomness")]
pub struct NoRandomness;

/// `N` bytes from the system's cryptographic random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| NoRandomness)?;
    Ok(b)
}

/// A random identifier: `prefix` and `N` random bytes in lowercase hex.
pub fn random_id<const N: usize>(prefix: &str) -> Result<String, NoRandomness> {
    Ok(format!(
        "{prefix}{}",
        super::codec::hex_lower(&random_bytes::<N>()?)
    ))
}

/// A random secret credential: `prefix` and `N` random bytes in unpadded
/// base64url (tenant API keys `psk_…`, ephemeral keys `pse_…`).
pub fn random_credential<const N: usize>(prefix: &str) -> Result<String, NoRandomness> {
    Ok(format!(
        "{prefix}{}",
        super::codec::base64url(&random_bytes::<N>()?)
    ))
}

/// A random (version 4) UUID, lowercase.
pub fn new_uuid() -> Result<String, NoRandomness> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    Ok(uuid_text(&b))
}

/// 16 bytes in the UUID text form: lowercase hex in groups of 8-4-4-4-12.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let h = super::codec::hex_lower(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `s` lowercased if it is a UUID (five groups of 8-4-4-4-12 hex digits).
pub fn uuid(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| s.to_ascii_lowercase())
}
