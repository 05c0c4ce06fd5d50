//! How card numbers are shown.

/// A masked card number from its stored parts: the first six digits, one
/// `*` per hidden digit, the last four (`444433******1111`). A length that
/// does not fit `usize` counts as 16.
pub fn masked_pan(first6: &str, pan_length: i64, last4: &str) -> String {
    let hidden = usize::try_from(pan_length).unwrap_or(16).saturating_sub(10);
    format!("{first6}{}{last4}", "*".repeat(hidden))
}
