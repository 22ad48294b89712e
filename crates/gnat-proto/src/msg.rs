//! `MSG` and `HMSG` (server → client): a delivered message.
//!
//! ```text
//! MSG  <subject> <sid> [reply-to] <#bytes>CRLF<payload>CRLF
//! HMSG <subject> <sid> [reply-to] <#header-bytes> <#total-bytes>CRLF<headers><payload>CRLF
//! ```

use bytes::{Bytes, BytesMut};

use crate::body::{self, number};
use crate::error::{NumField, OpKind, ProtoError};
use crate::line::{Args, Span};
use crate::num::parse_u64;

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

/// The parsed control line of a `MSG`/`HMSG`: the body operation's positions and
/// the sid.
pub(crate) struct Head {
    body: body::Head,
    sid: u64,
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
        // subject and sid, then [reply] and the size(s)
        let body = body::Head::parse(base, &args, op, 2, headers, max_payload)?;
        let sid = number(args.get(1), op, NumField::Sid)?;
        Ok(Head { body, sid })
    }

    /// Cuts the message out of `buf` (whose control line is `line_len` bytes) once
    /// the whole frame is buffered.
    #[inline(always)]
    pub(crate) fn finish(
        self,
        buf: &mut BytesMut,
        line_len: usize,
    ) -> Result<Option<Msg>, ProtoError> {
        let Some(parts) = self.body.cut(buf, line_len)? else {
            return Ok(None);
        };
        Ok(Some(Msg {
            subject: parts.subject,
            sid: self.sid,
            reply: parts.reply,
            headers: parts.headers,
            payload: parts.payload,
        }))
    }
}

/// Decodes a `MSG`/`HMSG` written the way nats-server writes it (upper-case name,
/// arguments separated by single spaces) in one pass over its control line, the
/// first `line_len` bytes of `buf`.
///
/// `None` means "not this fast case": another operation, a line that is not
/// canonical (tabs, runs of spaces, a wrong argument count), or a line with any
/// error in it. The general path then decodes it, or names its error, by the full
/// grammar. So this path never decides an error of the line itself; the only error
/// it returns is the body's missing CRLF, which the general path would report for
/// the same (canonical) line.
#[inline(always)]
pub(crate) fn decode_canonical(
    buf: &mut BytesMut,
    line_len: usize,
    max_payload: usize,
) -> Option<Result<Option<Msg>, ProtoError>> {
    let line = buf.get(..line_len)?;
    let (headers, op, name_len) = match line.first() {
        Some(b'M') if line.starts_with(b"MSG ") => (false, OpKind::Msg, 4),
        Some(b'H') if line.starts_with(b"HMSG ") => (true, OpKind::Hmsg, 5),
        _ => return None,
    };
    let seps = Separators::find(line, name_len)?;
    // subject sid [reply] [#header] #total: the reply is there if there is one
    // argument more than without it.
    let plain = 2usize.wrapping_add(usize::from(headers));
    let with_reply = match seps.count.checked_sub(plain)? {
        0 => false,
        1 => true,
        _ => return None,
    };
    // Arguments lie between separators; an empty one means runs of spaces, or a
    // space at either end: not canonical.
    let arg = |start: usize, end: usize| -> Option<Span> {
        let start = start.checked_add(1)?;
        (start < end).then_some(Span { start, end })
    };
    let number = |span: Span| line.get(span.start..span.end).and_then(parse_u64);
    let size = |span: Span| number(span).and_then(|n| usize::try_from(n).ok());
    let subject = arg(name_len.wrapping_sub(1), seps.first)?;
    let sid = number(arg(seps.first, seps.second)?)?;
    let total = size(arg(seps.last, line_len)?)?;
    // Between the sid and the total: [reply] with MSG, [reply] #header with HMSG.
    let (reply_end, header_len) = if headers {
        let header = size(arg(seps.second_last, seps.last)?)?;
        if header > total {
            return None;
        }
        (seps.second_last, Some(header))
    } else {
        (seps.last, None)
    };
    let reply = if with_reply {
        Some(arg(seps.second, reply_end)?)
    } else {
        None
    };
    if total > max_payload {
        return None;
    }
    let body = body::Head::new(op, subject, reply, header_len, total);
    Some(Head { body, sid }.finish(buf, line_len))
}

/// Where the spaces of a canonical control line are: the first two, the last two,
/// and how many. Kept in scalars (not an array) so that they stay in registers.
struct Separators {
    first: usize,
    second: usize,
    second_last: usize,
    last: usize,
    count: usize,
}

impl Separators {
    /// Finds the spaces of `line` after the operation name (`name_len` bytes with
    /// its space); `None` for a tab.
    #[inline(always)]
    fn find(line: &[u8], name_len: usize) -> Option<Separators> {
        let mut seps = Separators {
            first: 0,
            second: 0,
            second_last: 0,
            last: 0,
            count: 0,
        };
        for (i, &c) in line.iter().enumerate().skip(name_len) {
            // One comparison per byte in the common case: both separators are below it.
            if c <= b' ' {
                match c {
                    b' ' => {
                        match seps.count {
                            0 => seps.first = i,
                            1 => seps.second = i,
                            _ => {}
                        }
                        seps.second_last = seps.last;
                        seps.last = i;
                        seps.count = seps.count.wrapping_add(1);
                    }
                    b'\t' => return None,
                    _ => {}
                }
            }
        }
        Some(seps)
    }
}
