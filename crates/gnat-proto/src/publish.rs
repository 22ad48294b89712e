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

use crate::body::{Frame, sizes};
use crate::error::{OpKind, ProtoError};
use crate::line::{Args, Span};

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

/// The parsed control line of a `PUB`/`HPUB` (positions only).
pub(crate) struct Head {
    op: OpKind,
    subject: Span,
    reply: Option<Span>,
    header_len: Option<usize>,
    total: usize,
}

impl Head {
    /// Parses the arguments `rest` of a `PUB` (`headers == false`) or `HPUB` line;
    /// `base` is the first byte of the read buffer holding the line.
    #[inline]
    pub(crate) fn parse(
        base: *const u8,
        rest: &[u8],
        headers: bool,
        max_payload: usize,
    ) -> Result<Head, ProtoError> {
        let op = if headers { OpKind::Hpub } else { OpKind::Pub };
        let args = Args::parse(rest);
        // PUB: 2 args, or 3 with a reply; HPUB: one more (the header size).
        let plain = if headers { 3 } else { 2 };
        let reply = match args.count() {
            n if n == plain => None,
            n if n == plain.wrapping_add(1) => Some(Span::of(base, args.get(1))),
            got => return Err(ProtoError::WrongArgumentCount { op, got }),
        };
        let sizes = sizes(&args, op, headers, max_payload)?;
        Ok(Head {
            op,
            subject: Span::of(base, args.get(0)),
            reply,
            header_len: headers.then_some(sizes.header),
            total: sizes.total,
        })
    }

    /// Cuts the message out of `buf` once the whole frame is buffered.
    #[inline]
    pub(crate) fn finish(
        self,
        buf: &mut BytesMut,
        line_len: usize,
    ) -> Result<Option<Pub>, ProtoError> {
        let Some(frame) = Frame::take(buf, line_len, self.total, self.op)? else {
            return Ok(None);
        };
        let subject = frame.slice(self.subject);
        let reply = self.reply.map(|r| frame.slice(r));
        let (headers, payload) = frame.into_body(self.header_len);
        Ok(Some(Pub {
            subject,
            reply,
            headers,
            payload,
        }))
    }
}
