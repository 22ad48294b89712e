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

/// A complete frame cut from the read buffer, and where its body lies in it.
pub(crate) struct Frame {
    bytes: Bytes,
    body_start: usize,
    body_end: usize,
}

impl Frame {
    /// If the control line (`line_len` bytes plus CRLF), `body_len` body bytes and the
    /// body's CRLF are all buffered, splits them off `buf`; otherwise `None` and `buf`
    /// is untouched.
    #[inline]
    pub(crate) fn take(
        buf: &mut BytesMut,
        line_len: usize,
        body_len: usize,
        op: OpKind,
    ) -> Result<Option<Frame>, ProtoError> {
        let too_large = ProtoError::FrameTooLarge {
            size: body_len,
            limit: usize::MAX,
        };
        let body_start = line_len.checked_add(2).ok_or(too_large)?;
        let body_end = body_start.checked_add(body_len).ok_or(too_large)?;
        let need = body_end.checked_add(2).ok_or(too_large)?;
        if buf.len() < need {
            return Ok(None);
        }
        if buf.get(body_end..need) != Some(b"\r\n".as_slice()) {
            return Err(ProtoError::MissingBodyTerminator { op });
        }
        Ok(Some(Frame {
            bytes: buf.split_to(need).freeze(),
            body_start,
            body_end,
        }))
    }

    /// A `Bytes` view of part of the control line.
    #[inline]
    pub(crate) fn slice(&self, span: Span) -> Bytes {
        self.bytes.slice(span.start..span.end)
    }

    /// Splits the body into the header block (when `header_len` is given) and the
    /// payload, consuming the frame (the payload reuses the frame's reference).
    #[inline(always)]
    pub(crate) fn into_body(self, header_len: Option<usize>) -> (Option<Bytes>, Bytes) {
        // `Frame::take` checked `body_start + body_len + 2 <= len` and the size
        // parser checked `header_len <= body_len`, so these cannot wrap.
        let payload_start = self
            .body_start
            .wrapping_add(header_len.unwrap_or(0))
            .min(self.body_end);
        let headers = header_len.map(|_| self.bytes.slice(self.body_start..payload_start));
        let mut payload = self.bytes;
        payload.truncate(self.body_end);
        payload.advance(payload_start);
        (headers, payload)
    }
}
