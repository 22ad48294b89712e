//! The decoder: cuts whole operations off the front of a read buffer (the contract
//! is documented on [`Decoder`]).

use bytes::{Buf, Bytes, BytesMut};

use crate::connect::Connect;
use crate::error::{OpKind, ProtoError};
use crate::info::Info;
use crate::line::{self, Args, find_line, op_word};
use crate::msg::{self, Msg};
use crate::publish::{self, Pub};
use crate::sub::{SubHead, decode_unsub};

/// Size limits the decoder enforces on peer input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Longest control line accepted, without its CRLF (default 4096, the server's
    /// default). `INFO` and `CONNECT` lines may be up to [`MAX_JSON_LINE`](crate::MAX_JSON_LINE) bytes when
    /// that is larger.
    pub max_control_line: usize,
    /// Largest body (`#bytes`, or `#total-bytes` with headers) accepted (default
    /// 64 MiB, the server's upper bound). A client keeps that default rather than the
    /// INFO `max_payload` of the server it is connected to: that limit is what the
    /// server accepts from *its* clients, and a message published through another
    /// server of the cluster, configured with a larger one, is still delivered here.
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: 4096,
            max_payload: 64 * 1024 * 1024,
        }
    }
}

/// An operation sent by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {json}`.
    Info(Box<Info>),
    /// `MSG` or `HMSG` (then [`Msg::headers`] is `Some`).
    Msg(Msg),
    /// `PING`: answer with `PONG`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK` (only in verbose mode).
    Ok,
    /// `-ERR <text>`: the text, with the surrounding single quotes (if both are
    /// there) and whitespace removed; invalid UTF-8 is replaced.
    Err(String),
}

impl ServerOp {
    /// Which operation this is (`HMSG` for a message with headers).
    pub fn kind(&self) -> OpKind {
        match self {
            ServerOp::Info(_) => OpKind::Info,
            ServerOp::Msg(m) if m.headers.is_some() => OpKind::Hmsg,
            ServerOp::Msg(_) => OpKind::Msg,
            ServerOp::Ping => OpKind::Ping,
            ServerOp::Pong => OpKind::Pong,
            ServerOp::Ok => OpKind::Ok,
            ServerOp::Err(_) => OpKind::Err,
        }
    }
}

/// An operation sent by a client (decoded by test servers and fuzzers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`.
    Connect(Box<Connect>),
    /// `PUB` or `HPUB` (then [`Pub::headers`] is `Some`).
    Pub(Pub),
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// The subject (raw, not validated).
        subject: Bytes,
        /// The queue group, if any.
        queue: Option<Bytes>,
        /// The subscription id.
        sid: u64,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// The subscription id.
        sid: u64,
        /// Unsubscribe after this many messages in total.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}

