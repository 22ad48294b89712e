//! Bucket names, keys and key filters (spec §5.1), checked before anything is sent.
//!
//! * Bucket: `[a-zA-Z0-9_-]+`.
//! * Key: `[-/_=.a-zA-Z0-9]+`, no leading or trailing `.`, no empty token (`..`).
//! * Keys starting with `_kv` are reserved (ADR-6): writes refuse them, reads allow them.
//! * Filter (watch, keys, history): tokens are key tokens, `*`, or a final `>`; empty means
//!   the whole bucket.

use crate::error::{Error, ErrorKind, Result};

/// The longest bucket name: the stream name `KV_<bucket>` stays within 255 bytes.
const MAX_BUCKET_LEN: usize = 252;

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_' | b'=' | b'.')
}

/// Checks a bucket name.
pub fn validate_bucket(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidBucketName,
            "bucket name is empty",
        ));
    }
    if name.len() > MAX_BUCKET_LEN {
        return Err(Error::new(
            ErrorKind::InvalidBucketName,
            format!("bucket name is longer than {MAX_BUCKET_LEN} bytes"),
        ));
    }
    if let Some(at) = name
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(Error::new(
            ErrorKind::InvalidBucketName,
            format!(
                "bucket name {name:?} has an invalid character at byte {at} (allowed: a-z A-Z 0-9 _ -)"
            ),
        ));
    }
    Ok(())
}

fn invalid_key(key: &str, why: &str) -> Error {
    Error::new(ErrorKind::InvalidKey, format!("key {key:?}: {why}"))
}

/// Checks a key for reading (get, entry, history of one key).
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(invalid_key(key, "empty"));
    }
    if let Some(at) = key.bytes().position(|b| !is_key_byte(b)) {
        return Err(invalid_key(
            key,
            &format!("invalid character at byte {at} (allowed: a-z A-Z 0-9 - / _ = .)"),
        ));
    }
    if key.starts_with('.') || key.ends_with('.') {
        return Err(invalid_key(key, "starts or ends with '.'"));
    }
    if key.contains("..") {
        return Err(invalid_key(key, "has an empty token ('..')"));
    }
    Ok(())
}

/// Checks a key for writing: a valid key that is not reserved (`_kv…`).
pub fn validate_write_key(key: &str) -> Result<()> {
    validate_key(key)?;
    if key.starts_with("_kv") {
        return Err(invalid_key(key, "keys starting with \"_kv\" are reserved"));
    }
    Ok(())
}

/// Checks a key filter; `""` and `">"` mean every key.
pub fn validate_filter(filter: &str) -> Result<()> {
    if filter.is_empty() {
        return Ok(());
    }
    let mut tokens = filter.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        match token {
            "" => return Err(invalid_key(filter, "has an empty token")),
            "*" => {}
            ">" if last => {}
            ">" => return Err(invalid_key(filter, "'>' must be the last token")),
            t if t.bytes().all(is_key_byte) => {}
            _ => {
                return Err(invalid_key(
                    filter,
                    "invalid character (wildcards must be whole tokens)",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        // Spec §6 item 32.
        for bad in ["a b", "a.b", "a*", "", "a>", "ä", "a/b"] {
            assert!(
                validate_bucket(bad).unwrap_err().is_invalid_bucket_name(),
                "{bad:?}"
            );
        }
        for good in ["A-b_1", "profiles", "x"] {
            validate_bucket(good).unwrap();
        }
        assert!(validate_bucket(&"b".repeat(253)).is_err());
        validate_bucket(&"b".repeat(252)).unwrap();
    }

    #[test]
    fn keys() {
        // Spec §6 items 33 and 34.
        for bad in [
            "a b", ".a", "a.", "a..b", "a*", "a>", "", "a\r\nb", "a\tb", "ä",
        ] {
            assert!(validate_key(bad).unwrap_err().is_invalid_key(), "{bad:?}");
            assert!(validate_write_key(bad).is_err(), "{bad:?}");
        }
        for good in ["a/b=c_d-e.f", "k", "A.B.C", "_k", "kv_x"] {
            validate_key(good).unwrap();
            validate_write_key(good).unwrap();
        }
        validate_key("_kv.x").unwrap();
        assert!(validate_write_key("_kv.x").unwrap_err().is_invalid_key());
        assert!(validate_write_key("_kvx").is_err());
    }

    #[test]
    fn filters() {
        for good in ["", ">", "*", "a.*", "a.>", "*.b.>", "a.b", "a/b=c"] {
            validate_filter(good).unwrap();
        }
        for bad in [
            ".", "a.", ".a", "a..b", "a*", "a>", ">.a", "a b", "a.>.b", "a.*b",
        ] {
            assert!(
                validate_filter(bad).unwrap_err().is_invalid_key(),
                "{bad:?}"
            );
        }
    }
}
