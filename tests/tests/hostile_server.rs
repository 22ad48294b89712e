//! Scenario 4: a server that sends garbage.
//!
//! A scripted fake server, and the fault proxy in front of a real server, send random bytes,
//! oversized declared sizes, truncated frames, unknown operations and invalid INFO JSON — during
//! the handshake and on a live connection. The promise (DESIGN.md, "Peer data is untrusted"): the
//! client reports a clear error (a failed connect with its kind, or a `Disconnected` event that
//! says what was wrong), reconnects, carries on with its subscriptions, and never panics — a
//! panic hook counts panics on every thread, the client's own tasks included.
//!
//! The fuzz target `client_conn` (in `fuzz/`) drives the same state machine with arbitrary bytes.

mod common;

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use client::proto::bytes::BytesMut;
use client::proto::{ClientOp, Decoder, Limits};
use client::{Backoff, Client, ConnectOptions, ErrorKind, Event, Subscription};
use common::xorshift::Xorshift;
use common::{EventLog, is_disconnected, is_reconnected, next, reason, within};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic in the process (then reports it as usual).
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn assert_no_panics() {
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
}

/// `len` deterministic pseudo-random bytes (so a failure can be replayed): mostly random,
/// with CRLFs and NATS-looking words sprinkled in.
fn garbage(rng: &mut Xorshift, len: usize) -> Vec<u8> {
    const WORDS: &[&[u8]] = &[
        b"MSG ",
        b"HMSG ",
        b"INFO ",
        b"PING",
        b"PONG",
        b"+OK",
        b"-ERR ",
        b" 1 ",
        b"\r\n",
        b"NATS/1.0",
        b"{",
        b"}",
        b"999999999999",
    ];
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        match rng.below(8) {
            0 => out.extend_from_slice(WORDS[rng.below(WORDS.len())]),
            _ => out.push(rng.next_u64() as u8),
        }
    }
    out
}

// ---- a scripted server on loopback TCP ----

const INFO: &str = "INFO {\"server_id\":\"FAKE\",\"version\":\"2.11.0\",\"proto\":1,\
                    \"headers\":true,\"max_payload\":1048576}\r\n";

struct Fake {
    listener: TcpListener,
}

