//! Inline status codes (`NATS/1.0 503`) and a cheap peek at them.

use core::fmt;

use memchr::memchr2;

use crate::line::{is_ws, trim_ws};

/// The status code on a header block's version line (`NATS/1.0 <code>`).
///
/// The wire form is three decimal digits; codes outside 100..=999 cannot be parsed
/// back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 100: idle heartbeat, or a flow-control request when the message has a reply.
    pub const IDLE_HEARTBEAT: StatusCode = StatusCode(100);
    /// 204: end of a Direct Get batch (`EOB`).
    pub const END_OF_BATCH: StatusCode = StatusCode(204);
    /// 400: bad request.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 404: not found / no messages.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 408: request timeout (pull expired) or bad Direct Get request.
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    /// 409: conflict (consumer deleted, limits exceeded…).
    pub const CONFLICT: StatusCode = StatusCode(409);
    /// 413: too many subjects matched (Direct Get multi-last).
    pub const TOO_MANY_SUBJECTS: StatusCode = StatusCode(413);
    /// 423: locked (wrong pin id).
    pub const LOCKED: StatusCode = StatusCode(423);
    /// 503: no responders.
    pub const NO_RESPONDERS: StatusCode = StatusCode(503);

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Parses what follows `NATS/1.0` on the version line: nothing (or only
/// whitespace), or whitespace, three digits, and an optional description.
/// `Err(())` if malformed.
#[inline]
pub(crate) fn parse_status(after_version: &[u8]) -> Result<Option<(StatusCode, &[u8])>, ()> {
    match after_version.first() {
        None => return Ok(None),
        Some(&c) if !is_ws(c) => return Err(()),
        Some(_) => {}
    }
    let rest = trim_ws(after_version);
    if rest.is_empty() {
        return Ok(None);
    }
    let (code, desc) = match rest {
        [a, b, c, tail @ ..] if tail.first().is_none_or(|&t| is_ws(t)) => ([*a, *b, *c], tail),
        _ => return Err(()),
    };
    let mut n: u16 = 0;
    for d in code {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return Err(());
        }
        // at most 999
        n = n.wrapping_mul(10).wrapping_add(u16::from(d));
    }
    Ok(Some((StatusCode(n), trim_ws(desc))))
}

/// Reads only the version line of a header block and returns its status and
/// description (possibly empty), or `None` if there is no status or the line is not
/// a `NATS/1.0` line.
///
/// This is the hot-path check for `503` (no responders) and `100` (heartbeats) that
/// avoids a full [`HeaderMap::parse`](super::HeaderMap::parse).
///
/// ```
/// use gnat_proto::headers::{StatusCode, status_of};
/// assert_eq!(status_of(b"NATS/1.0 503\r\n\r\n"), Some((StatusCode::NO_RESPONDERS, &b""[..])));
/// assert_eq!(
///     status_of(b"NATS/1.0 100 Idle Heartbeat\r\n\r\n"),
///     Some((StatusCode(100), &b"Idle Heartbeat"[..])),
/// );
/// assert_eq!(status_of(b"NATS/1.0\r\nA: 1\r\n\r\n"), None);
/// ```
#[inline]
pub fn status_of(block: &[u8]) -> Option<(StatusCode, &[u8])> {
    let rest = block.strip_prefix(b"NATS/1.0")?;
    let line = match memchr2(b'\r', b'\n', rest) {
        Some(end) => rest.get(..end)?,
        None => rest,
    };
    parse_status(line).ok().flatten()
}
