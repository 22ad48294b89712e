//! Message headers: the `NATS/1.0` block carried by `HPUB` and `HMSG`.
//!
//! ```text
//! NATS/1.0[ <status>[ <description>]]CRLF
//! <Name>: <value>CRLF        (zero or more; names may repeat)
//! CRLF
//! ```
//!
//! [`HeaderMap`] follows ADR-4: names keep their case and are looked up
//! case-sensitively; a repeated name keeps each value as its own line, in insertion
//! order. Names and values are validated when added, so encoding cannot fail and can
//! never inject protocol.

mod parse;
mod status;

pub use status::{StatusCode, status_of};

use bytes::{BufMut, BytesMut};

use crate::error::ProtoError;
use crate::validate::{validate_header_name, validate_header_value};

/// The version line's fixed part.
const VERSION: &[u8] = b"NATS/1.0";

/// An ordered multimap of headers, with an optional inline status.
///
/// Names and values live back to back in one string, so a parsed block costs two
/// allocations however many headers it has (a direct-get reply carries five or six).
#[derive(Clone, Default)]
pub struct HeaderMap {
    status: Option<StatusCode>,
    description: Option<String>,
    /// Every entry's name and value, back to back (no separators).
    text: String,
    entries: Vec<Entry>,
}

/// Where one header's name and value are in [`HeaderMap::text`]: the name is
/// `start..value`, the value `value..end`.
#[derive(Clone)]
struct Entry {
    start: usize,
    value: usize,
    end: usize,
}

impl std::fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderMap")
            .field("status", &self.status)
            .field("description", &self.description)
            .field("entries", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl PartialEq for HeaderMap {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.description == other.description
            && self.len() == other.len()
            && self.iter().eq(other.iter())
    }
}

impl Eq for HeaderMap {}

impl std::hash::Hash for HeaderMap {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.status.hash(state);
        self.description.hash(state);
        self.len().hash(state);
        for entry in self.iter() {
            entry.hash(state);
        }
    }
}

impl HeaderMap {
    /// An empty map (encodes as `NATS/1.0\r\n\r\n`).
    pub fn new() -> Self {
        HeaderMap::default()
    }

    /// An empty map with a status line, e.g. `NATS/1.0 503` or
    /// `NATS/1.0 408 Request Timeout`. CR, LF and NUL in the description are
    /// replaced by spaces, and surrounding whitespace is trimmed (as parsing would).
    pub fn with_status(status: StatusCode, description: Option<&str>) -> Self {
        let mut map = HeaderMap::new();
        map.set_status(status, description);
        map
    }

    /// Sets (replaces) the status line; the description is cleaned as by
    /// [`with_status`](Self::with_status).
    ///
    /// A status is always three digits on the wire; codes above 999 are stored as 999.
    pub fn set_status(&mut self, status: StatusCode, description: Option<&str>) {
        self.status = Some(StatusCode(status.0.min(999)));
        self.description = description
            .map(|d| {
                d.replace(['\r', '\n', '\0'], " ")
                    .trim_matches([' ', '\t'])
                    .to_owned()
            })
            .filter(|d| !d.is_empty());
    }

    /// The inline status, if the version line has one.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The status description (`Idle Heartbeat`), if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    fn name_of(&self, e: &Entry) -> &str {
        self.text.get(e.start..e.value).unwrap_or_default()
    }

    fn value_of(&self, e: &Entry) -> &str {
        self.text.get(e.value..e.end).unwrap_or_default()
    }

    /// Adds an entry after the others (name and value already checked).
    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let value_at = self.text.len();
        self.text.push_str(value);
        self.entries.push(Entry {
            start,
            value: value_at,
            end: self.text.len(),
        });
    }

    /// The first value of the header named exactly `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| self.name_of(e) == name)
            .map(|e| self.value_of(e))
    }

    /// Every value of the header named exactly `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Adds a value under `name` after any existing ones. Fails (adding nothing) if
    /// the name or value is invalid (see [`crate::validate`]).
    pub fn append(&mut self, name: &str, value: &str) -> Result<(), ProtoError> {
        validate_header_name(name)?;
        validate_header_value(value)?;
        self.push(name, value);
        Ok(())
    }

    /// Replaces every value of `name` with `value` (the new entry goes last). Fails
    /// (changing nothing) if the name or value is invalid.
    pub fn insert(&mut self, name: &str, value: &str) -> Result<(), ProtoError> {
        validate_header_name(name)?;
        validate_header_value(value)?;
        self.remove(name);
        self.push(name, value);
        Ok(())
    }

    /// Removes every header named exactly `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        // In place: entries lie in the text in order, so each removed one closes its gap by
        // moving the rest down, and the text keeps no dead bytes (repeated inserts do not
        // grow it) without a new allocation.
        let text = &mut self.text;
        let mut shift = 0usize;
        self.entries.retain_mut(|e| {
            e.start = e.start.saturating_sub(shift);
            e.value = e.value.saturating_sub(shift);
            e.end = e.end.saturating_sub(shift);
            if text.get(e.start..e.value) != Some(name) || text.get(e.start..e.end).is_none() {
                return true;
            }
            text.replace_range(e.start..e.end, "");
            shift = shift.saturating_add(e.end.saturating_sub(e.start));
            false
        });
        before.saturating_sub(self.entries.len())
    }

    /// All `(name, value)` pairs in order (a repeated name appears once per value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (self.name_of(e), self.value_of(e)))
    }

    /// Number of header lines (the status does not count).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no header lines (there may still be a status).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Exactly how many bytes [`encode`](Self::encode) writes: the `#header-bytes`
    /// of `HPUB`/`HMSG`.
    pub fn encoded_len(&self) -> usize {
        // "NATS/1.0" + CRLF + final CRLF
        let mut len = VERSION.len().saturating_add(4);
        if self.status.is_some() {
            // " " + three digits
            len = len.saturating_add(4);
            if let Some(d) = &self.description {
                len = len.saturating_add(1).saturating_add(d.len());
            }
        }
        self.entries.iter().fold(len, |len, e| {
            // "Name: value\r\n"
            len.saturating_add(e.end.saturating_sub(e.start))
                .saturating_add(4)
        })
    }

    /// Writes the block: `NATS/1.0[ status[ description]]\r\n`, then
    /// `Name: value\r\n` per entry, then `\r\n`.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.reserve(self.encoded_len());
        buf.put_slice(VERSION);
        if let Some(status) = self.status {
            buf.put_u8(b' ');
            // Exactly three digits, zero-padded, so `048` round-trips as `048` (found by the
            // `headers` fuzzer: a two-digit status would not parse back).
            let code = status.0.min(999);
            buf.put_slice(&[
                b'0'.wrapping_add((code / 100) as u8),
                b'0'.wrapping_add((code / 10 % 10) as u8),
                b'0'.wrapping_add((code % 10) as u8),
            ]);
            if let Some(d) = &self.description {
                buf.put_u8(b' ');
                buf.put_slice(d.as_bytes());
            }
        }
        buf.put_slice(b"\r\n");
        for (name, value) in self.iter() {
            buf.put_slice(name.as_bytes());
            buf.put_slice(b": ");
            buf.put_slice(value.as_bytes());
            buf.put_slice(b"\r\n");
        }
        buf.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderMap;

    #[test]
    fn replacing_a_value_does_not_grow_the_text() {
        let mut h = HeaderMap::new();
        for i in 0..1000 {
            h.insert("Counter", &format!("{i:04}")).unwrap();
            assert_eq!(h.text.len(), "Counter".len() + 4);
        }
    }
}
