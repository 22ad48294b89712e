//! Exact bytes written by the encoders (the NATS client protocol docs: `PUB`, `HPUB` per
//! ADR-4, `SUB`, `UNSUB`, `PING`/`PONG`, `CONNECT`).

use gnat_proto::bytes::BytesMut;
use gnat_proto::encode::*;
use gnat_proto::{Connect, HeaderMap, ProtoError, StatusCode};

fn written(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut buf = BytesMut::new();
    f(&mut buf);
    buf.to_vec()
}

#[test]
fn spec_item_4_empty_pub() {
    assert_eq!(
        written(|b| encode_pub(b, "s", None, b"").unwrap()),
        b"PUB s 0\r\n\r\n"
    );
    assert_eq!(
        written(|b| encode_pub(b, "NOTIFY", None, b"").unwrap()),
        b"PUB NOTIFY 0\r\n\r\n"
    );
}

#[test]
fn pub_forms() {
    assert_eq!(
        written(|b| encode_pub(b, "FOO", Some("_INBOX.1"), b"Hello NATS!").unwrap()),
        b"PUB FOO _INBOX.1 11\r\nHello NATS!\r\n"
    );
    assert_eq!(
        written(|b| encode_pub_head(b, "FOO", None, None, 1_000_000).unwrap()),
        b"PUB FOO 1000000\r\n"
    );
}

#[test]
fn spec_item_5_hpub_sizes_match_the_bytes() {
    let mut h = HeaderMap::new();
    h.append("Bar", "Baz").unwrap();
    assert_eq!(
        written(|b| encode_hpub(b, "NOTIFY", None, &h, b"").unwrap()),
        b"HPUB NOTIFY 22 22\r\nNATS/1.0\r\nBar: Baz\r\n\r\n\r\n"
    );
    assert_eq!(
        written(|b| encode_hpub(b, "FOO", Some("r"), &h, b"Hello NATS!").unwrap()),
        b"HPUB FOO r 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n"
    );
    assert_eq!(
        written(|b| encode_pub_head(b, "FOO", None, Some(&h), 11).unwrap()),
        b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\n"
    );
    // the sizes match what was actually written
    let out = written(|b| encode_hpub(b, "x", None, &h, b"abc").unwrap());
    let line_end = out.windows(2).position(|w| w == b"\r\n").unwrap();
    let fields: Vec<usize> = std::str::from_utf8(&out[..line_end])
        .unwrap()
        .split(' ')
        .skip(2)
        .map(|n| n.parse().unwrap())
        .collect();
    let body = &out[line_end + 2..out.len() - 2];
    assert_eq!(fields, [h.encoded_len(), body.len()]);
    assert!(body[..fields[0]].ends_with(b"\r\n\r\n"));
}

#[test]
fn spec_item_6_payload_limit_counts_headers() {
    let limit = 1024;
    assert_eq!(check_payload_size(0, limit, limit), Ok(()));
    assert_eq!(
        check_payload_size(0, limit + 1, limit),
        Err(ProtoError::PayloadTooLarge {
            size: limit + 1,
            limit
        })
    );
    let mut h = HeaderMap::new();
    h.append("A", "1").unwrap();
    let hl = h.encoded_len();
    assert_eq!(check_payload_size(hl, limit - hl, limit), Ok(()));
    assert_eq!(
        check_payload_size(hl, limit - hl + 1, limit),
        Err(ProtoError::PayloadTooLarge {
            size: limit + 1,
            limit
        })
    );
    assert!(check_payload_size(usize::MAX, usize::MAX, usize::MAX - 1).is_err());
}

#[test]
fn spec_item_9_sub_with_queue() {
    assert_eq!(
        written(|b| encode_sub(b, "s", Some("q1"), 7).unwrap()),
        b"SUB s q1 7\r\n"
    );
    assert_eq!(
        written(|b| encode_sub(b, "a.*.>", None, 0).unwrap()),
        b"SUB a.*.> 0\r\n"
    );
    assert_eq!(
        validate_then_sub("q 1"),
        Some(ProtoError::InvalidSubject {
            kind: gnat_proto::SubjectKind::QueueGroup,
            reason: gnat_proto::SubjectFault::Whitespace,
            at: 1
        })
    );
}

fn validate_then_sub(queue: &str) -> Option<ProtoError> {
    encode_sub(&mut BytesMut::new(), "s", Some(queue), 1).err()
}

#[test]
fn other_ops() {
    assert_eq!(written(|b| encode_unsub(b, 1, None)), b"UNSUB 1\r\n");
    assert_eq!(
        written(|b| encode_unsub(b, 18446744073709551615, Some(10))),
        b"UNSUB 18446744073709551615 10\r\n"
    );
    assert_eq!(written(encode_ping), b"PING\r\n");
    assert_eq!(written(encode_pong), b"PONG\r\n");
    assert_eq!(written(encode_ok), b"+OK\r\n");
    assert_eq!(
        written(|b| encode_err(b, "Stale Connection").unwrap()),
        b"-ERR 'Stale Connection'\r\n"
    );
    assert_eq!(
        written(|b| encode_msg(b, "foo", 1, Some("bar"), None, b"hello").unwrap()),
        b"MSG foo 1 bar 5\r\nhello\r\n"
    );
    assert_eq!(
        written(|b| encode_msg(b, "foo", 9, None, Some(b"NATS/1.0 503\r\n\r\n"), b"").unwrap()),
        b"HMSG foo 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    );
    let connect = written(|b| encode_connect(b, &Connect::client_defaults()).unwrap());
    assert!(connect.starts_with(b"CONNECT {") && connect.ends_with(b"}\r\n"));
    assert_eq!(connect.iter().filter(|&&c| c == b'\n').count(), 1);
    let status = HeaderMap::with_status(StatusCode::NO_RESPONDERS, None);
    assert_eq!(
        written(|b| encode_hpub(b, "x", None, &status, b"").unwrap()),
        b"HPUB x 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    );
}

#[test]
fn encoders_append() {
    let mut buf = BytesMut::new();
    encode_ping(&mut buf);
    encode_pub(&mut buf, "a", None, b"1").unwrap();
    encode_pong(&mut buf);
    assert_eq!(&buf[..], b"PING\r\nPUB a 1\r\n1\r\nPONG\r\n");
}