/// A sans-IO decoder of NATS operations. It holds only its [`Limits`]; all state
/// lives in the caller's buffer, so one decoder may serve any number of buffers.
///
/// The contract (the same for both directions):
///
/// * `Ok(None)`: the buffer holds only part of an operation. **Nothing is
///   consumed**; read more bytes into the same buffer and call again.
/// * `Ok(Some(op))`: exactly that operation's bytes (control line, body and the
///   body's CRLF) were split off the front of the buffer. Byte slices in `op` share
///   the buffer's allocation; nothing was copied.
/// * `Err(e)`: the peer broke the grammar. Nothing is consumed either, but the
///   stream cannot be resynchronised: close the connection.
///
/// Sizes are checked as soon as the control line is complete: a line with no CRLF
/// within [`Limits::max_control_line`] bytes (or [`MAX_JSON_LINE`](crate::MAX_JSON_LINE) for `INFO` and
/// `CONNECT`) and a declared body above [`Limits::max_payload`] are errors before the
/// caller buffers (or allocates) anything for them.
///
/// The decoder frames; it does not validate names: subjects, reply subjects and
/// queue groups are the raw bytes received (not even checked as UTF-8), and header
/// blocks are handed over unparsed (see [`crate::headers`]).
///
/// ```
/// use gnat_proto::{Decoder, ServerOp, bytes::BytesMut};
///
/// let decoder = Decoder::default();
/// let mut buf = BytesMut::from(&b"PING\r\nMSG foo 1 5\r\nhel"[..]);
/// assert_eq!(decoder.decode_server(&mut buf)?, Some(ServerOp::Ping));
/// assert_eq!(decoder.decode_server(&mut buf)?, None); // partial: nothing consumed
/// assert_eq!(buf.len(), 16);
/// buf.extend_from_slice(b"lo\r\n");
/// let Some(ServerOp::Msg(msg)) = decoder.decode_server(&mut buf)? else { unreachable!() };
/// assert_eq!((&msg.subject[..], msg.sid, &msg.payload[..]), (&b"foo"[..], 1, &b"hello"[..]));
/// assert!(buf.is_empty());
/// # Ok::<(), gnat_proto::ProtoError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoder {
    limits: Limits,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Decoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes one server → client operation from the front of `buf`. See
    /// [`Decoder`] for the `Ok(None)`/`Ok(Some)`/`Err` contract.
    #[inline]
    pub fn decode_server(&self, buf: &mut BytesMut) -> Result<Option<ServerOp>, ProtoError> {
        let Some(line_len) = find_line(buf, self.limits.max_control_line, b"INFO")? else {
            return Ok(None);
        };
        // The hot path: a `MSG`/`HMSG` as a real server writes it.
        if let Some(msg) = msg::decode_canonical(buf, line_len, self.limits.max_payload) {
            return Ok(msg?.map(ServerOp::Msg));
        }
        self.decode_server_line(buf, line_len)
    }

    /// Decodes by the full grammar alone (the reference the fast path is tested
    /// against).
    #[cfg(test)]
    fn decode_server_general(&self, buf: &mut BytesMut) -> Result<Option<ServerOp>, ProtoError> {
        let Some(line_len) = find_line(buf, self.limits.max_control_line, b"INFO")? else {
            return Ok(None);
        };
        self.decode_server_line(buf, line_len)
    }

    fn decode_server_line(
        &self,
        buf: &mut BytesMut,
        line_len: usize,
    ) -> Result<Option<ServerOp>, ProtoError> {
        let line = buf.get(..line_len).unwrap_or_default();
        let (word, rest) = op_word(line);
        let op = match server_op(word) {
            Some(op @ (OpKind::Msg | OpKind::Hmsg)) => {
                let headers = op == OpKind::Hmsg;
                let head = msg::Head::parse(buf.as_ptr(), rest, headers, self.limits.max_payload)?;
                return Ok(head.finish(buf, line_len)?.map(ServerOp::Msg));
            }
            Some(OpKind::Ping) => no_args(rest, OpKind::Ping, ServerOp::Ping)?,
            Some(OpKind::Pong) => no_args(rest, OpKind::Pong, ServerOp::Pong)?,
            Some(OpKind::Ok) => no_args(rest, OpKind::Ok, ServerOp::Ok)?,
            Some(OpKind::Err) => ServerOp::Err(error_text(rest)),
            Some(OpKind::Info) => ServerOp::Info(Box::new(json(rest, OpKind::Info)?)),
            _ => return Err(ProtoError::UnknownOperation),
        };
        buf.advance(line_len.wrapping_add(2));
        Ok(Some(op))
    }

    /// Decodes one client → server operation from the front of `buf`, with the same
    /// contract as [`decode_server`](Self::decode_server).
    #[inline]
    pub fn decode_client(&self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtoError> {
        let Some(line_len) = find_line(buf, self.limits.max_control_line, b"CONNECT")? else {
            return Ok(None);
        };
        let line = buf.get(..line_len).unwrap_or_default();
        let base = buf.as_ptr();
        let (word, rest) = op_word(line);
        let op = match client_op(word) {
            Some(op @ (OpKind::Pub | OpKind::Hpub)) => {
                let headers = op == OpKind::Hpub;
                let head = publish::parse(base, rest, headers, self.limits.max_payload)?;
                return Ok(publish::finish(head, buf, line_len)?.map(ClientOp::Pub));
            }
            Some(OpKind::Sub) => {
                let head = SubHead::parse(base, rest)?;
                let line = buf.split_to(line_len.wrapping_add(2)).freeze();
                return Ok(Some(head.finish(&line)));
            }
            Some(OpKind::Unsub) => decode_unsub(rest)?,
            Some(OpKind::Ping) => no_args(rest, OpKind::Ping, ClientOp::Ping)?,
            Some(OpKind::Pong) => no_args(rest, OpKind::Pong, ClientOp::Pong)?,
            Some(OpKind::Connect) => ClientOp::Connect(Box::new(json(rest, OpKind::Connect)?)),
            _ => return Err(ProtoError::UnknownOperation),
        };
        buf.advance(line_len.wrapping_add(2));
        Ok(Some(op))
    }
}

