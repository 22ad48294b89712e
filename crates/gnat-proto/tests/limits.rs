//! Limits and hostile input: oversized lines and sizes are rejected before any
//! allocation; garbage gives errors, never panics; decoding never over-consumes.

use gnat_proto::bytes::BytesMut;
use gnat_proto::{Decoder, Limits, OpKind, ProtoError};

#[test]
fn control_line_limit() {
    let d = Decoder::new(Limits {
        max_control_line: 16,
        max_payload: 1024,
    });
    // 16 bytes of line is fine
    let mut buf = BytesMut::from(&b"MSG abcdefgh 1 0\r\n\r\n"[..]);
    assert!(d.decode_server(&mut buf).unwrap().is_some());
    // 17 bytes of line, complete or not, is an error as soon as 18 bytes are buffered
    let mut buf = BytesMut::from(&b"MSG abcdefghi 1 0\r\n\r\n"[..]);
    assert_eq!(
        d.decode_server(&mut buf),
        Err(ProtoError::ControlLineTooLong { limit: 16 })
    );
    let mut buf = BytesMut::from(&b"MSG abcdefghi 1 0 "[..]);
    assert_eq!(
        d.decode_server(&mut buf),
        Err(ProtoError::ControlLineTooLong { limit: 16 })
    );
    // with fewer than max + 2 bytes buffered the decoder waits for more
    let mut buf = BytesMut::from(&b"MSG abcdefghi 1 0"[..]);
    assert_eq!(d.decode_server(&mut buf), Ok(None));
    // a huge buffer without any CRLF is rejected after looking at 18 bytes only
    let mut buf = BytesMut::from(vec![b'A'; 10 << 20].as_slice());
    assert_eq!(
        d.decode_server(&mut buf),
        Err(ProtoError::ControlLineTooLong { limit: 16 })
    );
    assert_eq!(
        d.decode_client(&mut buf),
        Err(ProtoError::ControlLineTooLong { limit: 16 })
    );
}

#[test]
fn json_lines_have_their_own_bound() {
    let d = Decoder::default();
    let mut buf =
        BytesMut::from(format!("INFO {}", " ".repeat(gnat_proto::MAX_JSON_LINE)).as_bytes());
    assert_eq!(
        d.decode_server(&mut buf),
        Err(ProtoError::ControlLineTooLong {
            limit: gnat_proto::MAX_JSON_LINE
        })
    );
    let mut buf = BytesMut::from(format!("CONNECT {}", " ".repeat(10_000)).as_bytes());
    assert_eq!(d.decode_client(&mut buf), Ok(None));
}

#[test]
fn huge_declared_sizes_fail_without_allocating() {
    let d = Decoder::default();
    for line in [
        &b"MSG a 1 1152921504606846976\r\n"[..], // 2^60
        b"MSG a 1 18446744073709551615\r\n",
        b"HMSG a 1 0 1152921504606846976\r\n",
        b"HMSG a 1 1152921504606846976 1152921504606846976\r\n",
    ] {
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(line);
        let cap = buf.capacity();
        let err = d.decode_server(&mut buf).unwrap_err();
        assert!(
            matches!(err, ProtoError::FrameTooLarge { limit, .. } if limit == 64 << 20),
            "{err:?}"
        );
        assert_eq!(buf.capacity(), cap, "the decoder must not reserve");
        assert_eq!(buf.len(), line.len());
    }
    let mut buf = BytesMut::from(&b"PUB a 1152921504606846976\r\n"[..]);
    assert!(matches!(
        d.decode_client(&mut buf),
        Err(ProtoError::FrameTooLarge { .. })
    ));
}

