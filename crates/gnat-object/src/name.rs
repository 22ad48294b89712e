//! Names (ADR-20 "Naming Specification"): bucket names are restricted terms, object names
//! are any non-empty UTF-8 string and go into the meta subject base64-encoded with the URL
//! alphabet and padding (as the other clients write them); digests are `SHA-256=` and the
//! same encoding.

use crate::error::{Error, ErrorKind, Result};

/// Checks a bucket name: one or more of `A-Z a-z 0-9 - _` (ADR-20, ADR-6 restricted term).
pub fn validate_bucket(bucket: &str) -> Result<()> {
    if bucket.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidBucketName,
            "bucket name is empty",
        ));
    }
    if let Some(c) = bucket
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(Error::new(
            ErrorKind::InvalidBucketName,
            format!("bucket name {bucket:?} has {c:?}; only A-Z a-z 0-9 - _ are allowed"),
        ));
    }
    Ok(())
}

/// Checks an object name: any UTF-8 string except the empty one.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(ErrorKind::InvalidName, "object name is empty"));
    }
    Ok(())
}

const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with the URL-safe alphabet and `=` padding (RFC 4648 §5).
pub(crate) fn base64_url(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(URL_ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Decodes base64 in either alphabet (standard or URL-safe), padded or not; `None` on
/// anything else. Digests written by other clients are compared after decoding.
pub(crate) fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let trimmed = input.trim_end_matches('=');
    if input.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in trimmed.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The prefix of every digest this crate writes or checks.
pub(crate) const DIGEST_PREFIX: &str = "SHA-256=";

/// `SHA-256=<base64url(digest)>`.
pub(crate) fn digest_string(digest: &[u8]) -> String {
    let mut s = String::from(DIGEST_PREFIX);
    s.push_str(&base64_url(digest));
    s
}

/// The raw digest bytes of a `SHA-256=…` string (either base64 alphabet, padded or not; the
/// algorithm name compared without case); `None` when it is not one.
pub(crate) fn parse_digest(text: &str) -> Option<Vec<u8>> {
    let (algo, value) = text.split_once('=')?;
    if !algo.eq_ignore_ascii_case("SHA-256") {
        return None;
    }
    base64_decode(value).filter(|d| d.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        validate_bucket("my-Store_1").unwrap();
        for bad in ["", "a.b", "a b", "a*", "a>", "ä"] {
            assert!(
                validate_bucket(bad).unwrap_err().is_invalid_bucket_name(),
                "{bad}"
            );
        }
        validate_name("any thing/ä.*>").unwrap();
        assert!(validate_name("").unwrap_err().is_invalid_name());
    }

    #[test]
    fn base64_round_trips_in_the_url_alphabet() {
        // RFC 4648 §10 test vectors.
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_url(raw.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8=");
        assert_eq!(base64_decode("+/8").unwrap(), vec![0xfb, 0xff]);
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("ab!c").is_none());
        assert!(base64_decode("a===").is_none());
    }

    #[test]
    fn digests() {
        // SHA-256 of the empty string.
        let d = ring::digest::digest(&ring::digest::SHA256, b"");
        let s = digest_string(d.as_ref());
        assert_eq!(s, "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(parse_digest(&s).unwrap(), d.as_ref());
        assert_eq!(
            parse_digest("sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").unwrap(),
            d.as_ref()
        );
        assert!(parse_digest("MD5=abc").is_none());
        assert!(parse_digest("SHA-256=Zm9v").is_none());
    }
}
