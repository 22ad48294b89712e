//! Client → server operations: `CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`.

use bytes::{BufMut, BytesMut};

use super::{CRLF, check_publish, put_json, put_line};
use crate::connect::Connect;
use crate::error::{OpKind, ProtoError};
use crate::headers::HeaderMap;
use crate::num::Decimal;
use crate::validate::{validate_queue_group, validate_subscribe_subject};

/// Writes a head after validation; `extra` is reserved for what the caller appends.
#[inline]
fn put_head(
    buf: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    payload_len: usize,
    extra: usize,
) {
    let subject = Some(subject.as_bytes());
    let reply = reply.map(str::as_bytes);
    match headers {
        None => {
            let size = Decimal::from_usize(payload_len);
            put_line(buf, b"PUB", &[subject, reply, Some(size.as_bytes())], extra);
        }
        Some(headers) => {
            let header_len = headers.encoded_len();
            let hdr = Decimal::from_usize(header_len);
            let total = Decimal::from_usize(header_len.saturating_add(payload_len));
            let fields = [subject, reply, Some(hdr.as_bytes()), Some(total.as_bytes())];
            put_line(buf, b"HPUB", &fields, extra.saturating_add(header_len));
            headers.encode(buf);
        }
    }
}

/// Writes `PUB <subject> [reply] <#bytes>\r\n<payload>\r\n`.
///
/// An empty payload gives exactly `PUB <subject> 0\r\n\r\n`.
///
/// ```
/// # use gnat_proto::{bytes::BytesMut, encode::encode_pub};
/// let mut buf = BytesMut::new();
/// encode_pub(&mut buf, "foo", Some("bar"), b"hi").unwrap();
/// assert_eq!(&buf[..], b"PUB foo bar 2\r\nhi\r\n");
/// ```
#[inline]
pub fn encode_pub(
    buf: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    payload: &[u8],
) -> Result<(), ProtoError> {
    check_publish(subject, reply)?;
    put_head(
        buf,
        subject,
        reply,
        None,
        payload.len(),
        payload.len().saturating_add(2),
    );
    buf.put_slice(payload);
    buf.put_slice(CRLF);
    Ok(())
}

/// Writes `HPUB <subject> [reply] <#header-bytes> <#total-bytes>\r\n<headers><payload>\r\n`.
///
/// The headers are written even if the map is empty (a 12-byte `NATS/1.0` block);
/// a client that wants `PUB` for empty maps chooses before calling.
#[inline]
pub fn encode_hpub(
    buf: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: &HeaderMap,
    payload: &[u8],
) -> Result<(), ProtoError> {
    check_publish(subject, reply)?;
    let extra = payload.len().saturating_add(2);
    put_head(buf, subject, reply, Some(headers), payload.len(), extra);
    buf.put_slice(payload);
    buf.put_slice(CRLF);
    Ok(())
}

/// Writes the control line of a `PUB` (or, with `headers`, of an `HPUB` followed by
/// the header block) for a payload of `payload_len` bytes that the caller sends
/// next, followed by [`CRLF`](super::CRLF) — so a large payload can be chained
/// instead of copied.
#[inline]
pub fn encode_pub_head(
    buf: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    payload_len: usize,
) -> Result<(), ProtoError> {
    check_publish(subject, reply)?;
    put_head(buf, subject, reply, headers, payload_len, 0);
    Ok(())
}

/// Writes `SUB <subject> [queue] <sid>\r\n`.
#[inline]
pub fn encode_sub(
    buf: &mut BytesMut,
    subject: &str,
    queue: Option<&str>,
    sid: u64,
) -> Result<(), ProtoError> {
    validate_subscribe_subject(subject)?;
    if let Some(queue) = queue {
        validate_queue_group(queue)?;
    }
    let sid = Decimal::new(sid);
    let fields = [
        Some(subject.as_bytes()),
        queue.map(str::as_bytes),
        Some(sid.as_bytes()),
    ];
    put_line(buf, b"SUB", &fields, 0);
    Ok(())
}

/// Writes `UNSUB <sid> [max]\r\n`.
#[inline]
pub fn encode_unsub(buf: &mut BytesMut, sid: u64, max: Option<u64>) {
    let sid = Decimal::new(sid);
    let max = max.map(Decimal::new);
    let fields = [Some(sid.as_bytes()), max.as_ref().map(Decimal::as_bytes)];
    put_line(buf, b"UNSUB", &fields, 0);
}

/// Writes `CONNECT <json>\r\n`. Errors (with nothing written) only if the JSON
/// cannot be serialized, which does not happen for [`Connect`].
pub fn encode_connect(buf: &mut BytesMut, connect: &Connect) -> Result<(), ProtoError> {
    put_json(buf, b"CONNECT", connect).map_err(|_| ProtoError::InvalidJson {
        op: OpKind::Connect,
    })
}

/// Writes `PING\r\n`.
#[inline]
pub fn encode_ping(buf: &mut BytesMut) {
    buf.put_slice(b"PING\r\n");
}

/// Writes `PONG\r\n`.
#[inline]
pub fn encode_pong(buf: &mut BytesMut) {
    buf.put_slice(b"PONG\r\n");
}
