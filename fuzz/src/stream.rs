//! Driving a decoder over a byte stream, whole and in chunks.
//!
//! Checked for every call: `Ok(None)` and `Err` consume nothing (same start, same
//! length), `Err` is repeatable, `Ok(Some)` cuts `0 < n ≤ len` bytes off the front,
//! and the operation matches the frame it was cut from (see [`crate::frame`]).
//! Checked per stream: feeding it in two or three chunks gives the same operations,
//! the same stopping point and the same error as feeding it at once.

use bytes::BytesMut;
use gnat_proto::{ClientOp, Decoder, Limits, MAX_JSON_LINE, ProtoError, ServerOp};

use crate::frame::{Frame, Message};

/// Limits small enough that fuzz-sized inputs reach the size checks.
pub const LIMITS: Limits = Limits {
    max_control_line: 256,
    max_payload: 2048,
};

/// One direction of the protocol.
pub trait Direction {
    /// The decoded operation.
    type Op: PartialEq + core::fmt::Debug;
    /// Decodes one operation.
    fn decode(decoder: &Decoder, buf: &mut BytesMut) -> Result<Option<Self::Op>, ProtoError>;
    /// Checks an operation against the frame it was cut from.
    fn check(op: &Self::Op, frame: &Frame<'_>);
}

/// Server → client (`Decoder::decode_server`).
pub struct Server;

/// Client → server (`Decoder::decode_client`).
pub struct Client;

/// What decoding a stream gave.
#[derive(Debug, PartialEq)]
struct Outcome<Op> {
    ops: Vec<Op>,
    /// Bytes of the stream consumed by the operations.
    consumed: usize,
    /// The error decoding stopped at, if any.
    error: Option<ProtoError>,
}

/// Checks the decoder contract on `input` as one stream, fed at once and in chunks
/// cut at positions taken from its first four bytes.
pub fn check<D: Direction>(input: &[u8]) {
    let decoder = Decoder::new(LIMITS);
    let whole = run::<D>(&decoder, input, &[]);
    let chunked = run::<D>(&decoder, input, &cuts(input));
    assert_eq!(
        whole, chunked,
        "chunked feeding differs from feeding at once"
    );
}

/// Two cut positions `a ≤ b ≤ len` from the first four bytes.
fn cuts(input: &[u8]) -> [usize; 2] {
    let byte = |i| usize::from(input.get(i).copied().unwrap_or(0));
    let len = input.len();
    let a = (byte(0) | byte(1) << 8) % (len + 1);
    let b = a + (byte(2) | byte(3) << 8) % (len - a + 1);
    [a, b]
}

fn run<D: Direction>(decoder: &Decoder, input: &[u8], cuts: &[usize]) -> Outcome<D::Op> {
    let mut out = Outcome {
        ops: Vec::new(),
        consumed: 0,
        error: None,
    };
    let mut buf = BytesMut::new();
    let mut fed = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        loop {
            let (base, len) = (buf.as_ptr() as usize, buf.len());
            let unchanged = |buf: &BytesMut| (buf.as_ptr() as usize, buf.len()) == (base, len);
            match D::decode(decoder, &mut buf) {
                Ok(None) => {
                    assert!(unchanged(&buf), "Ok(None) consumed input");
                    break;
                }
                Ok(Some(op)) => {
                    let n = len - buf.len();
                    assert!(n > 0, "Ok(Some) consumed nothing: {op:?}");
                    assert_eq!(
                        buf.as_ptr() as usize,
                        base + n,
                        "frame not cut off the front"
                    );
                    let frame = Frame::new(&input[out.consumed..out.consumed + n], base);
                    D::check(&op, &frame);
                    out.consumed += n;
                    out.ops.push(op);
                }
                Err(e) => {
                    assert!(unchanged(&buf), "Err({e:?}) consumed input");
                    assert_eq!(D::decode(decoder, &mut buf), Err(e), "error not repeatable");
                    assert!(unchanged(&buf), "Err({e:?}) consumed input on retry");
                    out.error = Some(e);
                    return out;
                }
            }
        }
    }
    assert_eq!(out.consumed + buf.len(), input.len());
    out
}

