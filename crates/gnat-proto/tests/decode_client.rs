//! Byte-literal tests of every client → server operation.

use gnat_proto::bytes::{Bytes, BytesMut};
use gnat_proto::{ClientOp, Decoder, Limits, NumField, OpKind, ProtoError, Pub};

fn decode(input: &[u8]) -> (Result<Option<ClientOp>, ProtoError>, usize) {
    let mut buf = BytesMut::from(input);
    let res = Decoder::default().decode_client(&mut buf);
    (res, buf.len())
}

fn one(input: &[u8]) -> ClientOp {
    let (res, left) = decode(input);
    let op = res.unwrap().expect("complete op");
    assert_eq!(left, 0, "op must consume the whole input");
    op
}

fn err(input: &[u8]) -> ProtoError {
    let (res, left) = decode(input);
    assert_eq!(left, input.len(), "an error consumes nothing: {res:?}");
    res.unwrap_err()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn publish(subject: &str, reply: Option<&str>, headers: Option<&str>, payload: &str) -> ClientOp {
    ClientOp::Pub(Pub {
        subject: b(subject),
        reply: reply.map(b),
        headers: headers.map(b),
        payload: b(payload),
    })
}

#[test]
fn pub_and_hpub() {
    assert_eq!(
        one(b"PUB NOTIFY 0\r\n\r\n"),
        publish("NOTIFY", None, None, "")
    );
    assert_eq!(
        one(b"PUB foo bar 5\r\nhello\r\n"),
        publish("foo", Some("bar"), None, "hello")
    );
    assert_eq!(
        one(b"pub\tfoo \t 2 \r\nhi\r\n"),
        publish("foo", None, None, "hi")
    );
    assert_eq!(
        one(b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n"),
        publish(
            "FOO",
            None,
            Some("NATS/1.0\r\nBar: Baz\r\n\r\n"),
            "Hello NATS!"
        )
    );
    assert_eq!(
        one(b"HPUB NOTIFY 22 22\r\nNATS/1.0\r\nBar: Baz\r\n\r\n\r\n"),
        publish("NOTIFY", None, Some("NATS/1.0\r\nBar: Baz\r\n\r\n"), "")
    );
    assert_eq!(
        one(b"hpub a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        publish("a", Some("r"), Some("NATS/1.0\r\n\r\n"), "hi")
    );
}

#[test]
fn sub_and_unsub() {
    assert_eq!(
        one(b"SUB foo 1\r\n"),
        ClientOp::Sub {
            subject: b("foo"),
            queue: None,
            sid: 1
        }
    );
    assert_eq!(
        one(b"sub  a.*.>\tq1  77 \r\n"),
        ClientOp::Sub {
            subject: b("a.*.>"),
            queue: Some(b("q1")),
            sid: 77
        }
    );
    assert_eq!(one(b"UNSUB 1\r\n"), ClientOp::Unsub { sid: 1, max: None });
    assert_eq!(
        one(b"unsub 1 5\r\n"),
        ClientOp::Unsub {
            sid: 1,
            max: Some(5)
        }
    );
}

#[test]
fn connect_ping_pong() {
    let ClientOp::Connect(c) = one(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"go\",\"headers\":true,\"user\":\"u\",\"pass\":\"p\",\"zzz\":1}\r\n") else {
        panic!("not CONNECT")
    };
    assert_eq!(c.lang, "go");
    assert!(c.headers && c.echo);
    assert_eq!(c.user.as_deref(), Some("u"));
    assert_eq!(c.pass.as_deref(), Some("p"));
    assert_eq!(one(b"PING\r\n"), ClientOp::Ping);
    assert_eq!(one(b"pong\r\n"), ClientOp::Pong);
    assert_eq!(
        err(b"CONNECT {\r\n"),
        ProtoError::InvalidJson {
            op: OpKind::Connect
        }
    );
    assert_eq!(
        err(b"CONNECT []\r\n"),
        ProtoError::InvalidJson {
            op: OpKind::Connect
        }
    );
}

#[test]
fn argument_counts() {
    for (input, op, got) in [
        (&b"PUB 5\r\n"[..], OpKind::Pub, 1),
        (b"PUB a b c 5\r\n", OpKind::Pub, 4),
        (b"HPUB a 5\r\n", OpKind::Hpub, 2),
        (b"HPUB a b c 5 6\r\n", OpKind::Hpub, 5),
        (b"SUB a\r\n", OpKind::Sub, 1),
        (b"SUB a q 1 2\r\n", OpKind::Sub, 4),
        (b"UNSUB\r\n", OpKind::Unsub, 0),
        (b"UNSUB 1 2 3\r\n", OpKind::Unsub, 3),
        (b"PING 1\r\n", OpKind::Ping, 1),
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
fn numbers_and_sizes() {
    for (input, op, field) in [
        (&b"PUB a x\r\n"[..], OpKind::Pub, NumField::Size),
        (b"HPUB a x 5\r\n", OpKind::Hpub, NumField::HeaderSize),
        (b"HPUB a 1 x\r\n", OpKind::Hpub, NumField::TotalSize),
        (b"SUB a q x\r\n", OpKind::Sub, NumField::Sid),
        (b"UNSUB x\r\n", OpKind::Unsub, NumField::Sid),
        (b"UNSUB 1 -5\r\n", OpKind::Unsub, NumField::MaxMsgs),
    ] {
        assert_eq!(
            err(input),
            ProtoError::InvalidNumber { op, field },
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(
        err(b"HPUB a 6 5\r\n"),
        ProtoError::HeaderExceedsTotal {
            header: 6,
            total: 5
        }
    );
    let d = Decoder::new(Limits {
        max_control_line: 64,
        max_payload: 3,
    });
    let mut buf = BytesMut::from(&b"PUB a 4\r\n"[..]);
    assert_eq!(
        d.decode_client(&mut buf),
        Err(ProtoError::FrameTooLarge { size: 4, limit: 3 })
    );
}

#[test]
fn server_ops_are_unknown_to_a_server() {
    for input in [
        &b"MSG a 1 1\r\nx\r\n"[..],
        b"INFO {}\r\n",
        b"+OK\r\n",
        b"-ERR 'x'\r\n",
        b"HMSG a 1 0 0\r\n\r\n",
    ] {
        assert_eq!(err(input), ProtoError::UnknownOperation);
    }
}

#[test]
fn missing_body_terminator() {
    assert_eq!(
        err(b"PUB a 1\r\nxy\r\n"),
        ProtoError::MissingBodyTerminator { op: OpKind::Pub }
    );
    assert_eq!(
        err(b"HPUB a 0 1\r\nxy\r\n"),
        ProtoError::MissingBodyTerminator { op: OpKind::Hpub }
    );
}

#[test]
fn long_connect_lines_are_allowed() {
    let jwt = "e".repeat(6000);
    let line = format!("CONNECT {{\"jwt\":\"{jwt}\"}}\r\n");
    let ClientOp::Connect(c) = one(line.as_bytes()) else {
        panic!("not CONNECT")
    };
    assert_eq!(c.jwt.as_deref(), Some(jwt.as_str()));
    let line = format!("SUB {} 1\r\n", "s".repeat(5000));
    assert_eq!(
        err(line.as_bytes()),
        ProtoError::ControlLineTooLong { limit: 4096 }
    );
}
