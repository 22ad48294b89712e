//! The `NATS/1.0` header block (ADR-4: version line, status and description, header
//! names and values), and parsing edge cases.

use gnat_proto::bytes::BytesMut;
use gnat_proto::{HeaderFault, HeaderMap, ProtoError, StatusCode, status_of};

fn encoded(h: &HeaderMap) -> Vec<u8> {
    let mut buf = BytesMut::new();
    h.encode(&mut buf);
    assert_eq!(buf.len(), h.encoded_len());
    buf.to_vec()
}

fn block_err(block: &[u8]) -> (HeaderFault, usize) {
    match HeaderMap::parse(block) {
        Err(ProtoError::InvalidHeaderBlock { reason, at }) => (reason, at),
        other => panic!("{}: {other:?}", String::from_utf8_lossy(block)),
    }
}

#[test]
fn spec_item_20_status_lines() {
    let h = HeaderMap::parse(b"NATS/1.0 503\r\n\r\n").unwrap();
    assert_eq!(h.status(), Some(StatusCode::NO_RESPONDERS));
    assert_eq!(h.description(), None);
    assert!(h.is_empty());
    let h = HeaderMap::parse(b"NATS/1.0 100 Idle Heartbeat\r\n\r\n").unwrap();
    assert_eq!(h.status(), Some(StatusCode::IDLE_HEARTBEAT));
    assert_eq!(h.description(), Some("Idle Heartbeat"));
    let h = HeaderMap::parse(
        b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(h.status(), Some(StatusCode::REQUEST_TIMEOUT));
    assert_eq!(h.description(), Some("Request Timeout"));
    assert_eq!(h.get("Nats-Pending-Messages"), Some("1"));
    let h = HeaderMap::parse(b"NATS/1.0  \t 204   EOB  \r\n\r\n").unwrap();
    assert_eq!(
        (h.status(), h.description()),
        (Some(StatusCode::END_OF_BATCH), Some("EOB"))
    );
    let h = HeaderMap::parse(b"NATS/1.0\r\n\r\n").unwrap();
    assert_eq!((h.status(), h.description(), h.len()), (None, None, 0));
}

#[test]
fn status_of_reads_only_the_first_line() {
    assert_eq!(
        status_of(b"NATS/1.0 503\r\n\r\n"),
        Some((StatusCode(503), &b""[..]))
    );
    assert_eq!(
        status_of(b"NATS/1.0 503"),
        Some((StatusCode(503), &b""[..]))
    );
    assert_eq!(
        status_of(b"NATS/1.0 409 Consumer Deleted\r\nbroken line"),
        Some((StatusCode::CONFLICT, &b"Consumer Deleted"[..]))
    );
    assert_eq!(status_of(b"NATS/1.0\r\nA: 503\r\n\r\n"), None);
    assert_eq!(status_of(b"NATS/1.0 50\r\n\r\n"), None);
    assert_eq!(status_of(b"NATS/1.0 5034\r\n\r\n"), None);
    assert_eq!(status_of(b"NATS/1.0503\r\n\r\n"), None);
    assert_eq!(status_of(b"NATS/1.1 503\r\n\r\n"), None);
    assert_eq!(status_of(b""), None);
}

#[test]
fn spec_item_21_repeats_order_and_case() {
    let mut h = HeaderMap::new();
    h.append("A", "1").unwrap();
    h.append("A", "2").unwrap();
    let bytes = encoded(&h);
    assert_eq!(bytes, b"NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n");
    let back = HeaderMap::parse(&bytes).unwrap();
    assert_eq!(back, h);
    assert_eq!(back.get("A"), Some("1"));
    assert_eq!(back.get_all("A").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(back.get("a"), None);
    assert_eq!(back.get_all("a").count(), 0);
}

#[test]
fn map_operations() {
    let mut h = HeaderMap::new();
    assert!(h.is_empty());
    h.append("X-One", "1").unwrap();
    h.append("x-one", "lower").unwrap();
    h.append("X-One", "2").unwrap();
    h.append("Other", "").unwrap();
    assert_eq!(h.len(), 4);
    h.insert("X-One", "3").unwrap();
    assert_eq!(h.get_all("X-One").collect::<Vec<_>>(), ["3"]);
    assert_eq!(h.get("x-one"), Some("lower"));
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [("x-one", "lower"), ("Other", ""), ("X-One", "3")]
    );
    assert_eq!(h.remove("X-One"), 1);
    assert_eq!(h.remove("X-One"), 0);
    assert_eq!(h.len(), 2);
    // failed inserts change nothing
    assert!(h.insert("x-one", "bad\r\n").is_err());
    assert_eq!(h.get("x-one"), Some("lower"));
}

#[test]
fn spec_item_10_invalid_names_and_values() {
    let mut h = HeaderMap::new();
    assert_eq!(
        h.append("A", "x\r\ny"),
        Err(ProtoError::InvalidHeaderValue { at: 1 })
    );
    assert_eq!(
        h.append("A", "x\ny"),
        Err(ProtoError::InvalidHeaderValue { at: 1 })
    );
    assert_eq!(
        h.append("A", "\0"),
        Err(ProtoError::InvalidHeaderValue { at: 0 })
    );
    assert_eq!(
        h.append("A:B", "x"),
        Err(ProtoError::InvalidHeaderName { at: 1 })
    );
    assert_eq!(
        h.append("A B", "x"),
        Err(ProtoError::InvalidHeaderName { at: 1 })
    );
    assert_eq!(
        h.append("\u{e9}", "x"),
        Err(ProtoError::InvalidHeaderName { at: 0 })
    );
    assert_eq!(h.append("", "x"), Err(ProtoError::EmptyHeaderName));
    assert!(h.is_empty());
    h.append("A", "tab\tand unicode \u{e9}").unwrap();
}

#[test]
fn status_encoding() {
    assert_eq!(
        encoded(&HeaderMap::with_status(StatusCode(503), None)),
        b"NATS/1.0 503\r\n\r\n"
    );
    assert_eq!(
        encoded(&HeaderMap::with_status(StatusCode(503), None)).len(),
        16
    );
    assert_eq!(encoded(&HeaderMap::new()).len(), 12);
    let mut h = HeaderMap::with_status(StatusCode(100), Some(" Idle Heartbeat "));
    h.append("Nats-Last-Consumer", "0").unwrap();
    assert_eq!(
        encoded(&h),
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\n\r\n"
    );
    assert_eq!(HeaderMap::parse(&encoded(&h)).unwrap(), h);
    // an injected line break in a description is neutralised
    let h = HeaderMap::with_status(StatusCode(408), Some("a\r\nB: c"));
    assert_eq!(encoded(&h), b"NATS/1.0 408 a  B: c\r\n\r\n");
    assert_eq!(
        HeaderMap::with_status(StatusCode(503), Some("")).description(),
        None
    );
    assert_eq!(StatusCode::NOT_FOUND.to_string(), "404");
    assert_eq!(StatusCode::LOCKED.as_u16(), 423);
    assert_eq!(StatusCode::TOO_MANY_SUBJECTS.as_u16(), 413);
    assert_eq!(StatusCode::BAD_REQUEST.as_u16(), 400);
}

#[test]
fn equality_and_hash_follow_the_entries_not_how_they_were_built() {
    use std::hash::{BuildHasher, RandomState};
    let hasher = RandomState::new();
    let parsed = HeaderMap::parse(b"NATS/1.0\r\nA: one\r\n two\r\nB: x\r\n\r\n").unwrap();
    let mut built = HeaderMap::new();
    built.append("Gone", "soon").unwrap();
    built.append("A", "one two").unwrap();
    built.append("B", "x").unwrap();
    assert_ne!(parsed, built);
    built.remove("Gone");
    assert_eq!(parsed, built);
    assert_eq!(hasher.hash_one(&parsed), hasher.hash_one(&built));
    // Same text, split differently between name and value: not equal.
    let mut a = HeaderMap::new();
    a.append("AB", "c").unwrap();
    let mut b = HeaderMap::new();
    b.append("A", "Bc").unwrap();
    assert_ne!(a, b);
    // Replacing a value over and over keeps one entry with the last value, and encodes
    // to exactly that.
    let mut h = HeaderMap::new();
    for i in 0..10_000 {
        h.insert("Counter", &i.to_string()).unwrap();
    }
    assert_eq!(h.iter().collect::<Vec<_>>(), [("Counter", "9999")]);
    assert_eq!(encoded(&h), b"NATS/1.0\r\nCounter: 9999\r\n\r\n");
    assert!(format!("{h:?}").contains("(\"Counter\", \"9999\")"));
}

#[test]
fn parsing_is_lenient_where_documented() {
    // value whitespace is trimmed, no space after the colon is fine
    let h = HeaderMap::parse(b"NATS/1.0\r\nA:1\r\nB: \t 2 \t\r\nC:\r\n\r\n").unwrap();
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [("A", "1"), ("B", "2"), ("C", "")]
    );
    // continuation lines are joined with one space
    let h =
        HeaderMap::parse(b"NATS/1.0\r\nA: one\r\n  two\r\n\tthree\r\n \r\nB: x\r\n\r\n").unwrap();
    assert_eq!(h.get("A"), Some("one two three"));
    assert_eq!(h.get("B"), Some("x"));
    // the final blank line may be missing
    let h = HeaderMap::parse(b"NATS/1.0\r\nA: 1\r\n").unwrap();
    assert_eq!(h.get("A"), Some("1"));
    assert!(HeaderMap::parse(b"NATS/1.0\r\n").unwrap().is_empty());
    // a colon inside the value is kept
    let h = HeaderMap::parse(b"NATS/1.0\r\nUrl: http://x:1/\r\n\r\n").unwrap();
    assert_eq!(h.get("Url"), Some("http://x:1/"));
}

