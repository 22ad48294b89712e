//! The client side of RFC 6455 WebSocket, just what NATS over `ws://` / `wss://` needs: the
//! opening handshake (RFC 6455 §4.1: `Sec-WebSocket-Key`, and the server's
//! `Sec-WebSocket-Accept` = base64(SHA-1(key + GUID)) checked), then a byte stream whose
//! writes go out as masked binary frames (§5.3) and whose reads take the payload of the
//! server's data frames, fragmented or not (§5.4), answering pings with pongs and a close with
//! a close (§5.5). No extensions are offered, so the server sends no compressed frames.
//!
//! Peer bytes are untrusted: a frame header is at most 14 bytes, control frames at most 125,
//! and data payloads are streamed to the reader, never buffered whole.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::rng::Rng;

/// RFC 6455 §1.3: appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The longest HTTP response head accepted.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// Frames queued for the socket beyond which writes wait.
const MAX_QUEUED: usize = 1 << 20;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// The `Sec-WebSocket-Accept` a server must answer `key` with.
pub(crate) fn accept_for(key: &str) -> String {
    let mut input = Vec::with_capacity(key.len() + GUID.len());
    input.extend_from_slice(key.as_bytes());
    input.extend_from_slice(GUID.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    crate::auth::base64_std_encode(digest.as_ref())
}

/// Runs the opening handshake over `io` for `host:port` (the `Host` header) and returns the
/// WebSocket stream.
pub(crate) async fn connect<S>(mut io: S, host_port: &str) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rng = Rng::new();
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    nonce[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let key = crate::auth::base64_std_encode(&nonce);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    io.write_all(request.as_bytes()).await?;
    io.flush().await?;

    let mut buf = BytesMut::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_RESPONSE_HEAD {
            return Err(bad("websocket handshake: response head too long"));
        }
        buf.reserve(4096);
        if io.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "websocket handshake: the server closed the connection",
            ));
        }
    };
    let head = buf.split_to(head_end);
    let head = std::str::from_utf8(&head).map_err(|_| bad("websocket handshake: not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.split(' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) || parts.next() != Some("101") {
        return Err(bad(format!(
            "websocket handshake refused: {:?}",
            status.chars().take(100).collect::<String>()
        )));
    }
    let mut accept = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("sec-websocket-accept") {
                accept = Some(value.trim());
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                return Err(bad("websocket handshake: an extension was not asked for"));
            }
        }
    }
    if accept != Some(accept_for(&key).as_str()) {
        return Err(bad(
            "websocket handshake: missing or wrong Sec-WebSocket-Accept",
        ));
    }
    Ok(WsStream::new(io, buf, rng))
}

/// Where the reader is in the server's frames.
enum ReadState {
    /// Expecting a frame header.
    Header,
    /// Inside a data frame's payload: this much is left.
    Data(u64),
    /// A control frame: its opcode and payload length (≤ 125), read once all of it is here.
    Control(u8, usize),
}

/// A WebSocket connection as a byte stream (see the module docs).
pub(crate) struct WsStream<S> {
    io: S,
    /// Bytes read from the socket, not yet taken.
    rbuf: BytesMut,
    read: ReadState,
    /// A fragmented message is under way (continuation frames expected).
    in_message: bool,
    /// Whole frames waiting for the socket (data, pongs, close).
    out: BytesMut,
    rng: Rng,
    /// A close frame was received (reads end) or sent.
    closed: bool,
    /// What socket reads go into before they are appended to `rbuf`.
    scratch: Box<[u8]>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// A stream over `io` after the handshake; `leftover` was read past the response head.
    fn new(io: S, leftover: BytesMut, rng: Rng) -> Self {
        WsStream {
            io,
            rbuf: leftover,
            read: ReadState::Header,
            in_message: false,
            out: BytesMut::new(),
            rng,
            closed: false,
            scratch: vec![0u8; 64 * 1024].into_boxed_slice(),
        }
    }

