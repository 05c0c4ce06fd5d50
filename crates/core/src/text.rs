//! Numbers and hex into text without `core::fmt`: the browser module's
//! paths (errors, card JSON, timestamps, body hex) then build their text
//! with plain pushes, and `format!`'s machinery (its argument tables,
//! padding, integer and hex formatting for these call sites) stays out of the
//! module.

/// Appends `n` in decimal, zero-padded on the left to at least `min_digits`
/// digits (what `format!("{n:0min_digits$}")` writes).
pub(crate) fn push_decimal(out: &mut String, n: u64, min_digits: usize) {
    let mut digits = [b'0'; 20];
    let mut len = 0;
    let mut rest = n;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
        if rest == 0 {
            break;
        }
    }
    for _ in len..min_digits {
        out.push('0');
    }
    for &d in digits.iter().skip(digits.len() - len) {
        out.push(char::from(d));
    }
}

/// Appends `b` as two lowercase hex digits (`format!("{b:02x}")`), without
/// a table lookup or a branch on its value (bodies and capture use it).
#[cfg_attr(not(any(feature = "body", feature = "capture")), allow(dead_code))]
pub(crate) fn push_hex_byte(out: &mut String, b: u8) {
    for nibble in [b >> 4, b & 0x0f] {
        // '0'..'9' for 0..9, 'a'..'f' for 10..15: + 39 when above 9.
        let above_nine = 0u8.wrapping_sub(nibble.wrapping_add(6) >> 4);
        out.push(char::from(b'0' + nibble + (above_nine & 39)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_is_what_format_writes() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            2024,
            65_535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            for width in [0usize, 1, 2, 4, 25] {
                let mut out = String::from(">");
                push_decimal(&mut out, n, width);
                assert_eq!(out, format!(">{n:0width$}"), "{n} {width}");
            }
        }
    }

    #[test]
    fn hex_is_what_format_writes() {
        for b in 0..=255u8 {
            let mut out = String::new();
            push_hex_byte(&mut out, b);
            assert_eq!(out, format!("{b:02x}"));
        }
    }
}
