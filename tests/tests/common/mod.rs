//! Helpers shared by the end-to-end fault tests: deadlines and condition waits, event logs,
//! the proxy's wire tap decoded, memory figures, the opt-in switch for long runs, and the
//! [`Xorshift`](xorshift::Xorshift) generator of the generated inputs.
//!
//! Nothing here sleeps for a fixed time: every wait is bounded by [`DEADLINE`] and ends as soon as
//! what it waits for happened.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of it

use std::time::{Duration, Instant};

use client::proto::bytes::BytesMut;
use client::proto::{ClientOp, Decoder, Limits};
use client::{Backoff, Client, ConnectOptions, Event, Message, Subscription};
use gnat_test_support::proxy::Proxy;
use tokio::sync::mpsc;

pub mod xorshift;

/// The longest any single wait may take. Generous: it only bounds failures.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// True when the long variants should run (`GNAT_LONG_TESTS=1`).
pub fn long_tests() -> bool {
    std::env::var("GNAT_LONG_TESTS").is_ok_and(|v| v == "1")
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// The next message, or a panic naming the subscription after [`DEADLINE`].
pub async fn next(sub: &mut Subscription) -> Message {
    match tokio::time::timeout(DEADLINE, sub.next()).await {
        Ok(Some(msg)) => msg,
        Ok(None) => panic!(
            "subscription {} ended ({:?}) while a message was expected",
            sub.subject(),
            sub.close_reason()
        ),
        Err(_) => panic!("no message on {} within {DEADLINE:?}", sub.subject()),
    }
}

/// Quick reconnects: 10 ms doubling up to 250 ms, 10 ms jitter.
pub fn fast_reconnect(opts: ConnectOptions) -> ConnectOptions {
    opts.reconnect_backoff(Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(250),
        jitter: Duration::from_millis(10),
    })
}

/// A flush barrier: once it returns, the server has processed everything `publisher` sent
/// before, and `subscriber`'s reader has queued every message the server routed to it.
pub async fn barrier(publisher: &Client, subscriber: &Client) {
    within("publisher flush", publisher.flush())
        .await
        .expect("publisher flush");
    within("subscriber flush", subscriber.flush())
        .await
        .expect("subscriber flush");
}

/// Every event of a client from its very first one, with the time it was raised (recorded by
/// the event callback, on the connection's task).
pub struct EventLog {
    rx: mpsc::UnboundedReceiver<(Instant, Event)>,
    /// Everything received so far, in order.
    pub seen: Vec<(Instant, Event)>,
}

impl EventLog {
    /// Options that record into a new log.
    pub fn options(opts: ConnectOptions) -> (ConnectOptions, EventLog) {
        let (tx, rx) = mpsc::unbounded_channel();
        let opts = opts.event_callback(move |event| {
            let _ = tx.send((Instant::now(), event.clone()));
        });
        (
            opts,
            EventLog {
                rx,
                seen: Vec::new(),
            },
        )
    }

    /// Waits for the next event matching `pred` (events already seen are not matched again);
    /// returns it with the time it was raised.
    pub async fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&Event) -> bool,
    ) -> (Instant, Event) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((at, event))) => {
                    self.seen.push((at, event.clone()));
                    if pred(&event) {
                        return (at, event);
                    }
                }
                Ok(None) => panic!(
                    "event callback dropped before {what}; saw {:?}",
                    self.events()
                ),
                Err(_) => panic!("no {what} within {DEADLINE:?}; saw {:?}", self.events()),
            }
        }
    }

    /// Takes in whatever has arrived, without waiting; returns every event so far.
    pub fn poll(&mut self) -> Vec<Event> {
        while let Ok(entry) = self.rx.try_recv() {
            self.seen.push(entry);
        }
        self.events()
    }

    fn events(&self) -> Vec<Event> {
        self.seen.iter().map(|(_, e)| e.clone()).collect()
    }
}

pub fn is_disconnected(e: &Event) -> bool {
    matches!(e, Event::Disconnected { .. })
}

pub fn is_reconnected(e: &Event) -> bool {
    matches!(e, Event::Reconnected { .. })
}

/// The reason of a `Disconnected` event.
pub fn reason(e: &Event) -> String {
    match e {
        Event::Disconnected { reason } => reason.clone(),
        other => panic!("not a Disconnected event: {other:?}"),
    }
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
pub fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line:?}"));
    kib * 1024
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS; false where the kernel does not
/// allow it (then `VmHWM` is the peak since the process started).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Mebibytes, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Polls `check` every 5 ms until it holds; panics naming `what` after [`DEADLINE`].
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}: not so within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls the async `check` every 20 ms until it returns `Some`; panics naming `what` after
/// `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not so within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Flushes until a flush succeeds and returns when it did. A flush caught by a connection that
/// dies fails with `Disconnected` and is tried again; one queued while disconnected completes
/// once the client is connected again and the server answered.
pub async fn flush_until_ok(client: &Client) -> Instant {
    within("a successful flush", async {
        loop {
            match client.flush().await {
                Ok(()) => return Instant::now(),
                Err(e) if e.kind() == client::ErrorKind::Disconnected => {}
                Err(e) => panic!("flush failed: {e}"),
            }
        }
    })
    .await
}

/// Decodes what the client wrote through the proxy since `from`. A byte that does not decode
/// as a client operation is an injection.
pub fn wire_ops(proxy: &Proxy, from: usize) -> Vec<ClientOp> {
    let bytes = proxy.client_bytes();
    let mut buf = BytesMut::from(&bytes[from..]);
    let decoder = Decoder::new(Limits::default());
    let mut ops = Vec::new();
    loop {
        match decoder.decode_client(&mut buf) {
            Ok(Some(ClientOp::Ping | ClientOp::Pong)) => {}
            Ok(Some(op)) => ops.push(op),
            Ok(None) => break,
            Err(e) => panic!("the client wrote bytes that are not a client operation: {e}"),
        }
    }
    assert!(buf.is_empty(), "a partial operation on the wire: {buf:?}");
    ops
}

/// Flushes `client` (everything it wrote went through the proxy) and returns the tap's length.
pub async fn mark(client: &Client, proxy: &Proxy) -> usize {
    within("flush", client.flush()).await.unwrap();
    proxy.client_bytes_len()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