    /// Appends one masked frame (client frames are always masked, §5.3).
    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.out.reserve(payload.len() + 14);
        self.out.put_u8(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            self.out.put_u8(0x80 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.out.put_u8(0x80 | 126);
            self.out.put_u16(len);
        } else {
            self.out.put_u8(0x80 | 127);
            self.out.put_u64(len as u64);
        }
        let mask = (self.rng.next_u64() as u32).to_be_bytes();
        self.out.put_slice(&mask);
        let start = self.out.len();
        self.out.put_slice(payload);
        for (i, b) in self.out[start..].iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
    }

    /// Writes queued frames until done or the socket would block.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.io).poll_write(cx, &self.out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Parses a frame header from `rbuf` if all of it is there.
    fn parse_header(&mut self) -> io::Result<bool> {
        let b = &self.rbuf[..];
        if b.len() < 2 {
            return Ok(false);
        }
        let (b0, b1) = (b[0], b[1]);
        if b0 & 0x70 != 0 {
            return Err(bad(
                "websocket: reserved bits set (no extension was agreed)",
            ));
        }
        if b1 & 0x80 != 0 {
            return Err(bad("websocket: the server masked a frame"));
        }
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        let (len, header) = match b1 & 0x7f {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            126 | 127 => return Ok(false),
            n => (u64::from(n), 2),
        };
        self.rbuf.advance(header);
        match opcode {
            OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                let continuation = opcode == OP_CONTINUATION;
                if continuation != self.in_message {
                    return Err(bad(
                        "websocket: unexpected continuation or interleaved message",
                    ));
                }
                self.in_message = !fin;
                self.read = ReadState::Data(len);
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin || len > 125 {
                    return Err(bad("websocket: fragmented or oversized control frame"));
                }
                self.read = ReadState::Control(opcode, len as usize);
            }
            other => return Err(bad(format!("websocket: unknown opcode {other:#x}"))),
        }
        Ok(true)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.out.is_empty() {
                // A pong or close queued by an earlier read; the writer's flush sends it
                // otherwise.
                if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                    return Poll::Ready(Err(e));
                }
            }
            if this.closed {
                return Poll::Ready(Ok(()));
            }
            match this.read {
                ReadState::Data(0) => {
                    this.read = ReadState::Header;
                    continue;
                }
                ReadState::Data(left) if !this.rbuf.is_empty() => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(this.rbuf.len())
                        .min(buf.remaining());
                    buf.put_slice(&this.rbuf[..n]);
                    this.rbuf.advance(n);
                    this.read = ReadState::Data(left - n as u64);
                    return Poll::Ready(Ok(()));
                }
                ReadState::Control(op, len) if this.rbuf.len() >= len => {
                    let payload = this.rbuf.split_to(len);
                    this.read = ReadState::Header;
                    match op {
                        OP_PING => this.queue_frame(OP_PONG, &payload),
                        OP_CLOSE => {
                            // Echo the status code (§5.5.1), then the stream ends.
                            let code = payload.get(..2).unwrap_or(&[]).to_vec();
                            this.queue_frame(OP_CLOSE, &code);
                            this.closed = true;
                            let _ = this.poll_drain(cx);
                            return Poll::Ready(Ok(()));
                        }
                        _ => {}
                    }
                    continue;
                }
                _ => {}
            }
            if matches!(this.read, ReadState::Header) && this.parse_header()? {
                continue;
            }
            // More bytes needed: read into the scratch buffer (no unsafe code for spare
            // capacity), then append.
            let n = {
                let mut rb = ReadBuf::new(&mut this.scratch);
                std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
                rb.filled().len()
            };
            if n == 0 {
                // EOF: the reader sees the end.
                return Poll::Ready(Ok(()));
            }
            this.rbuf.extend_from_slice(&this.scratch[..n]);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.len() >= MAX_QUEUED {
            std::task::ready!(this.poll_drain(cx))?;
        }
        if this.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let n = data.len().min(MAX_QUEUED);
        this.queue_frame(OP_BINARY, &data[..n]);
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closed {
            this.closed = true;
            this.queue_frame(OP_CLOSE, &1000u16.to_be_bytes());
        }
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[test]
    fn accept_key_of_rfc_6455() {
        // RFC 6455 §1.3's example.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    /// A server frame (unmasked).
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        if payload.len() < 126 {
            f.push(payload.len() as u8);
        } else {
            f.push(126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    /// Decodes the client's masked frames: (opcode, payload).
    fn unmask(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while b.len() >= 2 {
            let opcode = b[0] & 0x0f;
            assert_eq!(b[1] & 0x80, 0x80, "client frames are masked");
            let (len, mut at) = match b[1] & 0x7f {
                126 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 => (
                    usize::try_from(u64::from_be_bytes(b[2..10].try_into().unwrap())).unwrap(),
                    10,
                ),
                n => (usize::from(n), 2),
            };
            let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            at += 4;
            let payload = b[at..at + len]
                .iter()
                .enumerate()
                .map(|(i, x)| x ^ mask[i & 3])
                .collect();
            out.push((opcode, payload));
            b = &b[at + len..];
        }
        out
    }

    #[tokio::test]
    async fn frames_both_ways_with_fragments_ping_and_close() {
        let (client, mut server) = duplex(1 << 20);
        let mut ws = WsStream::new(client, BytesMut::new(), Rng::from_seed(7));
        ws.write_all(b"PUB a 2\r\nhi\r\n").await.unwrap();
        ws.write_all(&vec![b'x'; 70_000]).await.unwrap();
        ws.flush().await.unwrap();
        let mut wire = vec![0u8; 200_000];
        let n = server.read(&mut wire).await.unwrap();
        let mut got = unmask(&wire[..n]);
        while got.len() < 2 {
            let m = server.read(&mut wire).await.unwrap();
            got = unmask(&[&wire[..n], &wire[..m]].concat());
        }
        assert_eq!(got[0], (OP_BINARY, b"PUB a 2\r\nhi\r\n".to_vec()));
        assert_eq!(got[1].1.len(), 70_000);

        // A message in three fragments with a ping in between, then a close.
        let mut script = frame(false, OP_BINARY, b"INFO ");
        script.extend(frame(true, OP_PING, b"p1"));
        script.extend(frame(false, OP_CONTINUATION, &[b'y'; 300]));
        script.extend(frame(true, OP_CONTINUATION, b"\r\n"));
        script.extend(frame(true, OP_CLOSE, &1001u16.to_be_bytes()));
        server.write_all(&script).await.unwrap();
        let mut text = Vec::new();
        ws.read_to_end(&mut text).await.unwrap();
        let mut want = b"INFO ".to_vec();
        want.extend_from_slice(&[b'y'; 300]);
        want.extend_from_slice(b"\r\n");
        assert_eq!(text, want);
        let n = server.read(&mut wire).await.unwrap();
        let replies = unmask(&wire[..n]);
        assert_eq!(replies[0], (OP_PONG, b"p1".to_vec()));
        assert_eq!(replies[1], (OP_CLOSE, 1001u16.to_be_bytes().to_vec()));
    }

    #[tokio::test]
    async fn bad_server_frames_are_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0x82, 0x81, 1, 2, 3, 4, 0], // masked by the server
            vec![0xC2, 0x00],                // reserved bit (no extension agreed)
            vec![0x83, 0x00],                // unknown opcode
            frame(false, OP_PING, b""),      // fragmented control frame
            {
                let mut f = vec![0x89, 126, 0, 200];
                f.extend_from_slice(&[0; 200]);
                f
            }, // oversized control frame
            frame(true, OP_CONTINUATION, b"x"), // continuation without a start
        ];
        for bytes in cases {
            let (client, mut server) = duplex(4096);
            let mut ws = WsStream::new(client, BytesMut::new(), Rng::from_seed(1));
            server.write_all(&bytes).await.unwrap();
            let mut buf = [0u8; 64];
            let err = ws.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bytes:?}");
        }
    }
}
