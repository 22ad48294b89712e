//! Operations with a body (`MSG`, `HMSG`, `PUB`, `HPUB`): their size fields, and
//! cutting the whole frame out of the read buffer without copying.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{NumField, OpKind, ProtoError};
use crate::line::{Args, Span};
use crate::num::parse_u64;

/// The declared sizes of a body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Header bytes (0 without headers).
    pub(crate) header: usize,
    /// Header plus payload bytes.
    pub(crate) total: usize,
}

/// Parses one numeric argument.
#[inline]
pub(crate) fn number(tok: &[u8], op: OpKind, field: NumField) -> Result<u64, ProtoError> {
    parse_u64(tok).ok_or(ProtoError::InvalidNumber { op, field })
}

#[inline]
fn size(tok: &[u8], op: OpKind, field: NumField) -> Result<usize, ProtoError> {
    // A u64 that does not fit usize (32-bit targets) is above any limit anyway.
    number(tok, op, field).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Reads the size fields: the last argument (and, with headers, the one before it),
/// then checks them against each other and the limit — before anything is
/// allocated or waited for.
#[inline]
pub(crate) fn sizes(
    args: &Args<'_>,
    op: OpKind,
    headers: bool,
    max_payload: usize,
) -> Result<Sizes, ProtoError> {
    let last = args.count().saturating_sub(1);
    let total = if headers {
        size(args.get(last), op, NumField::TotalSize)?
    } else {
        size(args.get(last), op, NumField::Size)?
    };
    let header = if headers {
        let header = size(args.get(last.saturating_sub(1)), op, NumField::HeaderSize)?;
        if header > total {
            return Err(ProtoError::HeaderExceedsTotal { header, total });
        }
        header
    } else {
        0
    };
    if total > max_payload {
        return Err(ProtoError::FrameTooLarge {
            size: total,
            limit: max_payload,
        });
    }
    Ok(Sizes { header, total })
}

/// The parsed control line of an operation with a body, as positions in the read
/// buffer, so that the borrow of the buffer ends before the frame is cut off it.
pub(crate) struct Head {
    op: OpKind,
    subject: Span,
    reply: Option<Span>,
    header_len: Option<usize>,
    total: usize,
}

/// The byte slices of a cut frame.
pub(crate) struct Parts {
    pub(crate) subject: Bytes,
    pub(crate) reply: Option<Bytes>,
    pub(crate) headers: Option<Bytes>,
    pub(crate) payload: Bytes,
}

impl Head {
    /// A head from positions already checked: `subject` and `reply` in order
    /// within the line, `header_len <= total <= ` the payload limit.
    #[inline]
    pub(crate) fn new(
        op: OpKind,
        subject: Span,
        reply: Option<Span>,
        header_len: Option<usize>,
        total: usize,
    ) -> Head {
        Head {
            op,
            subject,
            reply,
            header_len,
            total,
        }
    }

    /// Reads the arguments of a body operation: `fixed` arguments (the subject and,
    /// for `MSG`, the sid), an optional reply subject, then the size (or, with
    /// `headers`, the header size and the total size).
    #[inline]
    pub(crate) fn parse(
        base: *const u8,
        args: &Args<'_>,
        op: OpKind,
        fixed: usize,
        headers: bool,
        max_payload: usize,
    ) -> Result<Head, ProtoError> {
        let plain = fixed.wrapping_add(1).wrapping_add(usize::from(headers));
        let reply = match args.count() {
            n if n == plain => None,
            n if n == plain.wrapping_add(1) => Some(Span::of(base, args.get(fixed))),
            got => return Err(ProtoError::WrongArgumentCount { op, got }),
        };
        let sizes = sizes(args, op, headers, max_payload)?;
        Ok(Head::new(
            op,
            Span::of(base, args.get(0)),
            reply,
            headers.then_some(sizes.header),
            sizes.total,
        ))
    }

    /// If the control line (`line_len` bytes plus CRLF), the body and the body's CRLF
    /// are all buffered, cuts the frame off `buf` and returns its parts (slices of
    /// the one frame); otherwise `None` and `buf` is untouched.
    #[inline(always)]
    pub(crate) fn cut(
        self,
        buf: &mut BytesMut,
        line_len: usize,
    ) -> Result<Option<Parts>, ProtoError> {
        let too_large = ProtoError::FrameTooLarge {
            size: self.total,
            limit: usize::MAX,
        };
        let body_start = line_len.checked_add(2).ok_or(too_large)?;
        let body_end = body_start.checked_add(self.total).ok_or(too_large)?;
        let need = body_end.checked_add(2).ok_or(too_large)?;
        if buf.len() < need {
            return Ok(None);
        }
        if buf.get(body_end..need) != Some(b"\r\n".as_slice()) {
            return Err(ProtoError::MissingBodyTerminator { op: self.op });
        }
        // The spans lie in the line, and `sizes` checked `header_len <= total`, so
        // every range below is inside the frame.
        let mut frame = buf.split_to(need).freeze();
        let slice = |span: Span| frame.slice(span.start..span.end);
        let subject = slice(self.subject);
        let reply = self.reply.map(slice);
        let payload_start = body_start
            .wrapping_add(self.header_len.unwrap_or(0))
            .min(body_end);
        let headers = self
            .header_len
            .map(|_| frame.slice(body_start..payload_start));
        // The payload reuses the frame's reference.
        frame.truncate(body_end);
        frame.advance(payload_start);
        Ok(Some(Parts {
            subject,
            reply,
            headers,
            payload: frame,
        }))
    }
}
