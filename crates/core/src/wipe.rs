//! Building secret text without leaving copies behind.

use zeroize::Zeroizing;

/// Collects `chars` into a string that is wiped on drop, allocated once at
/// `capacity` bytes: a growing buffer would leave unwiped partial copies of a
/// secret behind each reallocation. `capacity` must be enough (the input's
/// byte length is, for a filtered copy of it).
pub(crate) fn collect_secret(
    capacity: usize,
    chars: impl Iterator<Item = char>,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    out.extend(chars);
    out
}
