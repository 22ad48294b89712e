//! `MSG` and `HMSG` (server → client): a delivered message.
//!
//! ```text
//! MSG  <subject> <sid> [reply-to] <#bytes>CRLF<payload>CRLF
//! HMSG <subject> <sid> [reply-to] <#header-bytes> <#total-bytes>CRLF<headers><payload>CRLF
//! ```

use bytes::{Bytes, BytesMut};

use crate::body::{Frame, number, sizes};
use crate::error::{NumField, OpKind, ProtoError};
use crate::line::{Args, Span};

/// A message delivered by the server (`MSG` or `HMSG`).
///
/// Every field is a slice of the one frame cut from the read buffer: decoding copies
/// nothing. `subject` and `reply` are the raw bytes the server sent, not validated
/// (not even as UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Msg {
    /// The subject the message was published to.
    pub subject: Bytes,
    /// The subscription it is delivered for.
    pub sid: u64,
    /// The reply subject, if the publisher gave one.
    pub reply: Option<Bytes>,
    /// For `HMSG`: the raw header block, from `NATS/1.0` to the final blank line
    /// inclusive (parse it with [`HeaderMap::parse`](crate::headers::HeaderMap::parse)
    /// or peek with [`status_of`](crate::headers::status_of)). `None` for `MSG`.
    pub headers: Option<Bytes>,
    /// The payload (without headers).
    pub payload: Bytes,
}

/// The parsed control line of a `MSG`/`HMSG`: positions, not bytes, so that the
/// borrow of the read buffer ends before the frame is split off it.
pub(crate) struct Head {
    op: OpKind,
    subject: Span,
    sid: u64,
    reply: Option<Span>,
    header_len: Option<usize>,
    total: usize,
}

impl Head {
    /// Parses the arguments `rest` of a `MSG` (`headers == false`) or `HMSG` line;
    /// `base` is the first byte of the read buffer holding the line.
    #[inline]
    pub(crate) fn parse(
        base: *const u8,
        rest: &[u8],
        headers: bool,
        max_payload: usize,
    ) -> Result<Head, ProtoError> {
        let op = if headers { OpKind::Hmsg } else { OpKind::Msg };
        let args = Args::parse(rest);
        // MSG: 3 args, or 4 with a reply; HMSG: one more (the header size).
        let plain = if headers { 4 } else { 3 };
        let reply = match args.count() {
            n if n == plain => None,
            n if n == plain.wrapping_add(1) => Some(Span::of(base, args.get(2))),
            got => return Err(ProtoError::WrongArgumentCount { op, got }),
        };
        let sid = number(args.get(1), op, NumField::Sid)?;
        let sizes = sizes(&args, op, headers, max_payload)?;
        Ok(Head {
            op,
            subject: Span::of(base, args.get(0)),
            sid,
            reply,
            header_len: headers.then_some(sizes.header),
            total: sizes.total,
        })
    }

    /// Cuts the message out of `buf` (whose control line is `line_len` bytes) once
    /// the whole frame is buffered.
    #[inline(always)]
    pub(crate) fn finish(
        self,
        buf: &mut BytesMut,
        line_len: usize,
    ) -> Result<Option<Msg>, ProtoError> {
        let Some(frame) = Frame::take(buf, line_len, self.total, self.op)? else {
            return Ok(None);
        };
        let subject = frame.slice(self.subject);
        let reply = self.reply.map(|r| frame.slice(r));
        let (headers, payload) = frame.into_body(self.header_len);
        Ok(Some(Msg {
            subject,
            sid: self.sid,
            reply,
            headers,
            payload,
        }))
    }
}