#[test]
fn size_arithmetic_cannot_overflow_even_without_a_limit() {
    let d = Decoder::new(Limits {
        max_control_line: 4096,
        max_payload: usize::MAX,
    });
    for line in [
        &b"MSG a 1 18446744073709551615\r\n"[..],
        b"HMSG a 1 18446744073709551614 18446744073709551615\r\n",
    ] {
        let mut buf = BytesMut::from(line);
        assert!(matches!(
            d.decode_server(&mut buf),
            Err(ProtoError::FrameTooLarge { .. })
        ));
    }
    // a large but representable size just waits for the body
    let mut buf = BytesMut::from(&b"MSG a 1 1152921504606846976\r\n"[..]);
    assert_eq!(d.decode_server(&mut buf), Ok(None));
}

#[test]
fn a_waiting_frame_is_not_allocated_for() {
    let d = Decoder::default();
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"MSG a 1 67108864\r\nabc");
    let cap = buf.capacity();
    assert_eq!(d.decode_server(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), cap);
}

#[test]
fn truncated_body_and_missing_terminator() {
    let d = Decoder::default();
    let mut buf = BytesMut::from(&b"MSG a 1 5\r\nhel"[..]);
    assert_eq!(d.decode_server(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&b"MSG a 1 5\r\nhello\r"[..]);
    assert_eq!(d.decode_server(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&b"MSG a 1 5\r\nhello!!"[..]);
    assert_eq!(
        d.decode_server(&mut buf),
        Err(ProtoError::MissingBodyTerminator { op: OpKind::Msg })
    );
    let mut buf = BytesMut::from(&b"MSG a 1 5\r\nhello\n\r"[..]);
    assert_eq!(
        d.decode_server(&mut buf),
        Err(ProtoError::MissingBodyTerminator { op: OpKind::Msg })
    );
}

/// Deterministic xorshift64* generator (no dependencies).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"MSG",
    b"HMSG",
    b"PUB",
    b"HPUB",
    b"SUB",
    b"UNSUB",
    b"INFO",
    b"CONNECT",
    b"PING",
    b"PONG",
    b"+OK",
    b"-ERR",
    b"msg",
    b" ",
    b"  ",
    b"\t",
    b"\r\n",
    b"\r",
    b"\n",
    b"0",
    b"1",
    b"5",
    b"12",
    b"16",
    b"99999999999999999999",
    b"18446744073709551615",
    b"foo",
    b"a.b",
    b"NATS/1.0",
    b"{}",
    b"{\"a\":1}",
    b"{",
    b"'",
    b"hello",
    b"\x00",
    b"\xff",
    b"\x7f",
];

fn garbage(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(24) {
        if rng.below(8) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
    }
    out
}

/// Decodes until the input runs out or errors, checking the contract each step.
fn drive<T>(input: &[u8], decode: impl Fn(&mut BytesMut) -> Result<Option<T>, ProtoError>) {
    let mut buf = BytesMut::from(input);
    loop {
        let before = buf.clone();
        match decode(&mut buf) {
            Ok(Some(_)) => assert!(buf.len() < before.len(), "an op must consume bytes"),
            Ok(None) | Err(_) => {
                assert_eq!(buf, before, "Ok(None)/Err must consume nothing");
                return;
            }
        }
        assert!(
            before.ends_with(&buf),
            "consumed bytes must come off the front"
        );
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let small = Decoder::new(Limits {
        max_control_line: 32,
        max_payload: 16,
    });
    let default = Decoder::default();
    for _ in 0..20_000 {
        let input = garbage(&mut rng);
        for d in [&small, &default] {
            drive(&input, |b| d.decode_server(b));
            drive(&input, |b| d.decode_client(b));
        }
        let _ = gnat_proto::HeaderMap::parse(&input);
        let _ = gnat_proto::status_of(&input);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    let d = Decoder::new(Limits {
        max_control_line: 64,
        max_payload: 64,
    });
    for _ in 0..20_000 {
        let len = rng.below(80);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        drive(&input, |b| d.decode_server(b));
        drive(&input, |b| d.decode_client(b));
        let _ = gnat_proto::HeaderMap::parse(&input);
    }
}