/// The longest control line the decoder may accept for this frame.
fn line_limit(frame: &Frame<'_>, json_op: &str) -> usize {
    if frame.word.eq_ignore_ascii_case(json_op.as_bytes()) {
        MAX_JSON_LINE.max(LIMITS.max_control_line)
    } else {
        LIMITS.max_control_line
    }
}

impl Direction for Server {
    type Op = ServerOp;

    fn decode(decoder: &Decoder, buf: &mut BytesMut) -> Result<Option<ServerOp>, ProtoError> {
        decoder.decode_server(buf)
    }

    fn check(op: &ServerOp, frame: &Frame<'_>) {
        assert!(
            frame.line.len() <= line_limit(frame, "INFO"),
            "long line accepted"
        );
        match op {
            ServerOp::Msg(msg) => {
                let with_headers = frame.word_with_headers("MSG", "HMSG");
                let m = Message {
                    lead: 2,
                    with_headers,
                    subject: &msg.subject,
                    reply: msg.reply.as_ref(),
                    headers: msg.headers.as_ref(),
                    payload: &msg.payload,
                };
                frame.expect_message(&m, LIMITS.max_payload);
                assert_eq!(msg.sid, crate::frame::number(frame.args[1]), "sid");
            }
            ServerOp::Ping => {
                frame.expect_word("PING");
                frame.expect_line(0);
            }
            ServerOp::Pong => {
                frame.expect_word("PONG");
                frame.expect_line(0);
            }
            ServerOp::Ok => {
                frame.expect_word("+OK");
                frame.expect_line(0);
            }
            ServerOp::Err(_) => {
                frame.expect_word("-ERR");
                assert!(frame.after.is_empty(), "-ERR consumed a body");
            }
            ServerOp::Info(_) => {
                frame.expect_word("INFO");
                assert!(frame.after.is_empty(), "INFO consumed a body");
            }
        }
    }
}

impl Direction for Client {
    type Op = ClientOp;

    fn decode(decoder: &Decoder, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtoError> {
        decoder.decode_client(buf)
    }

    fn check(op: &ClientOp, frame: &Frame<'_>) {
        assert!(
            frame.line.len() <= line_limit(frame, "CONNECT"),
            "long line accepted"
        );
        match op {
            ClientOp::Pub(p) => {
                let with_headers = frame.word_with_headers("PUB", "HPUB");
                let m = Message {
                    lead: 1,
                    with_headers,
                    subject: &p.subject,
                    reply: p.reply.as_ref(),
                    headers: p.headers.as_ref(),
                    payload: &p.payload,
                };
                frame.expect_message(&m, LIMITS.max_payload);
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                frame.expect_word("SUB");
                let n = frame.args.len();
                assert!(n == 2 || n == 3, "SUB with {n} arguments accepted");
                frame.expect_line(n);
                frame.expect_slice("subject", subject, frame.args[0]);
                match (queue, n) {
                    (None, 2) => {}
                    (Some(q), 3) => frame.expect_slice("queue", q, frame.args[1]),
                    (q, _) => panic!("queue {q:?} decoded from {n} arguments"),
                }
                assert_eq!(*sid, crate::frame::number(frame.args[n - 1]), "sid");
            }
            ClientOp::Unsub { sid, max } => {
                frame.expect_word("UNSUB");
                let n = frame.args.len();
                assert!(n == 1 || n == 2, "UNSUB with {n} arguments accepted");
                frame.expect_line(n);
                assert_eq!(*sid, crate::frame::number(frame.args[0]), "sid");
                let want = frame.args.get(1).map(|m| crate::frame::number(m));
                assert_eq!(*max, want, "max");
            }
            ClientOp::Ping => {
                frame.expect_word("PING");
                frame.expect_line(0);
            }
            ClientOp::Pong => {
                frame.expect_word("PONG");
                frame.expect_line(0);
            }
            ClientOp::Connect(_) => {
                frame.expect_word("CONNECT");
                assert!(frame.after.is_empty(), "CONNECT consumed a body");
            }
        }
    }
}
