//! Encoders: each writes one operation into a `BytesMut`.
//!
//! Every encoder that takes user input validates all of it first (subjects, reply,
//! queue group; header maps are valid by construction): on error it returns the
//! error and **writes nothing**. None of them checks `max_payload` — call
//! [`check_payload_size`] with the server's limit before encoding a publish.
//!
//! Integers are formatted on the stack; apart from growing `buf` (reserved once per
//! operation) nothing allocates.

mod client;
mod server;

pub use client::{
    encode_connect, encode_hpub, encode_ping, encode_pong, encode_pub, encode_pub_head, encode_sub,
    encode_unsub,
};
pub use server::{encode_err, encode_info, encode_msg, encode_ok};

use bytes::{BufMut, BytesMut};

use crate::error::ProtoError;
use crate::validate::{validate_publish_subject, validate_reply_subject};

/// The line terminator. A caller that wrote a head with [`encode_pub_head`] appends
/// the payload and then this.
pub const CRLF: &[u8] = b"\r\n";

/// Checks a publish against the server's `max_payload` (from INFO). With headers
/// the limit counts the header bytes too (`headers_len` = the
/// [`HeaderMap::encoded_len`](crate::headers::HeaderMap::encoded_len), or 0).
///
/// ```
/// use gnat_proto::encode::check_payload_size;
/// assert!(check_payload_size(0, 1024, 1024).is_ok());
/// assert!(check_payload_size(12, 1013, 1024).is_err());
/// ```
pub fn check_payload_size(
    headers_len: usize,
    payload_len: usize,
    max_payload: usize,
) -> Result<(), ProtoError> {
    let size = headers_len.saturating_add(payload_len);
    if size > max_payload {
        return Err(ProtoError::PayloadTooLarge {
            size,
            limit: max_payload,
        });
    }
    Ok(())
}

/// Writes `op` and the present fields, each after one space, then CRLF; `extra`
/// more bytes (a body) are reserved along with it.
#[inline]
fn put_line(buf: &mut BytesMut, op: &[u8], fields: &[Option<&[u8]>], extra: usize) {
    let len = fields
        .iter()
        .flatten()
        .fold(op.len().saturating_add(2), |n, f| {
            n.saturating_add(f.len()).saturating_add(1)
        });
    buf.reserve(len.saturating_add(extra));
    buf.put_slice(op);
    for field in fields.iter().flatten() {
        buf.put_u8(b' ');
        buf.put_slice(field);
    }
    buf.put_slice(CRLF);
}

/// Writes `OP <json>\r\n`; on a serialization error, restores `buf` and returns it.
fn put_json<T: serde::Serialize>(
    buf: &mut BytesMut,
    op: &[u8],
    value: &T,
) -> Result<(), serde_json::Error> {
    let start = buf.len();
    buf.put_slice(op);
    buf.put_u8(b' ');
    // Compact serde_json output never contains a raw CR or LF (they are escaped in
    // strings), so the JSON cannot end the line early.
    match serde_json::to_writer((&mut *buf).writer(), value) {
        Ok(()) => {
            buf.put_slice(CRLF);
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// Validates the subject and reply subject of a publish or delivery before anything is
/// written.
#[inline]
pub(crate) fn check_publish(subject: &str, reply: Option<&str>) -> Result<(), ProtoError> {
    validate_publish_subject(subject)?;
    if let Some(reply) = reply {
        validate_reply_subject(reply)?;
    }
    Ok(())
}
