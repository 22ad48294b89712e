//! The client's connection state machine driven by arbitrary server bytes.
//!
//! One input is one client's life, on a current-thread runtime with the clock paused (timers —
//! pings, backoff, timeouts — fire as soon as everything is idle, so a life takes microseconds):
//!
//! 1. The client connects through `ConnectOptions::custom_transport` to a scripted server on a
//!    `tokio::io::duplex` pipe: a valid `INFO`, then `PONG` to the client's `CONNECT` + `PING`.
//! 2. The client subscribes, publishes and starts a request. The server then sends the input
//!    (after its first two bytes, which pick where to cut it) in up to three pieces, letting
//!    the client run between them, and afterwards keeps answering `PING`s.
//! 3. Checked: no panic anywhere (libFuzzer's panic hook aborts, also for panics in the client's
//!    own tasks); the life ends within a bounded virtual time; after the input the client
//!    works — a flush succeeds, on the same connection or after a reconnect (every later
//!    connection gets a well-behaved server) — the request ends one way or another and leaves
//!    no entry behind, `close` closes, and everything the client wrote decodes as valid client
//!    operations.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use gnat_client::proto::bytes::BytesMut;
use gnat_client::proto::{self, ClientOp, Decoder, Info, Limits};
use gnat_client::{Backoff, ConnectOptions, ErrorKind, State, SubscriptionLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;

/// Longest (virtual) life of one input: far beyond every timer the options below set.
const LIFETIME: Duration = Duration::from_secs(600);
/// Bytes the in-memory pipe holds each way.
const PIPE: usize = 1 << 20;

/// Runs one input (see the module docs).
pub fn check(data: &[u8]) {
    thread_local! {
        // One runtime for every input: building one costs more than a short life. Each life
        // waits for every task it started, so nothing carries over to the next input.
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
    }
    RUNTIME.with(|rt| {
        rt.block_on(async {
            if tokio::time::timeout(LIFETIME, life(data)).await.is_err() {
                panic!("the client's life did not end within {LIFETIME:?} (virtual time)");
            }
        })
    });
}

/// The server's `INFO` line (a plain, current server), encoded once.
fn info_line() -> &'static [u8] {
    static LINE: OnceLock<Vec<u8>> = OnceLock::new();
    LINE.get_or_init(|| {
        let mut out = BytesMut::new();
        proto::encode_info(&mut out, &info());
        out.to_vec()
    })
}

fn info() -> Info {
    Info {
        server_id: "FUZZ".to_string(),
        server_name: "fuzz".to_string(),
        version: "2.11.0".to_string(),
        host: "fuzz.invalid".to_string(),
        port: 4222,
        proto: 1,
        headers: true,
        max_payload: 1 << 20,
        ..Info::default()
    }
}

/// What the scripted server sends after the handshake.
struct Script {
    /// Sent one after the other, with the client running in between.
    pieces: Vec<Vec<u8>>,
    /// Told once every byte was written (or the client hung up first).
    sent: oneshot::Sender<()>,
}

async fn life(data: &[u8]) {
    let pieces = cut(data);
    let (sent, all_sent) = oneshot::channel();
    let (client_end, server_end) = tokio::io::duplex(PIPE);
    let servers = Arc::new(Mutex::new(vec![tokio::spawn(serve(
        server_end,
        Some(Script { pieces, sent }),
    ))]));
    // The first connection gets the fuzzed server; every later one a well-behaved server.
    let first = Arc::new(Mutex::new(Some(client_end)));
    let started = servers.clone();
    let opts = ConnectOptions::new()
        .custom_transport(move |_host_port| {
            let first = lock(&first).take();
            let io = first.unwrap_or_else(|| {
                let (client_end, server_end) = tokio::io::duplex(PIPE);
                lock(&started).push(tokio::spawn(serve(server_end, None)));
                client_end
            });
            async move { Ok(io) }
        })
        .ping_interval(Duration::from_secs(1))
        .max_pings_outstanding(2)
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(1))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_secs(1),
            jitter: Duration::from_millis(10),
        })
        .subscription_limits(SubscriptionLimits {
            messages: 16,
            bytes: 4096,
        })
        .max_control_line(512);
    let client = opts
        .connect("nats://fuzz.invalid:4222")
        .await
        .expect("the handshake with the scripted server");

    let sub = client.subscribe("fz.>").await.expect("subscribe");
    client.publish("fz.a", "hello").await.expect("publish");
    let requester = {
        let client = client.clone();
        tokio::spawn(async move { client.request("fz.req", "q").await })
    };
    // Until the whole input is out (or the client hung up on it).
    let _ = all_sent.await;

    // The client recovers: on this connection, or on a new one after it dropped this one.
    loop {
        match client.flush().await {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::Disconnected => {}
            Err(e) => panic!("flush after the input: {e}"),
        }
    }
    assert_eq!(client.state(), State::Connected);
    let _ = requester.await.expect("the request task");
    assert_eq!(
        client.pending_requests(),
        0,
        "the request left its entry behind"
    );
    match client.publish("fz.b", "after").await {
        // A fuzzed INFO may have lowered max_payload on a connection that is still up.
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::MaxPayloadExceeded => {}
        Err(e) => panic!("publish after the input: {e}"),
    }
    drop(sub);
    client.close().await;
    assert_eq!(client.state(), State::Closed);
    drop(client);
    // Every scripted server ends once its client side is gone.
    let servers = std::mem::take(&mut *lock(&servers));
    for server in servers {
        server.await.expect("a scripted server");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The input after its first two bytes, cut in up to three pieces at the positions those two
/// bytes give (as fractions of the rest's length).
fn cut(data: &[u8]) -> Vec<Vec<u8>> {
    let (at, rest) = match data {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => return vec![data.to_vec()],
    };
    let pos = |x: u8| rest.len() * usize::from(x) / 255;
    let (a, b) = (pos(at.0.min(at.1)), pos(at.0.max(at.1)));
    [&rest[..a], &rest[a..b], &rest[b..]]
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A scripted server: INFO, PONG for the handshake's PING, then `script` (if any), then PONG
/// for every PING until the client hangs up.
async fn serve(mut io: DuplexStream, script: Option<Script>) {
    if io.write_all(info_line()).await.is_err() {
        return;
    }
    let decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(4096);
    // The handshake: CONNECT, then PING.
    if !next_ping(&mut io, &decoder, &mut buf).await || io.write_all(b"PONG\r\n").await.is_err() {
        return;
    }
    if let Some(script) = script {
        for piece in &script.pieces {
            if io.write_all(piece).await.is_err() {
                break;
            }
            // Let the client read and decode this piece before the next one arrives.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
        }
        let _ = script.sent.send(());
    }
    while next_ping(&mut io, &decoder, &mut buf).await {
        if io.write_all(b"PONG\r\n").await.is_err() {
            return;
        }
    }
}

/// Reads client operations until a PING (true) or the end of the stream (false). Whatever the
/// server sent, the client only ever sends valid operations: anything else is a finding.
async fn next_ping(io: &mut DuplexStream, decoder: &Decoder, buf: &mut BytesMut) -> bool {
    loop {
        match decoder.decode_client(buf) {
            Ok(Some(ClientOp::Ping)) => return true,
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => panic!("the client sent something undecodable: {e}"),
        }
        match io.read_buf(buf).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}
