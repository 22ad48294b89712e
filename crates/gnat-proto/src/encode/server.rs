//! Server → client operations (`INFO`, `MSG`, `HMSG`, `+OK`, `-ERR`), for fake
//! servers in tests. `PING`/`PONG` are the same in both directions.

use bytes::{BufMut, BytesMut};

use super::{CRLF, check_publish, put_json, put_line};
use crate::error::ProtoError;
use crate::info::Info;
use crate::num::Decimal;

/// Writes `INFO <json>\r\n`.
pub fn encode_info(buf: &mut BytesMut, info: &Info) {
    // `Info` holds only strings, numbers and booleans: serializing it cannot fail.
    // Should it ever, the buffer is restored and an empty object sent instead.
    if put_json(buf, b"INFO", info).is_err() {
        buf.put_slice(b"INFO {}\r\n");
    }
}

/// Writes `MSG <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n`, or with
/// `headers` (a raw block, written as given) `HMSG … <#header-bytes> <#total-bytes>`.
/// The subject is checked as a publish subject, the reply as a reply subject.
pub fn encode_msg(
    buf: &mut BytesMut,
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> Result<(), ProtoError> {
    check_publish(subject, reply)?;
    let sid = Decimal::new(sid);
    let subject = Some(subject.as_bytes());
    let reply = reply.map(str::as_bytes);
    let body = payload.len().saturating_add(2);
    match headers {
        None => {
            let size = Decimal::from_usize(payload.len());
            let fields = [subject, Some(sid.as_bytes()), reply, Some(size.as_bytes())];
            put_line(buf, b"MSG", &fields, body);
        }
        Some(headers) => {
            let hdr = Decimal::from_usize(headers.len());
            let total = Decimal::from_usize(headers.len().saturating_add(payload.len()));
            let fields = [
                subject,
                Some(sid.as_bytes()),
                reply,
                Some(hdr.as_bytes()),
                Some(total.as_bytes()),
            ];
            put_line(buf, b"HMSG", &fields, body.saturating_add(headers.len()));
            buf.put_slice(headers);
        }
    }
    buf.put_slice(payload);
    buf.put_slice(CRLF);
    Ok(())
}

/// Writes `+OK\r\n`.
pub fn encode_ok(buf: &mut BytesMut) {
    buf.put_slice(b"+OK\r\n");
}

/// Writes `-ERR '<text>'\r\n`. Rejects (writing nothing) a text with CR or LF.
pub fn encode_err(buf: &mut BytesMut, text: &str) -> Result<(), ProtoError> {
    if let Some(at) = memchr::memchr2(b'\r', b'\n', text.as_bytes()) {
        return Err(ProtoError::InvalidErrorText { at });
    }
    buf.reserve(text.len().saturating_add(9));
    buf.put_slice(b"-ERR '");
    buf.put_slice(text.as_bytes());
    buf.put_slice(b"'\r\n");
    Ok(())
}
