//! A scripted NATS server on an in-memory pipe: the test decides every byte the client
//! receives and reads every operation the client sends, decoded with `gnat_client::proto`.
//!
//! Each [`FakeServer`] has a made-up loopback address (`127.0.0.1:<n>`, never bound); clients
//! reach it through the `custom_transport` hook of [`options`], which hands the client one end
//! of a `tokio::io::duplex` pipe and the server the other. No socket is opened, so the tests
//! run on a paused clock (`#[tokio::test(start_paused = true)]`): timeouts, backoff and ping
//! intervals pass in virtual time, in milliseconds, and never race the machine's load.
//!
//! Include it with `#[path = "common/fake.rs"] mod fake;`. Every wait has a deadline
//! ([`DEADLINE`], virtual time); nothing sleeps for a fixed time.
//!
//! ```ignore
//! let server = FakeServer::start().await;
//! let (client, mut conn, connect) = server.connect(fake::options()).await;
//! client.publish("a", "x").await?;
//! assert_eq!(conn.read_line().await, "PUB a x");
//! ```

#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use gnat_client::proto::bytes::{Bytes, BytesMut};
use gnat_client::proto::{self, ClientOp, Connect, Decoder, Info, Limits};
use gnat_client::{Client, ConnectOptions, Event, Events};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// The longest any single expected thing may take. Generous: it only bounds failures.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// How many bytes a pipe holds in each direction before the writer waits (about what loopback
/// TCP buffers).
const PIPE_CAPACITY: usize = 4 * 1024 * 1024;

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// The fake servers that accept connections now, by port.
static LISTENING: Mutex<Option<HashMap<u16, mpsc::UnboundedSender<DuplexStream>>>> =
    Mutex::new(None);

/// Ports are made up, one per fake server of the test binary.
static NEXT_PORT: AtomicU16 = AtomicU16::new(40_000);

fn listening<T>(f: impl FnOnce(&mut HashMap<u16, mpsc::UnboundedSender<DuplexStream>>) -> T) -> T {
    let mut guard = LISTENING.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

/// Opens a pipe to the fake server at `host_port`, or fails like a refused TCP connection.
fn dial(host_port: &str) -> std::io::Result<DuplexStream> {
    let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let port: u16 = host_port
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(refused)?;
    let (client_end, server_end) = tokio::io::duplex(PIPE_CAPACITY);
    listening(|servers| {
        let accept = servers.get(&port).ok_or_else(refused)?;
        accept.send(server_end).map_err(|_| refused())
    })?;
    Ok(client_end)
}

/// Connect options whose connections go to the fake servers (over in-memory pipes).
pub(crate) fn options() -> ConnectOptions {
    over_pipes(ConnectOptions::new())
}

/// `opts` with its connections going to the fake servers.
pub(crate) fn over_pipes(opts: ConnectOptions) -> ConnectOptions {
    opts.custom_transport(|host_port| {
        let pipe = dial(&host_port);
        async move { pipe }
    })
}

/// A fake server at `127.0.0.1:<made-up port>`, accepting pipes until it is dropped (then
/// connecting to it fails as if refused).
pub(crate) struct FakeServer {
    port: u16,
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<DuplexStream>>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        listening(|servers| servers.remove(&self.port));
    }
}

impl FakeServer {
    /// Starts listening at a new address.
    pub(crate) async fn start() -> FakeServer {
        let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        listening(|servers| servers.insert(port, tx));
        FakeServer {
            port,
            incoming: tokio::sync::Mutex::new(rx),
        }
    }