/// Recognises a server operation name, in any case.
#[inline]
fn server_op(word: &[u8]) -> Option<OpKind> {
    const OPS: [(&[u8], OpKind); 7] = [
        (b"MSG", OpKind::Msg),
        (b"HMSG", OpKind::Hmsg),
        (b"PING", OpKind::Ping),
        (b"PONG", OpKind::Pong),
        (b"+OK", OpKind::Ok),
        (b"-ERR", OpKind::Err),
        (b"INFO", OpKind::Info),
    ];
    lookup(&OPS, word)
}

/// Recognises a client operation name, in any case.
#[inline]
fn client_op(word: &[u8]) -> Option<OpKind> {
    const OPS: [(&[u8], OpKind); 7] = [
        (b"PUB", OpKind::Pub),
        (b"HPUB", OpKind::Hpub),
        (b"SUB", OpKind::Sub),
        (b"UNSUB", OpKind::Unsub),
        (b"PING", OpKind::Ping),
        (b"PONG", OpKind::Pong),
        (b"CONNECT", OpKind::Connect),
    ];
    lookup(&OPS, word)
}

#[inline]
fn lookup(ops: &[(&[u8], OpKind)], word: &[u8]) -> Option<OpKind> {
    ops.iter()
        .find(|(name, _)| name.len() == word.len() && name.eq_ignore_ascii_case(word))
        .map(|&(_, op)| op)
}

/// An operation that takes no arguments (trailing whitespace is tolerated).
fn no_args<T>(rest: &[u8], op: OpKind, value: T) -> Result<T, ProtoError> {
    match Args::parse(rest).count() {
        0 => Ok(value),
        got => Err(ProtoError::WrongArgumentCount { op, got }),
    }
}

/// The text of `-ERR`, unquoted.
fn error_text(rest: &[u8]) -> String {
    let text = line::trim_end_ws(rest);
    let text = match text {
        [b'\'', inner @ .., b'\''] => inner,
        _ => text,
    };
    String::from_utf8_lossy(text).into_owned()
}

/// The JSON argument of `INFO`/`CONNECT`: an object (serde would also accept an
/// array for a struct, which no peer means to send).
fn json<T: serde::de::DeserializeOwned>(rest: &[u8], op: OpKind) -> Result<T, ProtoError> {
    if rest.first() != Some(&b'{') {
        return Err(ProtoError::InvalidJson { op });
    }
    serde_json::from_slice(rest).map_err(|_| ProtoError::InvalidJson { op })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` both ways (the canonical fast path first, and the general
    /// path alone) and checks that they agree on the result and on what is left.
    fn agree(decoder: &Decoder, input: &[u8]) {
        let mut fast = BytesMut::from(input);
        let mut general = BytesMut::from(input);
        let a = decoder.decode_server(&mut fast);
        let b = decoder.decode_server_general(&mut general);
        assert_eq!(a, b, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(fast, general, "{:?}", String::from_utf8_lossy(input));
    }

    #[test]
    fn the_fast_path_agrees_with_the_grammar() {
        let frames: [&[u8]; 12] = [
            b"MSG foo.bar 9 5\r\nhello\r\n",
            b"MSG foo.bar 9 _INBOX.x.y 5\r\nhello\r\n",
            b"MSG a 1 0\r\n\r\n",
            b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            b"HMSG foo 1 r.1 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            b"HMSG foo 1 r 13 12\r\nNATS/1.0\r\n\r\n\r\n",
            b"MSG  foo 1 1\r\nx\r\n",
            b"MSG foo 1 1 \r\nx\r\n",
            b"MSG\tfoo 1 1\r\nx\r\n",
            b"msg foo 1 1\r\nx\r\n",
            b"MSG foo 18446744073709551616 1\r\nx\r\n",
            b"MSG foo 1 99999\r\n",
        ];
        let decoders = [
            Decoder::default(),
            Decoder::new(Limits {
                max_control_line: 12,
                max_payload: 4,
            }),
        ];
        // Every frame, every prefix of it, and every single-byte mutation of it.
        let mutations = [b' ', b'\t', b'\r', b'\n', b'0', b'9', b'x', b'M'];
        for decoder in &decoders {
            for frame in frames {
                for len in 0..=frame.len() {
                    agree(decoder, frame.get(..len).unwrap_or_default());
                }
                let mut two = frame.to_vec();
                two.extend_from_slice(frame);
                agree(decoder, &two);
                for i in 0..frame.len() {
                    for m in mutations {
                        let mut mutated = frame.to_vec();
                        mutated[i] = m;
                        agree(decoder, &mutated);
                    }
                }
            }
        }
    }
}
