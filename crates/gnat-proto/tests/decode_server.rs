//! Byte-literal tests of every server → client operation.

use gnat_proto::bytes::{Bytes, BytesMut};
use gnat_proto::{Decoder, Limits, Msg, NumField, OpKind, ProtoError, ServerOp};

fn decode(input: &[u8]) -> (Result<Option<ServerOp>, ProtoError>, usize) {
    let mut buf = BytesMut::from(input);
    let res = Decoder::default().decode_server(&mut buf);
    (res, buf.len())
}

/// Decodes exactly one complete op that fills the whole input.
fn one(input: &[u8]) -> ServerOp {
    let (res, left) = decode(input);
    let op = res.unwrap().expect("complete op");
    assert_eq!(left, 0, "op must consume the whole input");
    op
}

fn err(input: &[u8]) -> ProtoError {
    let (res, left) = decode(input);
    assert_eq!(left, input.len(), "an error consumes nothing");
    res.unwrap_err()
}

fn msg(
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    headers: Option<&str>,
    payload: &str,
) -> ServerOp {
    ServerOp::Msg(Msg {
        subject: Bytes::copy_from_slice(subject.as_bytes()),
        sid,
        reply: reply.map(|r| Bytes::copy_from_slice(r.as_bytes())),
        headers: headers.map(|h| Bytes::copy_from_slice(h.as_bytes())),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    })
}

#[test]
fn spec_item_1_msg_with_and_without_reply() {
    assert_eq!(
        one(b"MSG foo 1 5\r\nhello\r\n"),
        msg("foo", 1, None, None, "hello")
    );
    assert_eq!(
        one(b"MSG foo  1\tbar 5\r\nhello\r\n"),
        msg("foo", 1, Some("bar"), None, "hello")
    );
}

#[test]
fn msg_variants() {
    assert_eq!(one(b"MSG a.b 42 0\r\n\r\n"), msg("a.b", 42, None, None, ""));
    assert_eq!(
        one(b"msg foo 1 2\r\nhi\r\n"),
        msg("foo", 1, None, None, "hi")
    );
    assert_eq!(
        one(b"Msg foo 1 2\r\nhi\r\n"),
        msg("foo", 1, None, None, "hi")
    );
    assert_eq!(
        one(b"  MSG\tfoo 1 2 \t\r\nhi\r\n"),
        msg("foo", 1, None, None, "hi")
    );
    assert_eq!(
        one(b"MSG\tfoo 1 2\r\nhi\r\n"),
        msg("foo", 1, None, None, "hi")
    );
    // the payload may contain CRLF and anything else
    assert_eq!(
        one(b"MSG foo 1 6\r\n\r\nMSG \r\n"),
        msg("foo", 1, None, None, "\r\nMSG ")
    );
    // leading zeros, and the max sid
    assert_eq!(
        one(b"MSG x 18446744073709551615 003\r\nabc\r\n"),
        msg("x", u64::MAX, None, None, "abc")
    );
}

