//! `PUB` and `HPUB` (client → server): a published message, as a server sees it.
//!
//! ```text
//! PUB  <subject> [reply-to] <#bytes>CRLF<payload>CRLF
//! HPUB <subject> [reply-to] <#header-bytes> <#total-bytes>CRLF<headers><payload>CRLF
//! ```
//!
//! Clients encode these with [`encode_pub`](crate::encode::encode_pub) and friends;
//! decoding them is for test servers and fuzzing.

use bytes::{Bytes, BytesMut};

use crate::body;
use crate::error::{OpKind, ProtoError};
use crate::line::Args;

/// A message published by a client (`PUB` or `HPUB`), sliced zero-copy from the
/// frame like [`Msg`](crate::Msg).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pub {
    /// The subject published to (raw, not validated).
    pub subject: Bytes,
    /// The reply subject, if any.
    pub reply: Option<Bytes>,
    /// For `HPUB`: the raw header block, from `NATS/1.0` to the final blank line
    /// inclusive. `None` for `PUB`.
    pub headers: Option<Bytes>,
    /// The payload (without headers).
    pub payload: Bytes,
}

/// Parses the arguments `rest` of a `PUB` (`headers == false`) or `HPUB` line;
/// `base` is the first byte of the read buffer holding the line.
#[inline]
pub(crate) fn parse(
    base: *const u8,
    rest: &[u8],
    headers: bool,
    max_payload: usize,
) -> Result<body::Head, ProtoError> {
    let op = if headers { OpKind::Hpub } else { OpKind::Pub };
    // the subject, then [reply] and the size(s)
    body::Head::parse(base, &Args::parse(rest), op, 1, headers, max_payload)
}

/// Cuts the publish out of `buf` once the whole frame is buffered.
#[inline]
pub(crate) fn finish(
    head: body::Head,
    buf: &mut BytesMut,
    line_len: usize,
) -> Result<Option<Pub>, ProtoError> {
    Ok(head.cut(buf, line_len)?.map(|parts| Pub {
        subject: parts.subject,
        reply: parts.reply,
        headers: parts.headers,
        payload: parts.payload,
    }))
}
