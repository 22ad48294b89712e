//! Partial input (the client protocol is a byte stream; a frame may arrive in any number of
//! reads): every operation split at every byte offset, or fed one byte at a
//! time, decodes to the same result; `Ok(None)` consumes nothing.

use std::fmt::Debug;

use gnat_proto::bytes::BytesMut;
use gnat_proto::{Decoder, Limits, ProtoError};

const SERVER_OPS: &[&[u8]] = &[
    b"MSG foo 1 5\r\nhello\r\n",
    b"MSG foo  1\tbar 5\r\nhello\r\n",
    b"MSG a.b.c 18446744073709551615 0\r\n\r\n",
    b"msg x 2 4\r\n\r\n\r\n\r\n",
    b"HMSG FOO.BAR 9 INBOX.69 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n",
    b"HMSG s 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
    b"HMSG s 1 _INBOX.x.y 37 37\r\nNATS/1.0 100 Idle Heartbeat\r\nA: 1\r\n\r\n\r\n",
    b"PING\r\n",
    b"pong\r\n",
    b"+OK\r\n",
    b"-ERR 'Authorization Violation'\r\n",
    b"INFO {\"server_id\":\"X\",\"max_payload\":1024,\"connect_urls\":[\"a:1\",\"b:2\"]}\r\n",
];

const CLIENT_OPS: &[&[u8]] = &[
    b"CONNECT {\"verbose\":false,\"headers\":true,\"name\":\"n\"}\r\n",
    b"PUB NOTIFY 0\r\n\r\n",
    b"PUB foo bar 5\r\nhello\r\n",
    b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n",
    b"HPUB NOTIFY reply 22 22\r\nNATS/1.0\r\nBar: Baz\r\n\r\n\r\n",
    b"SUB foo 1\r\n",
    b"SUB foo.* q 99\r\n",
    b"UNSUB 1\r\n",
    b"UNSUB 1 10\r\n",
    b"PING\r\n",
    b"PONG\r\n",
];

type DecodeFn<T> = fn(&Decoder, &mut BytesMut) -> Result<Option<T>, ProtoError>;

fn check_splits<T: PartialEq + Debug>(input: &[u8], decode: DecodeFn<T>) {
    // A small control-line limit makes sure the window logic is exercised too.
    let d = Decoder::new(Limits {
        max_control_line: 128,
        max_payload: 1024,
    });
    let name = String::from_utf8_lossy(input);
    let mut whole = BytesMut::from(input);
    let expected = decode(&d, &mut whole)
        .unwrap()
        .unwrap_or_else(|| panic!("incomplete: {name}"));
    assert!(whole.is_empty(), "{name}");

    // split at every offset
    for k in 0..input.len() {
        let mut buf = BytesMut::from(&input[..k]);
        assert_eq!(decode(&d, &mut buf).unwrap(), None, "{name} cut at {k}");
        assert_eq!(
            &buf[..],
            &input[..k],
            "Ok(None) consumed bytes: {name} at {k}"
        );
        buf.extend_from_slice(&input[k..]);
        assert_eq!(
            decode(&d, &mut buf).unwrap().as_ref(),
            Some(&expected),
            "{name} at {k}"
        );
        assert!(buf.is_empty());
    }

    // one byte at a time, with the next op's first bytes behind it
    let mut buf = BytesMut::new();
    for (i, &byte) in input.iter().enumerate() {
        buf.extend_from_slice(&[byte]);
        let got = decode(&d, &mut buf).unwrap();
        if i + 1 < input.len() {
            assert_eq!(got, None, "{name} at byte {i}");
            assert_eq!(buf.len(), i + 1);
        } else {
            assert_eq!(got.as_ref(), Some(&expected), "{name}");
        }
    }
    let mut buf = BytesMut::from(input);
    buf.extend_from_slice(b"PI");
    assert_eq!(decode(&d, &mut buf).unwrap().as_ref(), Some(&expected));
    assert_eq!(&buf[..], b"PI");
    assert_eq!(decode(&d, &mut buf).unwrap(), None);
}

#[test]
fn every_server_op_at_every_offset() {
    for op in SERVER_OPS {
        check_splits(op, Decoder::decode_server);
    }
}

#[test]
fn every_client_op_at_every_offset() {
    for op in CLIENT_OPS {
        check_splits(op, Decoder::decode_client);
    }
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

fn stream_in_random_chunks<T: PartialEq + Debug>(ops: &[&[u8]], decode: DecodeFn<T>, seed: u64) {
    let d = Decoder::default();
    let mut rng = Rng(seed);
    for _ in 0..50 {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..rng.below(40) + 1 {
            let op = ops[rng.below(ops.len())];
            stream.extend_from_slice(op);
            let mut one = BytesMut::from(op);
            expected.push(decode(&d, &mut one).unwrap().unwrap());
        }
        let mut got = Vec::new();
        let mut buf = BytesMut::new();
        let mut pos = 0;
        while pos < stream.len() {
            let n = (rng.below(20) + 1).min(stream.len() - pos);
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            while let Some(op) = decode(&d, &mut buf).unwrap() {
                got.push(op);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(got, expected);
    }
}

#[test]
fn server_stream_in_random_chunks() {
    stream_in_random_chunks(SERVER_OPS, Decoder::decode_server, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn client_stream_in_random_chunks() {
    stream_in_random_chunks(CLIENT_OPS, Decoder::decode_client, 0x0123_4567_89ab_cdef);
}
