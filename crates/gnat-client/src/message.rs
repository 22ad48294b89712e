//! Messages as the application sees them, and the zero-copy [`Subject`] string.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use proto::{HeaderMap, StatusCode};

/// A subject: UTF-8 text held in a [`Bytes`], usually a slice of the read buffer it arrived in.
///
/// Cloning is a reference-count increment. It dereferences to `str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject(Bytes);

// Hash as the `str` it borrows as, so `HashMap<Subject, _>::get(&str)` finds it (`Borrow`
// requires equal hashes; `Bytes` and `str` hash differently).
impl std::hash::Hash for Subject {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Subject {
    /// Wraps bytes that came off the wire. Invalid UTF-8 (which no NATS client should send) is
    /// replaced lossily, so a `Subject` is always valid UTF-8.
    pub fn from_wire(bytes: Bytes) -> Self {
        if std::str::from_utf8(&bytes).is_ok() {
            Subject(bytes)
        } else {
            Subject(Bytes::from(String::from_utf8_lossy(&bytes).into_owned()))
        }
    }

    /// A subject from a static string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Subject(Bytes::from_static(s.as_bytes()))
    }

    /// The subject as a string slice.
    pub fn as_str(&self) -> &str {
        // Construction guarantees UTF-8, so the fallback is never taken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The subject's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Subject {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Subject {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Subject {
    fn from(s: String) -> Self {
        Subject(Bytes::from(s))
    }
}

impl From<&str> for Subject {
    fn from(s: &str) -> Self {
        Subject(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for Subject {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Subject {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

#[cfg(test)]
mod subject_tests {
    use super::*;

    #[test]
    fn a_subject_keyed_map_is_found_by_str() {
        let mut map = std::collections::HashMap::new();
        map.insert(Subject::from("a.b"), 1);
        assert_eq!(map.get("a.b"), Some(&1));
        assert_eq!(map.get(&Subject::from_static("a.b")), Some(&1));
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A message delivered to a subscription or as the reply to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The subject it was published to.
    pub subject: Subject,
    /// Where the publisher wants replies, if anywhere.
    pub reply: Option<Subject>,
    /// Headers, including an inline status (`NATS/1.0 503`) when the server sent one.
    pub headers: Option<HeaderMap>,
    /// The payload: a slice of the connection's read buffer, never copied.
    pub payload: Bytes,
}

impl Message {
    /// The inline status code of the header block, if any (for example 503 no responders or
    /// 100 idle heartbeat).
    pub fn status(&self) -> Option<StatusCode> {
        self.headers.as_ref().and_then(HeaderMap::status)
    }

    /// The inline status description, if any.
    pub fn description(&self) -> Option<&str> {
        self.headers.as_ref().and_then(HeaderMap::description)
    }

    /// Turns a decoded wire message into a [`Message`], parsing its header block.
    pub(crate) fn from_wire(msg: proto::Msg) -> Result<Self, proto::ProtoError> {
        let headers = match &msg.headers {
            Some(block) => Some(HeaderMap::parse(block)?),
            None => None,
        };
        Ok(Message {
            subject: Subject::from_wire(msg.subject),
            reply: msg.reply.map(Subject::from_wire),
            headers,
            payload: msg.payload,
        })
    }

    /// The number of bytes a message occupies for subscription byte limits.
    pub(crate) fn wire_size(msg: &proto::Msg) -> usize {
        msg.subject.len()
            + msg.reply.as_ref().map_or(0, Bytes::len)
            + msg.headers.as_ref().map_or(0, Bytes::len)
            + msg.payload.len()
    }
}
