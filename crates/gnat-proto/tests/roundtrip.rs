//! Encode → decode round trips for every operation, in both directions.

use gnat_proto::bytes::{Bytes, BytesMut};
use gnat_proto::encode::*;
use gnat_proto::{ClientOp, Connect, Decoder, HeaderMap, Info, Msg, Pub, ServerOp, StatusCode};

fn client(buf: &mut BytesMut) -> ClientOp {
    let op = Decoder::default()
        .decode_client(buf)
        .unwrap()
        .expect("complete");
    assert!(buf.is_empty(), "left over: {:?}", &buf[..]);
    op
}

fn server(buf: &mut BytesMut) -> ServerOp {
    let op = Decoder::default()
        .decode_server(buf)
        .unwrap()
        .expect("complete");
    assert!(buf.is_empty(), "left over: {:?}", &buf[..]);
    op
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.append("Nats-Msg-Id", "abc").unwrap();
    h.append("A", "1").unwrap();
    h.append("A", "2").unwrap();
    h
}

#[test]
fn pub_round_trips() {
    for (subject, reply, payload) in [
        ("foo", None, &b""[..]),
        ("foo.bar", Some("_INBOX.a.b"), b"hello"),
        ("x", None, b"\r\n\r\nPUB x 1\r\n"),
        ("\u{e9}t\u{e9}", Some("r"), &[0u8, 255, 13, 10][..]),
    ] {
        let mut buf = BytesMut::new();
        encode_pub(&mut buf, subject, reply, payload).unwrap();
        assert_eq!(
            client(&mut buf),
            ClientOp::Pub(Pub {
                subject: b(subject),
                reply: reply.map(b),
                headers: None,
                payload: Bytes::copy_from_slice(payload),
            })
        );
    }
}

#[test]
fn hpub_round_trips_and_headers_parse_back() {
    let maps = [
        headers(),
        HeaderMap::new(),
        HeaderMap::with_status(StatusCode(503), None),
    ];
    for h in &maps {
        for payload in [&b""[..], b"payload"] {
            let mut buf = BytesMut::new();
            encode_hpub(&mut buf, "s", Some("r"), h, payload).unwrap();
            let ClientOp::Pub(p) = client(&mut buf) else {
                panic!("not a pub")
            };
            assert_eq!(p.subject, b("s"));
            assert_eq!(p.reply, Some(b("r")));
            assert_eq!(p.payload, Bytes::copy_from_slice(payload));
            let block = p.headers.expect("HPUB has headers");
            assert_eq!(block.len(), h.encoded_len());
            assert_eq!(&HeaderMap::parse(&block).unwrap(), h);
        }
    }
}

#[test]
fn pub_head_chains_a_payload() {
    let payload = Bytes::from(vec![7u8; 100_000]);
    for h in [None, Some(headers())] {
        let mut buf = BytesMut::new();
        encode_pub_head(&mut buf, "big", None, h.as_ref(), payload.len()).unwrap();
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(CRLF);
        let ClientOp::Pub(p) = client(&mut buf) else {
            panic!("not a pub")
        };
        assert_eq!(p.payload, payload);
        assert_eq!(p.headers.is_some(), h.is_some());
    }
}

#[test]
fn sub_unsub_ping_pong_connect_round_trip() {
    let mut buf = BytesMut::new();
    encode_sub(&mut buf, "a.*.>", None, 1).unwrap();
    assert_eq!(
        client(&mut buf),
        ClientOp::Sub {
            subject: b("a.*.>"),
            queue: None,
            sid: 1
        }
    );
    encode_sub(&mut buf, "a", Some("q.1"), u64::MAX).unwrap();
    assert_eq!(
        client(&mut buf),
        ClientOp::Sub {
            subject: b("a"),
            queue: Some(b("q.1")),
            sid: u64::MAX
        }
    );
    encode_unsub(&mut buf, 7, None);
    assert_eq!(client(&mut buf), ClientOp::Unsub { sid: 7, max: None });
    encode_unsub(&mut buf, 7, Some(0));
    assert_eq!(
        client(&mut buf),
        ClientOp::Unsub {
            sid: 7,
            max: Some(0)
        }
    );
    encode_ping(&mut buf);
    assert_eq!(client(&mut buf), ClientOp::Ping);
    encode_pong(&mut buf);
    assert_eq!(client(&mut buf), ClientOp::Pong);
    let connect = Connect {
        name: Some("app \"one\"\r\n".into()),
        user: Some("u".into()),
        pass: Some("p\u{1}".into()),
        ..Connect::client_defaults()
    };
    encode_connect(&mut buf, &connect).unwrap();
    assert_eq!(client(&mut buf), ClientOp::Connect(Box::new(connect)));
}

#[test]
fn server_ops_round_trip() {
    let mut buf = BytesMut::new();
    let info = Info {
        server_id: "NID".into(),
        max_payload: 1 << 20,
        headers: true,
        proto: 1,
        connect_urls: vec!["10.0.0.1:4222".into()],
        lame_duck_mode: true,
        nonce: Some("abc".into()),
        ..Info::default()
    };
    encode_info(&mut buf, &info);
    assert_eq!(server(&mut buf), ServerOp::Info(Box::new(info)));
    encode_ok(&mut buf);
    assert_eq!(server(&mut buf), ServerOp::Ok);
    encode_err(&mut buf, "Permissions Violation for Publish to 'x'").unwrap();
    assert_eq!(
        server(&mut buf),
        ServerOp::Err("Permissions Violation for Publish to 'x'".into())
    );
    encode_ping(&mut buf);
    assert_eq!(server(&mut buf), ServerOp::Ping);
    encode_pong(&mut buf);
    assert_eq!(server(&mut buf), ServerOp::Pong);

    encode_msg(&mut buf, "foo", 3, None, None, b"hello").unwrap();
    assert_eq!(
        server(&mut buf),
        ServerOp::Msg(Msg {
            subject: b("foo"),
            sid: 3,
            reply: None,
            headers: None,
            payload: b("hello")
        })
    );
    let mut block = BytesMut::new();
    headers().encode(&mut block);
    encode_msg(&mut buf, "foo", 3, Some("r.1"), Some(&block), b"").unwrap();
    assert_eq!(
        server(&mut buf),
        ServerOp::Msg(Msg {
            subject: b("foo"),
            sid: 3,
            reply: Some(b("r.1")),
            headers: Some(block.freeze()),
            payload: Bytes::new(),
        })
    );
}
