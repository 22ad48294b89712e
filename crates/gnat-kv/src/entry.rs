//! Entries and how they are decoded from stored messages (spec §5.6).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use jetstream::Timestamp;
use jetstream::client::{HeaderMap, Subject};

/// A key as it arrives: UTF-8 text in a shared buffer (often a slice of the message it came
/// in). Cloning is a reference-count increment; it dereferences to `str` and compares with
/// `&str`.
pub type Key = Subject;

pub(crate) const KV_OPERATION: &str = "KV-Operation";
pub(crate) const MARKER_REASON: &str = "Nats-Marker-Reason";

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A value was put.
    Put,
    /// The key was deleted (history kept): `KV-Operation: DEL`, or a server marker with
    /// reason `Remove`.
    Delete,
    /// The key was purged (history removed): `KV-Operation: PURGE`, or a server limit marker
    /// with reason `MaxAge` or `Purge` (ADR-48).
    Purge,
}

impl Operation {
    /// The operation a stored message's headers record (spec §5.6): `KV-Operation` first,
    /// then `Nats-Marker-Reason`, else a put.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Operation {
        let Some(headers) = headers else {
            return Operation::Put;
        };
        if let Some(op) = headers.get(KV_OPERATION) {
            return match op.trim() {
                "" | "PUT" => Operation::Put,
                "PURGE" => Operation::Purge,
                // ADR-8: any other value means the key was deleted.
                _ => Operation::Delete,
            };
        }
        match headers.get(MARKER_REASON).map(str::trim) {
            Some("MaxAge" | "Purge") => Operation::Purge,
            Some("Remove") => Operation::Delete,
            _ => Operation::Put,
        }
    }

    /// A delete or a purge (a tombstone).
    pub fn is_tombstone(self) -> bool {
        self != Operation::Put
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Put => "PUT",
            Operation::Delete => "DEL",
            Operation::Purge => "PURGE",
        })
    }
}

/// One revision of a key.
///
/// Cloning is cheap: the bucket name, the key and the value are shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The bucket it is in.
    pub bucket: Arc<str>,
    /// The key.
    pub key: Key,
    /// The value (empty for deletes and purges, and for metadata-only watches).
    pub value: Bytes,
    /// The revision: the stream sequence of the message (unique across the bucket,
    /// increasing).
    pub revision: u64,
    /// When it was stored.
    pub created: Timestamp,
    /// How many newer messages (matching what was read) followed it when it was delivered:
    /// 0 for the latest. Always 0 from a get.
    pub delta: u64,
    /// What it records.
    pub operation: Operation,
}

impl Entry {
    /// Builds an entry (for tests and layers built on this crate).
    pub fn new(
        bucket: Arc<str>,
        key: Key,
        value: Bytes,
        revision: u64,
        created: Timestamp,
        delta: u64,
        operation: Operation,
    ) -> Entry {
        Entry {
            bucket,
            key,
            value,
            revision,
            created,
            delta,
            operation,
        }
    }

    /// The value as UTF-8 text, if it is.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }
}

/// `subject` without `prefix`, sharing the subject's buffer; `None` when it does not start
/// with `prefix` or nothing follows it.
pub(crate) fn key_of(subject: &Subject, prefix: &str) -> Option<Key> {
    if subject.len() <= prefix.len() || !subject.starts_with(prefix) {
        return None;
    }
    let bytes = subject.clone().into_bytes().slice(prefix.len()..);
    Some(Subject::from_wire(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in lines {
            h.append(n, v).unwrap();
        }
        h
    }

    #[test]
    fn operations() {
        assert_eq!(Operation::from_headers(None), Operation::Put);
        let op = |lines: &[(&str, &str)]| Operation::from_headers(Some(&headers(lines)));
        assert_eq!(op(&[]), Operation::Put);
        assert_eq!(op(&[("KV-Operation", "DEL")]), Operation::Delete);
        assert_eq!(op(&[("KV-Operation", "PURGE")]), Operation::Purge);
        assert_eq!(op(&[("KV-Operation", "PUT")]), Operation::Put);
        assert_eq!(op(&[("KV-Operation", "ERASE")]), Operation::Delete);
        assert_eq!(op(&[("Nats-Marker-Reason", "MaxAge")]), Operation::Purge);
        assert_eq!(op(&[("Nats-Marker-Reason", "Purge")]), Operation::Purge);
        assert_eq!(op(&[("Nats-Marker-Reason", "Remove")]), Operation::Delete);
        assert_eq!(op(&[("Nats-Marker-Reason", "Other")]), Operation::Put);
        // KV-Operation wins over a marker reason; names are case-sensitive.
        assert_eq!(
            op(&[("Nats-Marker-Reason", "MaxAge"), ("KV-Operation", "DEL")]),
            Operation::Delete
        );
        assert_eq!(op(&[("kv-operation", "DEL")]), Operation::Put);
        assert!(Operation::Purge.is_tombstone() && !Operation::Put.is_tombstone());
        assert_eq!(Operation::Delete.to_string(), "DEL");
    }

    #[test]
    fn keys_from_subjects() {
        let s = Subject::from("$KV.B.a.b");
        assert_eq!(key_of(&s, "$KV.B.").unwrap(), "a.b");
        assert!(key_of(&s, "$KV.C.").is_none());
        assert!(key_of(&Subject::from("$KV.B."), "$KV.B.").is_none());
        assert!(key_of(&Subject::from("$KV"), "$KV.B.").is_none());
    }
}
