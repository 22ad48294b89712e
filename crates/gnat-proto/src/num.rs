//! Decimal integers on the wire: parsing with overflow checks, and formatting
//! without allocation.

/// Most digits a `u64` has (`18446744073709551615`).
const MAX_DIGITS: usize = 20;

/// Parses an unsigned decimal: one or more ASCII digits, nothing else (no sign, no
/// whitespace). `None` if malformed or above `u64::MAX`.
#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    // 19 digits never overflow a u64 (10^19 - 1 < 2^64), so the short (usual) case
    // needs no checked arithmetic.
    if digits.len() < MAX_DIGITS {
        let mut n: u64 = 0;
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n.wrapping_mul(10).wrapping_add(u64::from(d));
        }
        return Some(n);
    }
    let mut n: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// A `u64` formatted in decimal, on the stack.
pub(crate) struct Decimal {
    bytes: [u8; MAX_DIGITS],
    start: usize,
}

impl Decimal {
    /// Formats `n`.
    #[inline]
    pub(crate) fn new(mut n: u64) -> Self {
        let mut bytes = [b'0'; MAX_DIGITS];
        let mut start = MAX_DIGITS;
        for slot in bytes.iter_mut().rev() {
            // `n % 10 < 10`, so the cast is lossless and `| b'0'` gives the digit.
            *slot = b'0' | (n.wrapping_rem(10) as u8);
            n = n.wrapping_div(10);
            start = start.wrapping_sub(1);
            if n == 0 {
                break;
            }
        }
        Decimal { bytes, start }
    }

    /// Formats a `usize`.
    #[inline]
    pub(crate) fn from_usize(n: usize) -> Self {
        // usize is at most 64 bits on every supported target.
        Self::new(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// The digits.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or(b"0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_digits_only() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"00042"), Some(42));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b"0000000000000000000000001"), Some(1));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1a"), None);
        assert_eq!(parse_u64(b" 1"), None);
        assert_eq!(parse_u64(b"1/"), None);
        assert_eq!(parse_u64(b":"), None);
    }

    #[test]
    fn format_round_trips() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            12345,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let d = Decimal::new(n);
            assert_eq!(d.as_bytes(), n.to_string().as_bytes());
            if let Ok(u) = usize::try_from(n) {
                assert_eq!(Decimal::from_usize(u).as_bytes(), n.to_string().as_bytes());
            }
        }
    }
}