    /// `127.0.0.1:<port>`, as the client names servers in its events.
    pub(crate) fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `nats://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("nats://{}", self.host_port())
    }

    /// The INFO this server sends by default: protocol 1, headers, 1 MiB max payload.
    pub(crate) fn info(&self) -> Info {
        Info {
            server_id: format!("FAKE{}", self.port),
            server_name: "fake".to_string(),
            version: "2.10.0".to_string(),
            host: "127.0.0.1".to_string(),
            port: self.port,
            proto: 1,
            headers: true,
            max_payload: 1024 * 1024,
            ..Info::default()
        }
    }

    /// Accepts the next connection (the client connects, or reconnects).
    pub(crate) async fn accept(&self) -> FakeConn {
        let stream = within("the client to connect", async {
            self.incoming.lock().await.recv().await
        })
        .await
        .expect("the listener is open while the server lives");
        FakeConn::new(stream)
    }

    /// Accepts the next connection and completes the handshake with the default INFO.
    pub(crate) async fn accept_handshake(&self) -> (FakeConn, Connect) {
        let mut conn = self.accept().await;
        let connect = conn.handshake(&self.info()).await;
        (conn, connect)
    }

    /// Connects a client with `opts` (over a pipe to this server) and completes the
    /// handshake.
    pub(crate) async fn connect(&self, opts: ConnectOptions) -> (Client, FakeConn, Connect) {
        let (client, (conn, connect)) = tokio::join!(
            within("connect", over_pipes(opts).connect(self.url())),
            self.accept_handshake()
        );
        (client.expect("connect"), conn, connect)
    }
}

/// One accepted connection, seen from the server side.
pub(crate) struct FakeConn {
    stream: DuplexStream,
    buf: BytesMut,
    decoder: Decoder,
}

/// What a bounded read found.
#[derive(Debug)]
pub(crate) enum Read {
    /// A whole client operation (and its exact bytes when asked for).
    Op(ClientOp, Bytes),
    /// The client closed the connection (after everything before was read).
    Eof,
    /// Nothing complete arrived in time.
    Nothing,
}

impl FakeConn {
    fn new(stream: DuplexStream) -> FakeConn {
        FakeConn {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            decoder: Decoder::new(Limits::default()),
        }
    }

    /// Writes `bytes` and flushes them to the client.
    pub(crate) async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        within("a write to the client", async {
            self.stream.write_all(bytes.as_ref()).await?;
            self.stream.flush().await
        })
        .await
        .expect("write to the client");
    }

    /// Writes `bytes` and ignores failures (the client may already have gone).
    pub(crate) async fn send_lossy(&mut self, bytes: impl AsRef<[u8]>) {
        let _ = tokio::time::timeout(DEADLINE, async {
            self.stream.write_all(bytes.as_ref()).await?;
            self.stream.flush().await
        })
        .await;
    }

    /// Sends `INFO <json>`.
    pub(crate) async fn send_info(&mut self, info: &Info) {
        let mut b = BytesMut::new();
        proto::encode_info(&mut b, info);
        self.send(b).await;
    }

    /// Sends `MSG subject sid [reply] len`.
    pub(crate) async fn send_msg(
        &mut self,
        subject: &str,
        sid: u64,
        reply: Option<&str>,
        payload: &[u8],
    ) {
        self.send(msg(subject, sid, reply, payload)).await;
    }

    /// Sends `HMSG` with a raw header block.
    pub(crate) async fn send_hmsg(
        &mut self,
        subject: &str,
        sid: u64,
        reply: Option<&str>,
        headers: &[u8],
        payload: &[u8],
    ) {
        self.send(hmsg(subject, sid, reply, headers, payload)).await;
    }

    /// Sends `-ERR '<text>'`.
    pub(crate) async fn send_err(&mut self, text: &str) {
        let mut b = BytesMut::new();
        proto::encode_err(&mut b, text).expect("error text");
        self.send(b).await;
    }

    /// Sends `PING`.
    pub(crate) async fn send_ping(&mut self) {
        self.send(b"PING\r\n").await;
    }

    /// Sends `PONG`.
    pub(crate) async fn send_pong(&mut self) {
        self.send(b"PONG\r\n").await;
    }

    /// Reads until one whole operation is buffered, the client closes, or `wait` passes.
    /// A decode error fails the test: the client must never send malformed bytes.
    pub(crate) async fn read_within(&mut self, wait: Duration) -> Read {
        self.read_inner(wait, false).await
    }

    /// Like [`FakeConn::read_within`]; with `raw` the operation's exact bytes are copied out
    /// (otherwise they are empty).
    async fn read_inner(&mut self, wait: Duration, raw: bool) -> Read {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let before = if raw {
                self.buf.clone()
            } else {
                BytesMut::new()
            };
            let before_len = self.buf.len();
            match self.decoder.decode_client(&mut self.buf) {
                Ok(Some(op)) => {
                    let used = before_len - self.buf.len();
                    let bytes = if raw {
                        before.freeze().slice(..used)
                    } else {
                        Bytes::new()
                    };
                    return Read::Op(op, bytes);
                }
                Ok(None) => {}
                Err(e) => panic!(
                    "the client sent bytes that do not decode: {e} in {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
            self.buf.reserve(16 * 1024);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Read::Nothing,
                Ok(Ok(0)) => {
                    assert!(
                        self.buf.is_empty(),
                        "the client closed in the middle of an operation: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    );
                    return Read::Eof;
                }
                Ok(Ok(_)) => {}
                // A reset after the client dropped the socket counts as closing.
                Ok(Err(_)) => return Read::Eof,
            }
        }
    }

    /// The next operation and its exact bytes; fails on EOF or after [`DEADLINE`].
    pub(crate) async fn read_frame(&mut self) -> (ClientOp, Bytes) {
        match self.read_inner(DEADLINE, true).await {
            Read::Op(op, raw) => (op, raw),
            Read::Eof => panic!("the client closed the connection while an operation was expected"),
            Read::Nothing => panic!("no operation from the client within {DEADLINE:?}"),
        }
    }

    /// The next operation.
    pub(crate) async fn read_op(&mut self) -> ClientOp {
        match self.read_within(DEADLINE).await {
            Read::Op(op, _) => op,
            Read::Eof => panic!("the client closed the connection while an operation was expected"),
            Read::Nothing => panic!("no operation from the client within {DEADLINE:?}"),
        }
    }

    /// The next operation, described in one line (see [`describe`]).
    pub(crate) async fn read_line(&mut self) -> String {
        describe(&self.read_op().await)
    }

    /// Reads operations until one whose description starts with `prefix`; returns all of
    /// them, the match last.
    pub(crate) async fn read_until(&mut self, prefix: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self.read_line().await;
            let done = line.starts_with(prefix);
            seen.push(line);
            if done {
                return seen;
            }
            assert!(seen.len() < 100_000, "no {prefix:?} from the client");
        }
    }

    /// Expects `CONNECT` and returns its JSON.
    pub(crate) async fn expect_connect(&mut self) -> Connect {
        match self.read_op().await {
            ClientOp::Connect(c) => *c,
            other => panic!("expected CONNECT, got {}", describe(&other)),
        }
    }

    /// Expects `PING`.
    pub(crate) async fn expect_ping(&mut self) {
        let line = self.read_line().await;
        assert_eq!(line, "PING");
    }

    /// Expects `PONG`.
    pub(crate) async fn expect_pong(&mut self) {
        let line = self.read_line().await;
        assert_eq!(line, "PONG");
    }

    /// Expects a publish and returns it.
    pub(crate) async fn expect_pub(&mut self) -> proto::Pub {
        match self.read_op().await {
            ClientOp::Pub(p) => p,
            other => panic!("expected PUB, got {}", describe(&other)),
        }
    }

    /// Sends INFO, expects `CONNECT` then `PING`, answers `PONG`; returns the CONNECT.
    pub(crate) async fn handshake(&mut self, info: &Info) -> Connect {
        self.send_info(info).await;
        let connect = self.expect_connect().await;
        self.expect_ping().await;
        self.send_pong().await;
        connect
    }

    /// Waits for the client to close the connection; returns what it sent before.
    pub(crate) async fn expect_eof(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.read_within(DEADLINE).await {
                Read::Op(op, _) => seen.push(describe(&op)),
                Read::Eof => return seen,
                Read::Nothing => {
                    panic!("the client did not close the connection; it sent {seen:?}")
                }
            }
        }
    }

    /// Answers every `PING` with `PONG` and collects everything else, until the client closes.
    pub(crate) async fn serve_until_eof(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.read_within(DEADLINE).await {
                Read::Op(ClientOp::Ping, _) => self.send_lossy(b"PONG\r\n").await,
                Read::Op(op, _) => seen.push(describe(&op)),
                Read::Eof => return seen,
                Read::Nothing => {
                    panic!("the client did not close the connection; it sent {seen:?}")
                }
            }
        }
    }

    /// Closes the connection (the client sees EOF).
    pub(crate) async fn close(mut self) {
        self.shutdown().await;
    }

    /// Shuts down the sending side (the client sees EOF) but keeps reading possible.
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// The bytes of `MSG subject sid [reply] len\r\npayload\r\n`.
pub(crate) fn msg(subject: &str, sid: u64, reply: Option<&str>, payload: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    proto::encode_msg(&mut b, subject, sid, reply, None, payload).expect("valid MSG");
    b
}

/// The bytes of an `HMSG` with a raw header block.
pub(crate) fn hmsg(
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    headers: &[u8],
    payload: &[u8],
) -> BytesMut {
    let mut b = BytesMut::new();
    proto::encode_msg(&mut b, subject, sid, reply, Some(headers), payload).expect("valid HMSG");
    b
}

/// One line per client operation, for readable assertions:
/// `CONNECT`, `PING`, `PONG`, `SUB subj [queue] sid`, `UNSUB sid [max]`,
/// `PUB subj [reply] payload` (`HPUB subj [reply] <headers> payload` with headers; the payload
/// as lossy UTF-8).
pub(crate) fn describe(op: &ClientOp) -> String {
    let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    match op {
        ClientOp::Connect(_) => "CONNECT".to_string(),
        ClientOp::Ping => "PING".to_string(),
        ClientOp::Pong => "PONG".to_string(),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => match queue {
            Some(q) => format!("SUB {} {} {sid}", s(subject), s(q)),
            None => format!("SUB {} {sid}", s(subject)),
        },
        ClientOp::Unsub { sid, max } => match max {
            Some(m) => format!("UNSUB {sid} {m}"),
            None => format!("UNSUB {sid}"),
        },
        ClientOp::Pub(p) => {
            let mut line = if p.headers.is_some() {
                "HPUB ".to_string()
            } else {
                "PUB ".to_string()
            };
            line.push_str(&s(&p.subject));
            if let Some(r) = &p.reply {
                line.push(' ');
                line.push_str(&s(r));
            }
            if let Some(h) = &p.headers {
                line.push_str(&format!(" <{}>", s(h).trim_end()));
            }
            line.push(' ');
            line.push_str(&s(&p.payload));
            line
        }
    }
}

/// The next event, within [`DEADLINE`].
pub(crate) async fn next_event(events: &mut Events) -> Event {
    within("a client event", events.next())
        .await
        .expect("the event stream ended")
}

/// Skips events until one matches `pred`; returns the skipped ones and the match.
pub(crate) async fn wait_event(
    events: &mut Events,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> (Vec<Event>, Event) {
    let mut skipped = Vec::new();
    let found = within(what, async {
        loop {
            let e = events.next().await.expect("the event stream ended");
            if pred(&e) {
                return e;
            }
            skipped.push(e);
        }
    })
    .await;
    (skipped, found)
}

/// Events already emitted and not yet read, without waiting.
pub(crate) fn drain_events(events: &mut Events) -> Vec<Event> {
    use futures_util::FutureExt;
    let mut out = Vec::new();
    while let Some(Some(e)) = events.next().now_or_never() {
        out.push(e);
    }
    out
}