struct FakeConn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl Fake {
    async fn start() -> Fake {
        Fake {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("nats://{}", self.listener.local_addr().unwrap())
    }

    async fn accept(&self) -> FakeConn {
        let (stream, _) = within("the client to connect", self.listener.accept())
            .await
            .unwrap();
        FakeConn {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(Limits::default()),
        }
    }

    /// Accepts and completes the handshake (INFO, the client's CONNECT and PING, PONG).
    async fn accept_handshake(&self) -> FakeConn {
        let mut conn = self.accept().await;
        conn.send(INFO.as_bytes()).await;
        conn.until(|op| matches!(op, ClientOp::Ping)).await;
        conn.send(b"PONG\r\n").await;
        conn
    }
}

impl FakeConn {
    async fn send(&mut self, bytes: &[u8]) {
        // The client may already have hung up: that is its business.
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    /// The next operation the client sent (answering its PINGs), or `None` at its EOF.
    async fn next_op(&mut self) -> Option<ClientOp> {
        loop {
            match self.decoder.decode_client(&mut self.buf) {
                Ok(Some(ClientOp::Ping)) => {
                    self.send(b"PONG\r\n").await;
                    return Some(ClientOp::Ping);
                }
                Ok(Some(op)) => return Some(op),
                Ok(None) => {}
                Err(e) => panic!("the client sent invalid protocol: {e}"),
            }
            match within(
                "the client's next operation",
                self.stream.read_buf(&mut self.buf),
            )
            .await
            {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads operations until one matches; panics at EOF.
    async fn until(&mut self, pred: impl Fn(&ClientOp) -> bool) -> ClientOp {
        loop {
            match self.next_op().await {
                Some(op) if pred(&op) => return op,
                Some(_) => {}
                None => panic!("the client hung up"),
            }
        }
    }

    /// Waits for the client to close the connection (it must, after bad data).
    async fn expect_eof(&mut self) {
        while self.next_op().await.is_some() {}
    }
}

/// `SUB <subject> <sid>` as the fake server sees it.
fn is_sub_of(op: &ClientOp, subject: &str) -> Option<u64> {
    match op {
        ClientOp::Sub {
            subject: s, sid, ..
        } if s[..] == *subject.as_bytes() => Some(*sid),
        _ => None,
    }
}

/// Short timeouts, and a backoff that stays short: every connection here is thrown away
/// young, so the backoff does not reset between them (see `Backoff`).
fn quick(opts: ConnectOptions) -> ConnectOptions {
    opts.reconnect_backoff(Backoff {
        base: Duration::from_millis(2),
        max: Duration::from_millis(20),
        jitter: Duration::from_millis(2),
    })
    .connection_timeout(Duration::from_millis(500))
}

async fn connect_err(fake: &Fake, script: &[u8], close: bool) -> client::Error {
    let url = fake.url();
    let connecting = tokio::spawn(async move { quick(ConnectOptions::new()).connect(url).await });
    let mut conn = fake.accept().await;
    conn.send(script).await;
    if close {
        let _ = conn.stream.shutdown().await;
    } else {
        // Answer the CONNECT's PING, if the script got that far, with more of the same.
        let _ = tokio::time::timeout(Duration::from_millis(50), conn.next_op()).await;
    }
    match within("the failing connect", connecting).await.unwrap() {
        Ok(client) => panic!("connect succeeded after {script:?}: {client:?}"),
        Err(e) => e,
    }
}

/// Garbage during the handshake: the first connect fails with a clear kind and message, in
/// bounded time (the first connect is not retried).
#[tokio::test]
async fn garbage_during_the_handshake_fails_the_connect_clearly() {
    count_panics();
    let fake = Fake::start().await;
    let mut huge_info = b"INFO {\"x\":\"".to_vec();
    huge_info.extend(std::iter::repeat_n(b'a', 200 * 1024));
    let cases: Vec<(&str, Vec<u8>, bool, ErrorKind, &str)> = vec![
        // (what, bytes, close after, kind, in the message)
        (
            "invalid INFO JSON",
            b"INFO {not json\r\n".to_vec(),
            false,
            ErrorKind::Protocol,
            "handshake",
        ),
        (
            "random bytes first",
            garbage(&mut Xorshift(7), 300),
            false,
            ErrorKind::Protocol,
            "handshake",
        ),
        (
            "unknown op first",
            b"HELLO there\r\n".to_vec(),
            false,
            ErrorKind::Protocol,
            "handshake",
        ),
        (
            "MSG before INFO",
            b"MSG a 1 2\r\nhi\r\n".to_vec(),
            false,
            ErrorKind::Protocol,
            "expected INFO",
        ),
        (
            "oversized size first",
            b"MSG a 1 99999999999\r\n".to_vec(),
            false,
            ErrorKind::Protocol,
            "handshake",
        ),
        (
            "an INFO line that never ends",
            huge_info,
            false,
            ErrorKind::Protocol,
            "handshake",
        ),
        (
            "truncated INFO, then EOF",
            b"INFO {\"server_id\":".to_vec(),
            true,
            ErrorKind::Io,
            "closed",
        ),
        (
            "nothing, then EOF",
            Vec::new(),
            true,
            ErrorKind::Io,
            "closed",
        ),
        (
            "garbage instead of PONG",
            [INFO.as_bytes(), b"\x00\x01\x02\r\n"].concat(),
            false,
            ErrorKind::Protocol,
            "handshake",
        ),
        (
            "silence",
            Vec::new(),
            false,
            ErrorKind::Timeout,
            "timed out",
        ),
    ];
    for (what, bytes, close, kind, text) in cases {
        let err = connect_err(&fake, &bytes, close).await;
        assert_eq!(err.kind(), kind, "{what}: {err}");
        assert!(
            err.message().contains(text),
            "{what}: {err:?} should mention {text:?}"
        );
    }
    assert_no_panics();
}

/// Garbage on a live connection: the client drops the connection with a reason that says
/// what was wrong, reconnects, restores its subscription and receives again — for a table of
/// hostile frames and 40 rounds of seeded random bytes.
#[tokio::test]
async fn garbage_on_a_live_connection_disconnects_clearly_and_the_client_recovers() {
    count_panics();
    let fake = Fake::start().await;
    let (opts, mut log) = EventLog::options(quick(ConnectOptions::new()));
    let url = fake.url();
    let connecting = tokio::spawn(async move { opts.connect(url).await });
    let mut conn = fake.accept_handshake().await;
    let client = within("connect", connecting).await.unwrap().unwrap();
    let mut sub = client.subscribe("live").await.unwrap();
    let sid = match conn.until(|op| is_sub_of(op, "live").is_some()).await {
        ClientOp::Sub { sid, .. } => sid,
        _ => unreachable!(),
    };

    let mut cases: Vec<(String, Vec<u8>, bool, &str)> = vec![
        // (what, bytes, close after sending, expected in the reason)
        (
            "oversized MSG".into(),
            b"MSG live 1 999999999999\r\n".to_vec(),
            false,
            "bad data",
        ),
        (
            "size overflow".into(),
            b"MSG live 1 99999999999999999999999\r\n".to_vec(),
            false,
            "bad data",
        ),
        (
            "unknown op".into(),
            b"WHAT is this\r\n".to_vec(),
            false,
            "bad data",
        ),
        (
            "invalid INFO JSON".into(),
            b"INFO {\"ldm\":tru\r\n".to_vec(),
            false,
            "bad data",
        ),
        (
            "INFO JSON of the wrong type".into(),
            b"INFO [1,2,3]\r\n".to_vec(),
            false,
            "bad data",
        ),
        (
            "HMSG total < header".into(),
            b"HMSG live 1 12 5\r\nNATS/1.0\r\n\r\n".to_vec(),
            false,
            "bad data",
        ),
        (
            "negative size".into(),
            b"MSG live 1 -5\r\nhello\r\n".to_vec(),
            false,
            "bad data",
        ),
        ("bare LF".into(), b"PING\n".to_vec(), false, "bad data"),
        ("NUL line".into(), b"\0\0\0\r\n".to_vec(), false, "bad data"),
        (
            "a control line without end".into(),
            vec![b'M'; 8 * 1024],
            false,
            "bad data",
        ),
        (
            "truncated MSG, then EOF".into(),
            b"MSG live 1 10\r\nabc".to_vec(),
            true,
            "closed",
        ),
        (
            "fatal -ERR".into(),
            b"-ERR 'Parser Error'\r\n".to_vec(),
            false,
            "Parser Error",
        ),
    ];
    let mut rng = Xorshift(0x5EED_F6A7);
    for round in 0..40 {
        let len = 1 + rng.below(3000);
        cases.push((
            format!("random round {round}"),
            garbage(&mut rng, len),
            true,
            "",
        ));
    }

    let total = cases.len();
    for (i, (what, bytes, close, expect)) in cases.into_iter().enumerate() {
        conn.send(&bytes).await;
        if close {
            let _ = conn.stream.shutdown().await;
        }
        let (_, event) = log
            .wait_for(&format!("Disconnected after {what}"), is_disconnected)
            .await;
        let why = reason(&event);
        assert!(
            why.contains(expect),
            "{what}: reason {why:?} should mention {expect:?}"
        );
        assert!(!why.contains("task failed"), "{what}: {why}");
        conn.expect_eof().await;

        conn = fake.accept_handshake().await;
        log.wait_for("Reconnected", is_reconnected).await;
        conn.until(|op| is_sub_of(op, "live") == Some(sid)).await;
        // Nothing of the garbage was delivered; the next real message is.
        let payload = format!("ok {i}");
        conn.send(format!("MSG live {sid} {}\r\n{payload}\r\n", payload.len()).as_bytes())
            .await;
        assert_eq!(next(&mut sub).await.payload, payload.as_bytes(), "{what}");
    }
    assert_eq!(client.statistics().reconnects, total as u64);
    assert_no_panics();
}

// ---- the proxy corrupting a real server ----

/// A client through the proxy and a publisher straight to the server, with a subscription.
async fn through_proxy(
    server: &NatsServer,
    proxy: &Proxy,
) -> (Client, EventLog, Client, Subscription) {
    let (opts, log) = EventLog::options(quick(ConnectOptions::new()));
    let client = opts.connect(proxy.url()).await.unwrap();
    let publisher = client::connect(server.url()).await.unwrap();
    let sub = client.subscribe("real.>").await.unwrap();
    client.flush().await.unwrap();
    (client, log, publisher, sub)
}

/// After a disconnect: the client is back and receives again.
async fn recovers(
    log: &mut EventLog,
    client: &Client,
    publisher: &Client,
    sub: &mut Subscription,
    n: usize,
) {
    log.wait_for("Reconnected", is_reconnected).await;
    within("flush after reconnect", client.flush())
        .await
        .unwrap();
    let payload = format!("after {n}");
    publisher.publish("real.ok", payload.clone()).await.unwrap();
    // Messages from before the disconnect may still be queued: skip to this one.
    loop {
        if next(sub).await.payload == payload.as_bytes() {
            break;
        }
    }
}

/// Bytes of a real server's stream corrupted in flight, and hostile frames injected into it:
/// each costs the connection with a clear reason, and the client recovers every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_stream_corrupted_in_flight() {
    count_panics();
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let (client, mut log, publisher, mut sub) = through_proxy(&server, &proxy).await;

    // The next MSG's control line is corrupted: its operation name no longer parses.
    proxy.corrupt_next(12);
    publisher.publish("real.x", "corrupt me").await.unwrap();
    let (_, event) = log
        .wait_for("Disconnected after corruption", is_disconnected)
        .await;
    assert!(
        reason(&event).contains("bad data from the server"),
        "{event:?}"
    );
    recovers(&mut log, &client, &publisher, &mut sub, 0).await;

    let injected: &[(&str, &[u8])] = &[
        ("oversized MSG", b"MSG real.x 1 99999999999\r\n"),
        ("unknown op", b"GARBAGE\r\n"),
        ("invalid INFO JSON", b"INFO {]\r\n"),
        (
            "random bytes",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n",
        ),
        (
            "HMSG total < header",
            b"HMSG real.x 1 12 5\r\nNATS/1.0\r\n\r\n",
        ),
    ];
    for (i, (what, bytes)) in injected.iter().enumerate() {
        assert_eq!(proxy.inject_to_client(bytes), 1, "{what}");
        let (_, event) = log
            .wait_for(&format!("Disconnected after {what}"), is_disconnected)
            .await;
        assert!(
            reason(&event).contains("bad data from the server"),
            "{what}: {event:?}"
        );
        recovers(&mut log, &client, &publisher, &mut sub, i + 1).await;
    }
    assert_eq!(client.statistics().reconnects, 1 + injected.len() as u64);
    assert!(
        !log.poll().iter().any(|e| matches!(e, Event::Closed)),
        "the client never gave up"
    );
    assert_no_panics();
}