#[test]
fn parsing_is_strict_elsewhere() {
    assert_eq!(block_err(b""), (HeaderFault::LineEnding, 0));
    assert_eq!(block_err(b"NATS/1.0"), (HeaderFault::LineEnding, 0));
    assert_eq!(block_err(b"NATS/1.1\r\n\r\n"), (HeaderFault::Version, 0));
    assert_eq!(block_err(b"nats/1.0\r\n\r\n"), (HeaderFault::Version, 0));
    assert_eq!(block_err(b" NATS/1.0\r\n\r\n"), (HeaderFault::Version, 0));
    assert_eq!(block_err(b"NATS/1.0x\r\n\r\n"), (HeaderFault::Status, 8));
    assert_eq!(block_err(b"NATS/1.0 5x3\r\n\r\n"), (HeaderFault::Status, 8));
    assert_eq!(
        block_err(b"NATS/1.0 5030\r\n\r\n"),
        (HeaderFault::Status, 8)
    );
    assert_eq!(block_err(b"NATS/1.0\n\n"), (HeaderFault::LineEnding, 8));
    assert_eq!(
        block_err(b"NATS/1.0\r\nA: 1\n\r\n"),
        (HeaderFault::LineEnding, 14)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nA: 1"),
        (HeaderFault::LineEnding, 10)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nNoColon\r\n\r\n"),
        (HeaderFault::MissingColon, 10)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\n: v\r\n\r\n"),
        (HeaderFault::Name, 10)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nA B: v\r\n\r\n"),
        (HeaderFault::Name, 11)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nA : v\r\n\r\n"),
        (HeaderFault::Name, 11)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nA: v\x00\r\n\r\n"),
        (HeaderFault::Value, 14)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nA: v\rw\r\n\r\n"),
        (HeaderFault::Value, 14)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\nA: \xff\r\n\r\n"),
        (HeaderFault::Value, 13)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\n cont\r\n\r\n"),
        (HeaderFault::Continuation, 10)
    );
    assert_eq!(
        block_err(b"NATS/1.0\r\n\r\nA: 1\r\n"),
        (HeaderFault::TrailingData, 12)
    );
    assert_eq!(
        block_err(b"NATS/1.0 503 \xff\r\n\r\n"),
        (HeaderFault::Status, 13)
    );
}

