//! Shared helpers for the criterion benchmarks in `benches/benches/`.
//!
//! Inputs are built with gnat's own encoders, once per benchmark, so that what is
//! measured is exactly what a real server (or client) would put on the wire.
//!
//! * [`msg_stream`] / [`hmsg_stream`] — buffers of `MSG`/`HMSG` frames, as a client
//!   reads them;
//! * [`jetstream_delivery`], [`kv_delete`], [`jetstream_publish`] — realistic header
//!   blocks;
//! * [`payload`] — a payload of a given size.

use bytes::BytesMut;
use proto::{HeaderMap, encode_msg};

/// The subject every benchmark message is delivered on.
pub const SUBJECT: &str = "orders.eu.new";

/// A JetStream ack subject, as the reply of a consumer delivery.
pub const ACK_REPLY: &str = "$JS.ACK.ORDERS.worker.1.1042.1042.1700000000123456789.17";

/// A payload of `len` bytes (printable, like a small JSON document would be).
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// `frames` `MSG` frames (subject [`SUBJECT`], sid 1, no reply) with `payload_len`-byte
/// payloads, back to back in one buffer.
pub fn msg_stream(frames: usize, payload_len: usize) -> Vec<u8> {
    stream(frames, None, None, &payload(payload_len))
}

/// `frames` `HMSG` frames carrying `headers`, with `reply` and a `payload_len`-byte
/// payload, back to back in one buffer.
pub fn hmsg_stream(
    frames: usize,
    reply: Option<&str>,
    headers: &HeaderMap,
    payload_len: usize,
) -> Vec<u8> {
    let mut block = BytesMut::new();
    headers.encode(&mut block);
    stream(frames, reply, Some(&block), &payload(payload_len))
}

fn stream(frames: usize, reply: Option<&str>, headers: Option<&[u8]>, payload: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for _ in 0..frames {
        if let Err(e) = encode_msg(&mut buf, SUBJECT, 1, reply, headers, payload) {
            panic!("benchmark frame does not encode: {e}");
        }
    }
    buf.to_vec()
}

fn map(entries: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in entries {
        if let Err(e) = map.append(name, value) {
            panic!("benchmark header {name}: {e}");
        }
    }
    map
}

/// The headers of a message delivered from a stream by a direct get or a
/// republish: stream, subject, sequence and timestamp (107 bytes encoded).
pub fn jetstream_delivery() -> HeaderMap {
    map(&[
        ("Nats-Stream", "ORDERS"),
        ("Nats-Subject", SUBJECT),
        ("Nats-Sequence", "1042"),
        ("Nats-Time-Stamp", "2024-11-21T13:16:02.123456789Z"),
    ])
}

/// The headers of a KV delete marker (`KV-Operation: DEL`).
pub fn kv_delete() -> HeaderMap {
    map(&[("KV-Operation", "DEL")])
}

/// The headers of a JetStream publish with deduplication and optimistic concurrency.
pub fn jetstream_publish() -> HeaderMap {
    map(&[
        ("Nats-Msg-Id", "6f1c0a0e-4b1e-4f0e-9a43-0d5f3f0d7c21"),
        ("Nats-Expected-Last-Subject-Sequence", "1041"),
    ])
}
