//! Decoded slices share the read buffer's allocation: nothing is copied.

use gnat_proto::bytes::BytesMut;
use gnat_proto::{ClientOp, Decoder, ServerOp};

fn inside(range: &std::ops::Range<usize>, part: &[u8]) -> bool {
    let p = part.as_ptr() as usize;
    range.contains(&p) && p + part.len() <= range.end
}

#[test]
fn msg_fields_point_into_the_read_buffer() {
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(b"MSG foo.bar 1 _INBOX.x 5\r\nhello\r\n");
    buf.extend_from_slice(b"HMSG a 2 12 15\r\nNATS/1.0\r\n\r\nabc\r\n");
    let alloc = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.capacity();
    let d = Decoder::default();

    let Some(ServerOp::Msg(m)) = d.decode_server(&mut buf).unwrap() else {
        panic!("not MSG")
    };
    assert_eq!(&m.payload[..], b"hello");
    assert!(inside(&alloc, &m.payload), "payload was copied");
    assert!(inside(&alloc, &m.subject), "subject was copied");
    assert!(
        inside(&alloc, m.reply.as_ref().unwrap()),
        "reply was copied"
    );

    let Some(ServerOp::Msg(h)) = d.decode_server(&mut buf).unwrap() else {
        panic!("not HMSG")
    };
    assert!(inside(&alloc, &h.payload));
    assert!(inside(&alloc, h.headers.as_ref().unwrap()));
    assert_eq!(&h.headers.unwrap()[..], b"NATS/1.0\r\n\r\n");
    // the first message is still intact after the buffer moved on
    assert_eq!(&m.payload[..], b"hello");
}

#[test]
fn pub_fields_point_into_the_read_buffer() {
    let mut buf = BytesMut::with_capacity(1024);
    buf.extend_from_slice(b"PUB s r 3\r\nxyz\r\nSUB s q 1\r\n");
    let alloc = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.capacity();
    let d = Decoder::default();
    let Some(ClientOp::Pub(p)) = d.decode_client(&mut buf).unwrap() else {
        panic!("not PUB")
    };
    assert!(inside(&alloc, &p.payload) && inside(&alloc, &p.subject));
    let Some(ClientOp::Sub { subject, queue, .. }) = d.decode_client(&mut buf).unwrap() else {
        panic!("not SUB")
    };
    assert!(inside(&alloc, &subject) && inside(&alloc, &queue.unwrap()));
}