/// Fuzzer finding: a continuation of an empty value must not leave a leading space that an
/// encode→parse round trip would trim away.
#[test]
fn continuation_of_an_empty_value_round_trips() {
    let map = HeaderMap::parse(b"NATS/1.0\r\nA:\r\n x\r\n\r\n").unwrap();
    assert_eq!(map.get("A"), Some("x"));
    let mut buf = BytesMut::new();
    map.encode(&mut buf);
    assert_eq!(HeaderMap::parse(&buf).unwrap(), map);
}

/// Fuzzer finding: a status with a leading zero is three digits on the wire both ways.
#[test]
fn a_zero_padded_status_round_trips() {
    let map = HeaderMap::parse(b"NATS/1.0 048\r\n\r\n").unwrap();
    assert_eq!(map.status(), Some(StatusCode(48)));
    let mut buf = BytesMut::new();
    map.encode(&mut buf);
    assert_eq!(&buf[..], b"NATS/1.0 048\r\n\r\n");
    assert_eq!(map.encoded_len(), buf.len());
    assert_eq!(HeaderMap::parse(&buf).unwrap(), map);
}

/// Receivers trim values, so surrounding whitespace would be lost on the wire: refused.
#[test]
fn values_with_surrounding_whitespace_are_refused() {
    let mut map = HeaderMap::new();
    assert_eq!(
        map.append("A", " x"),
        Err(ProtoError::InvalidHeaderValue { at: 0 })
    );
    assert_eq!(
        map.append("A", "x\t"),
        Err(ProtoError::InvalidHeaderValue { at: 1 })
    );
    assert!(map.is_empty(), "a refused value changes nothing");
    map.append("A", "x y").unwrap();
    map.append("B", "").unwrap();
    assert_eq!(map.len(), 2);
}