#[test]
fn hmsg_variants() {
    let hdr = "NATS/1.0\r\nFoodGroup: vegetable\r\n\r\n";
    assert_eq!(
        one(b"HMSG FOO.BAR 9 INBOX.69 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n"),
        msg("FOO.BAR", 9, Some("INBOX.69"), Some(hdr), "Hello World")
    );
    assert_eq!(
        one(b"HMSG s 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"),
        msg("s", 1, None, Some("NATS/1.0 503\r\n\r\n"), "")
    );
    assert_eq!(
        one(b"hmsg s 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        msg("s", 1, None, Some("NATS/1.0\r\n\r\n"), "hi")
    );
}

#[test]
fn spec_item_3_hmsg_total_below_header_is_an_error() {
    assert_eq!(
        err(b"HMSG s 1 16 10\r\nNATS/1.0 503\r\n\r\n\r\n"),
        ProtoError::HeaderExceedsTotal {
            header: 16,
            total: 10
        }
    );
    // even before the body has arrived
    assert_eq!(
        err(b"HMSG s 1 16 10\r\n"),
        ProtoError::HeaderExceedsTotal {
            header: 16,
            total: 10
        }
    );
}

#[test]
fn simple_ops_in_any_case() {
    for (input, op) in [
        (&b"PING\r\n"[..], ServerOp::Ping),
        (b"ping\r\n", ServerOp::Ping),
        (b"PiNg \t\r\n", ServerOp::Ping),
        (b"PONG\r\n", ServerOp::Pong),
        (b"pong\r\n", ServerOp::Pong),
        (b"+OK\r\n", ServerOp::Ok),
        (b"+ok\r\n", ServerOp::Ok),
        (
            b"-ERR 'Authorization Violation'\r\n",
            ServerOp::Err("Authorization Violation".into()),
        ),
        (
            b"-err  'Stale Connection'  \r\n",
            ServerOp::Err("Stale Connection".into()),
        ),
        (
            b"-ERR unquoted text\r\n",
            ServerOp::Err("unquoted text".into()),
        ),
        (b"-ERR\r\n", ServerOp::Err(String::new())),
        (b"-ERR ''\r\n", ServerOp::Err(String::new())),
        (b"-ERR '\r\n", ServerOp::Err("'".into())),
        (
            b"-ERR 'Permissions Violation for Subscription to \"foo\"'\r\n",
            ServerOp::Err("Permissions Violation for Subscription to \"foo\"".into()),
        ),
    ] {
        assert_eq!(one(input), op, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn info() {
    let ServerOp::Info(info) = one(
        b"INFO {\"server_id\":\"S1\",\"max_payload\":1048576,\"headers\":true,\"proto\":1,\"ldm\":false,\"unknown\":[1,2]}\r\n",
    ) else {
        panic!("not INFO")
    };
    assert_eq!(info.server_id, "S1");
    assert_eq!(info.max_payload, 1_048_576);
    assert!(info.headers);
    let ServerOp::Info(info) = one(b"info\t{}  \r\n") else {
        panic!("not INFO")
    };
    assert_eq!(*info, Default::default());
    assert_eq!(
        err(b"INFO {\"server_id\":}\r\n"),
        ProtoError::InvalidJson { op: OpKind::Info }
    );
    assert_eq!(
        err(b"INFO\r\n"),
        ProtoError::InvalidJson { op: OpKind::Info }
    );
    assert_eq!(
        err(b"INFO {} x\r\n"),
        ProtoError::InvalidJson { op: OpKind::Info }
    );
    assert_eq!(
        err(b"INFO {\"port\":-1}\r\n"),
        ProtoError::InvalidJson { op: OpKind::Info }
    );
}

#[test]
fn long_info_lines_are_allowed_up_to_the_json_limit() {
    let urls: Vec<String> = (0..400)
        .map(|i| format!("\"10.0.{}.{}:4222\"", i / 256, i % 256))
        .collect();
    let line = format!("INFO {{\"connect_urls\":[{}]}}\r\n", urls.join(","));
    assert!(line.len() > 4096);
    let ServerOp::Info(info) = one(line.as_bytes()) else {
        panic!("not INFO")
    };
    assert_eq!(info.connect_urls.len(), 400);
    // but not other operations
    let line = format!("-ERR '{}'\r\n", "x".repeat(5000));
    assert_eq!(
        err(line.as_bytes()),
        ProtoError::ControlLineTooLong { limit: 4096 }
    );
}

#[test]
fn consumes_exactly_one_op() {
    let mut buf =
        BytesMut::from(&b"PING\r\nMSG a 1 1\r\nx\r\n+OK\r\nMSG b 2 0\r\n\r\nPONG\r\nMS"[..]);
    let d = Decoder::default();
    assert_eq!(d.decode_server(&mut buf).unwrap(), Some(ServerOp::Ping));
    assert_eq!(
        d.decode_server(&mut buf).unwrap(),
        Some(msg("a", 1, None, None, "x"))
    );
    assert_eq!(d.decode_server(&mut buf).unwrap(), Some(ServerOp::Ok));
    assert_eq!(
        d.decode_server(&mut buf).unwrap(),
        Some(msg("b", 2, None, None, ""))
    );
    assert_eq!(d.decode_server(&mut buf).unwrap(), Some(ServerOp::Pong));
    assert_eq!(d.decode_server(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], b"MS");
}

#[test]
fn wrong_argument_counts() {
    for (input, op, got) in [
        (&b"MSG foo 5\r\n"[..], OpKind::Msg, 2),
        (b"MSG\r\n", OpKind::Msg, 0),
        (b"MSG a 1 r x 5\r\n", OpKind::Msg, 5),
        (b"MSG a 1 r x y z 5\r\n", OpKind::Msg, 7),
        (b"HMSG a 1 5\r\n", OpKind::Hmsg, 3),
        (b"HMSG a 1 r x 5 6\r\n", OpKind::Hmsg, 6),
        (b"PING x\r\n", OpKind::Ping, 1),
        (b"PONG 1 2\r\n", OpKind::Pong, 2),
        (b"+OK ok\r\n", OpKind::Ok, 1),
    ] {
        assert_eq!(
            err(input),
            ProtoError::WrongArgumentCount { op, got },
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn invalid_numbers() {
    for (input, op, field) in [
        (&b"MSG foo x 5\r\n"[..], OpKind::Msg, NumField::Sid),
        (b"MSG foo -1 5\r\n", OpKind::Msg, NumField::Sid),
        (b"MSG foo 1 +5\r\n", OpKind::Msg, NumField::Size),
        (b"MSG foo 1 5x\r\n", OpKind::Msg, NumField::Size),
        (
            b"MSG foo 18446744073709551616 5\r\n",
            OpKind::Msg,
            NumField::Sid,
        ),
        (
            b"MSG foo 1 99999999999999999999999\r\n",
            OpKind::Msg,
            NumField::Size,
        ),
        (b"HMSG foo 1 x 5\r\n", OpKind::Hmsg, NumField::HeaderSize),
        (b"HMSG foo 1 5 x\r\n", OpKind::Hmsg, NumField::TotalSize),
    ] {
        assert_eq!(
            err(input),
            ProtoError::InvalidNumber { op, field },
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn unknown_operations() {
    for input in [
        &b"\r\n"[..],
        b"   \r\n",
        b"FOO\r\n",
        b"MSGX foo 1 1\r\nx\r\n",
        b"PINGPONG\r\n",
        b"PUB foo 1\r\nx\r\n",
        b"CONNECT {}\r\n",
        b"OK\r\n",
        b"ERR 'x'\r\n",
        b"-ERR'x'\r\n",
        b"\x00\x01\x02\r\n",
    ] {
        assert_eq!(
            err(input),
            ProtoError::UnknownOperation,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn line_ending_errors() {
    assert_eq!(err(b"PING\n"), ProtoError::BareLineFeed);
    assert_eq!(err(b"\n"), ProtoError::BareLineFeed);
    assert_eq!(err(b"MSG a 1 1\nx\r\n"), ProtoError::BareLineFeed);
    // a CR inside the line that is not followed by LF makes the line unparseable
    assert_eq!(err(b"PING\r\r\n"), ProtoError::UnknownOperation);
}

#[test]
fn body_must_end_in_crlf() {
    for input in [
        &b"MSG a 1 1\r\nxyz\r\n"[..],
        b"MSG a 1 1\r\nx\n\r",
        b"MSG a 1 0\r\nxx",
        b"HMSG a 1 1 1\r\nxab",
    ] {
        let (res, left) = decode(input);
        assert!(
            matches!(res, Err(ProtoError::MissingBodyTerminator { .. })),
            "{}: {res:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(left, input.len());
    }
}

#[test]
fn payload_limit() {
    let d = Decoder::new(Limits {
        max_control_line: 4096,
        max_payload: 4,
    });
    let mut ok = BytesMut::from(&b"MSG a 1 4\r\nabcd\r\n"[..]);
    assert!(d.decode_server(&mut ok).unwrap().is_some());
    let mut big = BytesMut::from(&b"MSG a 1 5\r\n"[..]);
    assert_eq!(
        d.decode_server(&mut big),
        Err(ProtoError::FrameTooLarge { size: 5, limit: 4 })
    );
    let mut big = BytesMut::from(&b"HMSG a 1 2 5\r\n"[..]);
    assert_eq!(
        d.decode_server(&mut big),
        Err(ProtoError::FrameTooLarge { size: 5, limit: 4 })
    );
    let d = Decoder::new(Limits {
        max_payload: 5,
        ..*d.limits()
    });
    assert_eq!(d.limits().max_payload, 5);
    let mut big = BytesMut::from(&b"MSG a 1 5\r\n"[..]);
    assert_eq!(d.decode_server(&mut big), Ok(None));
}

#[test]
fn errors_are_protocol_violations() {
    for input in [
        &b"FOO\r\n"[..],
        b"MSG a b 1\r\n",
        b"PING\n",
        b"MSG a 1 1\r\nxyz",
    ] {
        assert!(err(input).is_protocol_violation());
    }
}
